"""ci.att_gt against R did 2.5.0 (tests/reference/mpdta_did.json), edge cases and simulations."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.kernels import drdid

REF = json.loads((Path(__file__).parents[1] / "reference" / "mpdta_did.json").read_text())
SPECS = {r["id"]: r for r in REF["references"]}
EXACT = [k for k in SPECS if not k.startswith("did_readme")]


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return ci.datasets.load("mpdta")


@pytest.fixture(scope="module")
def panel(mpdta) -> ci.Panel:
    return ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")


def _fit(panel, spec, **kw):
    s = spec["specification"]
    return ci.att_gt(panel, s["outcome"], control=s["control_group"],
                     method=s["estimation_method"], covariates=s["covariates"] or None, **kw)


# ------------------------------------------------------------------ R did reference
@pytest.mark.parametrize("ref_id", EXACT)
def test_att_gt_matches_r_did(panel, ref_id):
    spec = SPECS[ref_id]
    res = _fit(panel, spec)
    tab = res.tidy()
    ref = pd.DataFrame(spec["att_gt"])
    assert tab["cohort"].tolist() == ref["g"].tolist()
    assert tab["time"].tolist() == ref["t"].tolist()
    np.testing.assert_allclose(tab["estimate"], ref["att"], rtol=1e-8)
    np.testing.assert_allclose(tab["std_error"], ref["se"], rtol=1e-6)


@pytest.mark.parametrize("ref_id", EXACT)
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregations_match_r_aggte(panel, ref_id, kind):
    spec = SPECS[ref_id]
    agg = _fit(panel, spec).aggregate(kind)
    ref = spec["aggregations"][kind]
    overall = agg if kind == "simple" else agg.overall
    np.testing.assert_allclose(overall.estimate[0], ref["overall_att"], rtol=1e-8)
    np.testing.assert_allclose(overall.std_error[0], ref["overall_se"], rtol=1e-6)
    if kind != "simple":
        el = pd.DataFrame(ref["elements"])
        key = {"group": "cohort", "calendar": "time", "dynamic": "event_time"}[kind]
        tab = agg.tidy()
        assert tab[key].tolist() == el["e"].tolist()
        np.testing.assert_allclose(tab["estimate"], el["att"], rtol=1e-8)
        np.testing.assert_allclose(tab["std_error"], el["se"], rtol=1e-6)


@pytest.mark.parametrize("ref_id", EXACT)
def test_pretest_matches_r_did(panel, ref_id):
    spec = SPECS[ref_id]
    pt = _fit(panel, spec).pretest()
    np.testing.assert_allclose(pt["statistic"].iloc[0], spec["pretest_wald"]["W"], rtol=1e-8)
    # R did rounds the p-value to 5 decimals before printing/storing it
    assert abs(pt["p_value"].iloc[0] - spec["pretest_wald"]["p"]) <= 5e-6


def test_bootstrap_close_to_did_readme(panel):
    spec = SPECS["did_readme_reg_nocov_bootstrap"]
    res = _fit(panel, spec, bootstrap=1000, seed=20240601)
    tab = res.tidy()
    ref = pd.DataFrame(spec["att_gt"])
    np.testing.assert_allclose(tab["estimate"], ref["att"], atol=6e-5)  # README prints 4 decimals
    # Monte Carlo: 1,000 Mammen draws in R and here are different draws; the IQR-based
    # bootstrap SE has a Monte Carlo error of several percent, so compare within 15%.
    np.testing.assert_allclose(tab["std_error"], ref["se_boot"], rtol=0.15)
    assert {"band_low", "band_high"} <= set(tab.columns)
    width = (tab["band_high"] - tab["band_low"]) / (tab["conf_high"] - tab["conf_low"])
    assert (width > 1).all()  # the sup-t band is wider than the pointwise interval
    dyn = res.aggregate("dynamic")
    np.testing.assert_allclose(dyn.std_error, [e["se_boot"] for e in spec["dynamic"]["elements"]],
                               rtol=0.2)
    np.testing.assert_allclose(dyn.overall.std_error[0], spec["dynamic"]["overall_se_boot"],
                               rtol=0.2)
    # same seed, same draws
    again = _fit(panel, spec, bootstrap=1000, seed=20240601)
    np.testing.assert_array_equal(again.std_error, res.std_error)


# ------------------------------------------------------------------ options and errors
@pytest.mark.parametrize(("option", "value"), [
    ("control", "nevertreated"), ("method", "DR"), ("base_period", "fixed"),
])
def test_bad_options_name_the_allowed_values(panel, option, value):
    with pytest.raises(ci.SpecificationError, match="use one of"):
        ci.att_gt(panel, "lemp", **{option: value})


@pytest.mark.parametrize("kw", [{"bootstrap": 0}, {"alpha": 1.5}, {"anticipation": -1}])
def test_bad_numbers(panel, kw):
    with pytest.raises(ci.SpecificationError):
        ci.att_gt(panel, "lemp", **kw)


def test_unknown_outcome_suggests(panel):
    with pytest.raises(ci.SpecificationError, match="lemp"):
        ci.att_gt(panel, "lemp_")


def test_formula_covariates_equal_list(panel):
    a = ci.att_gt(panel, "lemp", covariates=["lpop"], method="reg")
    b = ci.att_gt(panel, "lemp", covariates="~ lpop", method="reg")
    np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-12)
    np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-12)


@pytest.mark.parametrize("method", ["dr", "ipw"])
def test_covariate_methods_run(panel, method):
    res = ci.att_gt(panel, "lemp", covariates=["lpop"], method=method)
    assert np.isfinite(res.estimate).all() and np.isfinite(res.std_error).all()


# ------------------------------------------------------------------ sample rules
def test_unbalanced_panel_is_balanced_with_warning(mpdta, panel):
    drop = mpdta.index[(mpdta["countyreal"] == mpdta["countyreal"].iloc[0])
                       & (mpdta["year"] == 2005)]
    short = mpdta.drop(drop)
    p = ci.Panel(short, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning, match="1 unit"):
        res = ci.att_gt(p, "lemp")
    keep = mpdta[mpdta["countyreal"] != mpdta["countyreal"].iloc[0]]
    ref = ci.att_gt(ci.Panel(keep, unit="countyreal", time="year", cohort="first.treat"), "lemp")
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-12)
    np.testing.assert_allclose(res.std_error, ref.std_error, rtol=1e-12)


def test_missing_outcome_rows_dropped(mpdta):
    df = mpdta.copy()
    df.loc[df.index[3], "lemp"] = np.nan
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning):
        res = ci.att_gt(p, "lemp")
    assert res.info["n_units"] == 499


def test_units_treated_in_first_period_dropped(mpdta):
    df = mpdta.copy()
    first = df["countyreal"].unique()[:3]
    df.loc[df["countyreal"].isin(first), "first.treat"] = 2003
    with pytest.warns(ci.TimingWarning):
        p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning, match="already treated in the first period"):
        res = ci.att_gt(p, "lemp")
    assert res.info["n_units"] == 497


def test_no_never_treated_follows_r(mpdta):
    df = mpdta[mpdta["first.treat"] != 0]
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning, match="No never-treated"):
        res = ci.att_gt(p, "lemp", control="not_yet_treated")
    tab = res.tidy()
    assert set(tab["cohort"]) == {2004, 2006}
    assert tab["time"].max() == 2006


def test_inestimable_cell_is_nan_with_reason(mpdta):
    # never-treated units get weight zero: with not-yet-treated comparisons the cells of
    # 2007 have no comparison units left, the others are fine
    df = mpdta.assign(w=np.where(mpdta["first.treat"] == 0, 0.0, 1.0))
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", weights="w")
    with pytest.warns(ci.EstimationWarning, match=r"cohort 2004, time 2007"):
        res = ci.att_gt(p, "lemp", control="not_yet_treated")
    tab = res.tidy()
    # cells with nobody left untreated: period 2007, and (2007, 2006) whose own cohort is out
    expected = (tab["time"] == 2007) | ((tab["cohort"] == 2007) & (tab["time"] == 2006))
    bad = tab[expected]
    assert np.isnan(bad["estimate"]).all() and (bad["reason"] == "no comparison units").all()
    assert np.isfinite(tab.loc[~expected, "estimate"]).all()
    assert np.isnan(res.vcov[bad.index, :]).all()
    for kind in ("simple", "group", "dynamic", "calendar"):
        agg = res.aggregate(kind)
        assert np.isfinite(agg.estimate).all()
        assert any("skipped" in n for n in agg.info["notes"])


def test_universal_base_period(panel):
    res = ci.att_gt(panel, "lemp", base_period="universal")
    tab = res.tidy()
    ref = tab[(tab["cohort"] - 1) == tab["time"]]
    assert (ref["estimate"] == 0).all() and ref["std_error"].isna().all()
    assert (ref["reason"] == "reference period").all()
    dyn = res.aggregate("dynamic").tidy()
    assert dyn.loc[dyn["event_time"] == -1, "estimate"].item() == 0
    post = tab[tab["cohort"] <= tab["time"]].merge(ci.att_gt(panel, "lemp").tidy(),
                                                   on=["cohort", "time"])
    np.testing.assert_allclose(post["estimate_x"], post["estimate_y"], rtol=1e-12)
    assert len(tab) == 15


def test_weights_constant_within_unit(mpdta):
    df = mpdta.assign(w=3.0)
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", weights="w")
    ref = ci.att_gt(ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat"), "lemp")
    res = ci.att_gt(p, "lemp")
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-12)
    np.testing.assert_allclose(res.std_error, ref.std_error, rtol=1e-12)
    df["w"] = np.arange(len(df)) % 3 + 1.0
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", weights="w")
    with pytest.raises(ci.SpecificationError, match="varies within unit"):
        ci.att_gt(p, "lemp")


def test_unit_weights_match_kernel(mpdta):
    rng = np.random.default_rng(3)
    w = dict(zip(mpdta["countyreal"].unique(), rng.uniform(0.5, 2, 500), strict=True))
    df = mpdta.assign(w=mpdta["countyreal"].map(w))
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", weights="w")
    res = ci.att_gt(p, "lemp")
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    g = df.groupby("countyreal")["first.treat"].first()
    ww = df.groupby("countyreal")["w"].first()
    sel = g.isin([2006, 0])
    k = drdid.reg_did_panel((wide[2007] - wide[2005])[sel], (g[sel] == 2006).astype(float),
                            weights=ww[sel])
    row = res.tidy().query("cohort == 2006 and time == 2007")
    assert row["estimate"].item() == pytest.approx(k.att, rel=1e-10)
    assert row["std_error"].item() == pytest.approx(k.std_error, rel=1e-8)


# ------------------------------------------------------------------ clusters, by, RC
def test_clustered_se_from_cluster_sums(mpdta):
    state = (mpdta["countyreal"] // 1000).astype(int)
    p = ci.Panel(mpdta.assign(state=state), unit="countyreal", time="year",
                 cohort="first.treat", cluster="state")
    res = ci.att_gt(p, "lemp")
    unit = ci.att_gt(ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat"),
                     "lemp")
    np.testing.assert_allclose(res.estimate, unit.estimate, rtol=1e-12)
    # cluster sums of the unit influence functions
    psi = unit.influence / unit.influence.shape[0]
    st = pd.Series(state.to_numpy()[mpdta["year"] == 2003],
                   index=mpdta.loc[mpdta["year"] == 2003, "countyreal"].to_numpy())
    rows_state = st.sort_index().to_numpy()[unit.cluster]  # state of each influence row
    sums = pd.DataFrame(psi).groupby(rows_state).sum().to_numpy()
    np.testing.assert_allclose(res.std_error, np.sqrt((sums**2).sum(0)), rtol=1e-10)
    assert res.info["n_clusters"] == len(np.unique(state))


def test_by_equals_subset_fits_and_compare(mpdta):
    big = mpdta.groupby("countyreal")["lpop"].transform("first") > 3
    df = mpdta.assign(size=np.where(big, "big", "small"))
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    res = ci.att_gt(p, "lemp", by="size")
    tab = res.tidy()
    assert "size" in tab.columns
    for label in ("big", "small"):
        sub = df[df["size"] == label]
        ref = ci.att_gt(ci.Panel(sub, unit="countyreal", time="year", cohort="first.treat"),
                        "lemp")
        mine = tab[tab["size"] == label]
        np.testing.assert_allclose(mine["estimate"], ref.estimate, rtol=1e-10)
        np.testing.assert_allclose(mine["std_error"], ref.std_error, rtol=1e-10)
        ref_s = ref.aggregate("simple")
        agg = res.aggregate("simple").tidy()
        row = agg[agg["size"] == label]
        np.testing.assert_allclose(row["estimate"], ref_s.estimate, rtol=1e-10)
        np.testing.assert_allclose(row["std_error"], ref_s.std_error, rtol=1e-10)
    cmp = res.aggregate("simple").compare().tidy()
    assert cmp["contrast"].tolist() == ["small - big", "all equal"]
    assert np.isfinite(cmp["std_error"].iloc[0])
    dyn = res.aggregate("dynamic").tidy()
    assert {"size", "event_time"} <= set(dyn.columns)


def test_by_must_be_constant_within_unit(mpdta):
    p = ci.Panel(mpdta.assign(odd=mpdta["year"] % 2), unit="countyreal", time="year",
                 cohort="first.treat")
    with pytest.raises(ci.SpecificationError, match="vary within unit"):
        ci.att_gt(p, "lemp", by="odd")


def test_repeated_cross_sections_match_rc_kernels(mpdta):
    p = ci.Panel(mpdta, unit=None, time="year", cohort="first.treat")
    res = ci.att_gt(p, "lemp")
    n = len(mpdta)
    cell = mpdta[mpdta["year"].isin([2003, 2004]) & mpdta["first.treat"].isin([0, 2004])]
    for kern in (drdid.reg_did_rc, drdid.drdid_rc, drdid.std_ipw_did_rc):
        k = kern(cell["lemp"], (cell["year"] == 2004).astype(float),
                 (cell["first.treat"] == 2004).astype(float))
        row = res.tidy().query("cohort == 2004 and time == 2004")
        assert row["estimate"].item() == pytest.approx(k.att, rel=1e-10)
        # did rescales the kernel influence function by n / n1
        se = np.sqrt(np.sum((k.influence * n / len(cell)) ** 2)) / n
        assert row["std_error"].item() == pytest.approx(se, rel=1e-8)
    cov = ci.att_gt(p, "lemp", covariates=["lpop"], method="reg")
    assert np.isfinite(cov.estimate).all()



# ------------------------------------------------------------------ allow_unbalanced_panel
# R did 2.5.1, att_gt(yname="y", tname="period", idname="unit", gname="g",
# control_group="nevertreated", est_method="reg", allow_unbalanced_panel=TRUE, bstrap=FALSE,
# cband=FALSE) and aggte(type=..., na.rm=TRUE, bstrap=FALSE) on the panel simulated by
# benchmarks/R/generate_cs_unbalanced_golden.R of github.com/igerber/diff-diff (its output
# benchmarks/data/cs_unbalanced_golden.json, values transcribed here). The data are not copied:
# _r_unbalanced_panel() replays that script's set.seed(20260706) draws with tests/kernels/r_rng.py.
R_UNBALANCED = {
    "cells": {
        "g": [3, 3, 3, 3, 4, 4, 4, 4], "t": [2, 3, 4, 5, 2, 3, 4, 5],
        "att": [0.031419477925689859, 1.0795162943988603, 2.1133518226847086,
                3.0202671592981178, 0.17146546152483008, -0.26790091392588422,
                2.0385657598869629, 4.1652407502122752],
        "se": [0.13038507360189816, 0.11833070815931725, 0.18499992165315304,
               0.14426780306320647, 0.10404928172836575, 0.10960941881338133,
               0.10529614386033723, 0.13619665759579466],
    },
    "simple": (2.4833883572961848, 0.094253486976800874),
    "group": {"overall": (2.5864741735884236, 0.093219774066356093),
              "att": [2.0710450921272288, 3.1019032550496188],
              "se": [0.11305016015636252, 0.10548897353424015]},
    "dynamic": {"overall": (2.5728681576298404, 0.097608983575660169),
                "e": [-2, -1, 0, 1, 2],
                "att": [0.17146546152483008, -0.11824071800009718, 1.5590410271429116,
                        3.1392962864484919, 3.0202671592981178],
                "se": [0.10404928172836575, 0.08235178064454754, 0.087721203057747971,
                       0.15306924462190835, 0.14426780306320641]},
}


def _r_unbalanced_panel() -> pd.DataFrame:
    """The R script's panel: 50 units of cohort 3 (each of periods 4-5 kept with prob. 0.6),
    50 of cohort 4 and 100 never treated, y = fe + 0.3 t + effect + N(0, 0.5^2)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "kernels"))
    from r_rng import RRandom
    from scipy.special import ndtri

    rng = RRandom(20260706)

    def rnorm() -> float:  # R's default normal.kind "Inversion" (two uniforms, 2^27 grid)
        u = rng.unif_rand()
        return float(ndtri((int(134217728 * u) + rng.unif_rand()) / 134217728))

    rows, unit = [], 0
    for g, attrition, n in ((3, True, 50), (4, False, 50), (0, False, 100)):
        for _ in range(n):
            fe = rnorm()
            for t in range(1, 6):
                if attrition and t >= 4 and rng.unif_rand() < 0.40:
                    continue
                eff = (t - g + 1) * (1.0 if g == 3 else 2.0) if g and t >= g else 0.0
                rows.append((unit, t, g, fe + 0.3 * t + eff + 0.5 * rnorm()))
            unit += 1
    return pd.DataFrame(rows, columns=["unit", "period", "g", "y"])


