"""Shared data for the engine tests: mpdta and a simulated staggered panel, written to files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

KINDS = ("simple", "group", "calendar", "dynamic")


def _assert_same(a: ci.GroupTimeResult, b: ci.GroupTimeResult, atol: float = 1e-10) -> None:
    """Cells, every aggregation (and its overall row) agree to ``atol``."""
    ta, tb = a.tidy(), b.tidy()
    pd.testing.assert_frame_equal(ta.drop(columns=ta.select_dtypes("number").columns),
                                  tb.drop(columns=tb.select_dtypes("number").columns),
                                  check_dtype=False)
    num = [c for c in ta.select_dtypes("number").columns if c not in ("cohort", "time")]
    np.testing.assert_allclose(tb[num].to_numpy(float), ta[num].to_numpy(float), rtol=0, atol=atol)
    np.testing.assert_array_equal(tb[["cohort", "time"]].to_numpy(), ta[["cohort", "time"]].to_numpy())
    for kind in KINDS:
        xa, xb = a.aggregate(kind), b.aggregate(kind)
        np.testing.assert_allclose(xb.estimate, xa.estimate, rtol=0, atol=atol)
        np.testing.assert_allclose(xb.std_error, xa.std_error, rtol=0, atol=atol)
        if xa.overall is not None:
            np.testing.assert_allclose(xb.overall.estimate, xa.overall.estimate, rtol=0, atol=atol)
            np.testing.assert_allclose(xb.overall.std_error, xa.overall.std_error, rtol=0, atol=atol)


def _assert_regression_equal(ref, got) -> None:
    """Keys, estimates, the full covariance, SEs, df and the tidy table agree to 1e-10."""
    ta, tb = ref.tidy(), got.tidy()
    assert list(ta.columns) == list(tb.columns)
    num = ta.select_dtypes("number").columns
    pd.testing.assert_frame_equal(ta.drop(columns=num), tb.drop(columns=num))
    np.testing.assert_allclose(tb[num].to_numpy(float), ta[num].to_numpy(float), rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.vcov, ref.vcov, rtol=0, atol=1e-10 * np.abs(ref.vcov).max())
    np.testing.assert_allclose(np.sqrt(np.diag(got.vcov)), np.sqrt(np.diag(ref.vcov)), rtol=0,
                               atol=1e-10)
    for key in ("n_obs", "n_units", "n_clusters"):
        assert got.info[key] == ref.info[key], key


_LEVELS = np.array(["clerk", "operator", "packer", "supervisor"])


def with_covariates(frame: pd.DataFrame, unit: str, time: str) -> pd.DataFrame:
    """A time-varying categorical ``occupation`` (some units never switch), its integer code
    ``occ_code`` and a numeric ``hours``; plus the indicator columns of the row-level reference."""
    u = frame[unit].to_numpy(np.int64)
    t = frame[time].to_numpy(np.int64)
    switch = (u % 3 != 0) & ((u * 7 + t * 3) % 5 < 2)
    code = (u % 4 + switch * (1 + t % 3)) % 4
    rng = np.random.default_rng(11)
    out = frame.assign(occupation=_LEVELS[code], occ_code=code,
                       hours=40 + 3 * (u % 5) + rng.normal(0, 2, len(frame)))
    for lv in _LEVELS[1:]:
        out[f"occupation::{lv}"] = (out["occupation"] == lv).astype(float)
    return out


@pytest.fixture(scope="session")
def add_covariates():
    """``with_covariates``: a time-varying categorical, its codes, a numeric covariate."""
    return with_covariates


@pytest.fixture(scope="session")
def mpdta() -> pd.DataFrame:
    df = ci.datasets.load("mpdta")
    return df.assign(state=df["countyreal"] // 1000,
                     w=1.0 + (df["countyreal"] % 7) / 3.0,
                     size=np.where(df["lpop"] > df["lpop"].median(), "large", "small"))


@pytest.fixture(scope="session")
def staggered() -> pd.DataFrame:
    data = ci.simulate.scenario("staggered_basic", seed=1).data
    cats = data.select_dtypes("category").columns
    return data.assign(**{c: data[c].astype(str) for c in cats})


@pytest.fixture(scope="session")
def files(tmp_path_factory, mpdta, staggered) -> dict[str, str]:
    root = tmp_path_factory.mktemp("engines")
    out = {}
    for name, frame in (("mpdta", mpdta), ("staggered", staggered)):
        out[f"{name}.parquet"] = str(root / f"{name}.parquet")
        out[f"{name}.csv"] = str(root / f"{name}.csv")
        frame.to_parquet(out[f"{name}.parquet"], index=False)
        frame.to_csv(out[f"{name}.csv"], index=False)
    return out


@pytest.fixture(scope="session")
def assert_same():
    """The comparison of two att_gt results (cells and the four aggregations)."""
    return _assert_same


@pytest.fixture(scope="session")
def assert_regression():
    """The comparison of two regression results (twfe or event study) to 1e-10."""
    return _assert_regression_equal
