"""The simulator's truths for the estimands of the worker estimators, checked by hand.

``aggregate_truth(by=...)`` (subgroup ATTs with subgroup cohort sizes), ``per="firm"``
(firm-panel estimand), ``ddd_truth`` (triple differences) and ``quantile_truth`` (QTT).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.simulate import Outcome


@pytest.fixture(scope="module")
def football() -> ci.simulate.Simulation:
    return ci.simulate.scenario("football_stitching", seed=31)


def test_aggregate_truth_by_subgroup_by_hand(football):
    """Simple: post cells weighted by the subgroup's units per cohort; group: mean over post periods."""
    d, eff = football.data, football.effects["earnings"]
    treated = d[d["cohort"] > 0].assign(eff=eff)
    sizes = treated.drop_duplicates("worker_id").groupby(["site", "cohort"], observed=True).size()
    cells = treated.groupby(["site", "cohort", "period"], observed=True)["eff"].mean().reset_index()
    post = cells[cells["period"] >= cells["cohort"]]
    post = post.assign(p=[sizes[s, g] for s, g in zip(post["site"], post["cohort"], strict=True)])
    simple = post.groupby("site", observed=True).apply(lambda f: np.average(f["eff"], weights=f["p"]),
                                                       include_groups=False)
    got = football.aggregate_truth("simple", "earnings", by="site").set_index("site")["effect"]
    assert got.index.tolist() == ["factory", "centre", "home"]  # category order kept
    np.testing.assert_allclose(got.to_numpy(), simple.reindex(got.index).to_numpy(), rtol=1e-12)
    group = football.aggregate_truth("group", "earnings", by="site")
    by_hand = post.groupby(["site", "cohort"], observed=True)["eff"].mean()
    np.testing.assert_allclose(group["effect"].to_numpy(),
                               by_hand.loc[list(zip(group["site"], group["cohort"], strict=True))].to_numpy(),
                               rtol=1e-12)
    # the scenario's story: centre stitchers gain, home stitchers lose
    assert got["centre"] > 0.3 and got["home"] < -0.5


def test_aggregate_truth_without_by_unchanged(football):
    """The overall aggregation (no ``by``) is the cohort-size weighted mean of the overall cells."""
    t = football.truth_table(None, "earnings")
    p = football.cohort_weights()
    post = t[t["time"] >= t["cohort"]]
    expected = np.average(post["effect"], weights=post["cohort"].map(p))
    assert football.aggregate_truth("simple", "earnings")["effect"].iloc[0] == pytest.approx(expected,
                                                                                          rel=1e-12)
    dyn = football.aggregate_truth("dynamic", "earnings").set_index("event_time")["effect"]
    e2 = t[t["event_time"] == 2]
    assert dyn[2] == pytest.approx(np.average(e2["effect"], weights=e2["cohort"].map(p)), rel=1e-12)


def test_firm_level_truth_by_hand():
    sim = ci.simulate.scenario("garment_codes", seed=7, n_clusters=16, cohort_sizes=(4, 4))
    d = sim.data.assign(eff=sim.effects["outsourced_share"].to_numpy())
    firm = d.groupby(["firm_id", "period"], observed=True).agg(
        eff=("eff", "mean"), cohort=("cohort", "first"), tier=("tier", "first")).reset_index()
    firm = firm[firm["cohort"] > 0]
    cells = firm.groupby(["tier", "cohort", "period"], observed=True)["eff"].agg(["mean", "size"])
    got = sim.truth_table("tier", "outsourced_share", per="firm").set_index(["tier", "cohort", "time"])
    np.testing.assert_allclose(got["effect"].to_numpy(), cells["mean"].reindex(got.index).to_numpy(),
                               rtol=1e-12)
    np.testing.assert_array_equal(got["n_obs"].to_numpy(), cells["size"].reindex(got.index).to_numpy())
    sizes = sim.cohort_weights("tier", per="firm")
    units = firm.drop_duplicates("firm_id").groupby(["cohort", "tier"], observed=True).size()
    np.testing.assert_array_equal(sizes.to_numpy(), units.reindex(sizes.index).to_numpy())
    agg = sim.aggregate_truth("simple", "outsourced_share", by="tier", per="firm").set_index("tier")
    assert agg.loc["first_tier", "effect"] > 0.1
    assert agg.loc["subcontractor", "effect"] == 0 and agg.loc["home_based", "effect"] == 0
    with pytest.raises(ci.SpecificationError, match="per must be"):
        sim.truth_table(per="worker")


