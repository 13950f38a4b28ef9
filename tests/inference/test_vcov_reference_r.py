"""The covariance registry against R clubSandwich 0.5.8 / sandwich 3.0.2 on shipped data.

Fixtures: tests/reference/clubsandwich_castle.json and clubsandwich_mpdta.json, written by the R
scripts beside them (R 4.2.2, Debian packages; R is not needed to run these tests). TWFE with unit
and year effects, clustered on the unit (50 states; 500 counties).

Conventions the numbers pin down:
- CR2 and CR3 with absorbed fixed effects equal clubSandwich's on the model with the effects as
  dummies / partialled out ("within"), Bell-McCaffrey-Satterthwaite df included.
- With weights, CR2/CR3 are those of the W^(1/2)-scaled model: clubSandwich's
  ``inverse_var = TRUE`` when the weights are constant within cluster, its "scaled OLS" fit when they
  vary within cluster (castle's ``population``) -- not clubSandwich's default for a weighted
  ``lm`` (``inverse_var = FALSE``, working model I), which the fixtures also record.
- HC1 equals sandwich's ``vcovHC(type = "HC1")``; CR1 is fixest's (clubSandwich's CR1 times
  (n - 1)/(n - K) with K counting only the parameters not nested in the clusters), checked against
  the castle fixest fixture elsewhere (tests/estimators/test_twfe.py).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import clusterimpact as ci

REF = Path(__file__).parents[1] / "reference"
CASTLE = json.loads((REF / "clubsandwich_castle.json").read_text())
MPDTA = json.loads((REF / "clubsandwich_mpdta.json").read_text())


def _fit(panel, y, vcov):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ci.twfe(panel, y, vcov=vcov)
    return res.estimate[0], res.vcov[0, 0], res.tidy()["df"][0]


def _castle(weights=None):
    return ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", treatment="post",
                    weights=weights)


def _mpdta(weights=False):
    df = ci.datasets.load("mpdta")
    df = df.assign(pop=np.exp(df["lpop"]))
    return ci.Panel(df, unit="countyreal", time="year", cohort="first.treat",
                    weights="pop" if weights else None)


CASES = [
    # (id, panel factory, outcome, reference block, {vcov: key in the block})
    ("castle", lambda: _castle(), "l_homicide", CASTLE["twfe"],
     {"CR2": ("clubsandwich", "CR2"), "CR3": ("clubsandwich_within", "CR3")}),
    ("castle popwt", lambda: _castle("popwt"), "l_homicide", CASTLE["weighted_popwt"],
     {"CR2": ("clubsandwich_inverse_var", "CR2"), "CR3": ("clubsandwich_within_inverse_var", "CR3")}),
    ("castle population", lambda: _castle("population"), "l_homicide", CASTLE["weighted_population"],
     {"CR2": ("clubsandwich_scaled_ols_within", "CR2"), "CR3": ("clubsandwich_scaled_ols_within", "CR3")}),
    ("mpdta", lambda: _mpdta(), "lemp", MPDTA["unweighted"],
     {"CR2": ("clubsandwich", "CR2"), "CR3": ("clubsandwich_within", "CR3")}),
    ("mpdta exp(lpop)", lambda: _mpdta(True), "lemp", MPDTA["weighted_pop"],
     {"CR2": ("clubsandwich_within_inverse_var", "CR2"),
      "CR3": ("clubsandwich_within_inverse_var", "CR3")}),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("vcov", ["CR2", "CR3"])
def test_cr2_cr3_and_satterthwaite_df_equal_clubsandwich(case, vcov):
    _, make, y, ref, keys = case
    est, var, df = _fit(make(), y, vcov)
    block, kind = keys[vcov]
    expected = ref[block][kind]
    assert est == pytest.approx(ref["coef"], rel=1e-10)
    assert var == pytest.approx(expected["var"], rel=1e-9)
    assert df == pytest.approx(expected["df_satterthwaite"], rel=1e-8)


@pytest.mark.parametrize("case", CASES[1:3] + CASES[4:], ids=[c[0] for c in CASES[1:3] + CASES[4:]])
def test_weighted_cr2_is_not_clubsandwichs_working_identity_default(case):
    """Guard on the documented convention: the default weighted-lm CR2 of clubSandwich
    (inverse_var = FALSE) differs by more than rounding, so the test above can tell them apart."""
    _, make, y, ref, _ = case
    _, var, _ = _fit(make(), y, "CR2")
    default = ref["clubsandwich_default"]["CR2"]["var"]
    assert abs(var / default - 1) > 0.02


@pytest.mark.parametrize("make, y, ref, n_nested_free", [
    (lambda: _castle(), "l_homicide", CASTLE["twfe"], 1 + 10 + 1),
    (lambda: _mpdta(), "lemp", MPDTA["unweighted"], 1 + 4 + 1),
], ids=["castle", "mpdta"])
def test_hc1_equals_sandwich_and_cr1_is_fixests_rescaling_of_clubsandwichs(make, y, ref, n_nested_free):
    panel = make()
    _, hc1, _ = _fit(panel, y, "HC1")
    assert hc1 == pytest.approx(ref["sandwich"]["HC1"], rel=1e-9)
    _, cr1, df = _fit(panel, y, "CR1")
    n = ref["n"]
    # fixest: G/(G-1) (n-1)/(n-K), K = slope + year dummies + intercept (unit dummies nested)
    assert cr1 == pytest.approx(ref["clubsandwich"]["CR1"]["var"] * (n - 1) / (n - n_nested_free),
                                rel=1e-9)
    assert df == panel.n_clusters - 1
