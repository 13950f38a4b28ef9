"""Changes-in-changes and quantile DiD (hand-computed), winners and losers."""

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def _four_cells(y00, y01, y10, y11):
    rows = []
    for g, pre, post in ((0, y00, y01), (2, y10, y11)):
        for i, (a, b) in enumerate(zip(pre, post, strict=True)):
            uid = f"{g}-{i}"
            rows += [{"id": uid, "t": 1, "g": g, "y": a, "cl": uid},
                     {"id": uid, "t": 2, "g": g, "y": b, "cl": uid}]
    return ci.Panel(pd.DataFrame(rows), unit="id", time="t", cohort="g", cluster="cl")


def test_cic_and_qdid_hand_computed():
    # k(y) = F01^{-1}(F00(y)) doubles the outcome: k(2,3,4,5) = (4,6,8,8)
    panel = _four_cells([1, 2, 3, 4], [2, 4, 6, 8], [2, 3, 4, 5], [5, 7, 9, 11])
    cic = ci.changes_in_changes(panel, "y", quantiles=[0.25, 0.5, 0.75], reps=19, seed=0)
    np.testing.assert_allclose(cic.estimate, [8 - 6.5, 5 - 4, 7 - 6, 9 - 8])
    qd = ci.workers.quantile_did(panel, "y", quantiles=[0.25, 0.5], reps=19, seed=0)
    np.testing.assert_allclose(qd.estimate, [(8 - 3.5) - (5 - 2.5), 5 - 2 - 2 + 1, 7 - 3 - 4 + 2])



def _weighted_cells(y00, y01, y10, y11, w_control, w_treated):
    panel = _four_cells(y00, y01, y10, y11)
    w = {f"0-{i}": v for i, v in enumerate(w_control)} | {f"2-{i}": v for i, v in enumerate(w_treated)}
    data = panel.data.assign(w=lambda d: d["id"].map(w).astype(float))
    return ci.Panel(data, unit="id", time="t", cohort="g", cluster="cl", weights="w")


def test_cic_and_qdid_with_weights_equal_replicated_units():
    """Sampling weights enter through weighted empirical distributions, so integer weights give
    exactly the estimates of the panel with each unit repeated that many times (before, the
    weights were silently ignored)."""
    y00, y01, y10, y11 = [1, 2, 3, 4], [2, 4, 6, 8], [2, 3, 4, 5], [5, 7, 9, 11]
    wc, wt = [3, 1, 1, 2], [1, 4, 2, 1]
    weighted = _weighted_cells(y00, y01, y10, y11, wc, wt)
    rep = _four_cells(np.repeat(y00, wc), np.repeat(y01, wc), np.repeat(y10, wt), np.repeat(y11, wt))
    for fit in (ci.changes_in_changes, ci.workers.quantile_did):
        a = fit(weighted, "y", quantiles=[0.2, 0.25, 0.5, 0.75, 0.9], reps=9, seed=0).estimate
        b = fit(rep, "y", quantiles=[0.2, 0.25, 0.5, 0.75, 0.9], reps=9, seed=0).estimate
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # hand check of the weighted CiC mean: F00 and F01 carry the control weights (3,1,1,2)/7, so
    # k(2,3,4,5) = F01^{-1}(F00(2,3,4,5)) = F01^{-1}(4/7, 5/7, 1, 1) = (4, 6, 8, 8), averaged with
    # the treated weights (1,4,2,1)
    cic = ci.changes_in_changes(weighted, "y", quantiles=[0.5], reps=9, seed=0)
    counter = np.average([4, 6, 8, 8], weights=wt)
    assert cic.estimate[0] == pytest.approx(np.average(y11, weights=wt) - counter, rel=1e-12)
    unweighted = ci.changes_in_changes(_four_cells(y00, y01, y10, y11), "y", quantiles=[0.5], reps=9,
                                       seed=0)
    assert abs(unweighted.estimate[0] - cic.estimate[0]) > 0.1

def test_cic_recovers_shift_and_is_transformation_invariant():
    rng = np.random.default_rng(1)
    n = 1000
    treated_u = rng.random(n) ** 0.7  # units keep their rank U over time
    control_u = rng.random(n)
    u = [control_u, control_u, treated_u, treated_u]

    def h(v, t):  # untreated outcome, increasing in v, changing with t; same support in both groups
        return np.exp(2 * v) * (1 + t)

    panel = _four_cells(h(u[0], 0), h(u[1], 1), h(u[2], 0), h(u[3], 1) + 1.0)
    cic = ci.changes_in_changes(panel, "y", quantiles=[0.5], reps=49, seed=2)
    assert abs(cic.estimate[0] - 1.0) < 0.15 and abs(cic.estimate[1] - 1.0) < 0.2
    assert cic.std_error[0] > 0
    with pytest.raises(ci.SpecificationError, match="quantiles"):
        ci.changes_in_changes(panel, "y", quantiles=[1.5])


def test_football_cic_bootstrap_runs():
    sim = ci.simulate.scenario("football_stitching", seed=2)
    res = ci.changes_in_changes(sim.panel, "earnings", quantiles=[0.1, 0.9], reps=49, seed=3)
    tab = res.tidy()
    assert tab["std_error"].gt(0).all() and tab["quantile"].isna().sum() == 1
    # the bottom of the distribution (excluded home workers, earnings 0) loses most
    assert tab.loc[tab.term == "q0.1", "estimate"].iloc[0] < tab.loc[tab.term == "q0.9", "estimate"].iloc[0]


def test_winners_losers_table_and_plot():
    sim = ci.simulate.scenario("football_stitching", seed=4)
    joint = ci.workers.subgroup_effects(sim.panel, ["earnings", "employed"], by="site")
    wl = ci.winners_losers(joint)
    tab = wl.tidy()
    assert list(tab.columns[:2]) == ["outcome", "subgroup"]
    cls = tab.set_index(["outcome", "subgroup"])["classification"]
    assert cls[("earnings", "centre")] == "gains" and cls[("earnings", "home")] == "loses"
    assert cls[("employed", "factory")] == "no detectable change"
    np.testing.assert_allclose(tab["p_value_adjusted"], joint.tidy()["p_value_adjusted"])
    sep = ci.winners_losers(ci.att_gt(sim.panel, "earnings", by="gender").aggregate("simple"),
                            ci.did(ci.Panel(sim.data[sim.data.period.isin([2, 3])
                                                     & sim.data.cohort.isin([0, 3])],
                                            unit="worker_id", time="period", cohort="cohort",
                                            cluster="cluster_id"), "employed", by="gender"),
                            adjust="fdr_bh")
    assert sep.tidy()["outcome"].tolist() == ["earnings", "earnings", "employed", "employed"]
    assert wl.plot() is not None
    with pytest.raises(ci.SpecificationError, match="by="):
        ci.winners_losers(ci.att_gt(sim.panel, "earnings").aggregate("simple"))
