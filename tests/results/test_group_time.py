"""GroupTimeResult: aggregation weights, invariances (hypothesis), pre-test, display."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clusterimpact as ci

KINDS = ["simple", "group", "dynamic", "calendar"]


def _toy(seed: int, n_units: int = 40, periods: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.choice([2, 3, 0], size=n_units)
    g[:3] = [2, 3, 0]  # every cohort present
    t = np.arange(1, periods + 1)
    y = (np.repeat(rng.normal(size=n_units), periods) + np.tile(0.2 * t, n_units)
         + rng.normal(size=n_units * periods))
    return pd.DataFrame({"id": np.repeat(np.arange(n_units) + 100, periods),
                         "t": np.tile(t, n_units), "g": np.repeat(g, periods), "y": y})


def _fit(df: pd.DataFrame, y: str = "y", **kw) -> ci.GroupTimeResult:
    return ci.att_gt(ci.Panel(df, unit="id", time="t", cohort="g"), y, **kw)


@pytest.fixture(scope="module")
def mpdta_res() -> ci.GroupTimeResult:
    p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
                 cohort="first.treat")
    return ci.att_gt(p, "lemp")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), perm=st.integers(0, 10_000))
def test_row_order_and_unit_labels_do_not_matter(seed, perm):
    df = _toy(seed)
    ref = _fit(df)
    shuffled = df.sample(frac=1.0, random_state=perm)
    relabel = dict(zip(df["id"].unique(), np.random.default_rng(perm).permutation(
        df["id"].nunique()) * 7 + 1, strict=True))
    shuffled = shuffled.assign(id=shuffled["id"].map(relabel))
    res = _fit(shuffled)
    np.testing.assert_allclose(res.estimate, ref.estimate, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.std_error, ref.std_error, rtol=1e-10)
    for kind in KINDS:
        np.testing.assert_allclose(res.aggregate(kind).std_error,
                                   ref.aggregate(kind).std_error, rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.floats(-1e3, 1e3), scale=st.floats(0.01, 100))
def test_location_and_scale(seed, c, scale):
    df = _toy(seed)
    ref = _fit(df)
    shifted = _fit(df.assign(y=df["y"] + c))
    np.testing.assert_allclose(shifted.estimate, ref.estimate, atol=1e-9 * (1 + abs(c)))
    np.testing.assert_allclose(shifted.std_error, ref.std_error, rtol=1e-6)
    scaled = _fit(df.assign(y=df["y"] * scale))
    np.testing.assert_allclose(scaled.estimate, ref.estimate * scale, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scaled.std_error, ref.std_error * scale, rtol=1e-9)
    for kind in KINDS:
        np.testing.assert_allclose(scaled.aggregate(kind).std_error,
                                   ref.aggregate(kind).std_error * scale, rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), delta=st.floats(-5, 5))
@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
def test_aggregation_weights_sum_to_one(seed, delta, control):
    # a constant effect delta added to every treated unit-period shifts every post-treatment
    # ATT(g,t) by delta, so each aggregate shifts by delta iff its weights sum to one
    df = _toy(seed)
    treated = (df["g"] > 0) & (df["t"] >= df["g"])
    ref = _fit(df, control=control)
    res = _fit(df.assign(y=df["y"] + delta * treated), control=control)
    for kind in KINDS:
        a, b = ref.aggregate(kind), res.aggregate(kind)
        if kind == "dynamic":
            post = b.tidy()["event_time"].to_numpy() >= 0
            np.testing.assert_allclose(b.estimate[post] - a.estimate[post], delta, atol=1e-9)
            np.testing.assert_allclose(b.estimate[~post], a.estimate[~post], atol=1e-9)
        else:
            np.testing.assert_allclose(b.estimate - a.estimate, delta, atol=1e-9)
        if a.overall is not None:
            np.testing.assert_allclose(b.overall.estimate - a.overall.estimate, delta, atol=1e-9)


def test_aggregate_influence_gives_vcov(mpdta_res):
    agg = mpdta_res.aggregate("dynamic")
    n = agg.influence.shape[0]
    np.testing.assert_allclose(agg.vcov, agg.influence.T @ agg.influence / n**2, rtol=1e-12)
    assert agg.cluster.shape == (n,)


def test_event_window_and_balance(mpdta_res):
    win = mpdta_res.aggregate("dynamic", min_e=-1, max_e=1).tidy()
    assert win["event_time"].tolist() == [-1, 0, 1]
    bal = mpdta_res.aggregate("dynamic", balance_e=1).tidy()
    # only cohorts observed at least one period after treatment (2004, 2006)
    assert bal["event_time"].max() == 1
    full = mpdta_res.aggregate("dynamic").tidy()
    assert not np.isclose(bal.loc[bal["event_time"] == 0, "estimate"].item(),
                          full.loc[full["event_time"] == 0, "estimate"].item())
    simple = mpdta_res.aggregate("simple", max_e=0)
    e0 = mpdta_res.tidy().query("time == cohort")
    assert simple.estimate[0] == pytest.approx(
        mpdta_res.aggregate("dynamic", min_e=0, max_e=0).estimate[0])
    assert len(e0) == 3


def test_aggregate_errors_and_warnings(mpdta_res):
    with pytest.raises(ci.SpecificationError, match="use one of"):
        mpdta_res.aggregate("event")
    with pytest.warns(UserWarning, match="ignored"):
        mpdta_res.aggregate("calendar", max_e=2)
    with pytest.raises(ci.SpecificationError, match="balance_e"):
        mpdta_res.aggregate("group", balance_e=1)


def test_tidy_columns_and_display(mpdta_res):
    tab = mpdta_res.tidy()
    assert list(tab.columns[:2]) == ["cohort", "time"]
    assert {"estimate", "std_error", "conf_low", "conf_high", "reason"} <= set(tab.columns)
    assert "band_low" not in tab.columns
    text = mpdta_res.summary()
    assert "pre-test of parallel trends" in text
    assert mpdta_res._repr_html_().startswith("<div")
    agg = mpdta_res.aggregate("group").tidy()
    assert list(agg.columns[:2]) == ["cohort", "estimate"]
    assert len(mpdta_res.aggregate("simple").tidy()) == 1


def test_pretest_by_subgroup():
    df = ci.datasets.load("mpdta")
    df = df.assign(half=np.where(df["countyreal"] % 2 == 0, "even", "odd"))
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    pt = ci.att_gt(p, "lemp", by="half").pretest()
    assert pt["half"].tolist() == ["even", "odd"]
    assert (pt["df"] >= 1).all() and pt["p_value"].between(0, 1).all()
    res = ci.att_gt(p, "lemp", by="half")
    for label, row in pt.set_index("half").iterrows():
        sub = ci.Panel(df[df["half"] == label], unit="countyreal", time="year",
                       cohort="first.treat")
        ref = ci.att_gt(sub, "lemp").pretest()
        assert row["statistic"] == pytest.approx(ref["statistic"].item(), rel=1e-9)
    assert res.summary().count("pre-test") == 2
