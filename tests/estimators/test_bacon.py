"""ci.bacon and ci.twfe_weights: published castle decomposition, exact identities, dCdH weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import clusterimpact as ci
from clusterimpact.errors import SpecificationError
from clusterimpact.estimators.bacon import _sigma_under

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "castle_bacon.json").read_text())


@pytest.fixture(scope="module")
def castle_panel():
    return ci.Panel(ci.datasets.load("castle"), unit="sid", time="year", cohort="effyear")


def test_castle_matches_published_decomposition(castle_panel):
    dec = ci.bacon(castle_panel, "l_homicide")
    by_type = dec.by_type().set_index("type")
    for kind, (weight, est) in REF["R_demo_5dp"].items():  # printed at 5 dp
        assert abs(by_type.loc[kind, "weight"] - weight) < 6e-6
        assert abs(by_type.loc[kind, "avg_est"] - est) < 6e-6
    for kind, (weight, est) in REF["stata_3dp"].items():  # printed at 3 dp
        assert abs(by_type.loc[kind, "weight"] - weight) < 6e-4
        assert abs(by_type.loc[kind, "avg_est"] - est) < 6e-4
    for kind, (weight, est) in REF["diffdiff_10dp"].items():
        assert abs(by_type.loc[kind, "weight"] - weight) < 1e-9
        assert abs(by_type.loc[kind, "avg_est"] - est) < 1e-9
    assert abs(dec.twfe - REF["twfe"]["estimate"]) < 1e-10
    assert abs(dec.weighted_sum - dec.twfe) < 1e-10
    assert dec.details["weight_sum_unnormalised"] == pytest.approx(1.0, abs=1e-10)
    assert dec.tidy()["weight"].sum() == pytest.approx(1.0)


def _random_design(seed, always=False, never=True):
    rng = np.random.default_rng(seed)
    n_units, periods = 60, np.arange(2001, 2011)
    choices = [2003.0, 2005.0, 2006.0, 2009.0] + ([2001.0] if always else []) + ([np.inf] if never else [])
    cohort = rng.choice(choices, n_units)
    cohort[: len(choices)] = choices  # every group present
    unit = np.repeat(np.arange(n_units), periods.size)
    t = np.tile(periods, n_units)
    g = cohort[unit]
    effect = np.where(t >= g, 0.5 + 0.3 * (t - np.where(np.isfinite(g), g, 0)) * (g < 2006), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.1 * (t - 2000) + effect + rng.normal(size=t.size)
    d = pd.DataFrame({"id": unit, "t": t, "g": g, "y": y, "effect": effect})
    with pytest.warns(ci.TimingWarning) if always else _null():
        panel = ci.Panel(d, unit="id", time="t", cohort="g")
    return d, panel


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


@pytest.mark.parametrize(("always", "never"), [(False, True), (True, True), (True, False), (False, False)])
def test_weighted_sum_equals_twfe(always, never):
    d, panel = _random_design(1, always, never)
    dec = ci.bacon(panel, "y")
    d["D"] = (d.t >= d.g).astype(int)
    twfe = ci.twfe(ci.Panel(d, unit="id", time="t", treatment="D"), "y").estimate[0] if not always \
        else dec.twfe
    assert dec.weighted_sum == pytest.approx(twfe, abs=1e-10)
    assert dec.details["weight_sum_unnormalised"] == pytest.approx(1.0, abs=1e-10)
    types = set(dec.tidy()["type"])
    assert ("Later vs Always Treated" in types) == always
    assert ("Treated vs Untreated" in types) == never
    ax = dec.plot()
    assert ax.get_ylabel() == "2x2 DiD estimate"


def test_always_treated_twfe_matches_regression():
    d, panel = _random_design(2, always=True)
    dec = ci.bacon(panel, "y")
    import statsmodels.formula.api as smf

    d["D"] = (d.t >= d.g).astype(float)
    fit = smf.ols("y ~ D + C(id) + C(t)", data=d).fit()
    assert dec.twfe == pytest.approx(fit.params["D"], abs=1e-10)
    assert dec.weighted_sum == pytest.approx(fit.params["D"], abs=1e-10)


def test_bacon_errors(castle_panel):
    d = ci.datasets.load("castle")
    with pytest.raises(SpecificationError, match="balanced"):
        ci.bacon(ci.Panel(d.iloc[1:], unit="sid", time="year", cohort="effyear"), "l_homicide")
    with pytest.raises(SpecificationError, match="unweighted"):
        ci.bacon(ci.Panel(d, unit="sid", time="year", cohort="effyear", weights="popwt"), "l_homicide")


def test_dcdh_weights_reproduce_beta_without_noise():
    """Theorem 1: with y = unit + period effects + Delta_it, beta_fe = sum over treated of weight * Delta."""
    d, _ = _random_design(3, never=False)
    d["y"] = d["id"] * 0.1 + d["t"] * 0.05 + d["effect"]
    panel = ci.Panel(d, unit="id", time="t", cohort="g")
    tw = ci.twfe_weights(panel, "y")
    assert tw.cells["weight"].sum() == pytest.approx(1.0)
    cell_effect = d[d.t >= d.g].groupby(["g", "t"])["effect"].mean().to_numpy()
    assert tw.beta == pytest.approx(float(tw.cells["weight"] @ cell_effect), abs=1e-10)
    assert tw.beta == pytest.approx(ci.twfe(panel, "y").estimate[0], abs=1e-10)
    assert tw.n_negative > 0 and tw.sum_negative < 0  # no never treated: late cells of early cohorts
    share = tw.cells["n_obs"] / tw.cells["n_obs"].sum()
    sd = np.sqrt(np.sum(share * (tw.cells["weight_per_obs"] - 1) ** 2))
    assert tw.sigma_fe == pytest.approx(abs(tw.beta) / sd)
    assert "negative weight" in tw.summary()


def test_sigma_under_solves_the_constrained_problem():
    rng = np.random.default_rng(0)
    w = np.r_[rng.uniform(0.5, 2.5, 6), rng.uniform(-1.0, -0.1, 3)]
    p = rng.uniform(1, 3, w.size)
    p /= p.sum()
    w = w / (p @ w)  # normalise as in dCdH: sum p W = 1
    beta = 0.4
    cons = [{"type": "eq", "fun": lambda x: p @ (w * x) - beta}]
    bounds = [(None, 0.0)] * w.size

    def var(x):
        return p @ x**2 - (p @ x) ** 2

    best = optimize.minimize(var, -np.ones(w.size), bounds=bounds, constraints=cons, method="SLSQP",
                             options={"ftol": 1e-14, "maxiter": 1000})
    assert _sigma_under(w, p, beta) == pytest.approx(np.sqrt(best.fun), rel=1e-5)
