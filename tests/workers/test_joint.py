"""Joint subgroup estimation: opposite-signed effects, stacked covariance, equality-test size/power."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.simulate.params import Outcome


@pytest.fixture(scope="module")
def football():
    return ci.simulate.scenario("football_stitching", seed=11)


def _truth_by(sim, by, outcome="earnings"):
    tt = sim.truth_table(by, outcome)
    post = tt[tt.time >= tt.cohort]
    return post.groupby(by, observed=True).apply(
        lambda f: np.average(f.effect, weights=f.n_obs), include_groups=False)


def test_opposite_signed_effects_cancel_on_average(football):
    sim = football
    pooled = ci.att_gt(sim.panel, "earnings").aggregate("simple")
    truth_pooled = sim.aggregate_truth("simple", "earnings")["effect"].iloc[0]
    assert abs(pooled.estimate[0] - truth_pooled) < 3 * pooled.std_error[0]
    assert abs(truth_pooled) < 0.2 and pooled.conf_int().iloc[0, 0] < 0 < pooled.conf_int().iloc[0, 1]
    res = ci.workers.subgroup_effects(sim.panel, "earnings", by="site")
    truth = _truth_by(sim, "site")
    tab = res.tidy().set_index("site")
    for site in ("factory", "centre", "home"):
        assert abs(tab.loc[site, "estimate"] - truth[site]) < 3 * tab.loc[site, "std_error"]
    assert tab.loc["centre", "conf_low"] > 0 and tab.loc["home", "conf_high"] < 0
    assert tab.loc["home", "p_value_adjusted"] < 0.01


def test_stacked_covariance_matches_each_estimator(football):
    panel = football.panel
    res = ci.workers.subgroup_effects(panel, ["earnings", "employed"], by="gender")
    for name in ("earnings", "employed"):
        one = ci.att_gt(panel, name, by="gender").aggregate("simple")
        rows = np.flatnonzero(res.keys["outcome"] == name)
        np.testing.assert_allclose(res.estimate[rows], one.estimate, rtol=1e-12)
        np.testing.assert_allclose(res.vcov[np.ix_(rows, rows)], one.vcov, rtol=1e-10)
    corr = res.vcov / np.sqrt(np.outer(np.diag(res.vcov), np.diag(res.vcov)))
    assert corr[0, 2] > 0.3  # earnings and employment of women move together across clusters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = football.data[football.data.period.isin([2, 3]) & football.data.cohort.isin([0, 3])]
        p2 = ci.Panel(sub, unit="worker_id", time="period", cohort="cohort", cluster="cluster_id")
    jd = ci.workers.subgroup_effects(p2, "earnings", by="gender", estimator="did")
    d = ci.did(p2, "earnings", by="gender")
    np.testing.assert_allclose(jd.vcov, d.vcov, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jt = ci.workers.subgroup_effects(p2, "earnings", by="gender", estimator="twfe")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = ci.twfe(p2, "earnings", by="gender")
    np.testing.assert_allclose(jt.estimate, t.estimate, rtol=1e-10)
    g = p2.n_clusters
    # CR0 from the influence functions vs CR1: the usual G/(G-1) (n-1)/(n-k) factor apart
    ratio = np.diag(t.vcov) / np.diag(jt.vcov)
    assert np.all((ratio > 1) & (ratio < 1.2 * g / (g - 1)))


def test_att_gt_by_equals_separate_subgroup_estimation(football):
    data = football.data
    res = ci.att_gt(football.panel, "earnings", by="site")
    for site in ("centre", "home"):
        sub = data[data.site == site]
        alone = ci.att_gt(ci.Panel(sub, unit="worker_id", time="period", cohort="cohort",
                                   cluster="cluster_id"), "earnings")
        mine = res.tidy()
        mine = mine[mine.site == site]
        np.testing.assert_allclose(mine["estimate"].to_numpy(), alone.estimate, rtol=1e-10)
        np.testing.assert_allclose(mine["std_error"].to_numpy(), alone.std_error, rtol=1e-10)


def test_adjustments_and_errors(football):
    res = ci.workers.subgroup_effects(football.panel, "earnings", by=["gender", "site"],
                                      adjust="romano_wolf", reps=499, seed=1)
    tab = res.tidy()
    holm = ci.workers.adjust_pvalues(res.estimate, res.scores, method="holm")
    assert np.all(tab["p_value_adjusted"] >= tab["p_value"] - 0.03)  # Monte Carlo error
    assert np.all(tab["p_value_adjusted"] <= holm + 0.02)  # RW exploits correlation: never much worse
    with pytest.raises(ci.SpecificationError, match="adjust"):
        ci.workers.adjust_pvalues(res.estimate, res.scores, method="hochberg2")
    with pytest.raises(ci.SpecificationError, match="estimator"):
        ci.workers.subgroup_effects(football.panel, "earnings", by="site", estimator="sdid")
    with pytest.warns(ci.SmallCellWarning):
        ci.workers.subgroup_effects(football.panel, "earnings", by=["gender", "site"], min_size=40)


def _equality_rejections(effect_by, reps, seed0=0):
    y = Outcome("y", baseline=1.0, effect=0.5, effect_by=effect_by, noise_sd=1.0, cluster_sd=0.3,
                cluster_time_sd=0.2)
    rejections = []
    for r in range(reps):
        sim = ci.simulate.scenario("staggered_basic", seed=seed0 + r, outcomes=(y,), n_clusters=50,
                                   firms_per_cluster=4)
        res = ci.att_gt(sim.panel, "y", by="gender").aggregate("simple").compare()
        rejections.append(res.tidy()["p_value"].iloc[-1] < 0.05)
    return float(np.mean(rejections))


def test_equality_test_size_and_power_quick():
    assert _equality_rejections({}, 60) <= 0.15
    assert _equality_rejections({"gender": {"female": 0.6}}, 20, 1000) >= 0.8


@pytest.mark.slow
def test_equality_test_size_and_power_monte_carlo():
    size = _equality_rejections({}, 1000)
    assert 0.02 <= size <= 0.09
    assert _equality_rejections({"gender": {"female": 0.3}}, 300, 5000) >= 0.6


def test_tidy_and_outcome_view(football):
    res = ci.workers.subgroup_effects(football.panel, "earnings", outcomes=["employed"], by="site")
    tab = res.tidy()
    assert list(tab.columns[:2]) == ["outcome", "site"] and "p_value_adjusted" in tab
    assert isinstance(res.outcome("employed").compare(), ci.Result)
    cmp = res.compare().tidy()
    assert set(cmp["outcome"]) == {"earnings", "employed"}
    assert (cmp["contrast"] == "all equal").sum() == 2
    assert isinstance(pd.DataFrame(res.tidy()), pd.DataFrame)
