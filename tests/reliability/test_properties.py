"""Property tests: malformed and edge-case panels through every public entry point.

Hypothesis generates small panels with every awkward feature we could think of
(missing, infinite and constant outcomes, gaps, duplicates, cohorts outside the
data, zero and negative weights, one unit per cohort, string, categorical and
float ids). The contract for every call:

* it returns a result whose estimates are finite, or NaN only when a
  clusterimpact warning was issued or the row carries a ``reason``; or
* it raises a :class:`clusterimpact.ClusterImpactError` with a message;
* it never raises anything else (IndexError, KeyError, LinAlgError, a bare
  ValueError ...), never warns with a non-clusterimpact class, never mutates
  its input; and pandas and polars inputs give identical results.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clusterimpact as ci

# CLUSTERIMPACT_PROPERTY_EXAMPLES=200 explores more (still deterministic) when hunting bugs
SETTINGS = settings(max_examples=int(os.environ.get("CLUSTERIMPACT_PROPERTY_EXAMPLES", "25")), deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ------------------------------------------------------------------ strategies
@st.composite
def frames(draw: st.DrawFn, *, min_periods: int = 1, max_periods: int = 5, sane: bool = False
           ) -> pd.DataFrame:
    """A small long panel; ``sane=False`` adds malformations."""
    n_units = draw(st.integers(2, 9))
    n_periods = draw(st.integers(min_periods, max_periods))
    start = draw(st.sampled_from([1, 2000]))
    gaps = draw(st.booleans())
    steps = draw(st.lists(st.integers(1, 3), min_size=n_periods, max_size=n_periods)) if gaps else \
        [1] * n_periods
    periods = start + np.cumsum(steps) - steps[0]
    choices = [0, *periods[1:].tolist(), int(periods[-1]) + 5] if n_periods > 1 else [0, int(periods[0])]
    cohorts = draw(st.lists(st.sampled_from(choices), min_size=n_units, max_size=n_units))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(periods, n_units)
    g = np.asarray(cohorts)[u]
    y = rng.normal(size=u.size) + np.where((g > 0) & (t >= g), 1.0, 0.0)
    df = pd.DataFrame({"id": u, "t": t, "g": g, "y": y, "x": rng.normal(size=u.size),
                       "c": u // draw(st.integers(1, 3)), "w": rng.uniform(0.5, 2.0, n_units)[u],
                       "sex": np.where(rng.random(n_units) < 0.5, "f", "m")[u]})
    if draw(st.booleans()):  # unbalanced: drop some rows
        keep = rng.random(len(df)) > draw(st.sampled_from([0.1, 0.3]))
        if keep.any():
            df = df[keep].reset_index(drop=True)
    kind = draw(st.sampled_from(["int", "str", "category", "float"]))
    if kind == "str":
        df["id"] = "u" + df["id"].astype(str)
    elif kind == "category":
        df["id"] = ("u" + df["id"].astype(str)).astype("category")
    elif kind == "float":
        df["id"] = df["id"] + 0.5
    if draw(st.booleans()):
        df["y"] = df["y"] * draw(st.sampled_from([1e9, 1e-6]))
    if not sane:
        flaw = draw(st.sampled_from(["none", "nan_y", "inf_y", "const_y", "dup_row", "nan_id",
                                     "zero_w", "neg_w", "nan_x", "const_x", "all_never", "obj_y"]))
        idx = draw(st.integers(0, max(len(df) - 1, 0)))
        if flaw == "nan_y":
            df.loc[df.index[idx], "y"] = np.nan
        elif flaw == "inf_y":
            df.loc[df.index[idx], "y"] = np.inf
        elif flaw == "const_y":
            df["y"] = 3.0
        elif flaw == "dup_row":
            df = pd.concat([df, df.iloc[[idx]]], ignore_index=True)
        elif flaw == "nan_id":
            df["id"] = df["id"].astype(object)
            df.loc[df.index[idx], "id"] = None
        elif flaw == "zero_w":
            first = df["id"].iloc[idx]
            df.loc[df["id"] == first, "w"] = 0.0
        elif flaw == "neg_w":
            df.loc[df.index[idx], "w"] = -1.0
        elif flaw == "nan_x":
            df.loc[df.index[idx], "x"] = np.nan
        elif flaw == "const_x":
            df["x"] = 1.0
        elif flaw == "all_never":
            df["g"] = 0
        elif flaw == "obj_y":
            df["y"] = df["y"].astype(object)
            df.loc[df.index[idx], "y"] = "n/a"
    return df


# ------------------------------------------------------------------ the contract
class Outcome:
    """What a guarded call produced: a value, or the clusterimpact error it raised."""

    def __init__(self, value: Any = None, error: ci.ClusterImpactError | None = None) -> None:
        self.value, self.error = value, error


def _tidy(value: Any) -> pd.DataFrame | None:
    if isinstance(value, pd.DataFrame):
        return value
    tidy = getattr(value, "tidy", None)
    return tidy() if callable(tidy) else None


def guarded(call: Callable[[], Any], *inputs: pd.DataFrame) -> Outcome:
    """Run ``call`` and check the contract; return its value or clusterimpact error."""
    snapshots = [d.copy(deep=True) for d in inputs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = call()
            table = _tidy(value)
        except ci.ClusterImpactError as err:
            assert str(err).strip(), f"{type(err).__name__} without a message"
            return Outcome(error=err)
        finally:
            for before, after in zip(snapshots, inputs, strict=True):
                pd.testing.assert_frame_equal(before, after)  # input never mutated
    foreign = [w for w in caught if not issubclass(w.category, ci.ClusterImpactWarning)
               and "clusterimpact" in str(w.filename)]
    assert not foreign, [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in foreign]
    if table is not None and "estimate" in table:
        est = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(dtype=float)
        assert not np.isinf(est).any(), table
        nan = np.isnan(est)
        if nan.any():
            explained = any(issubclass(w.category, ci.ClusterImpactWarning) for w in caught)
            for col in ("reason", "note"):
                if col in table:
                    explained |= bool(table.loc[nan, col].astype(str).str.len().gt(0).all())
            counts = [c for c in table if str(c).startswith("n_")]  # an empty group says why
            if counts:
                explained |= bool((table.loc[nan, counts] == 0).any(axis=1).all())
            assert explained, f"NaN estimates with no warning or reason:\n{table}"
    return Outcome(value=value)


def build(df: pd.DataFrame, **kw: Any) -> ci.Panel | None:
    out = guarded(lambda: ci.Panel(df, unit="id", time="t", cohort="g", **kw), df)
    if out.error is not None:
        assert isinstance(out.error, ci.PanelError | ci.SpecificationError)
    return out.value


# ------------------------------------------------------------------ Panel
@SETTINGS
@given(frames())
def test_panel_validates_or_raises_panel_error(df: pd.DataFrame):
    p = build(df)
    if p is None:
        return
    assert p.n_obs == len(df) and p.n_units == df["id"].nunique()
    assert np.all(np.diff(p.period_values) > 0)
    describe = p.describe()
    assert describe["units"].sum() == p.n_units
    if p.cohort_column is not None:
        build(df, weights="w", cluster="c")


# ------------------------------------------------------------------ staggered estimators
STAGGERED: dict[str, Callable[[ci.Panel], Any]] = {
    "baseline": lambda p: ci.baseline(p, "y"),
    "att_gt": lambda p: ci.att_gt(p, "y"),
    "att_gt nyt": lambda p: ci.att_gt(p, "y", control="not_yet_treated", base_period="universal"),
    "att_gt cov": lambda p: ci.att_gt(p, "y", covariates=["x"], method="dr"),
    "att_gt boot": lambda p: ci.att_gt(p, "y", bootstrap=49, seed=1),
    "simple": lambda p: ci.att_gt(p, "y").aggregate("simple"),
    "dynamic": lambda p: ci.att_gt(p, "y").aggregate("dynamic", min_e=-2, max_e=2),
    "group": lambda p: ci.att_gt(p, "y").aggregate("group"),
    "calendar": lambda p: ci.att_gt(p, "y").aggregate("calendar"),
    "compare": lambda p: ci.att_gt(p, "y", by="sex").aggregate("simple").compare(),
    "twfe": lambda p: ci.twfe(p, "y"),
    "twfe CR2": lambda p: ci.twfe(p, "y").with_vcov("CR2"),
    "twfe cov CR3": lambda p: ci.twfe(p, "y", covariates=["x"], vcov="CR3"),
    "twfe wild": lambda p: ci.twfe(p, "y").wild_bootstrap(reps=99, seed=1),
    "score wild": lambda p: ci.att_gt(p, "y").aggregate("simple").wild_bootstrap(reps=99, seed=1),
    "es twfe": lambda p: ci.event_study(p, "y"),
    "es sun_abraham": lambda p: ci.event_study(p, "y", method="sun_abraham"),
    "es imputation": lambda p: ci.event_study(p, "y", method="imputation"),
    "bacon": lambda p: ci.bacon(p, "y"),
    "ddd": lambda p: ci.ddd(p, "y", subgroup="sex", target="f").aggregate("simple"),
    "cell_sizes": lambda p: ci.workers.cell_sizes(p, "sex", min_size=1),
    "attrition_table": lambda p: ci.workers.attrition_table(p, by="sex"),
}


@SETTINGS
@given(frames(min_periods=2))
def test_staggered_entry_points_keep_the_contract(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = ci.Panel(df, unit="id", time="t", cohort="g", cluster="c")
        except ci.ClusterImpactError:
            return
    for name, fit in STAGGERED.items():
        try:
            guarded(lambda fit=fit: fit(p), df)
        except AssertionError as err:  # pragma: no cover - the message is what matters
            raise AssertionError(f"{name}: {err}") from err
        except Exception as err:  # pragma: no cover
            raise AssertionError(f"{name} raised {type(err).__name__}: {err}") from err


# ------------------------------------------------------------------ two periods
@SETTINGS
@given(frames(min_periods=2, max_periods=2), st.sampled_from(["dr", "ipw", "reg", "twfe"]))
def test_did_two_periods(df: pd.DataFrame, method: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = ci.Panel(df, unit="id", time="t", cohort="g")
        except ci.ClusterImpactError:
            return
    covariates = None if method == "twfe" else ["x"]
    for fit in (lambda: ci.did(p, "y", method=method), lambda: ci.did(p, "y", method=method,
                                                                     covariates=covariates)):
        try:
            guarded(fit, df)
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f"did({method}) raised {type(err).__name__}: {err}") from err


# ------------------------------------------------------------------ block designs
@st.composite
def block_frames(draw: st.DrawFn) -> pd.DataFrame:
    n_units = draw(st.integers(3, 10))
    n_periods = draw(st.integers(3, 7))
    adopt = draw(st.integers(2, n_periods))
    n_treated = draw(st.integers(1, n_units - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    u = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    g = np.where(u < n_treated, adopt, 0)
    y = rng.normal(size=u.size) + np.where((g > 0) & (t >= g), 1.0, 0.0)
    df = pd.DataFrame({"id": u, "t": t, "g": g, "y": y})
    flaw = draw(st.sampled_from(["none", "nan_y", "drop_row", "const_y", "one_donor"]))
    if flaw == "nan_y":
        df.loc[draw(st.integers(0, len(df) - 1)), "y"] = np.nan
    elif flaw == "drop_row":
        df = df.drop(index=draw(st.integers(0, len(df) - 1))).reset_index(drop=True)
    elif flaw == "const_y":
        df["y"] = 1.0
    elif flaw == "one_donor":
        df["g"] = np.where(df["id"] < n_units - 1, adopt, 0)
    return df


@SETTINGS
@given(block_frames())
def test_synthetic_block_designs(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = ci.Panel(df, unit="id", time="t", cohort="g")
        except ci.ClusterImpactError:
            return
    calls = {
        "sdid jackknife": lambda: ci.synthetic_did(p, "y", se="jackknife"),
        "sdid placebo": lambda: ci.synthetic_did(p, "y", se="placebo", reps=20, seed=1),
        "synthetic_control": lambda: ci.synthetic_control(p, "y", placebo=False),
    }
    for name, fit in calls.items():
        try:
            out = guarded(fit, df)
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f"{name} raised {type(err).__name__}: {err}") from err
        if out.value is not None:
            weights = out.value.weights()
            frame = weights[0] if isinstance(weights, tuple) else weights
            assert isinstance(frame, pd.DataFrame | pd.Series)


# ------------------------------------------------------------------ balance and match
@st.composite
def cross_sections(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    d = (rng.random(n) < draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]))).astype(int)
    df = pd.DataFrame({"d": d, "a": rng.normal(size=n) + d, "b": rng.integers(0, 3, n).astype(float),
                       "y": rng.normal(size=n)})
    flaw = draw(st.sampled_from(["none", "nan_a", "const_b", "collinear", "str_b"]))
    if flaw == "nan_a":
        df.loc[0, "a"] = np.nan
    elif flaw == "const_b":
        df["b"] = 2.0
    elif flaw == "collinear":
        df["b"] = 2 * df["a"]
    elif flaw == "str_b":
        df["b"] = df["b"].map({0.0: "x", 1.0: "y", 2.0: "z"})
    return df


@SETTINGS
@given(cross_sections(), st.sampled_from(["nearest", "mahalanobis", "cem", "ipw", "entropy"]))
def test_balance_and_match(df: pd.DataFrame, method: str):
    calls = {
        "balance": lambda: ci.balance(df, treatment="d", covariates=["a", "b"]),
        "match": lambda: ci.match(df, treatment="d", covariates=["a", "b"], method=method, seed=1),
    }
    for name, fit in calls.items():
        try:
            out = guarded(fit, df)
        except AssertionError:
            raise
        except Exception as err:
            raise AssertionError(f"{name}({method}) raised {type(err).__name__}: {err}") from err
        if name == "match" and out.value is not None:
            w = out.value.weights
            assert w.index.equals(df.index) and np.isfinite(w).all() and (w >= 0).all()
            guarded(lambda v=out.value: v.att("y"), df)


# ------------------------------------------------------------------ pandas == polars
@SETTINGS
@given(frames(min_periods=2, sane=True))
def test_pandas_and_polars_inputs_agree(df: pd.DataFrame):
    if isinstance(df["id"].dtype, pd.CategoricalDtype):
        df = df.assign(id=df["id"].astype(str))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = ci.Panel(df, unit="id", time="t", cohort="g", cluster="c", weights="w")
        except ci.ClusterImpactError as err:
            with pytest.raises(type(err)):
                ci.Panel(pl.from_pandas(df), unit="id", time="t", cohort="g", cluster="c", weights="w")
            return
        q = ci.Panel(pl.from_pandas(df), unit="id", time="t", cohort="g", cluster="c", weights="w")
        for fit in (lambda p: ci.att_gt(p, "y").aggregate("dynamic"), lambda p: ci.twfe(p, "y"),
                    lambda p: ci.event_study(p, "y", method="imputation"), lambda p: ci.baseline(p, "y")):
            try:
                a = fit(p).tidy()
            except ci.ClusterImpactError as err:
                with pytest.raises(type(err)):
                    fit(q)
                continue
            pd.testing.assert_frame_equal(a, fit(q).tidy(), check_exact=True)
