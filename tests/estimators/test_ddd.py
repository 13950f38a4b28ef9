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


# ------------------------------------------------------------------ repeated cross-sections
def _rcs_dgp(seed, *, cohorts=(2,), n_clusters=40, per=30, n_periods=2, effect=0.5, cluster_shock=1.0,
             x_trend=0.0, weights=False):
    """Fresh workers every period (repeated cross-sections) in clusters with a cluster-wide shock."""
    rng = np.random.default_rng(seed)
    k = len(cohorts)
    per_cohort = n_clusters // (2 * k)
    assign = np.array(list(cohorts) * per_cohort + [0] * (n_clusters - k * per_cohort))
    g_cl = rng.permutation(assign)
    c_eff = rng.normal(size=n_clusters)
    ct = rng.normal(scale=0.2, size=(n_clusters, n_periods))
    frames = []
    for t in range(1, n_periods + 1):
        n = n_clusters * per
        cl = np.repeat(np.arange(n_clusters), per)
        g = g_cl[cl]
        treated = g > 0
        q = rng.random(n) < np.where(treated, 0.6, 0.4)
        x = rng.normal(np.where(q & treated, 1.0, 0.0), 1.0)
        post = treated & (t >= g)
        y = (c_eff[cl] + 0.3 * q + 0.5 * x + 0.2 * t + 0.3 * q * t + x_trend * x * t + ct[cl, t - 1]
             + cluster_shock * post + np.where(post & q, effect, 0.0) + rng.normal(scale=0.7, size=n))
        frames.append(pd.DataFrame({"cl": cl, "t": t, "g": g, "q": q.astype(int), "x": x, "y": y,
                                    "w": rng.uniform(0.5, 2.0, n) if weights else 1.0}))
    return pd.concat(frames, ignore_index=True)


def _rcs_panel(df, **kw):
    return ci.Panel(df, unit=None, time="t", cohort="g", **kw)