@pytest.fixture(scope="module")
def r_unbalanced():
    df = _r_unbalanced_panel()
    assert len(df) == 963 and df["y"].iloc[0] == pytest.approx(0.55163821453080797, rel=1e-13)
    return ci.Panel(df, unit="unit", time="period", cohort="g")


@pytest.mark.parametrize("method", ["reg", "dr", "ipw"])  # identical without covariates
def test_allow_unbalanced_panel_matches_r_did(r_unbalanced, method):
    res = ci.att_gt(r_unbalanced, "y", method=method, allow_unbalanced_panel=True)
    ref = R_UNBALANCED["cells"]
    tab = res.tidy()
    assert tab["cohort"].tolist() == ref["g"] and tab["time"].tolist() == ref["t"]
    np.testing.assert_allclose(tab["estimate"], ref["att"], rtol=1e-8)
    np.testing.assert_allclose(tab["std_error"], ref["se"], rtol=1e-6)
    assert res.info["unbalanced"] and res.info["n_units"] == 200 and res.info["n_obs"] == 963


def test_allow_unbalanced_panel_aggregations_match_r_aggte(r_unbalanced):
    res = ci.att_gt(r_unbalanced, "y", method="reg", allow_unbalanced_panel=True)
    simple = res.aggregate("simple")
    assert simple.estimate[0] == pytest.approx(R_UNBALANCED["simple"][0], rel=1e-8)
    assert simple.std_error[0] == pytest.approx(R_UNBALANCED["simple"][1], rel=1e-6)
    for kind in ("group", "dynamic"):
        ref = R_UNBALANCED[kind]
        agg = res.aggregate(kind)
        assert agg.overall.estimate[0] == pytest.approx(ref["overall"][0], rel=1e-8)
        assert agg.overall.std_error[0] == pytest.approx(ref["overall"][1], rel=1e-6)
        np.testing.assert_allclose(agg.estimate, ref["att"], rtol=1e-8)
        np.testing.assert_allclose(agg.std_error, ref["se"], rtol=1e-6)
    assert res.aggregate("dynamic").tidy()["event_time"].tolist() == R_UNBALANCED["dynamic"]["e"]


