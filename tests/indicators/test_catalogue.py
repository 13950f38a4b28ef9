"""Indicator catalogue: entries, look-ups, direction alignment, and hand-computed formulas."""

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def test_catalogue_has_every_dimension_and_valid_fields():
    cat = ci.indicators.catalogue()
    assert cat["name"].is_unique
    for name in ["employment", "earnings", "below_minimum_wage", "excessive_hours", "secure_contract",
                 "injury_rate", "child_labour", "forced_labour", "union_membership", "social_protection",
                 "bod", "cod", "tss", "chromium", "water_use", "sales", "costs", "profit_margin",
                 "social_cohesion", "confidence"]:
        assert name in set(cat["name"]), name
    assert set(cat["level"]) <= {"worker", "firm", "cluster"}
    assert set(cat["direction"]) == {"higher_is_better", "lower_is_better"}
    assert cat["definition"].str.len().gt(10).all()
    assert list(ci.indicators.catalogue(level="firm")["level"].unique()) == ["firm"]
    with pytest.raises(ci.SpecificationError, match="level"):
        ci.indicators.catalogue(level="household")


def test_cpcb_standards_inland_surface_water():
    # Environment (Protection) Rules 1986, Schedule VI, Part A (inland surface water), mg/l
    expected = {"bod": 30.0, "cod": 250.0, "tss": 100.0, "chromium": 2.0, "chromium_vi": 0.1}
    for name, limit in expected.items():
        assert ci.indicators.get(name).standard == limit
    assert ci.indicators.get("bod").standards["public_sewers"] == 350.0
    assert ci.indicators.get("water_use").standard is None  # no documented general standard


def test_get_aliases_frozen_and_suggestions():
    assert ci.indicators.get("log_bod").name == "bod"
    assert ci.indicators.get("accident").name == "injury_rate"
    ind = ci.indicators.get("earnings")
    with pytest.raises(AttributeError):
        ind.direction = "lower_is_better"
    with pytest.raises(ci.SpecificationError, match="Did you mean 'excessive_hours'"):
        ci.indicators.get("excesive_hours")
    with pytest.raises(ci.SpecificationError, match="direction"):
        ci.indicators.Indicator("x", "X", "u", "worker", "up", "f", "d")


def test_align_directions_and_index_hook():
    df = pd.DataFrame({"wage": [1.0, 2.0, 3.0, 4.0], "accident": [2.0, 1.0, 1.0, 0.0],
                       "other": ["a", "b", "c", "d"]})
    before = df.copy()
    out = ci.indicators.align_directions(df, ["wage", "accident"])
    pd.testing.assert_frame_equal(df, before)  # input untouched
    assert out["accident"].tolist() == [-2.0, -1.0, -1.0, -0.0]
    assert out["wage"].tolist() == df["wage"].tolist() and out["other"].equals(df["other"])
    # a mapping column -> catalogue name
    out2 = ci.indicators.align_directions(df.rename(columns={"accident": "inj"}), {"inj": "injury_rate"})
    assert out2["inj"].tolist() == out["accident"].tolist()
    # the hook: catalogue directions feed the indices' positive=
    flags = ci.indicators.positive(["wage", "accident"])
    assert flags == {"wage": True, "accident": False}
    by_hook = ci.klk_index(df, ["wage", "accident"], positive=flags)
    by_hand = ci.klk_index(out, ["wage", "accident"])
    np.testing.assert_allclose(by_hook, by_hand, rtol=1e-12)
    # hand value: z_wage = (y - 2.5)/sd, sd = sqrt(5/3); z_acc = -(y - 1)/sqrt(2/3)
    z1 = (np.array([1, 2, 3, 4]) - 2.5) / np.sqrt(5 / 3)
    z2 = -(np.array([2, 1, 1, 0]) - 1) / np.sqrt(2 / 3)
    np.testing.assert_allclose(by_hook, (z1 + z2) / 2, rtol=1e-12)
    a = ci.anderson_index(df, ["wage", "accident"], positive=flags)
    assert a.attrs["weights"].gt(0).all()  # aligned components are positively correlated
    with pytest.raises(ci.SpecificationError, match=r"\['wage'\] not found.*Did you mean 'wages'"):
        ci.indicators.align_directions(df.rename(columns={"wage": "wages"}), ["wage"])


def test_below_minimum_wage_rate_and_earnings():
    df = pd.DataFrame({"wage": [9.0, 10.0, 11.0, np.nan], "min": [10.0, 10.0, 10.0, 10.0],
                       "earn": [1800.0, 2600.0, 100.0, 50.0], "hours": [200.0, 200.0, 0.0, 10.0]})
    assert ci.indicators.below_minimum_wage(df, minimum="min").tolist()[:3] == [1.0, 0.0, 0.0]
    assert np.isnan(ci.indicators.below_minimum_wage(df, minimum=10).iloc[3])
    # earnings / hours: 9, 13, (0 hours -> missing), 5
    out = ci.indicators.below_minimum_wage(df, wage="earn", minimum=10.0, hours="hours")
    np.testing.assert_array_equal(out.to_numpy(), [1.0, 0.0, np.nan, 1.0])
    assert out.index.equals(df.index) and out.name == "below_minimum_wage"
    with pytest.raises(ci.SpecificationError, match="Did you mean 'hours'"):
        ci.indicators.below_minimum_wage(df, wage="earn", minimum=10.0, hours="hour")


