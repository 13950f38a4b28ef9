"""Exclusion: employment effects, attrition, Lee bounds (hand values, SEs, truth), reweighting."""

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


@pytest.fixture(scope="module")
def sim():
    return ci.simulate.scenario("football_stitching", seed=21)


def _lee_frame(sim, t=8, base=2):
    d = sim.data
    eff = sim.effects
    keep = d.cohort.isin([0, 3])
    pre = d[keep & (d.period == base)].set_index("worker_id")
    post = d[keep & (d.period == t)].set_index("worker_id")
    post_eff = eff[keep & (d.period == t)].set_index(post.index)
    out = pd.DataFrame({
        "cluster": post.cluster_id, "treated": (post.cohort > 0).astype(int),
        "employed": post.employed.astype(int), "dy": post.earnings - pre.earnings,
        "effect": post_eff.earnings, "female_home": (post.gender == "female") & (post.site == "home")})
    out.loc[out.employed == 0, "dy"] = np.nan
    return out


def test_employment_effects_show_who_was_pushed_out(sim):
    res = ci.workers.employment_effects(sim.panel, by="site").tidy().set_index("site")
    assert res.loc["home", "conf_high"] < -0.3
    assert abs(res.loc["factory", "estimate"]) < 0.05
    with pytest.raises(ci.SpecificationError, match="0/1"):
        ci.workers.employment_effects(sim.panel, "earnings", by="site")


def test_attrition_table_by_hand(sim):
    tab = ci.workers.attrition_table(sim.panel, by="gender", employed="employed")
    d = sim.data
    last = d[(d.period == 8) & (d.cohort > 0) & (d.gender == "female")]
    row = tab[(tab.arm == "treated") & (tab.gender == "female")].iloc[0]
    assert row.n_baseline == len(last) and row.n_retained == int(last.employed.sum())
    assert tab[tab.arm == "comparison"]["retention_rate"].eq(1.0).all()


def test_retention_did_on_dropped_rows():
    dropped = ci.simulate.scenario("football_stitching", seed=21, exclusion_mode="drop")
    res = ci.workers.retention_did(dropped.panel, by="site").tidy().set_index("site")
    assert res.loc["home", "estimate"] < -0.4 and res.loc["home", "conf_high"] < 0
    assert abs(res.loc["factory", "estimate"]) < 0.02
    zero = ci.simulate.scenario("football_stitching", seed=21)
    same = ci.workers.retention_did(zero.panel, by="site", employed="employed").tidy().set_index("site")
    np.testing.assert_allclose(same["estimate"], res["estimate"], rtol=1e-10)


def test_lee_bounds_hand_example_both_directions():
    df = pd.DataFrame({"d": [1] * 5 + [0] * 5, "s": [1] * 9 + [0],
                       "y": [1.0, 2, 3, 4, 5, 1, 2, 3, 4, np.nan]})
    b = ci.lee_bounds(df, "y", treatment="d", selected="s")
    np.testing.assert_allclose(b.estimate, [0.0, 1.0])
    assert b.trim_share == pytest.approx(0.2)
    flipped = df.assign(d=1 - df.d)
    f = ci.lee_bounds(flipped, "y", treatment="d", selected="s")
    np.testing.assert_allclose(f.estimate, [-1.0, 0.0])
    # fractional trimming: p n = 1.5 observations
    df2 = pd.DataFrame({"d": [1] * 4 + [0] * 4, "s": [1, 1, 1, 1, 1, 1, 0, 0],
                        "y": [0.0, 1, 2, 3, 1, 1, np.nan, np.nan]})
    b2 = ci.lee_bounds(df2, "y", treatment="d", selected="s")
    # q1 = 1, q0 = .5, p = .5: keep two of four -> upper mean(2,3), lower mean(0,1)
    np.testing.assert_allclose(b2.estimate, [0.5 - 1, 2.5 - 1])


def test_lee_bounds_se_matches_bootstrap():
    rng = np.random.default_rng(5)
    n = 3000
    d = (rng.random(n) < 0.5).astype(int)
    s = (rng.random(n) < np.where(d == 1, 0.85, 0.65)).astype(int)
    y = rng.normal(size=n) + 0.5 * d
    df = pd.DataFrame({"d": d, "s": s, "y": np.where(s == 1, y, np.nan)})
    b = ci.lee_bounds(df, "y", treatment="d", selected="s")
    draws = []
    for _ in range(300):
        idx = rng.integers(0, n, n)
        draws.append(ci.lee_bounds(df.iloc[idx], "y", treatment="d", selected="s").estimate)
    boot = np.std(np.array(draws), axis=0, ddof=1)
    np.testing.assert_allclose(b.std_error, boot, rtol=0.2)  # 300 draws: ~4% MC error on an SD


def test_lee_bounds_contain_truth_under_simulated_exclusion(sim):
    frame = _lee_frame(sim)
    b = ci.lee_bounds(frame, "dy", treatment="treated", selected="employed", cluster="cluster")
    always = frame[(frame.treated == 1) & (frame.employed == 1)]
    truth = always["effect"].mean()
    lo, hi = b.im_conf_int
    assert lo <= truth <= hi
    assert b.estimate[0] <= b.estimate[1]
    naive = frame[frame.employed == 1].groupby("treated")["dy"].mean()
    assert b.trim_share > 0.2  # a fifth of the comparison selected are trimmed
    iid = ci.lee_bounds(frame, "dy", treatment="treated", selected="employed")
    assert np.all(b.std_error > iid.std_error)  # clustering matters here
    assert np.isfinite(naive).all()


def test_imbens_manski_between_one_and_two_sided():
    lo, _hi = ci.workers.imbens_manski(0.0, 0.5, 0.2, 0.2)
    assert 0.0 - 1.96 * 0.2 < lo < 0.0 - 1.645 * 0.2


def test_reweight_to_baseline(sim):
    r = ci.workers.reweight_to_baseline(sim.panel, "earnings", by="site")
    sub = ci.workers.subgroup_effects(sim.panel, "earnings", by="site")
    w = np.array(list(r.info["weights"].values()))
    np.testing.assert_allclose(r.estimate[0], w @ sub.estimate, rtol=2e-3)  # info rounds weights to 4 digits
    fixed = np.sqrt(w @ sub.vcov @ w)
    assert r.std_error[0] >= 0.8 * fixed
    assert w.sum() == pytest.approx(1.0, abs=1e-3)
