"""The compressed att_gt equals the row-level ci.att_gt (1e-10) on every in-process engine."""

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
    yield "pandas", frame
    yield "duckdb-pandas", frame
    yield "polars", pl.from_pandas(frame)
    yield "polars-lazy", pl.from_pandas(frame).lazy()
    yield "duckdb-parquet", files[f"{name}.parquet"]
    yield "duckdb-csv", files[f"{name}.csv"]
    yield "duckdb-relation", duckdb.sql(f"SELECT * FROM read_parquet('{files[name + '.parquet']}')")


@pytest.mark.parametrize("cluster", [None, "state"])
def test_mpdta_every_engine(mpdta, files, cluster, assert_same):
    roles = {**MPDTA, "cluster": cluster}
    ref = ci.att_gt(ci.Panel(mpdta, **roles), "lemp")
    for label, src in _sources(mpdta, "mpdta", files):
        lp = ci.LazyPanel(src, **roles, engine="narwhals" if label == "pandas" else "auto")
        assert lp.engine == ("narwhals" if label.startswith(("pandas", "polars")) else "duckdb")
        assert_same(ref, lp.att_gt("lemp"))


@pytest.mark.parametrize(("cluster", "by"), [("worker_id", None), ("cluster_id", None),
                                             ("cluster_id", "gender"), ("worker_id", ["gender", "tier"])])
def test_staggered_every_engine(staggered, files, cluster, by, assert_same):
    roles = {**STAG, "cluster": cluster}
    ref = ci.att_gt(ci.Panel(staggered, **roles), "y", by=by)
    for label, src in _sources(staggered, "staggered", files):
        engine = "narwhals" if label == "pandas" else "auto"
        assert_same(ref, ci.LazyPanel(src, **roles, engine=engine).att_gt("y", by=by))


@pytest.mark.parametrize("options", [
    dict(control="not_yet_treated"),
    dict(base_period="universal"),
    dict(anticipation=1, control="not_yet_treated"),
    dict(bootstrap=199, seed=3),
])
def test_options(staggered, files, options, assert_same):
    roles = {**STAG, "cluster": "cluster_id"}
    ref = ci.att_gt(ci.Panel(staggered, **roles), "y", **options)
    got = ci.LazyPanel(files["staggered.parquet"], **roles).att_gt("y", **options)
    assert_same(ref, got)


def test_weights_unbalanced_missing_treatment(mpdta, assert_same):
    df = mpdta.copy()
    df["D"] = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(int)
    df.loc[df.index[::37], "lemp"] = np.nan      # missing outcomes: units dropped to balance
    df = df.drop(index=df.index[5::97])         # unbalanced rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        for roles in (dict(unit="countyreal", time="year", treatment="D", cluster="state"),
                      dict(MPDTA, weights="w"), dict(MPDTA, weights="w", cluster="state")):
            ref = ci.att_gt(ci.Panel(df, **roles), "lemp", by="size")
            for engine in ("narwhals", "duckdb"):
                assert_same(ref, ci.LazyPanel(df, **roles, engine=engine).att_gt("lemp", by="size"))


def test_warnings_are_those_of_att_gt(mpdta, assert_same):
    df = mpdta[mpdta["first.treat"] > 0].copy()  # no never-treated units
    df.loc[df.index[:3], "lemp"] = np.nan
    for control, coerce in (("never_treated", True), ("not_yet_treated", False)):
        with warnings.catch_warnings(record=True) as w_ref:
            warnings.simplefilter("always")
            ref = ci.att_gt(ci.Panel(df, **MPDTA), "lemp", control=control,
                            last_cohort_as_control=coerce)
        with warnings.catch_warnings(record=True) as w_got:
            warnings.simplefilter("always")
            got = ci.LazyPanel(df, **MPDTA).att_gt("lemp", control=control,
                                                   last_cohort_as_control=coerce)
        assert_same(ref, got)
        messages = lambda ws: sorted(str(w.message) for w in ws  # noqa: E731
                                     if issubclass(w.category, ci.ClusterImpactWarning))
        assert messages(w_got) == messages(w_ref)
    # without the opt-in, never-treated comparisons are refused by both paths alike
    for fit in (lambda: ci.att_gt(ci.Panel(df, **MPDTA), "lemp"),
                lambda: ci.LazyPanel(df, **MPDTA).att_gt("lemp")):
        with pytest.raises(ci.SpecificationError, match="every unit is eventually treated"):
            fit()


def test_cell_stats_reduce_rows_and_merge(staggered, assert_same):
    roles = {**STAG, "cluster": "cluster_id"}
    st = ci.LazyPanel(staggered, **roles).cell_stats("y")
    assert st.n_rows == len(staggered)
    assert st.n_blocks == staggered.groupby(["cluster_id", "cohort"]).ngroups
    assert st.ysum.shape == (st.n_blocks, staggered["period"].nunique())
    half = staggered["worker_id"] % 2 == 0
    a = ci.LazyPanel(staggered[half], **roles).cell_stats("y")
    b = ci.LazyPanel(staggered[~half], **roles).cell_stats("y")
    assert_same(ci.att_gt_from_stats(st), ci.att_gt_from_stats(a.merge(b)))
    unit = ci.LazyPanel(staggered, **STAG).cell_stats("y")   # cluster = unit: T-fold fewer rows
    assert unit.n_blocks == staggered["worker_id"].nunique() == len(staggered) // unit.periods.size


def test_covariates_are_refused(mpdta):
    with pytest.raises(ci.SpecificationError, match="not exactly compressible"):
        ci.LazyPanel(mpdta, **MPDTA).att_gt("lemp", covariates=["lpop"])


def test_generated_sql_is_one_pushdown(files):
    from clusterimpact.engines._spec import to_sql

    lp = ci.LazyPanel(files["mpdta.parquet"], **MPDTA, cluster="state")
    sql = to_sql(lp.stats_query("lemp"), "duckdb", "t")
    assert sql.count("GROUP BY") == 1 and '"first.treat"' in sql
    lp2 = ci.LazyPanel(files["mpdta.parquet"], **MPDTA, weights="w")
    assert to_sql(lp2.stats_query("lemp"), "duckdb", "t").count("GROUP BY") == 2  # per unit, per block
