"""Edge cases of real evaluations, each with the behaviour we promise asserted.

Singleton cohorts, one treated cluster, every unit eventually treated, survey
waves with gaps, quarterly and monthly Periods, string and categorical ids,
outcomes in the 1e9 and 1e-6 ranges, collinear covariates, constant outcomes,
outcomes missing in some waves, zero weights and duplicated column names.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

from .conftest import staggered_frame

pytestmark = pytest.mark.filterwarnings("ignore::clusterimpact.FewClustersWarning")


def panel(df: pd.DataFrame, **kw) -> ci.Panel:
    return ci.Panel(df, unit="id", time="t", cohort="g", **kw)


def simple(p: ci.Panel, y: str = "y", **kw) -> pd.Series:
    return ci.att_gt(p, y, **kw).aggregate("simple").tidy().iloc[0]


# ------------------------------------------------------------------ cohorts
def test_singleton_cohort_is_estimated_with_finite_se():
    df = staggered_frame(n_units=20)
    df["g"] = np.where(df["id"] == 1, 0, df["g"])  # cohort 2002 keeps one unit (id 0)
    p = panel(df)
    assert p.describe().set_index("cohort").loc["2002", "units"] == 1
    tab = ci.att_gt(p, "y").tidy()
    own = tab[tab["cohort"] == 2002]
    assert np.isfinite(own["estimate"]).all() and np.isfinite(own["std_error"]).all()
    assert (own["n_treated"] > 0).all()
    agg = ci.att_gt(p, "y").aggregate("group").tidy()
    assert np.isfinite(agg["estimate"]).all()


def test_one_treated_cluster():
    df = staggered_frame(n_units=20)
    df["g"] = np.where(df["c"] == 0, 2002, 0)  # units 0 and 1 in cluster 0
    p = ci.Panel(df, unit="id", time="t", cohort="g", cluster="c")
    res = ci.att_gt(p, "y").aggregate("simple")
    assert np.isfinite(res.tidy()["estimate"]).all()
    # the wild bootstrap says plainly that one treated cluster is too few
    with pytest.warns(ci.FewClustersWarning):
        ci.twfe(p, "y").wild_bootstrap(reps=999, seed=1)
    # randomization inference over 10 clusters with one treated: exact, p >= 1/10
    ri = res.randomization(reps=99, seed=1, conf_int=False).tidy()
    assert ri["p_value"].iloc[0] >= 0.1 - 1e-12


def test_all_units_eventually_treated():
    df = staggered_frame()
    df["g"] = np.where(df["g"] == 0, 2004, df["g"])
    p = panel(df)
    assert not p.has_never_treated
    # not-yet-treated comparisons: cohorts 2002 and 2003 identified up to 2003
    with pytest.warns(ci.DroppedRowsWarning, match="No never-treated units"):
        res = ci.att_gt(p, "y", control="not_yet_treated")
    tab = res.tidy()
    assert set(tab["cohort"]) == {2002, 2003} and tab["time"].max() == 2003
    assert np.isfinite(tab["estimate"]).all()
    # never_treated: nobody is never treated, so an error that names both ways out
    with pytest.raises(ci.SpecificationError,
                       match=r"every unit is eventually treated.*control='not_yet_treated'.*"
                             r"last_cohort_as_control=True"):
        ci.att_gt(p, "y", control="never_treated")
    # R did's rule only on request, stated in the warning rather than done silently
    with pytest.warns(ci.DroppedRowsWarning, match=r"last cohort \(2004\) is used as never treated"):
        coerced = ci.att_gt(p, "y", control="never_treated", last_cohort_as_control=True).tidy()
    assert set(coerced["cohort"]) == {2002, 2003} and coerced["time"].max() == 2003
    # ... which is R did's pre-processing: cohort 2004 recoded as never treated, periods >= 2004 cut
    recoded = df[df["t"] < 2004].assign(g=lambda d: d["g"].where(d["g"] != 2004, 0))
    by_hand = ci.att_gt(panel(recoded), "y", control="never_treated").tidy()
    np.testing.assert_allclose(coerced["estimate"], by_hand["estimate"], rtol=1e-12)
    np.testing.assert_allclose(coerced["std_error"], by_hand["std_error"], rtol=1e-12)
    with pytest.raises(ci.SpecificationError, match="last_cohort_as_control must be True or False"):
        ci.att_gt(p, "y", last_cohort_as_control="yes")
    # when nobody is left to compare with, a clear error
    one = df.assign(g=2002)
    with pytest.raises(ci.PanelError, match="No comparison units"):
        panel(one)


# ------------------------------------------------------------------ time
def test_gaps_in_survey_waves():
    df = staggered_frame(n_units=20, n_periods=6)
    df = df[df["t"].isin([2000, 2002, 2005])].copy()
    df["g"] = df["g"].replace({2003: 2005, 2004: 2005})
    p = panel(df)
    assert p.periods.tolist() == [2000, 2002, 2005]
    tab = ci.att_gt(p, "y").tidy()
    # event time is on the scale of time (years), not the wave index
    dyn = ci.att_gt(p, "y").aggregate("dynamic").tidy()
    assert dyn["event_time"].tolist() == [-3, 0, 3]
    assert np.isfinite(tab["estimate"]).all()
    # the cell (2002, 2002) compares 2002 with the previous wave, 2000, by hand
    wide = df.pivot(index="id", columns="t", values="y")
    cohort = df.groupby("id")["g"].first()
    dy = wide[2002] - wide[2000]
    by_hand = dy[cohort == 2002].mean() - dy[cohort == 0].mean()
    got = tab[(tab["cohort"] == 2002) & (tab["time"] == 2002)]["estimate"].iloc[0]
    assert got == pytest.approx(by_hand, rel=1e-10)


@pytest.mark.parametrize("freq", ["Q", "M"])
def test_period_time_matches_integer_time(freq: str):
    df = staggered_frame()
    start = pd.Period("2019-01", freq="M").asfreq(freq)

    def to_period(v: pd.Series) -> pd.Series:
        return pd.Series(pd.PeriodIndex([start + int(x - 2000) for x in v], freq=freq), index=v.index)

    dp = df.assign(t=to_period(df["t"]))
    dp["g"] = pd.Series(pd.PeriodIndex([start + int(x - 2000) if x else pd.NaT for x in df["g"]],
                                       freq=freq), index=df.index)
    ints, periods = panel(df), panel(dp)
    assert isinstance(periods.periods, pd.PeriodIndex)
    a = ci.att_gt(ints, "y").aggregate("dynamic").tidy()
    b = ci.att_gt(periods, "y").aggregate("dynamic").tidy()
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-12)
    np.testing.assert_array_equal(b["event_time"], a["event_time"])
    cells = ci.att_gt(periods, "y").tidy()
    assert cells["cohort"].iloc[0] == start + 2  # labels come back as Periods
    es_a = ci.event_study(ints, "y", method="imputation").tidy()
    es_b = ci.event_study(periods, "y", method="imputation").tidy()
    np.testing.assert_allclose(es_b["estimate"], es_a["estimate"], rtol=1e-10)
    np.testing.assert_allclose(ci.twfe(periods, "y").estimate, ci.twfe(ints, "y").estimate, rtol=1e-10)


# ------------------------------------------------------------------ ids
@pytest.mark.parametrize("kind", ["string", "categorical"])
def test_string_and_categorical_ids(kind: str):
    df = staggered_frame()
    ids = "firm-" + df["id"].astype(str)
    clusters = "cl-" + df["c"].astype(str)
    if kind == "categorical":
        ids, clusters = ids.astype("category"), clusters.astype("category")
    other = df.assign(id=ids, c=clusters)
    a = ci.Panel(df, unit="id", time="t", cohort="g", cluster="c")
    b = ci.Panel(other, unit="id", time="t", cohort="g", cluster="c")
    for fit in (lambda p: ci.att_gt(p, "y").aggregate("dynamic"), lambda p: ci.twfe(p, "y"),
                lambda p: ci.event_study(p, "y", method="sun_abraham")):
        np.testing.assert_allclose(fit(b).estimate, fit(a).estimate, rtol=1e-12)
        np.testing.assert_allclose(fit(b).std_error, fit(a).std_error, rtol=1e-10)


# ------------------------------------------------------------------ scale
@pytest.mark.parametrize("scale", [1e9, 1e-6])
def test_outcome_scale_scales_results_exactly(scale: float):
    df = staggered_frame()
    big = df.assign(y=df["y"] * scale)
    for fit in (lambda p: ci.att_gt(p, "y").aggregate("simple"),
                lambda p: ci.att_gt(p, "y", covariates=["x"]).aggregate("simple"),
                lambda p: ci.twfe(p, "y"),
                lambda p: ci.event_study(p, "y", method="imputation"),
                lambda p: ci.event_study(p, "y", method="sun_abraham")):
        base, scaled = fit(panel(df)), fit(panel(big))
        np.testing.assert_allclose(scaled.estimate, scale * base.estimate, rtol=1e-8)
        np.testing.assert_allclose(scaled.std_error, scale * base.std_error, rtol=1e-8)
    # a two-period doubly robust DiD with a covariate, too
    two = df[df["t"].isin([2001, 2002])].assign(g=lambda d: np.where(d["g"] > 0, 2002, 0))
    a = ci.did(panel(two), "y", covariates=["x"]).tidy()
    b = ci.did(panel(two.assign(y=two["y"] * scale)), "y", covariates=["x"]).tidy()
    np.testing.assert_allclose(b[["estimate", "std_error"]], scale * a[["estimate", "std_error"]],
                               rtol=1e-8)


# ------------------------------------------------------------------ covariates
def test_perfectly_collinear_covariates():
    df = staggered_frame().assign(x2=lambda d: 2 * d["x"])
    p = panel(df)
    with pytest.raises(ci.EstimationError, match="'x2' are collinear"):
        ci.twfe(p, "y", covariates=["x", "x2"])
    two = df[df["t"].isin([2001, 2002])].assign(g=lambda d: np.where(d["g"] > 0, 2002, 0))
    with pytest.raises(ci.EstimationError, match="collinear or constant"):
        ci.did(panel(two), "y", covariates=["x", "x2"])
    # att_gt: every cell NaN with the reason, announced by an EstimationWarning
    with pytest.warns(ci.EstimationWarning, match="could not be estimated"):
        tab = ci.att_gt(p, "y", covariates=["x", "x2"]).tidy()
    assert tab["estimate"].isna().all() and tab["reason"].str.contains("collinear").all()
    # the regression event studies drop the redundant column and say so
    with pytest.warns(ci.EstimationWarning, match="collinear"):
        es = ci.event_study(p, "y", method="sun_abraham", covariates=["x", "x2"])
    assert np.isfinite(es.tidy()["estimate"]).all()


# ------------------------------------------------------------------ outcomes
def test_zero_variance_outcome():
    p = panel(staggered_frame().assign(y=3.0))
    tab = ci.att_gt(p, "y").tidy()
    assert (tab["estimate"] == 0).all() and (tab["reason"] == "zero variance").all()
    tw = ci.twfe(p, "y").tidy()
    assert tw["estimate"].iloc[0] == pytest.approx(0, abs=1e-12)
    assert tw["std_error"].iloc[0] == pytest.approx(0, abs=1e-12)
    with pytest.warns(ci.EstimationWarning, match="no sampling variation"):
        wb = ci.twfe(p, "y").wild_bootstrap(reps=99, seed=1).tidy()
    assert np.isnan(wb["p_value"].iloc[0])


def test_outcome_missing_in_a_wave():
    df = staggered_frame()
    df.loc[df["t"] == 2001, "y"] = np.nan
    p = panel(df)
    with pytest.warns(ci.DroppedRowsWarning, match="missing outcome"):
        res = ci.att_gt(p, "y")
    tab = res.tidy()
    assert 2001 not in set(tab["time"])
    # cells whose base period is the missing wave are skipped, not silently NaN
    bad = tab[tab["estimate"].isna()]
    assert (bad["reason"] != "").all()
    with pytest.raises(ci.SpecificationError, match="missing values"):
        ci.bacon(p, "y")
    with pytest.warns(ci.DroppedRowsWarning):
        assert np.isfinite(ci.twfe(p, "y").estimate).all()


def test_zero_weight_unit_equals_dropping_it():
    df = staggered_frame(n_units=20)
    df.loc[df["id"] == 7, "w"] = 0.0
    kept = df[df["id"] != 7]
    for fit in (lambda p: ci.att_gt(p, "y").aggregate("simple"), lambda p: ci.twfe(p, "y"),
                lambda p: ci.event_study(p, "y", method="imputation"),
                lambda p: ci.event_study(p, "y", method="sun_abraham")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ci.DroppedRowsWarning)
            a, b = fit(panel(df, weights="w")), fit(panel(kept, weights="w"))
        np.testing.assert_allclose(a.estimate, b.estimate, rtol=1e-10)
        np.testing.assert_allclose(a.std_error, b.std_error, rtol=1e-8)
    with pytest.raises(ci.PanelError, match="Every weight"):
        panel(df.assign(w=0.0), weights="w")


def test_duplicated_column_names():
    df = staggered_frame()
    dup = pd.concat([df, df[["y"]]], axis=1)
    with pytest.raises(ci.PanelError, match="Duplicated column name"):
        panel(dup)