def _hand_ddd_from_did(df, periods, treated_cohort, comparison, method, covariates, weights, cluster):
    """DDD(g,t) = DiD(A, g0) + DiD(A, c1) - DiD(A, c0) from three ci.did fits on the rows of two periods.

    A = target rows of cohort g; each ci.did sees A as "first treated in the second period" and
    the comparison cell as never treated. Influence functions are re-scaled to all rows:
    psi_i = +-phi_i * N / n_AB, and V = sum_c (sum_{i in c} psi_i)^2 / N^2.
    """
    n_all = len(df)
    in_per = df.t.isin(periods).to_numpy()
    a = in_per & (df.g == treated_cohort).to_numpy() & (df.q == 1).to_numpy()
    cells = [(1.0, (df.g == treated_cohort).to_numpy() & (df.q == 0).to_numpy()),
             (1.0, comparison & (df.q == 1).to_numpy()), (-1.0, comparison & (df.q == 0).to_numpy())]
    att, psi = 0.0, np.zeros(n_all)
    for sign, other in cells:
        rows = np.flatnonzero(a | (other & in_per))
        sub = df.iloc[rows].assign(_d=np.where(a[rows], 2, 0), _t=np.where(
            df.t.to_numpy()[rows] == periods[1], 2, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ci.did(ci.Panel(sub, unit=None, time="_t", cohort="_d", cluster="cl",
                                  weights="w" if weights else None),
                         "y", method=method, covariates=covariates)
        att += sign * res.estimate[0]
        psi[rows] += sign * np.asarray(res.influence)[:, 0] * (n_all / rows.size)
    sums = pd.Series(psi).groupby(cluster).sum().to_numpy()
    return att, np.sqrt((sums**2).sum()) / n_all


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
@pytest.mark.parametrize("weights", [False, True])
def test_rcs_two_by_two_by_two_equals_combination_of_three_did_fits(method, weights):
    df = _rcs_dgp(10, x_trend=0.3, weights=weights)
    res = ci.ddd(_rcs_panel(df, cluster="cl", weights="w" if weights else None), "y", subgroup="q",
                 covariates=["x"], method=method)
    assert res.estimate.size == 1 and res.info["n_obs"] == len(df)
    att, se = _hand_ddd_from_did(df, [1, 2], 2, (df.g == 0).to_numpy(), method, ["x"], weights,
                                 df.cl.to_numpy())
    np.testing.assert_allclose(res.estimate[0], att, rtol=1e-10)
    np.testing.assert_allclose(res.std_error[0], se, rtol=1e-10)


def test_rcs_without_covariates_is_the_difference_of_eight_cell_means():
    df = _rcs_dgp(11)
    res = ci.ddd(_rcs_panel(df, cluster="cl"), "y", subgroup="q")
    m = df.groupby([df.g > 0, df.q, df.t]).y.mean()
    hand = ((m[(True, 1, 2)] - m[(True, 1, 1)]) - (m[(True, 0, 2)] - m[(True, 0, 1)])
            - (m[(False, 1, 2)] - m[(False, 1, 1)]) + (m[(False, 0, 2)] - m[(False, 0, 1)]))
    np.testing.assert_allclose(res.estimate[0], hand, rtol=1e-10)
    for method in ("reg", "ipw"):
        other = ci.ddd(_rcs_panel(df, cluster="cl"), "y", subgroup="q", method=method)
        np.testing.assert_allclose(other.estimate, res.estimate, rtol=1e-10)


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
def test_rcs_staggered_cells_equal_three_did_fits_on_their_two_periods(control):
    df = _rcs_dgp(12, cohorts=(3, 5), n_periods=6, per=25)
    res = ci.ddd(_rcs_panel(df, cluster="cl"), "y", subgroup="q", covariates=["x"], control=control)
    tab = res.tidy()
    g = df.g.to_numpy().astype(float)
    g[g == 0] = np.inf
    for cohort, time, base in ((3, 2, 1), (3, 4, 2), (5, 3, 2), (5, 6, 4)):
        comp = np.isinf(g) if control == "never_treated" else (g > max(time, base)) & (g != cohort)
        att, se = _hand_ddd_from_did(df, [base, time], cohort, comp, "dr", ["x"], False,
                                     df.cl.to_numpy())
        row = tab[(tab.cohort == cohort) & (tab.time == time)]
        np.testing.assert_allclose(row["estimate"].item(), att, rtol=1e-10)
        np.testing.assert_allclose(row["std_error"].item(), se, rtol=1e-10)


def test_rcs_recovers_the_effect_that_the_cluster_shock_hides_from_did():
    df = _rcs_dgp(13, cohorts=(3, 4), n_periods=5, n_clusters=60, per=40, x_trend=0.3)
    panel = _rcs_panel(df, cluster="cl")
    res = ci.ddd(panel, "y", subgroup="q", covariates=["x"])
    simple = res.aggregate("simple")
    # precise enough that the cluster shock (1.0) would show: 3 SE < 0.6
    assert abs(simple.estimate[0] - 0.5) < 3 * simple.std_error[0] and simple.std_error[0] < 0.2
    dyn = res.aggregate("dynamic").tidy()
    pre = dyn[dyn.event_time < 0]
    assert (pre["estimate"].abs() < 3 * pre["std_error"]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        did = ci.att_gt(_rcs_panel(df[df.q == 1], cluster="cl"), "y",
                        covariates=["x"]).aggregate("simple")
    assert did.estimate[0] - 0.5 > 0.7  # DiD on the target group picks up the cluster shock


def test_rcs_empty_cell_warns_and_errors():
    df = _rcs_dgp(14, cohorts=(3,), n_periods=4)
    df = df[~((df.g == 3) & (df.q == 0) & (df.t == 1))]  # cohort 3 non-targets missing in period 1
    with pytest.warns(ci.EstimationWarning, match="cohort 3, time 2"):
        res = ci.ddd(_rcs_panel(df, cluster="cl"), "y", subgroup="q")
    assert np.isnan(res.tidy().query("time == 2")["estimate"].item())
    assert np.isfinite(res.aggregate().estimate[0])
    with pytest.raises(ci.SpecificationError, match="both in and outside"):
        ci.ddd(_rcs_panel(df.assign(q=1), cluster="cl"), "y", subgroup="q")


@pytest.mark.slow
def test_rcs_ddd_coverage_monte_carlo():
    # 120 clusters: with fresh workers each period the cluster effects do not difference out
    # (cluster composition changes), so the estimate varies at the cluster level and the
    # influence-function (CR0-type) SE needs many clusters; at 40 clusters it is ~14% too small
    # (coverage ~0.89), at 120 ~4% (coverage ~0.94).
    cover = []
    for r in range(300):
        res = ci.ddd(_rcs_panel(_rcs_dgp(500 + r, n_clusters=120, per=6), cluster="cl"), "y",
                     subgroup="q", covariates=["x"]).aggregate()
        lo, hi = res.conf_int().iloc[0]
        cover.append(lo <= 0.5 <= hi)
    assert 0.9 <= np.mean(cover) <= 0.98


def _hand_panel_ddd_from_did(df, treated_cohort, method, covariates):
    """Panel 2x2x2: DDD = DiD(A, g0) + DiD(A, c1) - DiD(A, c0) from three weighted ci.did panel
    fits on the units of each pair of cells; unit influence rescaled by N / n_AB and clustered."""
    units = df.drop_duplicates("id").set_index("id")
    n_all = len(units)
    g, q = units["g"].to_numpy(), units["q"].to_numpy()
    a = (g == treated_cohort) & (q == 1)
    cells = [(1.0, (g == treated_cohort) & (q == 0)), (1.0, (g == 0) & (q == 1)),
             (-1.0, (g == 0) & (q == 0))]
    att, psi = 0.0, np.zeros(n_all)
    for sign, other in cells:
        keep_units = units.index[a | other]
        sub = df[df["id"].isin(keep_units)].assign(_d=lambda d: np.where(
            (d["g"] == treated_cohort) & (d["q"] == 1), 2, 0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ci.did(ci.Panel(sub, unit="id", time="t", cohort="_d", cluster="cl", weights="w"),
                         "y", method=method, covariates=covariates)
        rows = np.flatnonzero(a | other)
        att += sign * res.estimate[0]
        psi[rows] += sign * np.asarray(res.influence)[:, 0] * (n_all / rows.size)
    sums = pd.Series(psi).groupby(units["cl"].to_numpy()).sum().to_numpy()
    return att, np.sqrt((sums**2).sum()) / n_all


@pytest.mark.parametrize("method", ["dr", "reg", "ipw"])
def test_panel_sampling_weights_equal_combination_of_three_weighted_did_fits(method):
    """The panel path uses the Panel's sampling weights in each of its three 2x2s (it ignored
    them before: a weighted and an unweighted panel gave the same numbers)."""
    df = _dgp(3, n_periods=2, cohorts=(2,), n_clusters=40, per=12, x_trend=0.3)
    w_unit = np.random.default_rng(1).uniform(0.5, 3.0, df["id"].nunique())
    df = df.assign(w=w_unit[df["id"].to_numpy()])
    panel = ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl", weights="w")
    res = ci.ddd(panel, "y", subgroup="q", covariates=["x"], method=method)
    att, se = _hand_panel_ddd_from_did(df, 2, method, ["x"])
    np.testing.assert_allclose(res.estimate[0], att, rtol=1e-10)
    np.testing.assert_allclose(res.std_error[0], se, rtol=1e-10)
    plain = ci.ddd(ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl"), "y", subgroup="q",
                   covariates=["x"], method=method)
    assert abs(plain.estimate[0] - res.estimate[0]) > 1e-6


def test_aggregation_weights_cohorts_by_weighted_target_units():
    """Integer sampling weights equal replicating units: cohort shares, the simple aggregate and
    its influence-function SE (up to the sample size in the variance) match the replicated panel."""
    df = _dgp(4, cohorts=(3, 5), n_clusters=40, per=8, n_periods=6,
              effect=lambda e: 0.5 + 0.3 * np.maximum(e, 0))
    units = df["id"].unique()
    w_unit = np.random.default_rng(2).integers(1, 4, units.size)
    df_w = df.assign(w=w_unit[df["id"].to_numpy()].astype(float))
    rep_ids = np.repeat(units, w_unit)
    sizes = df.groupby("id").size().loc[rep_ids].to_numpy()
    rep = df.set_index("id").loc[rep_ids].reset_index().assign(
        id=np.repeat(np.arange(rep_ids.size), sizes))
    weighted = ci.ddd(ci.Panel(df_w, unit="id", time="t", cohort="g", cluster="cl", weights="w"),
                      "y", subgroup="q").aggregate("simple")
    replicated = ci.ddd(ci.Panel(rep, unit="id", time="t", cohort="g", cluster="cl"),
                        "y", subgroup="q").aggregate("simple")
    np.testing.assert_allclose(weighted.estimate, replicated.estimate, rtol=1e-10)
    # with weights normalised to mean one, sum_c (sum_i w_i phi_i)^2 / N^2 is the replicated variance
    np.testing.assert_allclose(weighted.std_error, replicated.std_error, rtol=1e-10)
    cells_w = ci.ddd(ci.Panel(df_w, unit="id", time="t", cohort="g", cluster="cl", weights="w"),
                     "y", subgroup="q")
    cells_r = ci.ddd(ci.Panel(rep, unit="id", time="t", cohort="g", cluster="cl"), "y", subgroup="q")
    np.testing.assert_allclose(cells_w.estimate, cells_r.estimate, rtol=1e-10)
    np.testing.assert_allclose(cells_w.std_error, cells_r.std_error, rtol=1e-10)
