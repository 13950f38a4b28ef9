"""Unit-clustered att_gt from (subgroup, cohort) second moments equals ci.att_gt (1e-10)."""

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
    yield "narwhals", frame
    yield "auto", frame
    yield "auto", pl.from_pandas(frame).lazy()
    yield "auto", files[f"{name}.parquet"]


@pytest.mark.parametrize("by", [None, "gender", ["gender", "tier"]])
def test_moments_every_engine(staggered, files, by, assert_same):
    ref = ci.att_gt(ci.Panel(staggered, **STAG), "y", by=by)
    for engine, src in _sources(staggered, "staggered", files):
        lp = ci.LazyPanel(src, **STAG, engine=engine)
        ms = lp.moment_stats("y", by=by)
        n_groups = 1 if by is None else len(ref.design.group_labels)
        assert ms.n_blocks <= n_groups * (ref.design.n_cohorts + 0)   # no per-unit rows come back
        got = ci.att_gt_from_moments(ms)
        assert "moment tables" in got.info["engine"]
        assert_same(ref, got)
        assert_same(ref, lp.att_gt("y", by=by))                       # the default route


@pytest.mark.parametrize("options", [
    dict(control="not_yet_treated"),
    dict(base_period="universal"),
    dict(anticipation=1, control="not_yet_treated"),
])
def test_moments_options(staggered, mpdta, files, options, assert_same):
    ref = ci.att_gt(ci.Panel(staggered, **STAG), "y", **options)
    assert_same(ref, ci.LazyPanel(files["staggered.parquet"], **STAG).att_gt("y", **options))
    ref = ci.att_gt(ci.Panel(mpdta, **MPDTA), "lemp", **options)
    assert_same(ref, ci.LazyPanel(files["mpdta.parquet"], **MPDTA).att_gt("lemp", **options))


def test_moments_weights_unbalanced_treatment_column(mpdta, assert_same):
    df = mpdta.copy()
    df["D"] = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(int)
    df.loc[df.index[::37], "lemp"] = np.nan
    df = df.drop(index=df.index[5::97])
    # large levels and a strong common trend: the moments are of shifted changes and the
    # pseudo-units stay in shifted coordinates (a level-coordinate version lost 0.03 in the SEs)
    df["lemp"] = df["lemp"] + 1e2 * (df["countyreal"] % 7) + 1e2 * (df["year"] - 2003)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        for roles in (dict(unit="countyreal", time="year", treatment="D"), dict(MPDTA, weights="w")):
            ref = ci.att_gt(ci.Panel(df, **roles), "lemp", by="size")
            for engine in ("narwhals", "duckdb"):
                assert_same(ref, ci.LazyPanel(df, **roles, engine=engine).att_gt("lemp", by="size"))


def test_no_never_treated_rules(mpdta, assert_same):
    df = mpdta[mpdta["first.treat"] > 0]
    lp = ci.LazyPanel(df, **MPDTA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        for options in (dict(control="not_yet_treated"), dict(last_cohort_as_control=True)):
            assert_same(ci.att_gt(ci.Panel(df, **MPDTA), "lemp", **options),
                        lp.att_gt("lemp", **options))


def test_bootstrap_and_clusters_take_the_block_path(mpdta, assert_same):
    lp = ci.LazyPanel(mpdta, **MPDTA)
    got = lp.att_gt("lemp", bootstrap=99, seed=4)
    assert "blocks" in got.info["engine"]
    assert_same(ci.att_gt(ci.Panel(mpdta, **MPDTA), "lemp", bootstrap=99, seed=4), got)
    with pytest.raises(ci.SpecificationError, match="cluster = unit"):
        ci.LazyPanel(mpdta, **MPDTA, cluster="state").moment_stats("lemp")
    with pytest.raises(ci.SpecificationError, match="allow_unbalanced_panel"):
        lp.att_gt("lemp", allow_unbalanced_panel=True)


def test_pseudo_unit_results_refuse_resampling_and_route_blocks_allows_it(mpdta, assert_same):
    """The moment route's influence rows are pseudo-units: exact for every variance, but a score
    wild bootstrap resampling them would silently differ from the units' (it did: p 0.004 against
    0.0005 on mpdta), so it is refused with the remedy; route='blocks' brings the units back."""
    lp = ci.LazyPanel(mpdta, **MPDTA)
    agg = lp.att_gt("lemp").aggregate("simple")
    with pytest.raises(ci.SpecificationError, match=r"pseudo-units.*route='blocks'"):
        agg.wild_bootstrap(seed=1)
    by_size = lp.att_gt("lemp", by="size").aggregate("simple").compare().tidy()
    by_size_rows = ci.att_gt(ci.Panel(mpdta, **MPDTA), "lemp", by="size").aggregate("simple")
    for column in ("estimate", "std_error", "p_value"):     # covariance-based: still exact
        np.testing.assert_allclose(by_size[column], by_size_rows.compare().tidy()[column], rtol=1e-9)
    blocks = lp.att_gt("lemp", route="blocks")
    assert "blocks" in blocks.info["engine"]
    rows = ci.att_gt(ci.Panel(mpdta, **MPDTA), "lemp")
    assert_same(rows, blocks)
    wild_rows = rows.aggregate("simple").wild_bootstrap(seed=1).tidy()
    wild_blocks = blocks.aggregate("simple").wild_bootstrap(seed=1).tidy()
    for column in ("p_value", "conf_low", "conf_high"):
        assert wild_blocks[column][0] == pytest.approx(wild_rows[column][0], rel=1e-9)
    with pytest.raises(ci.SpecificationError, match="route"):
        lp.att_gt("lemp", route="fast")
    with pytest.raises(ci.SpecificationError, match="route='moments'"):
        lp.att_gt("lemp", route="moments", bootstrap=99)
