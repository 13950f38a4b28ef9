"""Simulation-based power (ci.power.simulate): size, monotonicity, agreement with the analytic formula."""

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.design.power_sim import _design
from clusterimpact.simulate.engine import generate

# 40 clusters (20 adopt in period 3 of 4), 5 workers each, ICC 0.1: analytic SE ~ 0.195
DESIGN = dict(clusters_per_wave=20, never_treated=20, workers_per_cluster=5, periods=4, icc=0.1)


@pytest.fixture(scope="module")
def curve():
    return ci.power.simulate([0.0, 0.25, 0.5, 0.75], reps=250, seed=11, progress=False, **DESIGN)


def test_size_at_zero_effect_within_mc_error(curve):
    tab = curve.tidy()
    p0, n = tab["power"].iloc[0], tab["reps"].iloc[0]
    # 3 Monte Carlo SEs of a rejection rate of 0.05 over 250 replications (= 0.041); the clustered
    # influence-function SE with 40 clusters and a normal critical value over-rejects slightly
    assert abs(p0 - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / n)
    assert tab["mean_estimate"].sub(tab["effect"]).abs().max() < 0.05  # unbiased within MC error


def test_power_monotone_and_mde(curve):
    power = curve.tidy()["power"].to_numpy()
    assert np.all(np.diff(power) > 0)
    mde = curve.mde(0.8)
    assert 0.5 < mde < 0.75
    # interpolation between the two bracketing grid points
    p = power
    assert mde == pytest.approx(0.5 + (0.8 - p[2]) * 0.25 / (p[3] - p[2]))
    with pytest.warns(ci.EstimationWarning, match="extend the grid"):
        assert np.isnan(curve.mde(0.99))


def test_agrees_with_analytic_power(curve):
    tab = curve.tidy()
    # analytic: clusters_per_wave=20 of 40, pre=1 (att_gt's base period g-1), post=2 periods,
    # cluster-mean variance (icc + (1-icc)/n) * (1 + 1/2), normal reference.
    se = ci.power.mde(40, 5, 0.1, design="did", pre=1, post=2, target_power=0.5, dist="normal") / 1.959964
    assert se == pytest.approx(np.sqrt((0.1 + 0.9 / 5) * 1.5 / (0.25 * 40)), rel=1e-6)
    assert tab["sd_estimate"].iloc[0] == pytest.approx(se, rel=0.15)  # MC sd of an SD with 250 draws ~5%
    # Tolerance 0.08: Monte Carlo error (at most 0.5/sqrt(250) = 0.032, 2.5 SEs = 0.08) plus the
    # estimated (not known) SE and the normal critical value with 40 clusters, which add a few points
    # of over-rejection that the analytic formula ignores.
    np.testing.assert_allclose(tab["power"], tab["analytic_power"], atol=0.08)


def test_linear_combination_equals_direct_att_gt():
    res = ci.power.simulate([0.0, 0.4], reps=3, seed=5, progress=False, **DESIGN)
    params = _design(20, 20, None, 4, 5, 0.1, 0.0)
    stream = np.random.SeedSequence(5).spawn(3)[1]
    data, eff = generate(params, np.random.default_rng(stream))
    data = data.assign(y=data["y"] - eff["y"] + 0.4 * eff["y"])
    direct = ci.att_gt(ci.Panel(data, unit="worker_id", time="period", cohort="cohort",
                                cluster="cluster_id"), "y").aggregate("simple")
    row = res.draws.query("rep == 1 and effect == 0.4")
    assert row["estimate"].iloc[0] == pytest.approx(direct.estimate[0], rel=1e-10)
    assert row["std_error"].iloc[0] == pytest.approx(direct.std_error[0], rel=1e-8)


def test_deterministic_staggered_and_outputs():
    kw = dict(clusters_per_wave=(6, 6), never_treated=6, workers_per_cluster=3, periods=5, reps=8,
              progress=False)
    a = ci.power.simulate([0.0, 0.5], seed=3, **kw)
    b = ci.power.simulate([0.0, 0.5], seed=3, **kw)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    pd.testing.assert_frame_equal(a.draws, b.draws)
    assert a.info["cohorts"] == (3, 4)
    assert a.tidy()["analytic_power"].isna().all()  # no analytic formula for a staggered roll-out
    assert isinstance(a, ci.Result) and "power" in a.summary() and a.to_markdown().startswith("| effect")
    assert a.plot() is not None
    rng_a = ci.power.simulate([0.0], seed=np.random.default_rng(1), **kw)
    rng_b = ci.power.simulate([0.0], seed=np.random.default_rng(1), **kw)
    assert rng_a.tidy().equals(rng_b.tidy())


def test_errors():
    with pytest.raises(ci.SpecificationError, match="do not fit"):
        ci.power.simulate([0.1], clusters_per_wave=(2, 2, 2), periods=4, reps=2, progress=False)
    with pytest.raises(ci.SpecificationError, match="icc"):
        ci.power.simulate([0.1], icc=1.2, reps=2, progress=False)
    with pytest.raises(ci.SpecificationError, match="reps"):
        ci.power.simulate([0.1], reps=1, progress=False)
    with pytest.raises(ci.SpecificationError, match="effects"):
        ci.power.simulate([], reps=2, progress=False)


@pytest.mark.slow
def test_size_and_analytic_agreement_monte_carlo():
    big = dict(clusters_per_wave=40, never_treated=40, workers_per_cluster=10, periods=6, icc=0.05,
               autocorr=0.4)
    res = ci.power.simulate([0.0, 0.1, 0.2, 0.3], reps=3000, seed=2, progress=False, **big)
    tab = res.tidy()
    assert abs(tab["power"].iloc[0] - 0.05) < 0.015  # 80 clusters: nominal size
    np.testing.assert_allclose(tab["power"], tab["analytic_power"], atol=0.035)
