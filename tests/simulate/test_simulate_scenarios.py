"""ci.simulate scenarios: schema, valid panels, truth-table keys, description, overrides, errors."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.simulate.params import ATTRIBUTES

NAMES = list(ci.simulate.scenarios())


@pytest.fixture(scope="module", params=NAMES)
def sim(request) -> ci.simulate.Simulation:
    return ci.simulate.scenario(request.param, seed=11)


def test_scenario_list():
    listed = ci.simulate.scenarios()
    assert set(listed) == {"football_stitching", "tannery_effluent", "garment_codes",
                           "village_distribution", "staggered_basic"}
    assert all(isinstance(v, str) and len(v) > 20 and "\n" not in v for v in listed.values())


def test_schema(sim):
    data, p = sim.data, sim.params
    cluster, firm, unit = p.id_names
    assert {cluster, firm, "period", "cohort", *sim.outcomes} <= set(data.columns)
    assert (unit in data) == (p.level == "worker")
    assert pd.api.types.is_integer_dtype(data["period"]) and pd.api.types.is_integer_dtype(data["cohort"])
    assert sorted(data["period"].unique()) == list(p.periods)
    assert set(data["cohort"].unique()) <= {0, *p.cohorts}
    assert (data["cohort"] == 0).any() and (data["cohort"] > 0).any()
    # cohort and cluster are constant within unit; units nested in firms, firms in clusters
    assert data.groupby(firm)[cluster].nunique().max() == 1
    assert data.groupby(cluster)["cohort"].nunique().max() == 1
    for col, levels in ATTRIBUTES.items():
        if col in data:
            assert isinstance(data[col].dtype, pd.CategoricalDtype)
            assert list(data[col].cat.categories) == list(levels)
    for name in sim.outcomes:
        assert pd.api.types.is_float_dtype(data[name])
        assert np.isfinite(data[name].dropna()).all()
    # effects are row-aligned, zero for never-treated rows without spillovers
    assert sim.effects.index.equals(data.index) and list(sim.effects.columns) == sim.outcomes
    assert (sim.effects.loc[data["cohort"] == 0].fillna(0) == 0).all().all()
    assert ("weight" in data) == p.survey_weights


def test_panel_validates(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no TimingWarning or anything else
        panel = sim.panel
    assert isinstance(panel, ci.Panel)
    assert panel is sim.panel  # built once, lazily
    assert panel.cluster == sim.params.id_names[0] and panel.time == "period"
    assert panel.has_never_treated
    assert panel.cohorts.tolist() == [float(g) for g in sim.params.cohorts]
    assert panel.has_weights == sim.params.survey_weights
    assert panel.n_clusters == sim.params.n_clusters


def test_truth_keys(sim):
    truth = sim.truth
    keys = ["outcome", "cohort", "time", *sim.truth_by]
    assert list(truth.columns) == [*keys[:3], "event_time", *sim.truth_by, "effect", "n_obs"]
    assert not truth.duplicated(keys).any()
    assert np.isfinite(truth["effect"]).all() and (truth["n_obs"] > 0).all()
    assert (truth["event_time"] == truth["time"] - truth["cohort"]).all()
    overall = truth
    for col in sim.truth_by:
        overall = overall[overall[col] == "all"]
        assert set(truth[col]) - {"all"} <= set(sim.data[col].astype(str))
    assert not overall.duplicated(["outcome", "cohort", "time"]).any()
    cells = sim.data.loc[sim.data["cohort"] > 0, ["cohort", "period"]].drop_duplicates()
    assert len(overall) == len(cells) * len(sim.outcomes) - int(
        sum(sim.effects.loc[sim.data["cohort"] > 0, o].isna().all() for o in sim.outcomes))
    # no effect before adoption without anticipation, an effect after
    assert (overall.loc[overall["time"] < overall["cohort"], "effect"] == 0).all()
    assert (overall.loc[overall["time"] >= overall["cohort"], "effect"].abs() > 0).any()


def test_truth_table_matches_manual_average(sim):
    name = sim.outcomes[0]
    w = sim.data["weight"] if sim.params.survey_weights else pd.Series(1.0, index=sim.data.index)
    treated = sim.data["cohort"] > 0
    frame = pd.DataFrame({"cohort": sim.data["cohort"], "time": sim.data["period"],
                          "we": w * sim.effects[name], "w": w})[treated]
    sums = frame.groupby(["cohort", "time"])[["we", "w"]].sum()
    manual = (sums["we"] / sums["w"]).to_numpy()
    got = sim.truth_table(outcome=name)["effect"].to_numpy()
    np.testing.assert_allclose(got, manual, rtol=1e-12, atol=1e-12)


def test_describe_says_simulated(sim):
    text = sim.describe()
    assert text.startswith(f"SIMULATED DATA - scenario {sim.name!r}")
    assert "not observations of any real" in text
    assert "References:" in text and all(ref in text for ref in sim.references)
    assert all(o in text for o in sim.outcomes if o != "employed")
    assert "simulated" in repr(sim)


def test_case_citations():
    refs = {name: " ".join(ci.simulate.scenario(name, seed=0).references)
            for name in ("football_stitching", "tannery_effluent", "garment_codes")}
    assert "Nadvi" in refs["football_stitching"]
    assert "Lindgreen" in refs["garment_codes"] and "Pyke" in refs["garment_codes"]
    assert "tannery" in refs["tannery_effluent"].lower()


def test_params_frozen(sim):
    assert dataclasses.is_dataclass(sim.params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.params.n_clusters = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.data = None
    with pytest.raises(TypeError):
        sim.params.outcomes[0].effect_by["x"] = {}


# --------------------------------------------------------------- scenario stories
def test_football_winners_and_losers():
    sim = ci.simulate.scenario("football_stitching", seed=5)
    t = sim.truth
    post = t[(t["time"] >= t["cohort"]) & (t["outcome"] == "earnings")]

    def avg(frame: pd.DataFrame) -> float:
        return float(np.average(frame["effect"], weights=frame["n_obs"]))

    by_site = {s: avg(post[post["site"] == s]) for s in ("centre", "home")}
    by_gender = {g: avg(post[post["gender"] == g]) for g in ("female", "male")}
    overall = avg(post[(post["site"] == "all") & (post["gender"] == "all")])
    assert by_site["centre"] > 0.4 and by_site["home"] < -0.6
    assert by_gender["male"] > 0.3 and by_gender["female"] < -0.3
    assert abs(overall) < 0.35 * min(by_gender["male"], -by_gender["female"])  # roughly cancel
    employed = t[(t["outcome"] == "employed") & (t["time"] >= t["cohort"]) & (t["site"] == "home")]
    assert (employed["effect"] < 0).all()
    # exclusion with rows kept: earnings 0 where employed is 0
    assert (sim.data.loc[sim.data["employed"] == 0, "earnings"] == 0).all()


def test_tannery_one_treated_cluster():
    sim = ci.simulate.scenario("tannery_effluent", seed=2)
    assert sim.data.groupby("cohort")["cluster_id"].nunique().to_dict() == {0: 11, 13: 1}
    assert {"log_bod", "log_cod", "log_chromium", "treatment_cost"} <= set(sim.data)
    assert sim.panel.unit == "tannery_id"
    post = sim.truth.query("time >= cohort and size_class == 'all'")
    assert (post.loc[post["outcome"].str.startswith("log_"), "effect"] < 0).all()
    assert (post.loc[post["outcome"] == "treatment_cost", "effect"] > 0).all()


def test_garment_outsourcing_and_lower_tiers():
    sim = ci.simulate.scenario("garment_codes", seed=3)
    data = sim.data
    assert set(data.loc[data["cohort"] > 0, "cluster_type"]) == {"export"}  # codes in export clusters
    post = sim.truth.query("time >= cohort + 1")  # full dynamic effect
    eff = post.groupby(["outcome", "tier"])["effect"].mean()
    assert eff["wage", "first_tier"] > 0.3 and eff["wage", "home_based"] < 0
    assert eff["hours", "first_tier"] < 0 < eff["hours", "subcontractor"]
    assert eff["outsourced_share", "first_tier"] > 0.1
    assert eff["outsourced_share", "subcontractor"] == 0
    # a firm-level outcome is the same for every worker of a firm-period
    assert data.groupby(["firm_id", "period"])["outsourced_share"].nunique().max() == 1


def test_village_survey_weights_and_cross_sections():
    sim = ci.simulate.scenario("village_distribution", seed=4, design="repeated_cross_section")
    assert sim.panel.unit is None and not sim.panel.is_panel and sim.panel.has_weights
    assert sim.data["respondent_id"].is_unique
    assert sim.data.groupby("village_id")["weight"].nunique().max() == 1
    assert not {"tier", "site", "contract"} & set(sim.data.columns)
    assert len(sim.params.cohorts) == 3
    assert sim.truth.query("gender == 'female' and time >= cohort")["effect"].gt(0).any()