def test_default_still_balances_the_r_unbalanced_panel(r_unbalanced):
    with pytest.warns(ci.DroppedRowsWarning, match="not observed in every period"):
        res = ci.att_gt(r_unbalanced, "y")
    assert res.info["n_units"] < 200 and not res.info["unbalanced"]


def _drop_rows(mpdta, frac=0.1, seed=3):
    rng = np.random.default_rng(seed)
    return mpdta[rng.random(len(mpdta)) > frac].reset_index(drop=True)


@pytest.mark.parametrize(("covariates", "method", "control"), [
    (None, "dr", "never_treated"), (None, "dr", "not_yet_treated"),
    (["lpop"], "dr", "never_treated"), (["lpop"], "reg", "not_yet_treated"),
    (["lpop"], "ipw", "never_treated")])
def test_unbalanced_equals_cross_sections_clustered_on_units(mpdta, covariates, method, control):
    # by construction: the unbalanced-panel estimator is the repeated cross-section estimator
    # on the same rows with the influence function summed within unit (cluster = unit)
    short = _drop_rows(mpdta)
    unb = ci.att_gt(ci.Panel(short, unit="countyreal", time="year", cohort="first.treat"),
                    "lemp", covariates=covariates, method=method, control=control,
                    allow_unbalanced_panel=True)
    rc = ci.att_gt(ci.Panel(short, unit=None, time="year", cohort="first.treat",
                            cluster="countyreal"),
                   "lemp", covariates=covariates, method=method, control=control)
    np.testing.assert_allclose(unb.estimate, rc.estimate, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(unb.std_error, rc.std_error, rtol=1e-10)
    assert unb.info["n_units"] == short["countyreal"].nunique()
    assert unb.info["n_clusters"] == rc.info["n_clusters"]


def test_unbalanced_aggregation_weights_count_units(mpdta):
    # R aggte's pg on unbalanced panels: cohort shares of units, not of rows
    short = _drop_rows(mpdta, frac=0.3)
    res = ci.att_gt(ci.Panel(short, unit="countyreal", time="year", cohort="first.treat"),
                    "lemp", allow_unbalanced_panel=True)
    tab = res.tidy()
    post = tab[tab["cohort"] <= tab["time"]]
    units = short.groupby("first.treat")["countyreal"].nunique()
    pg = units.reindex(post["cohort"]).to_numpy(dtype=float)
    expected = float(np.sum(pg * post["estimate"]) / pg.sum())
    assert res.aggregate("simple").estimate[0] == pytest.approx(expected, rel=1e-12)


def test_allow_unbalanced_panel_on_balanced_sample_is_the_panel_estimator(mpdta, panel):
    # R did resets allow_unbalanced_panel when the sample is balanced
    res = ci.att_gt(panel, "lemp", allow_unbalanced_panel=True)
    ref = ci.att_gt(panel, "lemp")
    np.testing.assert_array_equal(res.estimate, ref.estimate)
    np.testing.assert_array_equal(res.std_error, ref.std_error)
    assert not res.info["unbalanced"]
    # ... also when the only missing rows fall in periods the no-never-treated rule drops
    df = mpdta[mpdta["first.treat"] != 0]
    df = df.drop(df.index[(df["year"] == 2007)][:5])
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning, match="No never-treated"):
        res = ci.att_gt(p, "lemp", control="not_yet_treated", allow_unbalanced_panel=True)
    assert not res.info["unbalanced"]