def test_excessive_hours_boundary_and_threshold():
    df = pd.DataFrame({"h": [48.0, 48.5, 30.0, np.nan]}, index=[10, 11, 12, 13])
    out = ci.indicators.excessive_hours(df, hours="h")
    np.testing.assert_array_equal(out.to_numpy(), [0.0, 1.0, 0.0, np.nan])
    assert list(out.index) == [10, 11, 12, 13]
    assert ci.indicators.excessive_hours(df, hours="h", threshold=40).tolist()[:3] == [1.0, 1.0, 0.0]


def test_child_labour_rules():
    df = pd.DataFrame({
        "age": [8, 12, 12, 14, 14, 15, 17, 17, 18, np.nan],
        "hours": [2, 10, 15, 14, np.nan, 20, 43, 42, 60, 10],
        "hazardous": [0, 0, 0, 1, 0, 0, 0, 1, 1, 1],
    })
    # 8: below light-work age -> 1; 12 @10h light -> 0; 12 @15h -> 1; 14 hazardous -> 1;
    # 14 hours unknown -> 1 (not shown to be light); 15 @20h -> 0; 17 @43h -> 1 (long hours);
    # 17 hazardous -> 1; 18 -> 0; age missing -> NaN
    out = ci.indicators.child_labour(df, hazardous="hazardous", hours="hours")
    np.testing.assert_array_equal(out.to_numpy(), [1, 0, 1, 1, 1, 0, 1, 1, 0, np.nan])
    # without hours every worker under the minimum age counts; without hazardous only ages
    no_hours = ci.indicators.child_labour(df)
    np.testing.assert_array_equal(no_hours.to_numpy(), [1, 1, 1, 1, 1, 0, 0, 0, 0, np.nan])
    # a declared minimum age of 14 (C138 art. 2(4))
    out14 = ci.indicators.child_labour(df, hours="hours", minimum_age=14, hazardous_hours=None)
    np.testing.assert_array_equal(out14.to_numpy(), [1, 0, 1, 0, 0, 0, 0, 0, 0, np.nan])


def test_forced_labour_injury_rate_profit_margin():
    df = pd.DataFrame({"involuntary": [1, 1, 0, 0], "penalty": [1, 0, 1, np.nan]})
    np.testing.assert_array_equal(ci.indicators.forced_labour(df).to_numpy(), [1, 0, 0, np.nan])
    firms = pd.DataFrame({"injuries": [2, 0, 5, 1], "workers": [40, 10, 0, np.nan],
                          "hours": [80_000.0, 20_000.0, 1.0, 2000.0]})
    np.testing.assert_array_equal(ci.indicators.injury_rate(firms).to_numpy(), [5.0, 0.0, np.nan, np.nan])
    by_hours = ci.indicators.injury_rate(firms, exposure="hours", per=200_000)
    np.testing.assert_allclose(by_hours.to_numpy(), [5.0, 0.0, 1e6, 100.0])
    money = pd.DataFrame({"sales": [200.0, 100.0, -5.0], "costs": [150.0, 125.0, 1.0]})
    np.testing.assert_array_equal(ci.indicators.profit_margin(money).to_numpy(), [0.25, -0.25, np.nan])
    with pytest.raises(ci.SpecificationError, match=r"costs='cost'.*Did you mean 'costs'"):
        ci.indicators.profit_margin(money, costs="cost")


def test_effluent_exceedance():
    df = pd.DataFrame({"log_cod": np.log([100.0, 250.0, 400.0]), "cr": [1.5, 2.5, np.nan],
                       "water": [1.0, 2.0, 3.0]})
    np.testing.assert_array_equal(
        ci.indicators.effluent_exceedance(df, pollutant="cod", column="log_cod", log=True).to_numpy(),
        [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(
        ci.indicators.effluent_exceedance(df, pollutant="chromium", column="cr").to_numpy(),
        [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(
        ci.indicators.effluent_exceedance(df, pollutant="chromium", column="cr", standard=1.0).to_numpy(),
        [1.0, 1.0, np.nan])
    with pytest.raises(ci.SpecificationError, match="pass standard="):
        ci.indicators.effluent_exceedance(df, pollutant="cod", column="log_cod", discharge="public_sewers")
    with pytest.raises(ci.SpecificationError, match="not an effluent"):
        ci.indicators.effluent_exceedance(df, pollutant="water_use", column="water")
    with pytest.raises(ci.SpecificationError, match="discharge"):
        ci.indicators.effluent_exceedance(df, pollutant="cod", column="log_cod", discharge="river")


def test_polars_input_and_non_numeric_error():
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"hours": [50.0, 40.0]})
    assert ci.indicators.excessive_hours(frame).tolist() == [1.0, 0.0]
    with pytest.raises(ci.SpecificationError, match="non-numeric"):
        ci.indicators.excessive_hours(pd.DataFrame({"hours": ["long", "40"]}))


def test_on_simulated_garment_data():
    sim = ci.simulate.scenario("garment_codes", seed=3, n_clusters=8, cohort_sizes=(2, 2))
    data = sim.data
    snapshot = data.copy()
    ex = ci.indicators.excessive_hours(data)
    child = ci.indicators.child_labour(data)
    pd.testing.assert_frame_equal(data, snapshot)
    np.testing.assert_array_equal(ex.to_numpy(), (data["hours"] > 48).astype(float).to_numpy())
    np.testing.assert_array_equal(child.to_numpy(), (data["age"] < 15).astype(float).to_numpy())
