"""Design-based (survey) variances of the imputation and two-stage event studies.

Reference numbers: ``tests/reference/survey_event_study_imputation_r.json``, computed by
``tests/reference/survey_event_study_imputation_r.R`` with R 4.2.2 and survey 4.1-1 on mpdta
(counties as PSUs, states as strata, fpc 0.3, county weights 1 + countyreal %% 3): the
post-period estimates through the equivalent regression with a dummy per treated cohort-period
cell (svyglm, with the cells' weight shares linearised by svytotal and svycontrast), the leads
through svyglm of BJS's pre-trend regression on the untreated rows (a domain).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import clusterimpact as ci
from clusterimpact.errors import ClusterImpactWarning

REF = json.loads((Path(__file__).resolve().parents[1] / "reference"
                  / "survey_event_study_imputation_r.json").read_text())


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClusterImpactWarning)
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def mpdta():
    return ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000, f=0.3,
                                            w=lambda d: 1.0 + d["countyreal"] % 3, one=1)


@pytest.fixture(scope="module")
def design(mpdta):
    return _quiet(ci.Panel, mpdta, unit="countyreal", time="year", cohort="first.treat",
                  strata="state", fpc="f", lonely_psu="adjust", weights="w")


@pytest.mark.parametrize("method", ["imputation", "two_stage"])
def test_post_periods_match_r_survey(design, method):
    res = _quiet(ci.event_study, design, "lemp", method=method, vcov="survey")
    tidy = res.tidy().set_index("event_time")
    post = tidy.loc[REF["event_time"]]
    np.testing.assert_allclose(post["estimate"], REF["estimate"], rtol=1e-8)
    np.testing.assert_allclose(post["std_error"], REF["std_error"], rtol=1e-8)
    assert (post["df"] == REF["degf"]).all()
    assert res.info["vcov_type"].startswith("survey")


def test_imputation_leads_match_r_svyglm_on_the_untreated_domain(design):
    tidy = _quiet(ci.event_study, design, "lemp", method="imputation", vcov="survey").tidy()
    leads = tidy.set_index("event_time").loc[REF["lead_event_time"]]
    np.testing.assert_allclose(leads["estimate"], REF["lead_estimate"], rtol=1e-8)
    np.testing.assert_allclose(leads["std_error"], REF["lead_std_error"], rtol=1e-8)
    assert (leads["df"] == REF["degf"]).all()


def test_survey_is_not_bjs_conservative_variance(design):
    """The design-based variance linearises the estimator (centre: the bin estimate), so it
    differs from BJS's tau-bar-centred clustered variance; vcov=None follows the design."""
    svy = _quiet(ci.event_study, design, "lemp", method="imputation", vcov="survey")
    auto = _quiet(ci.event_study, design, "lemp", method="imputation")
    np.testing.assert_array_equal(auto.std_error, svy.std_error)
    bjs = _quiet(ci.event_study, design, "lemp", method="imputation", vcov="CR1")
    assert "BJS" in bjs.info["vcov_type"]
    np.testing.assert_allclose(bjs.estimate, svy.estimate, rtol=1e-12)
    assert np.abs(bjs.std_error[-4:] / svy.std_error[-4:] - 1).max() > 0.01


def test_one_stratum_without_fpc_is_the_clustered_gmm_variance_times_g_over_g_minus_1(mpdta):
    kw = {"unit": "countyreal", "time": "year", "cohort": "first.treat", "cluster": "state"}
    base = ci.Panel(mpdta, **kw)
    svy = ci.Panel(mpdta, strata="one", **kw)
    g = base.n_clusters
    r0 = _quiet(ci.event_study, base, "lemp", method="two_stage")
    r1 = _quiet(ci.event_study, svy, "lemp", method="two_stage")
    np.testing.assert_allclose(r1.vcov, r0.vcov * g / (g - 1), rtol=1e-10)
    assert (r1.tidy()["df"] == g - 1).all()


def test_subgroups_get_design_based_cross_covariances(mpdta, design):
    """by=: each subgroup's block is its own survey variance, and the cross blocks are the
    design covariance of the two subgroups' PSU totals (centred within the same strata)."""
    df = mpdta.assign(half=mpdta["countyreal"] % 2)
    panel = _quiet(ci.Panel, df, unit="countyreal", time="year", cohort="first.treat",
                   strata="state", fpc="f", lonely_psu="adjust", weights="w")
    both = _quiet(ci.event_study, panel, "lemp", method="two_stage", vcov="survey", by="half")
    parts = [_quiet(ci.event_study, _quiet(ci.Panel, df[df["half"] == h], unit="countyreal",
                                           time="year", cohort="first.treat", weights="w"),
                    "lemp", method="two_stage") for h in (0, 1)]
    k = parts[0].estimate.size
    np.testing.assert_allclose(both.estimate, np.r_[parts[0].estimate, parts[1].estimate],
                               rtol=1e-10)
    # PSUs hold one subgroup each, so the cross covariance comes only from centring the PSU
    # totals within strata: -sum_h (1-f) n_h/(n_h-1) n_h zbar_h(0) zbar_h(1)' != 0
    cross = both.vcov[:k, k:]
    assert np.isfinite(cross).all() and np.abs(cross).max() > 0
    np.testing.assert_allclose(both.vcov, both.vcov.T, rtol=1e-12, atol=1e-18)
    assert np.linalg.eigvalsh(both.vcov).min() > -1e-12 * np.abs(both.vcov).max()