def test_allow_unbalanced_panel_missing_outcomes_and_options(mpdta):
    df = mpdta.copy()
    df.loc[df.index[[3, 10, 11]], "lemp"] = np.nan
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    with pytest.warns(ci.DroppedRowsWarning, match="missing outcome"):
        res = ci.att_gt(p, "lemp", allow_unbalanced_panel=True, base_period="universal",
                        bootstrap=99, seed=1)
    assert res.info["unbalanced"] and res.info["n_units"] == 500 and res.info["n_obs"] == 2497
    tab = res.tidy()
    estimated = tab["reason"] != "reference period"
    assert np.isfinite(tab.loc[estimated, "band_low"]).all() and (~estimated).sum() == 3
    with pytest.raises(ci.SpecificationError, match="allow_unbalanced_panel"):
        ci.att_gt(p, "lemp", allow_unbalanced_panel="yes")


# ------------------------------------------------------------------ simulations
def _simulate(rng, n_units=300, periods=5):
    """Staggered DGP: cohorts 3 and 4 (and never), unit and time effects, parallel trends.

    ATT(g,t) = 1 + 0.5 (t - g) for t >= g, 0 before.
    """
    g = rng.choice([3, 4, 0], size=n_units, p=[0.3, 0.3, 0.4])
    a = rng.normal(size=n_units) + 0.5 * (g > 0)
    t = np.arange(1, periods + 1)
    gg = np.repeat(g, periods)
    tt = np.tile(t, n_units)
    eff = np.where((gg > 0) & (tt >= gg), 1 + 0.5 * (tt - gg), 0.0)
    y = np.repeat(a, periods) + 0.3 * tt + eff + rng.normal(size=n_units * periods)
    return pd.DataFrame({"id": np.repeat(np.arange(n_units), periods), "t": tt, "g": gg, "y": y})


