"""Randomization inference over roll-out dates; Conley-Taber for one or two treated clusters."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.inference.randomization import RefitSpec, conley_taber, randomization


def _frame(n_clusters=8, treated=4, units=2, periods=4, seed=0, effect=0.0, strata=False):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_clusters * units), periods)
    time = np.tile(np.arange(periods), n_clusters * units)
    cl = unit // units
    cohort_cl = np.where(np.arange(n_clusters) < treated, 2, 0)
    df = pd.DataFrame({"u": unit, "t": time, "c": cl, "g": cohort_cl[cl]})
    df["y"] = rng.normal(size=len(df)) + rng.normal(size=n_clusters)[cl] + effect * (
        (df["g"] > 0) & (df["t"] >= df["g"]))
    if strata:
        df["s"] = cl % 2
    return df


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ci.twfe(ci.Panel(df, unit="u", time="t", cohort="g", cluster="c"), "y", **kw)


def test_exact_enumeration_matches_brute_force():
    """All C(8,4) = 70 assignments; p equals a hand-written permutation loop."""
    df = _frame()
    res = _fit(df)
    ri = res.randomization(reps=999).tidy().iloc[0]
    assert ri["exact"] and ri["reps"] == 70
    obs = res.estimate[0]
    stats = []
    for treated in itertools.combinations(range(8), 4):
        d = df.assign(g=np.where(df["c"].isin(treated), 2, 0))
        stats.append(_fit(d).estimate[0])
    stats = np.array(stats)
    assert ri["p_value"] == np.mean(np.abs(stats) >= abs(obs) - 1e-10 * max(1, abs(obs)))


def test_ci_is_the_inverted_test():
    df = _frame(effect=1.0, seed=3)
    res = _fit(df)
    ri = res.randomization(reps=999).tidy().iloc[0]
    low, high = ri["conf_low"], ri["conf_high"]
    assert low < res.estimate[0] < high
    # shifting the outcome by tau*D and testing 0 is testing tau: accepted inside, rejected outside
    treated = ci.Panel(df, unit="u", time="t", cohort="g", cluster="c").treated
    for tau, accept in ((low + 1e-6, True), (high - 1e-6, True), (low - 1e-3, False), (high + 1e-3, False)):
        p = _fit(df.assign(y=df["y"] - tau * treated)).randomization(reps=999, conf_int=False)
        assert (p.tidy()["p_value"][0] > 0.05) == accept


def test_random_draws_reproducible_and_strata():
    df = _frame(n_clusters=12, treated=6, strata=True)
    res = _fit(df)
    a = res.randomization(reps=60, seed=1, conf_int=False).tidy()
    b = res.randomization(reps=60, seed=1, conf_int=False).tidy()
    assert not a["exact"][0] and a["reps"][0] == 60 and a["p_value"][0] == b["p_value"][0]
    s = res.randomization(reps=999, strata="s", conf_int=False).tidy()
    assert s["exact"][0] and s["reps"][0] == 400  # C(6,3)^2 within two strata
    t = res.randomization(reps=999, strata="s", statistic="t").tidy()
    assert np.isnan(t["conf_low"][0])


def test_errors():
    df = _frame()
    res = _fit(df)
    df2 = df.assign(g=np.where(df["u"] % 2 == 0, df["g"], 0))
    with pytest.raises(ci.SpecificationError, match="varies within"):
        _fit(df2).randomization(reps=9)
    with pytest.raises(ci.SpecificationError, match="refit"):
        randomization(ci.Result(pd.DataFrame({"term": ["x"]}), np.ones(1), np.eye(1)))
    with pytest.raises(ci.SpecificationError, match="strata"):
        res.randomization(reps=9, strata="sx")


def test_refit_spec_is_generic():
    """Any fit(panel, outcome) -> Result works, e.g. a difference of post-period means."""
    df = _frame()
    panel = ci.Panel(df, unit="u", time="t", cohort="g", cluster="c")

    def post_gap(p, y):
        d = p.data.assign(_tr=np.isfinite(p.cohort_value), _post=p.time_value >= 2)
        m = d[d["_post"]].groupby("_tr")[y].mean()
        return ci.Result(pd.DataFrame({"term": ["gap"]}), np.array([m[True] - m[False]]), np.eye(1))

    spec = RefitSpec(panel, post_gap, "y")
    out = randomization(spec(panel), refit=spec, reps=999).tidy().iloc[0]
    assert out["exact"] and 0 < out["p_value"] <= 1 and out["conf_low"] < out["conf_high"]


def test_conley_taber_one_treated_cluster():
    rng = np.random.default_rng(2)
    g, units, periods = 25, 3, 6
    unit = np.repeat(np.arange(g * units), periods)
    df = pd.DataFrame({"u": unit, "t": np.tile(np.arange(periods), g * units), "c": unit // units})
    df["g"] = np.where(df["c"] == 0, 3, 0)
    df["y"] = rng.normal(size=len(df))
    res = _fit(df)
    with pytest.warns(ci.FewClustersWarning, match="Conley-Taber"):
        ri = res.randomization(reps=999).tidy().iloc[0]
    assert ri["exact"] and ri["reps"] == 25 and ri["ct_draws"] == 24
    assert ri["ct_conf_low"] < res.estimate[0] < ri["ct_conf_high"]
    # by hand: the treated cluster's demeaned-treatment path applied to control residual paths
    panel = ci.Panel(df, unit="u", time="t", cohort="g", cluster="c")
    out = conley_taber(res, panel, size_correction=False)
    h = res.fit.x[:, 0] * res.fit.bread[0, 0]
    cell = pd.DataFrame({"c": df["c"], "t": df["t"], "h": h, "e": res.fit.resid})
    hg = cell[cell["c"] == 0].groupby("t")["h"].sum()
    gamma = [float(hg @ cell[cell["c"] == j].groupby("t")["e"].mean()) for j in range(1, g)]
    est = res.estimate[0]
    assert abs(out["ct_conf_low"] - (est - np.quantile(gamma, 0.975))) < 1e-12
    assert out["ct_p_value"] == np.mean(np.abs(gamma) >= abs(est) - 1e-12)


def test_att_gt_aggregation_randomization_equals_brute_force_enumeration():
    """Exact RI for the simple aggregation of att_gt = enumerate every cluster assignment by hand."""
    import itertools
    import warnings

    rng = np.random.default_rng(3)
    n_cl, per_cl, periods = 6, 3, 4
    unit = np.repeat(np.arange(n_cl * per_cl), periods)
    cluster = unit // per_cl
    t = np.tile(np.arange(1, periods + 1), n_cl * per_cl)
    cl_cohort = np.array([3, 3, 0, 0, 0, 4])
    df = pd.DataFrame({"u": unit, "cl": cluster, "t": t, "g": cl_cohort[cluster],
                       "y": rng.normal(size=unit.size) + 0.5 * (t >= 3) * (cluster < 2)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = ci.Panel(df, unit="u", time="t", cohort="g", cluster="cl")
        agg = ci.att_gt(p, "y").aggregate("simple")
        ri = agg.randomization(reps=10_000, seed=1, conf_int=False)
        observed = agg.estimate[0]
        draws = []
        for perm in set(itertools.permutations(cl_cohort.tolist())):
            alt = df.assign(g=np.asarray(perm)[df["cl"]])
            pa = ci.Panel(alt, unit="u", time="t", cohort="g", cluster="cl")
            draws.append(ci.att_gt(pa, "y").aggregate("simple").estimate[0])
    draws = np.asarray(draws)
    assert bool(ri.tidy()["exact"][0]) and int(ri.tidy()["reps"][0]) == draws.size == 60
    expected = np.mean(np.abs(draws) >= np.abs(observed) - 1e-12)
    assert ri.tidy()["p_value"][0] == pytest.approx(expected, abs=1e-12)


def test_half_treated_six_clusters_cannot_reject_and_says_so():
    """C(6,3) = 20 assignments pair up (swapping treated and control flips the sign of the
    TWFE estimate), so the smallest p-value is 2/20 even for a huge effect."""
    res = _fit(_frame(n_clusters=6, treated=3, effect=50.0))
    ri = res.randomization(reps=999, conf_int=False)
    out = ri.tidy().iloc[0]
    assert out["exact"] and out["reps"] == 20
    assert out["p_value"] == pytest.approx(0.1)
    assert any("smallest attainable p-value is 0.1 > 0.05" in n for n in ri.info["notes"])
    # eight clusters, four treated: 2/70 < 0.05, no such note
    ri8 = _fit(_frame(n_clusters=8, treated=4, effect=50.0)).randomization(reps=999, conf_int=False)
    assert ri8.tidy()["p_value"][0] == pytest.approx(2 / 70)
    assert not any("cannot reject" in n for n in ri8.info["notes"])


def test_randomized_ties_p_value_is_between_the_strict_and_counted_p():
    """ties='randomize' puts U x (tied assignments) on top of the strictly larger ones: with
    6 clusters half treated and a huge effect, the observed estimate and its sign-flipped twin
    tie at the top, so p = 2U/20 lies in [0, 0.1]; the same seed gives the same p."""
    res = _fit(_frame(n_clusters=6, treated=3, effect=50.0))
    draws = [res.randomization(conf_int=False, ties="randomize", seed=s) for s in range(40)]
    p = np.array([d.tidy()["p_value"][0] for d in draws])
    assert ((p >= 0) & (p <= 0.1)).all() and np.unique(p).size == p.size
    assert (p <= 0.05).mean() > 0.2                    # 2U/20 <= 0.05 iff U <= 0.5
    again = res.randomization(conf_int=False, ties="randomize", seed=3).tidy()["p_value"][0]
    assert again == p[3]
    assert not any("cannot reject" in n for n in draws[0].info["notes"])
    assert any("randomized over ties" in n for n in draws[0].info["notes"])
    with pytest.raises(ci.SpecificationError, match="ties"):
        res.randomization(ties="random")


class _GridUniform:
    """Stands in for a Generator: uniform() walks the midpoints of a fine grid on (0, 1)."""

    def __init__(self, n: int):
        self.u, self.k = (np.arange(n) + 0.5) / n, -1

    def uniform(self) -> float:
        self.k += 1
        return float(self.u[self.k % self.u.size])


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.3])
def test_randomized_ri_has_exact_size_under_the_sharp_null(alpha):
    """Under the sharp null the observed assignment is uniform over the enumerated ones, so
    P(p <= alpha) = average over assignments b of P_U(p_b <= alpha), which must equal alpha
    exactly for the randomized rule and falls short of it for the counted rule when the grid
    is coarse. Statistics: the 20 TWFE estimates of every 3-of-6 assignment (tied in pairs)."""
    from clusterimpact.inference.randomization import ri_p_value

    df = _frame(n_clusters=6, treated=3)
    theta = np.array([_fit(df.assign(g=np.where(df["c"].isin(t), 2, 0))).estimate[0]
                      for t in itertools.combinations(range(6), 3)])
    assert np.unique(np.round(np.abs(theta), 10)).size == 10          # ten tied pairs
    n_u = 2000
    rejections = [np.mean([ri_p_value(theta, obs, True, g) <= alpha
                           for g in [_GridUniform(n_u)] for _ in range(n_u)])
                  for obs in theta]
    assert np.mean(rejections) == pytest.approx(alpha, abs=1 / n_u)
    counted = np.mean([ri_p_value(theta, obs, True) <= alpha for obs in theta])
    assert counted == pytest.approx(np.floor(alpha * 10) / 10)        # pairs: multiples of 0.1
