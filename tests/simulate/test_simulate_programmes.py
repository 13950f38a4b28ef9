"""Take-up, supplier links and the truths of the worker estimators (issue 9).

* With the new options off, every scenario's data, effects and truth are bit-identical to
  what the engine produced before they were added (hashes recorded at commit b436772 with
  seed 2024, on this machine's numpy; a change of numpy's transcendental functions could
  move the last bit of exp/log and would then need new hashes, nothing else should).
* Take-up: only joiners are affected, ``takeup`` is the treatment received, take-up
  depends on firm attributes, and ``takeup_truth`` is consistent with the truth table.
* Links: ``partner_cluster``/``partner_sales_share`` describe the spillover exactly, and
  ``exposure_truth`` recovers the linear spillover slope.
* ``retention_truth``, ``baseline_composition_truth`` and ``subset`` on small cases
  computed by hand (full recovery studies are in test_truth_recovery.py).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.errors import SpecificationError
from clusterimpact.simulate import Outcome
from clusterimpact.simulate.scenarios import GARMENT_SUPPLIERS, GARMENT_TAKEUP

# sha256[:16] of (dtypes, pandas row hashes) of data, effects and truth, seed 2024, computed with
# the engine of commit b436772 (before take-up and link exposure existed).
BEFORE = {
    "football_stitching|": ["79fd1614edb6e07d", "67d925a9193e1060", "05feffaca010e28e"],
    "football_stitching|rcs": ["58fd327802ec13eb", "bb0963c716a3bb4f", "226602f7e13269d4"],
    "football_stitching|drop": ["3bb2cfccb7ba936b", "e2a7ffa4443cf5d9", "fcfccbde1d484c53"],
    "tannery_effluent|": ["d642132189c9df10", "92e54804ba05c47c", "c2533b6aea7779b0"],
    "tannery_effluent|rcs": ["858d2143a09552b0", "f8e265ec8630c13c", "8c0989d467663ed7"],
    "tannery_effluent|drop": ["52835adbfacb3e39", "981b16a6884b206b", "3477258275f0616c"],
    "garment_codes|": ["7e26beb1429b39a9", "ed35bd75aa409579", "cdc27b3d75273bdb"],
    "garment_codes|rcs": ["0cffd05bad8a40b7", "05e1118a420715cc", "7633dbea1ed68787"],
    "garment_codes|drop": ["745933b6d0aeebf0", "3ad0eb2f25dcfaa7", "3fa041a367aee46b"],
    "village_distribution|": ["9f476573105b65ac", "cbcf64132c104b2d", "51f2d520b7e50459"],
    "village_distribution|rcs": ["8bfa8fd16187c171", "ab5b492bad7f36f3", "b7d08f9acd597ebb"],
    "village_distribution|drop": ["ce686b04664fac5d", "c728e6a711a2dd4b", "a428eee0510970d8"],
    "staggered_basic|": ["61690f402b52ee8c", "310cde6bfc992041", "e1fedffbe9e72694"],
    "staggered_basic|rcs": ["0ce880ed61e7b131", "ab9f27852a1e2f20", "fda5ab6b2edeeeff"],
    "staggered_basic|drop": ["84fcb9e1c2b95f0b", "6fb2243985bdfa76", "62005ca6134506ee"],
}
VARIANTS = {"": {}, "rcs": {"design": "repeated_cross_section"},
            "drop": {"exclusion_mode": "drop", "attrition": 0.05}}


def digest(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("key", list(BEFORE))
def test_options_off_leave_every_scenario_bit_identical(key):
    name, variant = key.split("|")
    sim = ci.simulate.scenario(name, seed=2024, **VARIANTS[variant])
    assert [digest(sim.data), digest(sim.effects), digest(sim.truth)] == BEFORE[key]
    assert not {"takeup", "partner_cluster", "partner_sales_share"} & set(sim.data)


# ------------------------------------------------------------------------------ take-up
def test_takeup_only_joiners_are_affected():
    sim = ci.simulate.scenario("garment_codes", seed=3, **GARMENT_TAKEUP)
    d, e = sim.data, sim.effects
    offered = (d["cohort"] > 0) & (d["period"] >= d["cohort"])
    assert ((d["takeup"] == 1) <= offered).all()  # take-up only once the cluster is offered
    joiner = d.groupby("firm_id")["takeup"].transform("max") == 1
    non_joiner_rows = (d["cohort"] > 0) & ~joiner
    assert (e.loc[non_joiner_rows, ["wage", "hours", "accident", "outsourced_share"]] == 0).all().all()
    assert (e.loc[offered & joiner, "wage"] != 0).mean() > 0.5
    # a joiner takes part in every period from its cluster's adoption on (a firm decision)
    assert d.loc[offered & joiner, "takeup"].eq(1).all()
    assert d.groupby(["firm_id", "period"])["takeup"].nunique().max() == 1
    # takeup_by: first-tier firms join far more often (0.8) than home-based units (0.15)
    firms = d[offered].drop_duplicates("firm_id")
    rate = firms.groupby("tier", observed=True)["takeup"].mean()
    assert rate["first_tier"] > 0.65 and rate["home_based"] < 0.3


def test_takeup_truth_consistent_with_truth_table():
    sim = ci.simulate.scenario("garment_codes", seed=4, n_clusters=16, cohort_sizes=(4, 4), **GARMENT_TAKEUP)
    assert "takeup" in sim.truth_by
    t = sim.takeup_truth("wage")
    overall = sim.truth_table(None, "wage")
    np.testing.assert_allclose(t["itt"], overall["effect"], rtol=0, atol=1e-12)
    joiners = sim.truth_table("takeup", "wage").query("takeup == 1")
    merged = t.merge(joiners, on=["cohort", "time"])
    np.testing.assert_allclose(merged["effect_on_joiners"], merged["effect"], rtol=0, atol=1e-12)
    pre = t[t["time"] < t["cohort"]]
    assert (pre["first_stage"] == 0).all() and pre["effect_on_joiners"].isna().all()
    d = sim.data
    cell = d[(d["cohort"] == 4) & (d["period"] == 8)]
    assert t.set_index(["cohort", "time"]).loc[(4, 8), "first_stage"] == pytest.approx(cell["takeup"].mean())


def test_takeup_one_means_every_offered_firm_takes_part():
    full = ci.simulate.scenario("staggered_basic", seed=5, n_clusters=12, takeup=1.0)
    offered = (full.data["cohort"] > 0) & (full.data["period"] >= full.data["cohort"])
    assert full.data["takeup"].eq(offered.astype(int)).all()
    assert (full.effects.loc[offered, "y"] != 0).all()


@pytest.mark.parametrize("overrides, match", [
    ({"takeup": 1.5}, "takeup must lie"),
    ({"takeup_by": {"tier": {"first_tier": 0.2}}}, "takeup_by needs takeup"),
    ({"takeup": 0.5, "takeup_by": {"gender": {"female": 0.2}}}, "firm decision"),
    ({"takeup": 0.5, "takeup_by": {"tier": {"first": 0.2}}}, "no level 'first'"),
    ({"linked_exposure": (0.0, 1.0)}, "linked_exposure"),
    ({"linked_exposure": (0.8, 0.5)}, "linked_exposure"),
])
def test_takeup_and_link_errors(overrides, match):
    with pytest.raises(SpecificationError, match=match):
        ci.simulate.scenario("garment_codes", seed=1, **overrides)


def test_takeup_outcome_name_clash():
    with pytest.raises(SpecificationError, match="clash"):
        ci.simulate.scenario("staggered_basic", seed=1, takeup=0.5, outcomes=(Outcome("takeup"),))


# ------------------------------------------------------------------------------ links
def test_link_columns_describe_the_spillover():
    sim = ci.simulate.scenario("garment_codes", seed=6, **GARMENT_SUPPLIERS)
    d, e = sim.data, sim.effects
    linked = d["partner_cluster"] > 0
    assert (d.loc[linked, "tier"] != "first_tier").all()
    assert ((d["partner_sales_share"] > 0) == linked).all()
    assert d.loc[linked, "partner_sales_share"].between(0.2, 1.0).all()
    assert (d.loc[linked, "partner_cluster"] != d.loc[linked, "cluster_id"]).all()
    assert d.groupby("firm_id")[["partner_cluster", "partner_sales_share"]].nunique().max().max() == 1
    cohort_of = d.groupby("cluster_id")["cohort"].first()
    onset = d["partner_cluster"].map(cohort_of).fillna(0)
    exposed = (d["cohort"] == 0) & linked & (onset > 0) & (d["period"] >= onset)
    # identity-scale outcomes: the effect is exactly spillover x exposure on exposed rows, 0 on the other
    # rows of never-treated clusters
    for y, s in (("wage", -0.3), ("hours", 5.0)):
        np.testing.assert_allclose(e.loc[exposed, y], s * d.loc[exposed, "partner_sales_share"], atol=1e-12)
        assert (e.loc[(d["cohort"] == 0) & ~exposed, y].abs() < 1e-12).all()
    truth = sim.exposure_truth("hours", bins=(0, 0.5, 1))
    assert truth["exposure_bin"].tolist() == ["(0, 0.5]", "(0.5, 1]"]
    np.testing.assert_allclose(truth["effect_per_exposure"], 5.0)
    assert truth["effect"].iloc[0] < truth["effect"].iloc[1]
    dyn = sim.exposure_truth("wage", "dynamic")
    assert (dyn.loc[dyn["event_time"] < 0, "effect"] == 0).all()


def test_exposure_truth_by_hand():
    sim = ci.simulate.scenario("garment_codes", seed=7, **GARMENT_SUPPLIERS)
    d, e = sim.data, sim.effects
    cohort_of = d.groupby("cluster_id")["cohort"].first()
    onset = d["partner_cluster"].map(cohort_of).fillna(0)
    rows = (d["cohort"] == 0) & (d["partner_cluster"] > 0) & (onset > 0)
    frame = pd.DataFrame({"g": onset[rows], "t": d.loc[rows, "period"], "y": e.loc[rows, "hours"],
                          "unit": d.loc[rows, "worker_id"]})
    cells = frame[frame["t"] >= frame["g"]].groupby(["g", "t"])["y"].mean().reset_index()
    sizes = frame.drop_duplicates("unit").groupby("g").size()
    cells["p"] = cells["g"].map(sizes)
    expected = np.average(cells["y"], weights=cells["p"])
    assert sim.exposure_truth("hours")["effect"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_exposure_truth_needs_links():
    with pytest.raises(SpecificationError, match="linked_share"):
        ci.simulate.scenario("garment_codes", seed=1).exposure_truth("wage")


# ------------------------------------------------------------------------------ retention etc.
def test_retention_truth_by_hand():
    sim = ci.simulate.scenario("football_stitching", seed=2, attrition=0.1)
    d = sim.data
    treated_units = d.loc[d["cohort"] > 0].drop_duplicates("worker_id")
    grid = pd.MultiIndex.from_product([treated_units["worker_id"], sim.params.periods],
                                      names=["worker_id", "period"])
    eff = (d.set_index(["worker_id", "period"])["employed"] - 1).reindex(grid, fill_value=0.0)
    frame = eff.rename("r").reset_index().merge(treated_units[["worker_id", "cohort", "gender"]])
    cells = frame[frame["period"] >= frame["cohort"]].groupby(["gender", "cohort", "period"],
                                                                observed=True)["r"].mean()
    sizes = treated_units.groupby(["gender", "cohort"], observed=True).size()
    cells = cells.reset_index()
    cells["p"] = [sizes[g, c] for g, c in zip(cells["gender"], cells["cohort"], strict=True)]
    expected = cells.groupby("gender", observed=True)[["r", "p"]].apply(
        lambda f: np.average(f["r"], weights=f["p"]))
    truth = sim.retention_truth(by="gender").set_index("gender")["effect"]
    np.testing.assert_allclose(truth.to_numpy(), expected.reindex(truth.index).to_numpy(), rtol=1e-12)
    with pytest.raises(SpecificationError, match="attrition"):
        ci.simulate.scenario("football_stitching", seed=2, attrition=0.1,
                             exclusion_mode="drop").retention_truth()


def test_retention_truth_drop_equals_zero_mode():
    """Same seed, same draws: dropping the excluded rows leaves the same truth as keeping them at 0."""
    kept = ci.simulate.scenario("football_stitching", seed=3)
    dropped = ci.simulate.scenario("football_stitching", seed=3, exclusion_mode="drop")
    pd.testing.assert_frame_equal(kept.retention_truth(by="site"), dropped.retention_truth(by="site"))


def test_baseline_composition_truth_by_hand():
    sim = ci.simulate.scenario("football_stitching", seed=4)
    sub = sim.aggregate_truth("simple", "earnings", by="gender").set_index("gender")["effect"]
    first = sim.data[(sim.data["period"] == 1) & (sim.data["cohort"] > 0)]
    w = first["gender"].value_counts(normalize=True)
    expected = sum(w[g] * sub[g] for g in sub.index)
    got = sim.baseline_composition_truth("earnings", by="gender")["effect"].iloc[0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_subset_truth_refers_to_the_rows_kept():
    sim = ci.simulate.scenario("garment_codes", seed=5, n_clusters=16, cohort_sizes=(4, 4))
    keep = (sim.data["tier"] == "first_tier").to_numpy()
    sub = sim.subset(keep)
    assert len(sub.data) == keep.sum() and sub.params is sim.params
    pd.testing.assert_frame_equal(
        sub.truth_table(None, "wage"),
        sim.truth_table("tier", "wage").query("tier == 'first_tier'").drop(columns="tier")
        .reset_index(drop=True))
    with pytest.raises(SpecificationError, match="boolean mask"):
        sim.subset(keep[:10])
