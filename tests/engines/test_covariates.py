"""TWFE and dynamic TWFE with covariates from per-block cross-products equal the rows (1e-10).

A categorical covariate on the lazy path enters as the indicators of its levels but the
first; the row-level reference is ``ci.twfe`` / ``ci.event_study`` with those indicator
columns (named ``column::level``) passed as numeric covariates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

import clusterimpact as ci

duckdb = pytest.importorskip("duckdb")

STAG = dict(unit="worker_id", time="period", cohort="cohort")
MPDTA = dict(unit="countyreal", time="year", cohort="first.treat")
LEVELS = ["clerk", "operator", "packer", "supervisor"]   # as conftest.with_covariates
DUMMIES = [f"occupation::{lv}" for lv in LEVELS[1:]]


@pytest.fixture(scope="module")
def stag(staggered, add_covariates) -> pd.DataFrame:
    return add_covariates(staggered, "worker_id", "period")


@pytest.fixture(scope="module")
def stag_parquet(tmp_path_factory, stag) -> str:
    path = str(tmp_path_factory.mktemp("covariates") / "stag.parquet")
    stag.to_parquet(path, index=False)
    return path


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        return fn(*args, **kwargs)


def _sources(frame, parquet):
    yield "narwhals", frame                         # pandas through narwhals
    yield "auto", frame                             # DuckDB scanning the pandas frame
    yield "auto", pl.from_pandas(frame).lazy()      # polars
    yield "auto", parquet                           # DuckDB over Parquet


def _assert_event(ref, got, rtol=0.0) -> None:
    ta, tb = ref.tidy(), got.tidy()
    assert ta["event_time"].tolist() == tb["event_time"].tolist()
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.vcov, ref.vcov, rtol=0, atol=1e-10 * np.abs(ref.vcov).max())
    num = ta.select_dtypes("number").columns
    np.testing.assert_allclose(tb[num].to_numpy(float), ta[num].to_numpy(float), rtol=0, atol=1e-10)


@pytest.mark.parametrize(("cluster", "by"), [("worker_id", None), ("cluster_id", None),
                                             ("cluster_id", "gender")])
def test_categorical_and_numeric_covariates_every_engine(stag, stag_parquet, cluster, by,
                                                         assert_regression):
    roles = {**STAG, "cluster": cluster}
    panel = ci.Panel(stag, **roles)
    ref_t = _quiet(ci.twfe, panel, "y", covariates=[*DUMMIES, "hours"], by=by)
    ref_e = _quiet(ci.event_study, panel, "y", method="twfe", covariates=[*DUMMIES, "hours"], by=by)
    assert np.all(np.abs(ref_t.estimate) > 0)
    for engine, src in _sources(stag, stag_parquet):
        lp = ci.LazyPanel(src, **roles, engine=engine)
        got = _quiet(lp.twfe, "y", covariates=["occupation", "hours"], by=by)
        assert_regression(ref_t, got)
        assert "cross-products" in got.info["engine"]
        _assert_event(ref_e, _quiet(lp.event_study, "y", covariates=["occupation", "hours"], by=by))


def test_declared_and_category_dtypes_give_the_same_levels(stag, assert_regression):
    roles = {**STAG, "cluster": "cluster_id"}
    ref = _quiet(ci.twfe, ci.Panel(stag, **roles), "y", covariates=DUMMIES)
    cat = stag.assign(occupation=pd.Categorical(stag["occupation"]))
    for engine in ("narwhals", "duckdb"):
        got = _quiet(ci.LazyPanel(cat, **roles, engine=engine).twfe, "y", covariates=["occupation"])
        assert_regression(ref, got)
        # an integer column declared categorical: same span, terms named by its codes
        coded = _quiet(ci.LazyPanel(stag, **roles, engine=engine).twfe, "y",
                       covariates=["C(occ_code)"])
        assert coded.tidy()["term"].tolist() == ["treated", "occ_code::1", "occ_code::2",
                                                 "occ_code::3"]
        np.testing.assert_allclose(coded.estimate, ref.estimate, rtol=0, atol=1e-10)
        np.testing.assert_allclose(coded.vcov, ref.vcov, rtol=0, atol=1e-12)


def test_weights_always_treated_and_unit_clusters_mpdta(mpdta, add_covariates,
                                                         assert_regression):
    df = add_covariates(mpdta, "countyreal", "year")
    df.loc[df["countyreal"] % 11 == 0, "first.treat"] = 2003     # treated before the data start
    covs = [*DUMMIES, "lpop_t"]
    df["lpop_t"] = df["lpop"] + 0.1 * np.sin(df["year"] * df["countyreal"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.ClusterImpactWarning)
        for roles in (dict(MPDTA, weights="w"), dict(MPDTA, weights="w", cluster="state")):
            panel = ci.Panel(df, **roles)
            lp = ci.LazyPanel(df, **roles, engine="duckdb")
            assert_regression(ci.twfe(panel, "lemp", covariates=covs, by="size"),
                              lp.twfe("lemp", covariates=["occupation", "lpop_t"], by="size"))
            ref = ci.event_study(panel, "lemp", method="twfe", covariates=covs, leads=2, lags=2)
            got = lp.event_study("lemp", covariates=["occupation", "lpop_t"], leads=2, lags=2)
            _assert_event(ref, got)
            assert got.info["n_dropped_always_treated"] == ref.info["n_dropped_always_treated"] > 0


def test_absorbed_covariates_as_rows(stag):
    # occupation constant within unit for every unit: the unit effects absorb it
    roles = {**STAG, "cluster": "cluster_id"}
    fixed = stag.assign(occupation=np.array(LEVELS)[stag["worker_id"] % 4])
    for lv in LEVELS[1:]:
        fixed[f"occupation::{lv}"] = (fixed["occupation"] == lv).astype(float)
    panel, lp = ci.Panel(fixed, **roles), ci.LazyPanel(fixed, **roles)
    with pytest.raises(ci.EstimationError, match="collinear") as want:
        _quiet(ci.twfe, panel, "y", covariates=DUMMIES)
    with pytest.raises(ci.EstimationError, match="collinear") as got:
        _quiet(lp.twfe, "y", covariates=["occupation"])
    assert "occupation::operator" in str(got.value) and "occupation::operator" in str(want.value)
    # event study: the row-level fit drops them with a warning; so does the compressed one
    with pytest.warns(ci.EstimationWarning, match="collinear") as w_ref:
        ref = _quiet(ci.event_study, panel, "y", method="twfe", covariates=DUMMIES)
    with pytest.warns(ci.EstimationWarning, match="collinear") as w_got:
        got = _quiet(lp.event_study, "y", covariates=["occupation"])
    assert [str(w.message) for w in w_got if issubclass(w.category, ci.EstimationWarning)] == \
        [str(w.message) for w in w_ref if issubclass(w.category, ci.EstimationWarning)]
    _assert_event(ref, got)


def test_what_is_not_exact_is_refused(stag):
    roles = {**STAG, "cluster": "cluster_id"}
    lp = ci.LazyPanel(stag, **roles)
    gaps = stag.assign(hours=np.where(stag.index % 97 == 0, np.nan, stag["hours"]))
    with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
        ci.LazyPanel(gaps, **roles).twfe("y", covariates=["hours"])
    with pytest.raises(ci.SpecificationError, match="needs a balanced panel"):
        ci.LazyPanel(stag.drop(index=stag.index[3::101]), **roles).event_study(
            "y", covariates=["occupation"])
    with pytest.raises(ci.SpecificationError, match="'CR1' only"):
        lp.twfe("y", covariates=["occupation"], vcov="HC1")
    with pytest.raises(ci.SpecificationError, match=r"not in the data.*occupation"):
        lp.twfe("y", covariates=["ocupation"])
    with pytest.raises(ci.SpecificationError, match="single level"):
        ci.LazyPanel(stag.assign(one="x"), **roles).twfe("y", covariates=["one"])
    with pytest.raises(ci.PanelError, match="Missing values in the covariate column 'occupation'"):
        ci.LazyPanel(stag.assign(occupation=stag["occupation"].where(stag.index % 50 > 0)),
                     **roles).twfe("y", covariates=["occupation"])
    # a covariate whose within-unit sum of squares is ~1e-9 of its spread across units (1e-5
    # in max-abs terms): the rows give a number; the cross-products would lose too many
    # digits, so the compressed path refuses it
    weak = stag.assign(level=10 * stag["worker_id"] + 0.1 * stag["hours"])
    _quiet(ci.twfe, ci.Panel(weak, **roles), "y", covariates=["level"])
    with pytest.raises(ci.SpecificationError, match="'level' vary too little within units"):
        ci.LazyPanel(weak, **roles).twfe("y", covariates=["level"])