def _monte_carlo(reps, attrition=0.0):
    """Replications of :func:`_simulate`; ``attrition`` drops rows at random (more often late
    and in cohort 3, independently of the outcome) and fits with allow_unbalanced_panel."""
    rng = np.random.default_rng(12345)
    est, cover, truth = [], [], None
    for _ in range(reps):
        df = _simulate(rng)
        if attrition:
            p_miss = attrition * (df["t"] / df["t"].max()) * np.where(df["g"] == 3, 1.5, 1.0)
            df = df[rng.random(len(df)) >= p_miss]
        res = ci.att_gt(ci.Panel(df, unit="id", time="t", cohort="g"), "y",
                        allow_unbalanced_panel=bool(attrition))
        tab = res.tidy()
        post = tab["cohort"] <= tab["time"]
        truth = np.where(post, 1 + 0.5 * (tab["time"] - tab["cohort"]), 0.0)
        est.append(tab["estimate"].to_numpy())
        cover.append(((tab["conf_low"] <= truth) & (truth <= tab["conf_high"])).to_numpy())
    return np.array(est), np.array(cover), truth


def _check_mc(reps, lo, hi, attrition=0.0):
    est, cover, truth = _monte_carlo(reps, attrition)
    bias = est.mean(0) - truth
    mc_se = est.std(0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(bias) < 4 * mc_se)
    rate = cover.mean()  # pooled over the 8 cells
    assert lo <= rate <= hi, rate


