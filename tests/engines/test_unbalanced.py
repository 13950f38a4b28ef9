"""TWFE and dynamic TWFE on unbalanced panels from per-block observation patterns (1e-10).

Units missing periods and rows missing the outcome: the lazy path returns, per (subgroup,
cohort, cluster) block, the period counts and outcome sums, the pattern sums
sum w d d' / n and sum w d ybar; the references are ci.twfe / ci.event_study on the rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import clusterimpact as ci

duckdb = pytest.importorskip("duckdb")

STAG = dict(unit="worker_id", time="period", cohort="cohort")
MPDTA = dict(unit="countyreal", time="year", cohort="first.treat")


def unbalance(frame, unit: str, y: str):
    """Drop whole rows (units missing periods, a few units left with one row) and blank some
    outcomes."""
    u = frame[unit].to_numpy()
    drop = (np.arange(len(frame)) % 7 == 3) | ((u % 23 == 0) & (np.arange(len(frame)) % 8 > 0))
    out = frame.loc[~drop].copy()
    out.loc[out.index[::41], y] = np.nan
    return out


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def stag(staggered):
    return unbalance(staggered, "worker_id", "y")


@pytest.fixture(scope="module")
def stag_parquet(tmp_path_factory, stag) -> str:
    path = str(tmp_path_factory.mktemp("unbalanced") / "stag.parquet")
    stag.to_parquet(path, index=False)
    return path


def _assert_event(ref, got) -> None:
    assert ref.tidy()["event_time"].tolist() == got.tidy()["event_time"].tolist()
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.vcov, ref.vcov, rtol=0, atol=1e-10 * np.abs(ref.vcov).max())
    ta, tb = ref.tidy(), got.tidy()
    num = ta.select_dtypes("number").columns
    np.testing.assert_allclose(tb[num].to_numpy(float), ta[num].to_numpy(float), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("cluster", "by"), [("worker_id", None), ("cluster_id", None),
                                             ("cluster_id", "gender")])
def test_unbalanced_every_engine(stag, stag_parquet, cluster, by, assert_regression):
    roles = {**STAG, "cluster": cluster}
    panel = ci.Panel(stag, **roles)
    assert not panel.is_balanced
    ref_t = _quiet(ci.twfe, panel, "y", by=by)
    ref_e = _quiet(ci.event_study, panel, "y", method="twfe", by=by)
    for engine, src in (("narwhals", stag), ("auto", stag), ("auto", pl.from_pandas(stag).lazy()),
                        ("auto", stag_parquet)):
        lp = ci.LazyPanel(src, **roles, engine=engine)
        got = _quiet(lp.twfe, "y", by=by)
        assert_regression(ref_t, got)
        assert "observation patterns" in got.info["engine"]
        _assert_event(ref_e, _quiet(lp.event_study, "y", by=by))


def test_unbalanced_weights_always_treated_options(mpdta, assert_regression):
    df = unbalance(mpdta, "countyreal", "lemp")
    df.loc[df["countyreal"] % 11 == 0, "first.treat"] = 2003      # treated before the data start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        for roles in (dict(MPDTA, weights="w"), dict(MPDTA, weights="w", cluster="state")):
            panel, lp = ci.Panel(df, **roles), ci.LazyPanel(df, **roles, engine="duckdb")
            assert_regression(ci.twfe(panel, "lemp", by="size"), lp.twfe("lemp", by="size"))
            for opts in (dict(), dict(leads=2, lags=2), dict(reference=-2), dict(reference=None)):
                ref = ci.event_study(panel, "lemp", method="twfe", **opts)
                got = lp.event_study("lemp", **opts)
                _assert_event(ref, got)
                assert got.info["n_dropped_always_treated"] == ref.info["n_dropped_always_treated"]


def test_same_warnings_as_rows(mpdta):
    df = unbalance(mpdta, "countyreal", "lemp")
    panel, lp = ci.Panel(df, **MPDTA), ci.LazyPanel(df, **MPDTA)
    with pytest.warns(ci.DroppedRowsWarning) as w_ref:
        ci.twfe(panel, "lemp")
    with pytest.warns(ci.DroppedRowsWarning) as w_got:
        lp.twfe("lemp")
    assert [str(w.message) for w in w_got] == [str(w.message) for w in w_ref]


def test_not_exact_unbalanced_is_refused(mpdta):
    df = unbalance(mpdta, "countyreal", "lemp")
    lp = ci.LazyPanel(df, **MPDTA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
            lp.twfe("lemp", covariates=["lpop"])
        with pytest.raises(ci.SpecificationError, match="unbalances the panel"):
            lp.event_study("lemp", leads=1, lags=1, bin_endpoints=False)
        with pytest.raises(ci.SpecificationError, match="'CR1' only"):
            lp.twfe("lemp", vcov="CR2")
