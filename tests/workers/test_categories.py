"""Worker categories: mapping, alignment, no mutation, clear errors, cell sizes."""

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.workers import categories as cat


def test_aligned_categorical_and_input_untouched():
    raw = pd.Series(["F", "male", None, "Woman"], index=[10, 11, 12, 13], name="sex")
    before = raw.copy()
    out = ci.workers.gender(raw)
    pd.testing.assert_series_equal(raw, before)
    assert isinstance(out.dtype, pd.CategoricalDtype)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.tolist()[:2] == ["female", "male"] and pd.isna(out.iloc[2])


def test_unknown_codes_show_rows_and_suggest():
    with pytest.raises(ci.SpecificationError, match="femal") as err:
        ci.workers.gender(pd.Series(["F", "femal", 3], name="sex"))
    text = str(err.value)
    assert "Offending rows (2 in total" in text and "mapping=" in text
    assert "Did you mean 'female'" in text


def test_contract_keywords_and_override():
    out = ci.workers.contract(["Permanent", "paid per piece", "agency worker", "Seasonal", "x1"],
                              mapping={"x1": "unpaid_family", "Seasonal": "contract_labour"})
    assert out.tolist() == ["permanent", "piece_rate", "contract_labour", "contract_labour",
                            "unpaid_family"]
    assert out.cat.categories.tolist() == list(cat.CONTRACTS)
    with pytest.raises(ci.SpecificationError, match="not a contract category"):
        ci.workers.contract(["a"], mapping={"a": "zero_hours"})


def test_age_bands_flag_child_labour():
    out = ci.workers.age_band(pd.Series([5, 14, 15, 17, 18, 24, 25, 54, 55, 64, 65, np.nan]))
    assert out.tolist()[:-1] == ["child_under_15", "child_under_15", "adolescent_15_17",
                                 "adolescent_15_17", "18_24", "18_24", "25_34", "35_54", "55_64",
                                 "55_64", "65_plus"]
    assert out.cat.ordered and pd.isna(out.iloc[-1])
    custom = ci.workers.age_band([10, 20, 40], edges=[15, 25])
    assert custom.tolist() == ["<15", "15-24", "25+"]
    with pytest.raises(ci.SpecificationError):
        ci.workers.age_band(["ten"])


def test_isco_major_groups_and_skills():
    occ = ci.workers.occupation_isco(["7533", 9329, "0110", 3, 81.0])
    assert [s.split()[0] for s in occ] == ["7", "9", "0", "3", "8"]
    assert ci.workers.skill_level([1120, 3, "9", 0]).tolist() == [
        "skill_3_4", "skill_3", "skill_1", "armed_forces"]
    with pytest.raises(ci.SpecificationError, match="ISCO"):
        ci.workers.occupation_isco(["75331", "tailor"])


def test_education_life_cycle_migrant_site():
    assert ci.workers.education_level([0, 1, 6, 9, 13, "Matric"]).tolist() == [
        "none", "primary", "lower_secondary", "upper_secondary", "tertiary", "upper_secondary"]
    life = ci.workers.life_cycle([14, 20, 35, 35, 35, 70], ["single"] * 3 + ["married"] * 2 + ["widowed"],
                                 [0, 0, 0, 0, 1, 0])
    assert life.tolist() == ["child", "young_single", "single_adult", "married_no_children", "parent",
                             "older"]
    assert ci.workers.migrant(np.array([1, 0])).tolist() == ["migrant", "local"]
    assert ci.workers.work_site(["Stitching Centre", "home worker"]).tolist() == ["centre", "home"]


def test_intersect_product_order_and_missing():
    g = pd.Series(pd.Categorical(["female", "male", None], categories=["female", "male"]), name="g")
    s = pd.Series(pd.Categorical(["home", "home", "factory"], categories=["factory", "home"]), name="s")
    out = ci.workers.intersect(g, s)
    assert out.cat.categories.tolist() == ["female x factory", "female x home", "male x factory",
                                           "male x home"]
    assert out.tolist()[:2] == ["female x home", "male x home"] and pd.isna(out.iloc[2])
    assert out.name == "g x s"


def test_cell_sizes_warn_and_suppress():
    sim = ci.simulate.scenario("football_stitching", seed=3, n_clusters=8, cohort_sizes=(2, 2))
    with pytest.warns(ci.SmallCellWarning, match="fewer than 50"):
        tab = ci.workers.cell_sizes(sim.panel, ["gender", "site"], min_size=50)
    assert tab["small"].any()
    d = sim.data
    ever = d["cohort"] > 0
    n_fh = d.loc[ever & (d.gender == "female") & (d.site == "home"), "worker_id"].nunique()
    row = tab[(tab.gender == "female") & (tab.site == "home")]
    assert int(row["units_treated"].iloc[0]) == n_fh
    assert tab["obs"].sum() == len(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sup = ci.workers.cell_sizes(sim.panel, ["gender", "site"], min_size=50, suppress=True)
    assert sup.loc[sup["small"], "units_treated"].isna().all()
    assert sup.loc[~sup["small"], "units_treated"].notna().all()
