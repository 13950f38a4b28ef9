"""ci.simulate engine: determinism, overrides and their errors, each mechanism, scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.simulate import Outcome, SimParams

SMALL = {"n_clusters": 12, "firms_per_cluster": 3}


def basic(seed=0, **kw) -> ci.simulate.Simulation:
    return ci.simulate.scenario("staggered_basic", seed=seed, **(SMALL | kw))


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("name", list(ci.simulate.scenarios()))
def test_same_seed_identical(name):
    a, b = ci.simulate.scenario(name, seed=123), ci.simulate.scenario(name, seed=123)
    pd.testing.assert_frame_equal(a.data, b.data, check_exact=True)
    pd.testing.assert_frame_equal(a.effects, b.effects, check_exact=True)
    pd.testing.assert_frame_equal(a.truth, b.truth, check_exact=True)
    c = ci.simulate.scenario(name, seed=124)
    outcome = a.outcomes[0]
    assert len(a.data) != len(c.data) or not np.array_equal(a.data[outcome], c.data[outcome])


def test_generator_seed_and_global_rng_untouched():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checking the legacy global RNG
    a = basic(seed=np.random.default_rng(5))
    b = basic(seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(a.data, b.data, check_exact=True)
    assert a.seed is None
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_seed_none_is_recorded_and_reproducible():
    a = basic(seed=None)
    assert isinstance(a.seed, int)
    pd.testing.assert_frame_equal(a.data, basic(seed=a.seed).data, check_exact=True)


def test_bad_seed():
    with pytest.raises(ci.SpecificationError, match="seed"):
        basic(seed="1")


# ------------------------------------------------------------------ overrides
def test_overrides_apply():
    sim = basic(n_periods=10, cohorts=(4, 8), never_share=0.5)
    assert sim.params.n_clusters == 12 and sim.params.n_periods == 10
    assert sorted(sim.data["period"].unique()) == list(range(1, 11))
    assert sim.data.groupby("cohort")["cluster_id"].nunique().to_dict() == {0: 6, 4: 3, 8: 3}
    assert sim.data["cluster_id"].nunique() == 12


def test_unknown_override_suggests():
    with pytest.raises(ci.SpecificationError, match=r"'n_cluster'.*Did you mean 'n_clusters'"):
        ci.simulate.scenario("staggered_basic", seed=1, n_cluster=10)
    with pytest.raises(ci.SpecificationError, match="Known parameters"):
        ci.simulate.scenario("staggered_basic", seed=1, zzz=10)
    with pytest.raises(ValueError, match="Did you mean 'garment_codes'"):
        ci.simulate.scenario("garment_code")


@pytest.mark.parametrize(("overrides", "match"), [
    ({"cohorts": (1, 3)}, "untreated period"),
    ({"cohorts": (5, 3)}, "increasing"),
    ({"cohorts": (3, 9)}, "cohorts must lie"),
    ({"attrition": 1.5}, "attrition"),
    ({"tier_shares": (0.5, 0.5, 0.5)}, "tier_shares"),
    ({"cohort_sizes": (30, 30, 30)}, "cohort_sizes"),
    ({"design": "cross_section"}, "Did you mean 'repeated_cross_section'"),
    ({"cohort_draw": "random"}, "cohort_draw must be one of"),
    ({"exclusion": {"gendr": {"female": 0.5}}}, "Did you mean 'gender'"),
    ({"exclusion": {"gender": {"women": 0.5}}}, "no level 'women'"),
    ({"anticipation": 2, "cohorts": (3, 5)}, "anticipation"),
    ({"level": "firm", "exclusion": {"gender": {"female": 0.5}}}, "worker attributes"),
    ({"drop_columns": ("cohort",)}, "drop_columns"),
    ({"drop_columns": ("tiers",)}, "Did you mean 'tier'"),
])
def test_invalid_values(overrides, match):
    with pytest.raises(ci.SpecificationError, match=match):
        basic(**overrides)


def test_multinomial_cohort_draw_has_random_wave_counts_with_the_fixed_shares():
    # fixed: exactly 10 clusters in each of the 3 waves and 10 never treated; multinomial: the counts
    # vary across seeds, with multinomial mean n * cohort_shares() and variance n * p * (1 - p)
    fixed = ci.simulate.scenario("staggered_basic", seed=0, firms_per_cluster=1)
    shares = np.asarray(fixed.params.cohort_shares())
    labels = [*fixed.params.cohorts, 0]

    def counts(sim):
        per_cluster = sim.data.groupby("cluster_id")["cohort"].first()
        return per_cluster.value_counts().reindex(labels, fill_value=0).to_numpy()

    np.testing.assert_array_equal(counts(fixed), 40 * shares)
    draws = np.array([counts(ci.simulate.scenario("staggered_basic", seed=s, firms_per_cluster=1,
                                                  cohort_draw="multinomial")) for s in range(200)])
    assert (draws.sum(axis=1) == 40).all()
    assert len({tuple(d) for d in draws}) > 50  # the wave counts are random
    # mean within 4 Monte Carlo s.e. of the expected counts, variance near the multinomial one
    se = np.sqrt(40 * shares * (1 - shares) / len(draws))
    assert (np.abs(draws.mean(axis=0) - 40 * shares) < 4 * se).all()
    np.testing.assert_allclose(draws.var(axis=0, ddof=1), 40 * shares * (1 - shares), rtol=0.3)
    again = ci.simulate.scenario("staggered_basic", seed=3, firms_per_cluster=1, cohort_draw="multinomial")
    pd.testing.assert_frame_equal(again.data, ci.simulate.scenario(
        "staggered_basic", seed=3, firms_per_cluster=1, cohort_draw="multinomial").data, check_exact=True)
    assert f"{counts(again)[0]} clusters" in again.describe()


def test_outcome_validation():
    with pytest.raises(ci.SpecificationError, match="rho"):
        Outcome("y", rho=1.0)
    with pytest.raises(ci.SpecificationError, match="Did you mean 'site'"):
        Outcome("y", effect_by={"sites": {"home": 1.0}})
    with pytest.raises(ci.SpecificationError, match="firm-level"):
        Outcome("y", level="firm", effect_by={"gender": {"female": 1.0}})
    with pytest.raises(ci.SpecificationError, match="unique"):
        SimParams(outcomes=(Outcome("y"), Outcome("y")))


def test_unknown_outcome_and_by():
    sim = basic()
    with pytest.raises(ci.SpecificationError, match="Did you mean 'y'"):
        sim.truth_table(outcome="yy")
    with pytest.raises(ci.SpecificationError, match="Did you mean 'gender'"):
        sim.truth_table("gendr")
    with pytest.raises(ci.SpecificationError, match="kind"):
        sim.aggregate_truth("simpel")


# ------------------------------------------------------------------ mechanisms
def test_truth_by_subgroup_crossings_average_to_overall():
    sim = ci.simulate.scenario("garment_codes", seed=8)
    fine = sim.truth_table(["tier", "gender"], outcome="wage")
    overall = sim.truth_table(outcome="wage").set_index(["cohort", "time"])["effect"]
    pooled = fine.groupby(["cohort", "time"]).apply(
        lambda d: np.average(d["effect"], weights=d["n_obs"]), include_groups=False)
    np.testing.assert_allclose(pooled.to_numpy(), overall.loc[pooled.index].to_numpy(), rtol=1e-12)


def test_dynamic_and_cohort_heterogeneity():
    y = Outcome("y", effect=1.0, effect_by_cohort={3: 1.0}, dynamic=(1.0, 2.0, 3.0))
    sim = basic(outcomes=(y,))
    t = sim.truth.set_index(["cohort", "time"])["effect"]
    assert t[3, 3] == pytest.approx(2.0) and t[3, 4] == pytest.approx(4.0) and t[3, 8] == pytest.approx(6.0)
    assert t[5, 5] == pytest.approx(1.0) and t[5, 7] == pytest.approx(3.0)


def test_anticipation():
    sim = basic(anticipation=1, anticipation_effect=0.5,
                outcomes=(Outcome("y", effect=2.0),))
    t = sim.truth.set_index(["cohort", "time"])["effect"]
    assert t[5, 4] == pytest.approx(1.0) and t[5, 3] == 0 and t[5, 5] == pytest.approx(2.0)


def test_spillovers_reach_untreated_linked_units():
    sim = basic(linked_share=1.0, outcomes=(Outcome("y", effect=1.0, spillover=0.5),))
    never = sim.effects.loc[sim.data["cohort"] == 0, "y"].round(12)  # (L0 + tau) - L0 in floating point
    assert set(np.unique(never)) <= {0.0, 0.5} and (never == 0.5).any()
    assert (sim.effects.loc[(sim.data["tier"] == "first_tier") & (sim.data["cohort"] == 0), "y"] == 0).all()


def test_exclusion_zero_and_drop():
    excl = {"gender": {"female": 1.0}}
    kept = basic(exclusion=excl, exclusion_mode="zero")
    gone = (kept.data["employed"] == 0)
    treated_women = (kept.data["gender"] == "female") & (kept.data["period"] >= kept.data["cohort"]) \
        & (kept.data["cohort"] > 0)
    assert gone.equals(treated_women)
    assert kept.data.loc[gone, "y"].isna().all()  # when_excluded=None: the outcome is missing
    assert kept.truth.query("outcome == 'employed' and time >= cohort")["effect"].lt(0).all()
    dropped = basic(exclusion=excl, exclusion_mode="drop")
    assert len(dropped.data) == len(kept.data) - int(gone.sum())
    assert "employed" not in dropped.data


def test_attrition_and_pretrend():
    sim = basic(attrition=0.2)
    assert not sim.panel.is_balanced
    counts = sim.data.groupby("worker_id")["period"].agg(["min", "max", "size"])
    assert (counts["min"] == 1).all() and (counts["max"] - counts["min"] + 1 == counts["size"]).all()
    flat, tilted = basic(seed=3), basic(seed=3, pretrend=1.0)
    diff = tilted.data["y"] - flat.data["y"]
    assert (diff[flat.data["cohort"] == 0] == 0).all()
    assert diff[(flat.data["cohort"] == 7) & (flat.data["period"] == 8)].gt(0).all()
    pd.testing.assert_frame_equal(flat.truth, tilted.truth)  # trends change Y(0), not the effect


def test_scales():
    outcomes = (Outcome("a", scale="exp", effect=0.5), Outcome("b", scale="binary", effect=1.0),
                Outcome("c", scale="logistic", effect=1.0))
    sim = basic(outcomes=outcomes)
    assert (sim.data["a"] > 0).all() and set(np.unique(sim.data["b"])) <= {0.0, 1.0}
    assert sim.data["c"].between(0, 1).all()
    assert set(np.unique(sim.effects["b"])) <= {0.0, 1.0}


def test_aggregate_truth_weights():
    sim = basic(seed=2)
    t = sim.truth_table()
    p = sim.cohort_weights()
    post = t[t["time"] >= t["cohort"]]
    expected = np.average(post["effect"], weights=post["cohort"].map(p))
    assert sim.aggregate_truth("simple")["effect"].iloc[0] == pytest.approx(expected, rel=1e-12)
    group = sim.aggregate_truth("group")
    assert group["cohort"].tolist() == [3, 5, 7]
    assert group["effect"].iloc[2] == pytest.approx(post.query("cohort == 7")["effect"].mean())
    assert sim.aggregate_truth("calendar")["time"].min() == 3
    assert p.sum() == sim.data.loc[sim.data["cohort"] > 0, "worker_id"].nunique()


def test_firm_level_panel():
    sim = ci.simulate.scenario("staggered_basic", seed=1, level="firm", firms_per_cluster=10)
    assert sim.panel.unit == "firm_id" and "worker_id" not in sim.data and "gender" not in sim.data
    assert sim.panel.n_units == 400


def test_million_rows_builds():
    sim = ci.simulate.scenario("staggered_basic", seed=1, n_clusters=700, firms_per_cluster=20)
    assert len(sim.data) > 1_000_000
    assert sim.panel.n_obs == len(sim.data)
    assert len(sim.truth) == 3 * 8
