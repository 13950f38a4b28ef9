"""Panel: every validation rule, derived arrays, immutability, pandas/polars parity."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci


def small() -> pd.DataFrame:
    """Four units, three periods: unit 1 treated from 2, unit 2 from 3, units 3-4 never."""
    return pd.DataFrame({
        "id": np.repeat([1, 2, 3, 4], 3),
        "t": np.tile([1, 2, 3], 4),
        "g": np.repeat([2, 3, 0, 0], 3),
        "d": [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        "cl": np.repeat(["a", "a", "b", "b"], 3),
        "w": np.repeat([1.0, 2.0, 1.0, 0.5], 3),
        "y": np.arange(12, dtype=float),
    })


@pytest.fixture
def mpdta() -> pd.DataFrame:
    return ci.datasets.load("mpdta")


# ----------------------------------------------------------------- derived arrays
def test_codes_and_cohorts(mpdta):
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    assert (p.n_obs, p.n_units, p.n_periods, p.n_clusters) == (2500, 500, 5, 500)
    assert p.cohorts.tolist() == [2004, 2006, 2007]
    assert p.is_panel and p.is_balanced and p.has_never_treated
    assert np.isinf(p.cohort_value[mpdta["first.treat"].to_numpy() == 0]).all()
    np.testing.assert_array_equal(p.treated, (mpdta["year"] >= mpdta["first.treat"]).to_numpy()
                                  & (mpdta["first.treat"] > 0).to_numpy())
    ev = mpdta["year"] - mpdta["first.treat"].replace(0, np.nan)
    np.testing.assert_array_equal(p.event_time, ev.to_numpy())
    assert p.periods.tolist() == [2003, 2004, 2005, 2006, 2007]
    assert p.time_code.min() == 0 and p.time_code.max() == 4


def test_treatment_column_derives_cohorts():
    df = small()
    a = ci.Panel(df, unit="id", time="t", cohort="g")
    b = ci.Panel(df, unit="id", time="t", treatment="d")
    np.testing.assert_array_equal(a.cohort_value, b.cohort_value)
    np.testing.assert_array_equal(a.treated, b.treated)


def test_never_treated_codes_are_equivalent():
    df = small()
    ref = ci.Panel(df, unit="id", time="t", cohort="g").cohort_value
    for code in (np.nan, np.inf):
        alt = df.assign(g=df["g"].replace(0, code))
        np.testing.assert_array_equal(ci.Panel(alt, unit="id", time="t", cohort="g").cohort_value,
                                      ref)


def test_describe_and_timing(mpdta):
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    d = p.describe()
    assert d["cohort"].tolist() == ["2004", "2006", "2007", "never treated"]
    assert d["units"].tolist() == [20, 40, 131, 309]
    assert d["observations"].sum() == 2500
    assert np.isclose(d["share_units"].sum(), 1.0)
    m = p.treatment_matrix()
    assert m.shape == (500, 5) and m.to_numpy().sum() == 20 * 4 + 40 * 2 + 131
    assert p.plot_timing() is not None
    assert p.plot_timing(max_units=10) is not None


def test_cluster_and_weights():
    p = ci.Panel(small(), unit="id", time="t", cohort="g", cluster="cl", weights="w")
    assert p.n_clusters == 2 and p.has_weights
    assert p.unit_cluster.tolist() == [0, 0, 1, 1]
    assert p.weights[:3].tolist() == [1.0, 1.0, 1.0]


def test_unbalanced_and_unordered_rows():
    df = small().sample(frac=1, random_state=3).iloc[1:]
    p = ci.Panel(df, unit="id", time="t", cohort="g")
    assert not p.is_balanced and p.n_obs == 11


def test_string_unit_ids_and_period_time():
    df = small().assign(id=lambda d: "firm-" + d["id"].astype(str),
                        t=lambda d: pd.PeriodIndex.from_ordinals(d["t"] + 200, freq="Q"),
                        g=lambda d: pd.PeriodIndex.from_ordinals(
                            np.where(d["g"] > 0, d["g"] + 200, -1), freq="Q").where(d["g"] > 0))
    p = ci.Panel(df, unit="id", time="t", cohort="g")
    assert isinstance(p.periods, pd.PeriodIndex)
    assert p.cohorts.size == 2
    assert p.event_time[:3].tolist() == [-1.0, 0.0, 1.0]
    assert p.describe()["cohort"].tolist()[0] == str(pd.Period(ordinal=202, freq="Q"))


def test_datetime_time_is_converted_to_periods():
    df = small().assign(t=lambda d: pd.to_datetime("2020-01-01") + pd.to_timedelta(
        (d["t"] - 1) * 7, unit="D"))
    df["d"] = small()["d"]
    p = ci.Panel(df, unit="id", time="t", treatment="d")
    assert p.n_periods == 3
    assert p.event_time[:3].tolist() == [-1.0, 0.0, 1.0]


def test_repeated_cross_sections():
    df = small().assign(id=None)
    p = ci.Panel(df, unit=None, time="t", cohort="g")
    assert not p.is_panel and p.n_units == 12 and p.n_clusters == 12
    rc = small().assign(cl=np.repeat(["a", "b", "c", "d"], 3))
    p3 = ci.Panel(rc, unit=None, time="t", treatment="d", cluster="cl")
    np.testing.assert_array_equal(p3.cohort_value, ci.Panel(small(), unit="id", time="t",
                                                            cohort="g").cohort_value)


# --------------------------------------------------------------- validation rules
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(unit="idd", time="t", cohort="g"), r"unit='idd'.*Did you mean 'id'"),
        (dict(unit="id", time="tt", cohort="g"), r"time='tt'.*Did you mean 't'"),
        (dict(unit="id", time="t", cohort="gg"), r"cohort='gg'"),
        (dict(unit="id", time="t", cohort="g", cluster="cluster"), r"cluster='cluster'"),
        (dict(unit="id", time="t", cohort="g", weights="ww"), r"weights='ww'"),
        (dict(unit="id", time="t"), r"exactly one of cohort="),
        (dict(unit="id", time="t", cohort="g", treatment="d"), r"exactly one of cohort="),
    ],
)
def test_role_errors(kwargs, match):
    with pytest.raises(ci.PanelError, match=match):
        ci.Panel(small(), **kwargs)


def test_empty_data():
    with pytest.raises(ci.PanelError, match="empty"):
        ci.Panel(small().iloc[:0], unit="id", time="t", cohort="g")


@pytest.mark.parametrize("col", ["id", "t", "cl"])
def test_missing_ids_times_clusters(col):
    df = small().astype({col: object})
    df.loc[4, col] = None
    with pytest.raises(ci.PanelError, match=rf"Missing values in the \w+ column '{col}'.*1 row"):
        ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl")


def test_duplicate_rows_are_shown():
    df = pd.concat([small(), small().iloc[[4]]])
    with pytest.raises(ci.PanelError, match=r"Duplicate \(unit, time\).*1 unit-period") as err:
        ci.Panel(df, unit="id", time="t", cohort="g")
    assert "Offending rows (2 in total" in str(err.value)


def test_cohort_varies_within_unit():
    df = small()
    df.loc[1, "g"] = 3
    with pytest.raises(ci.PanelError, match=r"cohort column 'g' varies within unit for 1 unit"):
        ci.Panel(df, unit="id", time="t", cohort="g")


def test_treatment_switches_off():
    df = small()
    df.loc[2, "d"] = 0
    with pytest.raises(ci.PanelError, match=r"switches off: 1 unit.*absorbing"):
        ci.Panel(df, unit="id", time="t", treatment="d")


@pytest.mark.parametrize(("value", "match"), [(2, "must be 0/1"), (np.nan, "Missing values")])
def test_treatment_values(value, match):
    df = small()
    df["d"] = df["d"].astype(float)
    df.loc[3, "d"] = value
    with pytest.raises(ci.PanelError, match=match):
        ci.Panel(df, unit="id", time="t", treatment="d")


def test_cluster_varies_within_unit():
    df = small()
    df.loc[0, "cl"] = "b"
    with pytest.raises(ci.PanelError, match=r"cluster column 'cl' varies within unit.*nested"):
        ci.Panel(df, unit="id", time="t", cohort="g", cluster="cl")


@pytest.mark.parametrize(
    ("value", "match"),
    [(-1.0, "Negative values in the weights"), (np.inf, "Infinite values in the weights"),
     (np.nan, "Missing values in the weights"), ("heavy", "weights column 'w' must be numeric")],
)
def test_bad_weights(value, match):
    df = small().astype({"w": object})
    df.loc[5, "w"] = value
    with pytest.raises(ci.PanelError, match=match):
        ci.Panel(df, unit="id", time="t", cohort="g", weights="w")


def test_all_zero_weights():
    with pytest.raises(ci.PanelError, match="zero"):
        ci.Panel(small().assign(w=0.0), unit="id", time="t", cohort="g", weights="w")


def test_non_numeric_cohort_and_time():
    with pytest.raises(ci.PanelError, match="cohort column 'g' must be numeric"):
        ci.Panel(small().assign(g="x"), unit="id", time="t", cohort="g")
    with pytest.raises(ci.PanelError, match="time column 't' must be numeric"):
        ci.Panel(small().assign(t=lambda d: "w" + d["t"].astype(str)), unit="id", time="t",
                 cohort="g")


def test_irregular_datetimes_need_periods():
    df = small().assign(t=pd.to_datetime(["2020-01-01", "2020-01-05", "2020-03-01"] * 4))
    with pytest.raises(ci.PanelError, match="to_period"):
        ci.Panel(df, unit="id", time="t", treatment="d")


def test_no_treated_units():
    with pytest.raises(ci.PanelError, match="No treated units"):
        ci.Panel(small().assign(g=0), unit="id", time="t", cohort="g")


def test_no_comparison_units():
    with pytest.raises(ci.PanelError, match="No comparison units"):
        ci.Panel(small().assign(g=2), unit="id", time="t", cohort="g")


def test_not_yet_treated_only_is_allowed():
    df = small().assign(g=np.repeat([2, 3, 3, 2], 3))
    assert not ci.Panel(df, unit="id", time="t", cohort="g").has_never_treated


def test_rcs_treatment_needs_cluster():
    with pytest.raises(ci.PanelError, match="need cluster="):
        ci.Panel(small(), unit=None, time="t", treatment="d")


def test_rcs_treatment_varies_within_cluster_period():
    with pytest.raises(ci.PanelError, match=r"varies within \(cluster, period\)"):
        ci.Panel(small(), unit=None, time="t", treatment="d", cluster="cl")


def test_outcome_column_checks():
    df = small()
    df.loc[7, "y"] = np.inf
    p = ci.Panel(df, unit="id", time="t", cohort="g")
    with pytest.raises(ci.PanelError, match=r"Infinite values in the outcome column 'y'"):
        p.column("y")
    with pytest.raises(ci.SpecificationError, match="Did you mean 'y'"):
        p.column("yy")
    with pytest.raises(ci.PanelError, match="must be numeric"):
        ci.Panel(df.assign(s="a"), unit="id", time="t", cohort="g").column("s")


def test_by_groups_checks():
    p = ci.Panel(small().assign(sex=["f", None] * 6), unit="id", time="t", cohort="g")
    with pytest.raises(ci.PanelError, match="Missing values in the by="):
        p.groups("sex")
    with pytest.raises(ci.SpecificationError, match="by= column 'sexx'"):
        p.groups("sexx")


# ------------------------------------------------------------------- warnings
def test_timing_warnings():
    df = small()
    df.loc[df["id"] == 3, "g"] = 9  # after the last period: never treated in-sample
    with pytest.warns(ci.TimingWarning, match="after the last observed period"):
        p = ci.Panel(df, unit="id", time="t", cohort="g")
    assert np.isinf(p.unit_cohort[2])
    df = small()
    df.loc[df["id"] == 3, "g"] = 1
    with pytest.warns(ci.TimingWarning, match="in or before the\nfirst|in or before the first"):
        ci.Panel(df, unit="id", time="t", cohort="g")
    df = small().astype({"g": float})
    df.loc[df["id"] == 3, "g"] = 2.5
    with pytest.warns(ci.TimingWarning, match="between survey rounds"):
        ci.Panel(df, unit="id", time="t", cohort="g")


def test_clean_data_gives_no_warning(mpdta):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")


# ------------------------------------------------------- immutability and parity
def test_input_is_not_mutated(mpdta):
    before = mpdta.copy(deep=True)
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    p.column("lemp")
    p.describe()
    pd.testing.assert_frame_equal(mpdta, before)


def test_panel_is_immutable(mpdta):
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    with pytest.raises(AttributeError, match="immutable"):
        p.unit = "x"
    with pytest.raises(ValueError, match="read-only"):
        p.unit_code[0] = 3
    with pytest.raises(ValueError, match="read-only"):
        p.column("lemp")[0] = 3.0


def test_pickle_roundtrip(mpdta):
    p = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(p.cohort_value, q.cohort_value)
    assert q.column("lemp").shape == (2500,)


def test_polars_gives_identical_panel(mpdta):
    pl = pytest.importorskip("polars")
    a = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    b = ci.Panel(pl.from_pandas(mpdta), unit="countyreal", time="year", cohort="first.treat")
    for name in ("unit_code", "time_code", "time_value", "cohort_value", "event_time", "treated",
                 "cluster_code", "weights"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.column("lemp"), b.column("lemp"))
    pd.testing.assert_frame_equal(a.describe(), b.describe())


def test_path_input(tmp_path, mpdta):
    f = tmp_path / "mpdta.parquet"
    mpdta.to_parquet(f)
    p = ci.Panel(str(f), unit="countyreal", time="year", cohort="first.treat")
    assert p.n_units == 500
    with pytest.raises(ci.PanelError, match="No such data file"):
        ci.Panel(str(tmp_path / "nope.csv"), unit="a", time="b", cohort="c")


def test_unsupported_input():
    with pytest.raises(ci.PanelError, match="Expected a pandas or polars DataFrame"):
        ci.Panel([1, 2, 3], unit="a", time="b", cohort="c")


def test_panel_is_a_snapshot_of_the_data(mpdta):
    """Editing the caller's frame after building the Panel changes nothing in the Panel.

    The Panel keeps no-copy views of the columns; pandas' copy-on-write (default from pandas 3,
    which the package requires) makes the caller's in-place edit copy its own block instead.
    """
    df = mpdta.copy()
    p = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    before = p.column("lemp").copy()
    df.loc[0, "lemp"] = -99.0
    df["lemp"] *= 2
    np.testing.assert_array_equal(p.column("lemp"), before)
    assert p.data.loc[0, "lemp"] == before[0]


@pytest.mark.parametrize("names", [["i"], ["s"], ["s", "i"], ["c", "f"], ["c"], ["b", "x"],
                                   ["o", "s", "i", "f"], ["x"]])
def test_group_codes_equal_pandas_groupby(names):
    # Panel.groups' presence-table coding gives groupby(sort=True, observed=True)'s codes and keys
    from clusterimpact.design import _codes
    rng = np.random.default_rng(0)
    n = 1000
    df = pd.DataFrame({
        "i": rng.integers(0, 5, n), "s": rng.choice(["a", "b", "c"], n),
        "f": rng.integers(0, 2, n).astype("int8"),
        "c": pd.Categorical(rng.choice(["hi", "lo"], n), categories=["lo", "hi", "unused"]),
        "b": rng.integers(0, 2, n).astype(bool), "x": rng.choice([0.5, 1.5, -2.0], n),
        "o": pd.Series(rng.choice(["q", "r"], n), dtype=object)})
    df.loc[df["i"] == 3, "s"] = "z"  # combinations that never occur
    grouped = df[names].groupby(names, sort=True, observed=True)
    codes, labels = _codes.group_codes(df[names], names)
    np.testing.assert_array_equal(codes, grouped.ngroup().to_numpy(dtype=np.int64))
    pd.testing.assert_frame_equal(labels, grouped.size().index.to_frame(index=False)[names])


@pytest.mark.parametrize("varying", [False, True])
def test_groups_on_a_grid_equal_groupby(varying):
    # unit-level coding (columns constant within unit) and the row-level fallback agree with pandas
    rng = np.random.default_rng(2)
    n_units, n_per = 60, 4
    df = pd.DataFrame({"id": np.repeat(np.arange(n_units), n_per),
                       "t": np.tile(np.arange(n_per), n_units),
                       "g": np.repeat(np.where(np.arange(n_units) % 3 == 0, 2, 0), n_per),
                       "sex": np.repeat(rng.choice(["f", "m"], n_units), n_per),
                       "band": np.repeat(rng.integers(0, 3, n_units), n_per)})
    if varying:
        df.loc[5, "band"] = 7  # one unit changes band: rows coded one by one
    codes, labels = ci.Panel(df, unit="id", time="t", cohort="g").groups(["sex", "band"])
    grouped = df.groupby(["sex", "band"], sort=True, observed=True)
    np.testing.assert_array_equal(codes, grouped.ngroup().to_numpy(dtype=np.int64))
    pd.testing.assert_frame_equal(labels, grouped.size().index.to_frame(index=False)[["sex", "band"]])
