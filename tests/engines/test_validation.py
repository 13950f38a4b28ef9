"""LazyPanel raises what Panel raises, with the same rule text, on every in-process engine."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

duckdb = pytest.importorskip("duckdb")

ROLES = dict(unit="countyreal", time="year", cohort="first.treat")


def _first_line(call) -> tuple[type, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ci.PanelError, ci.SpecificationError)) as info:
            call()
    return type(info.value), str(info.value).splitlines()[0]


def _cases(df: pd.DataFrame):
    d = ((df["year"] >= df["first.treat"]) & (df["first.treat"] > 0)).astype(float)
    yield "misspelt", df, dict(ROLES, unit="countyrel"), {}
    yield "empty", df.iloc[:0], ROLES, {}
    bad = df.astype({"countyreal": float})
    bad.loc[bad.index[3:5], "countyreal"] = np.nan
    yield "missing unit", bad, ROLES, {}
    yield "duplicates", pd.concat([df, df.iloc[[0, 7, 7]]]), ROLES, {}
    bad = df.copy()
    bad.loc[bad.index[1], "first.treat"] = 2006
    yield "cohort varies", bad, ROLES, {}
    bad = df.copy()
    bad.loc[bad.index[2], "state"] = 99
    yield "cluster varies", bad, dict(ROLES, cluster="state"), {}
    bad = df.assign(D=d)
    bad.loc[(bad["first.treat"] == 2004) & (bad["year"] == 2006), "D"] = 0
    yield "switches off", bad, dict(unit="countyreal", time="year", treatment="D"), {}
    yield "not 0/1", df.assign(D=d * 2), dict(unit="countyreal", time="year", treatment="D"), {}
    bad = df.copy()
    bad.loc[bad.index[4], "w"] = -1.0
    yield "negative weight", bad, dict(ROLES, weights="w"), {}
    yield "no treated", df.assign(g=0), dict(ROLES, cohort="g"), {}
    only = df[df["first.treat"] == 2004]
    yield "no comparison", only, ROLES, {}
    bad = df.astype({"first.treat": float})
    bad.loc[bad.index[6], "first.treat"] = -np.inf
    yield "cohort -inf", bad, ROLES, {}
    bad = df.copy()
    bad.loc[bad.index[8], "lemp"] = np.inf
    yield "infinite outcome", bad, ROLES, {"y": "lemp"}
    yield "unknown outcome", df, ROLES, {"y": "lemq"}
    bad = df.copy()
    bad.loc[bad.index[1], "size"] = "other"
    yield "by varies", bad, ROLES, {"y": "lemp", "by": "size"}
    bad = df.astype({"size": object})
    bad.loc[bad.index[1:3], "size"] = None
    yield "by missing", bad, ROLES, {"y": "lemp", "by": "size"}
    bad = df.copy()
    bad.loc[bad.index[1], "w"] = 5.0
    yield "weights vary", bad, dict(ROLES, weights="w"), {"y": "lemp"}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_same_errors_as_panel(mpdta, engine):
    seen = 0
    for label, data, roles, fit in _cases(mpdta):
        def eager(data=data, roles=roles, fit=fit):
            panel = ci.Panel(data, **roles)
            ci.att_gt(panel, fit["y"], by=fit.get("by")) if fit else None

        def lazy(data=data, roles=roles, fit=fit):
            src = duckdb.from_df(data) if engine == "duckdb" else data
            lp = ci.LazyPanel(src, **roles, engine="narwhals")
            lp.att_gt(fit["y"], by=fit.get("by")) if fit else None

        want = _first_line(eager)
        got = _first_line(lazy)
        assert got == want, label
        seen += 1
    assert seen == 17


def test_error_shows_offending_rows(mpdta):
    dup = pd.concat([mpdta, mpdta.iloc[[7]]])
    with pytest.raises(ci.PanelError, match="Offending rows") as info:
        ci.LazyPanel(duckdb.from_df(dup), **ROLES)
    shown = str(info.value).splitlines()[2:]
    assert len(shown) == 3 and all(str(mpdta["countyreal"].iloc[7]) in line for line in shown[1:])


def test_timing_warnings_match_panel(mpdta):
    df = mpdta.assign(g=mpdta["first.treat"].replace({2007: 2009, 2006: 2003}))
    with pytest.warns(ci.TimingWarning) as ref:
        ci.Panel(df, **dict(ROLES, cohort="g"))
    with pytest.warns(ci.TimingWarning) as got:
        ci.LazyPanel(df, **dict(ROLES, cohort="g"))
    assert sorted(str(w.message) for w in got) == sorted(str(w.message) for w in ref)


def test_optional_engine_error_is_clear(monkeypatch, mpdta):
    import builtins

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "duckdb":
            raise ImportError("no duckdb")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    monkeypatch.delitem(__import__("sys").modules, "duckdb", raising=False)
    with pytest.raises(ImportError, match=r"clusterimpact\[big\]"):
        ci.LazyPanel("data.parquet", **ROLES)
