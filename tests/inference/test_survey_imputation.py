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


def test_subgroups_are_domains_of_the_whole_design(mpdta):
    """by=: each subgroup is a domain of the full design (PSUs outside it count with zero
    totals), and the cross blocks are the design covariance of the subgroups' PSU totals."""
    df = mpdta.assign(half=mpdta["countyreal"] % 2)
    kw = {"unit": "countyreal", "time": "year", "cohort": "first.treat", "weights": "w"}
    parts = [_quiet(ci.event_study, ci.Panel(df[df["half"] == h], **kw), "lemp",
                    method="two_stage") for h in (0, 1)]
    k, n_psu = parts[0].estimate.size, df["countyreal"].nunique()
    # one stratum, no fpc: blocks = the subgroup's clustered GMM variance times n/(n-1) with n
    # all 500 PSUs of the design; the two-stage scores of a subgroup sum to zero, so centring
    # leaves no cross covariance
    one = _quiet(ci.event_study, ci.Panel(df, strata="one", **kw), "lemp", method="two_stage",
                 by="half")
    np.testing.assert_allclose(one.estimate, np.r_[parts[0].estimate, parts[1].estimate],
                               rtol=1e-10)
    factor = n_psu / (n_psu - 1)
    np.testing.assert_allclose(one.vcov[:k, :k], parts[0].vcov * factor, rtol=1e-10)
    np.testing.assert_allclose(one.vcov[k:, k:], parts[1].vcov * factor, rtol=1e-10)
    np.testing.assert_allclose(one.vcov[:k, k:], 0, atol=1e-12 * np.abs(one.vcov).max())
    # states as strata: centring within strata couples the subgroups (PSUs hold one subgroup
    # each, cross block -sum_h (1-f) zbar_h(0) zbar_h(1)' n_h^2/(n_h-1) != 0); still a covariance
    strat = _quiet(ci.event_study, _quiet(ci.Panel, df, strata="state", fpc="f",
                                          lonely_psu="adjust", **kw),
                   "lemp", method="two_stage", by="half")
    cross = strat.vcov[:k, k:]
    assert np.isfinite(cross).all() and np.abs(cross).max() > 1e-3 * np.abs(strat.vcov).max()
    np.testing.assert_allclose(strat.vcov, strat.vcov.T, rtol=1e-12, atol=1e-18)
    assert np.linalg.eigvalsh(strat.vcov).min() > -1e-12 * np.abs(strat.vcov).max()