def test_simulation_unbiased_and_covers():
    # reduced run: 150 replications x 8 cells; Monte Carlo error of the pooled
    # coverage is about 1 percentage point (cells are correlated), so the band is wider
    _check_mc(150, 0.91, 0.98)


@pytest.mark.slow
def test_simulation_unbiased_and_covers_full():
    _check_mc(2000, 0.93, 0.97)


def test_simulation_with_attrition_unbiased_and_covers():
    # unbalanced panels (up to 30% of late rows missing) with allow_unbalanced_panel=True
    _check_mc(150, 0.91, 0.98, attrition=0.2)


@pytest.mark.slow
def test_simulation_with_attrition_unbiased_and_covers_full():
    _check_mc(2000, 0.93, 0.97, attrition=0.2)


def test_subgroups_in_few_clusters_are_warned_about():
    """The few-clusters rule per subgroup: in football_stitching (30 clusters, no panel-level
    warning) factory workers occupy 9 clusters and centre workers 21, and their analytic SEs are
    too small (factory: 28% below the spread in tests/simulate/test_truth_recovery.py)."""
    sim = ci.simulate.scenario("football_stitching", seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ci.att_gt(sim.panel, "earnings", by="site")
        pooled = len(caught)
        ci.att_gt(sim.panel, "earnings")
    few = [str(w.message) for w in caught[:pooled] if issubclass(w.category, ci.FewClustersWarning)]
    assert len(few) == 1
    assert "site=factory (9 clusters: 5 treated, 4 untreated)" in few[0]
    assert "site=centre (21 clusters" in few[0] and "site=home" not in few[0]
    assert not any(issubclass(w.category, ci.FewClustersWarning) for w in caught[pooled:])