def test_ddd_truth_is_the_target_effect_when_others_are_untouched():
    y = Outcome("y", effect=0.0, effect_by={"gender": {"female": 1.0}}, dynamic=(0.6, 1.0))
    sim = ci.simulate.scenario("staggered_basic", seed=3, outcomes=(y,))
    women = sim.aggregate_truth("simple", by="gender").set_index("gender")["effect"]
    assert women["male"] == 0
    assert sim.ddd_truth("gender", "female")["effect"].iloc[0] == pytest.approx(women["female"], rel=1e-12)
    group = sim.ddd_truth("gender", "female", "group")
    female = sim.aggregate_truth("group", by="gender").query("gender == 'female'")
    np.testing.assert_allclose(group["effect"], female["effect"], rtol=1e-12)


def test_ddd_truth_is_target_minus_rest(football):
    cells = football._cells("earnings", {"home": (football.data["site"] == "home").to_numpy()}, "unit")
    wide = cells.pivot_table(index=["cohort", "time"], columns="home", values="effect")
    diff = (wide[True] - wide[False]).rename("effect").reset_index()
    home = football.data[football.data["site"] == "home"]
    sizes = home.drop_duplicates("worker_id").groupby("cohort").size()
    post = diff[diff["time"] >= diff["cohort"]]
    expected = np.average(post["effect"], weights=post["cohort"].map(sizes))
    assert football.ddd_truth("site", "home", outcome="earnings")["effect"].iloc[0] == pytest.approx(
        expected, rel=1e-12)
    assert expected < -1  # home stitchers lose relative to factory and centre workers
    with pytest.raises(ci.SpecificationError, match="must select"):
        football.ddd_truth("site", "street")


def test_quantile_truth_constant_effect_and_hand_example():
    y = Outcome("y", effect=0.7, dynamic=(1.0,))
    sim = ci.simulate.scenario("staggered_basic", seed=5, outcomes=(y,))
    q = sim.quantile_truth("y", [0.1, 0.5, 0.9])
    np.testing.assert_allclose(q["effect"], 0.7, rtol=1e-12)  # a pure location shift
    assert q["term"].tolist() == ["mean", "q0.1", "q0.5", "q0.9"]
    # by hand: treated rows of the last period, inverse-cdf quantiles of Y and of Y - effect
    football = ci.simulate.scenario("football_stitching", seed=31)
    last = football.data["period"] == 8
    rows = last & (football.data["cohort"] > 0)
    y1 = np.sort(football.data.loc[rows, "earnings"].to_numpy())
    y0 = np.sort((football.data.loc[rows, "earnings"] - football.effects.loc[rows, "earnings"]).to_numpy())
    k = int(np.ceil(0.25 * y1.size)) - 1  # min{y : F(y) >= 0.25}
    got = football.quantile_truth("earnings", [0.25]).set_index("term")["effect"]
    assert got["q0.25"] == pytest.approx(y1[k] - y0[k], rel=1e-12)
    assert got["mean"] == pytest.approx(football.effects.loc[rows, "earnings"].mean(), rel=1e-12)
    assert got["q0.25"] < -1  # the bottom quarter loses: excluded home stitchers earn 0
    with pytest.raises(ci.SpecificationError, match="no treated rows"):
        football.quantile_truth("earnings", [0.5], time=1)


def test_truth_table_categories_in_order_and_frame(football):
    t = football.truth_table(["site", "gender"], "earnings")
    assert isinstance(t["site"].dtype, pd.CategoricalDtype)
    assert t[["cohort", "time"]].dtypes.map(pd.api.types.is_integer_dtype).all()
    first = t[(t["cohort"] == 3) & (t["time"] == 3)]
    assert first["site"].tolist()[:2] == ["factory", "factory"]
