"""TWFE and dynamic-TWFE event studies from cell statistics equal ci.twfe / ci.event_study (1e-10).

Clustered by unit (cluster=None or the unit column) the lazy path uses the (subgroup, cohort)
moment tables; with coarser clusters the (subgroup, cohort, cluster) block sums.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import clusterimpact as ci

duckdb = pytest.importorskip("duckdb")

MPDTA = dict(unit="countyreal", time="year", cohort="first.treat")
STAG = dict(unit="worker_id", time="period", cohort="cohort")


def _sources(frame, name, files):
    yield "narwhals", frame                         # pandas through narwhals
    yield "auto", frame                             # DuckDB scanning the pandas frame
    yield "auto", pl.from_pandas(frame).lazy()      # polars
    yield "auto", files[f"{name}.parquet"]          # DuckDB over Parquet


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("cluster", [None, "state"])
def test_mpdta_every_engine(mpdta, files, cluster, assert_regression):
    roles = {**MPDTA, "cluster": cluster}
    panel = ci.Panel(mpdta, **roles)
    ref_t = _quiet(ci.twfe, panel, "lemp")
    ref_e = _quiet(ci.event_study, panel, "lemp", method="twfe")
    for engine, src in _sources(mpdta, "mpdta", files):
        lp = ci.LazyPanel(src, **roles, engine=engine)
        assert_regression(ref_t, _quiet(lp.twfe, "lemp"))
        assert_regression(ref_e, _quiet(lp.event_study, "lemp"))


@pytest.mark.parametrize(("cluster", "by"), [("worker_id", None), ("worker_id", "gender"),
                                             ("cluster_id", "gender"),
                                             ("cluster_id", ["gender", "tier"])])
def test_staggered_subgroups_every_engine(staggered, files, cluster, by, assert_regression):
    roles = {**STAG, "cluster": cluster}
    panel = ci.Panel(staggered, **roles)
    ref_t = _quiet(ci.twfe, panel, "y", by=by)
    ref_e = _quiet(ci.event_study, panel, "y", method="twfe", by=by)
    assert ref_e.vcov.shape[0] > 2 * ref_t.vcov.shape[0] - 2
    for engine, src in _sources(staggered, "staggered", files):
        lp = ci.LazyPanel(src, **roles, engine=engine)
        assert_regression(ref_t, _quiet(lp.twfe, "y", by=by))
        assert_regression(ref_e, _quiet(lp.event_study, "y", by=by))


@pytest.mark.parametrize("options", [
    dict(leads=2, lags=3),
    dict(leads=0, lags=2),
    dict(reference=-2),
    dict(reference=None, leads=3, lags=3),
    dict(bin_endpoints=False),
])
def test_event_study_options(staggered, files, options, assert_regression):
    roles = {**STAG, "cluster": "cluster_id"}
    ref = _quiet(ci.event_study, ci.Panel(staggered, **roles), "y", method="twfe", **options)
    got = _quiet(ci.LazyPanel(files["staggered.parquet"], **roles).event_study, "y", **options)
    assert_regression(ref, got)


def test_weights_always_treated_and_late_cohorts(mpdta, assert_regression):
    df = mpdta.copy()
    df.loc[df["countyreal"] % 11 == 0, "first.treat"] = 2003     # treated before the data start
    df.loc[df["countyreal"] % 13 == 0, "first.treat"] = 2010     # treated after the data end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        for roles in (dict(MPDTA, weights="w"), dict(MPDTA, weights="w", cluster="state")):
            panel = ci.Panel(df, **roles)
            for engine in ("narwhals", "duckdb"):
                lp = ci.LazyPanel(df, **roles, engine=engine)
                assert_regression(ci.twfe(panel, "lemp", by="size"), lp.twfe("lemp", by="size"))
                ref = ci.event_study(panel, "lemp", method="twfe", by="size")
                got = lp.event_study("lemp", by="size")
                assert_regression(ref, got)
                assert got.info["n_dropped_always_treated"] == ref.info["n_dropped_always_treated"] > 0


def test_same_warnings_as_rows(mpdta, assert_regression):
    df = mpdta.assign(state=mpdta["countyreal"] // 10000)          # few clusters
    roles = dict(MPDTA, cluster="state")
    for fn, lazy in ((lambda p: ci.twfe(p, "lemp"), lambda lp: lp.twfe("lemp")),
                     (lambda p: ci.event_study(p, "lemp", method="twfe"),
                      lambda lp: lp.event_study("lemp"))):
        with pytest.warns(ci.FewClustersWarning):
            ref = fn(ci.Panel(df, **roles))
        with pytest.warns(ci.FewClustersWarning):
            got = lazy(ci.LazyPanel(df, **roles))
        assert_regression(ref, got)


def test_what_is_not_exact_is_refused(mpdta):
    # the balanced closed form refuses unbalanced block sums (LazyPanel routes those to the
    # observation-pattern statistics of engines.unbalanced, tested in test_unbalanced.py)
    unbalanced = mpdta.drop(index=mpdta.index[5::97])
    lp = ci.LazyPanel(unbalanced, **MPDTA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
            ci.twfe_from_stats(lp.cell_stats("lemp"))
        with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
            ci.event_study_from_stats(lp.moment_stats("lemp"))
        with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
            lp.twfe("lemp", fe=["unit", "size^time"])
    missing = mpdta.assign(lemp=np.where(mpdta.index % 50 == 0, np.nan, mpdta["lemp"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        with pytest.raises(ci.SpecificationError, match="lack the outcome"):
            ci.twfe_from_stats(ci.LazyPanel(missing, **MPDTA).cell_stats("lemp"))
    lp = ci.LazyPanel(mpdta, **MPDTA)
    with pytest.raises(ci.SpecificationError, match="'CR1' only"):
        lp.twfe("lemp", vcov="CR2")
    with pytest.raises(ci.EstimationError, match="collinear"):   # time-invariant: absorbed
        lp.twfe("lemp", covariates=["lpop"])
    with pytest.raises(ci.SpecificationError, match="method='twfe' only"):
        lp.event_study("lemp", method="sun_abraham")
    with pytest.raises(ci.SpecificationError, match="not an observed relative period"):
        lp.event_study("lemp", reference=-7)
    with pytest.raises(ci.SpecificationError, match="unbalances the panel"):
        lp.event_study("lemp", leads=1, lags=1, bin_endpoints=False)


def test_collinear_event_dummies_dropped_as_rows(mpdta, assert_regression):
    df = mpdta[mpdta["first.treat"] > 0]     # no never-treated: one dummy is collinear
    panel, lp = ci.Panel(df, **MPDTA), ci.LazyPanel(df, **MPDTA)
    with pytest.warns(ci.EstimationWarning, match="collinear") as w_ref:
        ref = ci.event_study(panel, "lemp", method="twfe", reference=None)
    with pytest.warns(ci.EstimationWarning, match="collinear") as w_got:
        got = lp.event_study("lemp", reference=None)
    assert [str(w.message) for w in w_got] == [str(w.message) for w in w_ref]
    assert_regression(ref, got)


def test_unit_clusters_use_moment_tables(mpdta, assert_regression):
    lp = ci.LazyPanel(mpdta, **MPDTA, weights="w")
    ms, st = lp.moment_stats("lemp", by="size"), lp.cell_stats("lemp", by="size")
    assert ms.n_blocks == 8 and st.n_blocks == 500
    assert_regression(ci.twfe_from_stats(st), ci.twfe_from_stats(ms))
    assert_regression(ci.event_study_from_stats(st), ci.event_study_from_stats(ms))


@pytest.mark.parametrize(("cluster", "category"), [("worker_id", "gender"), ("cluster_id", "tier"),
                                                   ("cluster_id", "cluster_type")])
def test_category_specific_period_effects_every_engine(staggered, files, cluster, category,
                                                       assert_regression):
    # fe=["unit", "<category>^time"]: one slope, period effects per category level (constant
    # within unit); the levels' normal equations summed from the (category, cohort, cluster)
    # sums equal the row-level regression, including the nested-FE rule of CR1's K when each
    # level lies in one cluster type (cluster_type is constant within cluster)
    roles = {**STAG, "cluster": cluster}
    fe = ["unit", f"{category}^time"]
    ref = _quiet(ci.twfe, ci.Panel(staggered, **roles), "y", fe=fe)
    explicit = staggered.assign(cat_t=staggered[category].astype(str) + "_"
                                + staggered["period"].astype(str))
    np.testing.assert_allclose(
        _quiet(ci.twfe, ci.Panel(explicit, **roles), "y", fe=["unit", "cat_t"]).std_error,
        ref.std_error, rtol=1e-12)
    assert ref.info["fixed_effects"] == fe
    for engine, src in _sources(staggered, "staggered", files):
        lp = ci.LazyPanel(src, **roles, engine=engine)
        got = _quiet(lp.twfe, "y", fe=fe)
        np.testing.assert_allclose(got.estimate, ref.estimate, rtol=1e-10)
        np.testing.assert_allclose(got.std_error, ref.std_error, rtol=1e-10)
        assert got.tidy()["df"].iloc[0] == ref.tidy()["df"].iloc[0]
        assert_regression(_quiet(ci.event_study, ci.Panel(staggered, **roles), "y", fe=fe),
                          _quiet(lp.event_study, "y", fe=fe))


def test_absorbed_treatment_is_an_error_not_rounding_noise(mpdta):
    # treatment constant within state: state-by-year effects absorb it; the rows used to return
    # an estimate made of rounding noise (0.046, SE 0.31)
    p = ci.Panel(mpdta, **MPDTA, cluster="state")
    with pytest.raises(ci.EstimationError, match="collinear"):
        _quiet(ci.twfe, p, "lemp", fe=["unit", "state^time"])
    with pytest.raises(ci.EstimationError, match="collinear"):
        _quiet(ci.LazyPanel(mpdta, **MPDTA, cluster="state").twfe, "lemp",
               fe=["unit", "state^time"])
