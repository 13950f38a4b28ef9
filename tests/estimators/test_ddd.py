"""Triple differences: hand-computed 2x2x2, DiD bias removed, staggered and covariate failures of the
naive three-way FE regression, influence-function SEs."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def _dgp(seed, *, cohorts=(4,), n_clusters=60, per=20, n_periods=6, effect=lambda e: 0.5 + 0 * e,
         cluster_shock=1.0, x_trend=0.0):
    rng = np.random.default_rng(seed)
    n = n_clusters * per
    cl = np.repeat(np.arange(n_clusters), per)
    assign = np.array(list(cohorts) * (n_clusters // (2 * len(cohorts))) +
                      [0] * (n_clusters - len(cohorts) * (n_clusters // (2 * len(cohorts)))))
    g_cl = rng.permutation(assign)
    g = g_cl[cl]
    treated = g > 0
    # target share and covariate differ across the cells
    q = rng.random(n) < np.where(treated, 0.6, 0.4)
    x = rng.normal(np.where(q & treated, 1.0, 0.0), 1.0)
    a = rng.normal(size=n) + rng.normal(size=n_clusters)[cl]
    rows = []
    ct = rng.normal(scale=0.2, size=(n_clusters, n_periods))
    for t in range(1, n_periods + 1):
        post = treated & (t >= g)
        e = t - g
        y = (a + 0.2 * t + 0.3 * q * t + x_trend * x * t + ct[cl, t - 1]
             + cluster_shock * post + np.where(post & q, effect(e), 0.0) + rng.normal(scale=0.5, size=n))
        rows.append(pd.DataFrame({"id": np.arange(n), "cl": cl, "t": t, "g": g, "q": q.astype(int),
                                  "x": x, "y": y}))
    return pd.concat(rows, ignore_index=True)


def test_two_by_two_by_two_equals_hand_computed_means():
    df = _dgp(0, n_periods=2, cohorts=(2,), n_clusters=20, per=6)
    res = ci.ddd(ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl"), "y", subgroup="q")
    wide = df.pivot(index="id", columns="t", values="y")
    first = df[df.t == 1].set_index("id")
    d = wide[2] - wide[1]
    m = d.groupby([first.g > 0, first.q]).mean()
    hand = (m[(True, 1)] - m[(True, 0)]) - (m[(False, 1)] - m[(False, 0)])
    assert res.estimate.size == 1
    np.testing.assert_allclose(res.estimate[0], hand, rtol=1e-10)
    # SE: influence function of four independent cell means, clustered
    cell = (first.g > 0).astype(int) * 2 + first.q
    sign = cell.map({3: 1.0, 2: -1.0, 1: -1.0, 0: 1.0})
    share = cell.map(cell.value_counts(normalize=True))
    psi = sign * (d - d.groupby(cell).transform("mean")) / share
    s = psi.groupby(first.cl).sum() / len(psi)
    np.testing.assert_allclose(res.std_error[0], np.sqrt((s**2).sum()), rtol=1e-8)
    for method in ("reg", "ipw"):
        other = ci.ddd(ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl"), "y", subgroup="q",
                       method=method)
        np.testing.assert_allclose(other.estimate, res.estimate, rtol=1e-8)


def test_ddd_removes_cluster_shock_that_biases_did():
    df = _dgp(1, cluster_shock=1.0)
    panel = ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl")
    res = ci.ddd(panel, "y", subgroup="q").aggregate("simple")
    assert abs(res.estimate[0] - 0.5) < 3 * res.std_error[0]
    did = ci.att_gt(ci.Panel(df[df.q == 1], unit="id", time="t", cohort="g", cluster="cl"),
                    "y").aggregate("simple")
    assert did.estimate[0] - 0.5 > 0.7  # DiD on the target group picks up the cluster shock
    dyn = ci.ddd(panel, "y", subgroup="q").aggregate("dynamic").tidy()
    pre = dyn[dyn.event_time < 0]
    assert (pre["estimate"].abs() < 3 * pre["std_error"]).all()


def test_staggered_dynamic_effects_bias_the_three_way_fe_regression():
    df = _dgp(2, cohorts=(3, 5), n_periods=7, effect=lambda e: 1.0 * (e + 1), cluster_shock=0.5)
    panel = ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl")
    res = ci.ddd(panel, "y", subgroup="q").aggregate("simple")
    post = df[(df.g > 0) & (df.t >= df.g) & (df.q == 1)]
    truth = float(np.mean(1.0 * (post.t - post.g + 1)))
    assert abs(res.estimate[0] - truth) < 3 * res.std_error[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = ci.ddd_regression(panel, "y", subgroup="q")
    assert truth - naive.estimate[0] > 0.4 and truth - naive.estimate[0] > 4 * naive.std_error[0]


def test_covariate_specific_trends_need_the_three_did_construction():
    df = _dgp(3, x_trend=0.5)
    panel = ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl")
    plain = ci.ddd(panel, "y", subgroup="q").aggregate()
    adj = ci.ddd(panel, "y", subgroup="q", covariates=["x"]).aggregate()
    reg = ci.ddd(panel, "y", subgroup="q", covariates=["x"], method="reg").aggregate()
    assert abs(plain.estimate[0] - 0.5) > 5 * plain.std_error[0]
    assert abs(adj.estimate[0] - 0.5) < 3 * adj.std_error[0]
    assert abs(reg.estimate[0] - 0.5) < 3 * reg.std_error[0]
    # the naive regression cannot use a baseline covariate at all: unit effects absorb it
    with warnings.catch_warnings(), pytest.raises(ci.EstimationError, match="collinear"):
        warnings.simplefilter("ignore")
        ci.ddd_regression(panel, "y", subgroup="q", covariates=["x"])


def test_football_home_workers_and_errors():
    sim = ci.simulate.scenario("football_stitching", seed=5)
    res = ci.ddd(sim.panel, "earnings", subgroup="site", target="home")
    tab = res.tidy()
    assert {"cohort", "time", "estimate", "std_error"} <= set(tab.columns)
    assert res.aggregate("group").estimate.size == 2
    with pytest.raises(ci.SpecificationError, match="target"):
        ci.ddd(sim.panel, "earnings", subgroup="site")
    with pytest.raises(ci.SpecificationError, match="Did you mean"):
        ci.ddd(sim.panel, "earnings", subgroup="sites", target="home")
    with pytest.raises(ci.SpecificationError, match="method"):
        ci.ddd(sim.panel, "earnings", subgroup="site", target="home", method="twfe")


@pytest.mark.slow
def test_ddd_coverage_monte_carlo():
    cover = []
    for r in range(300):
        df = _dgp(100 + r, n_clusters=40, per=10)
        res = ci.ddd(ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl"), "y",
                     subgroup="q").aggregate()
        lo, hi = res.conf_int().iloc[0]
        cover.append(lo <= 0.5 <= hi)
    assert 0.9 <= np.mean(cover) <= 0.98
