"""ci.balance: hand computations, cobalt/MatchIt conventions, input handling and errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci

REF = json.loads((Path(__file__).parents[1] / "reference" / "matchit_lalonde.json").read_text())


def lalonde() -> pd.DataFrame:
    """MatchIt's lalonde rebuilt from nsw_lalonde (see the fixture's `construction`)."""
    d = ci.datasets.load("nsw_lalonde").set_index("id")
    s = d.loc[REF["treated_ids"] + REF["control_ids"]].reset_index()
    s["treat"] = [1] * len(REF["treated_ids"]) + [0] * len(REF["control_ids"])
    s["race"] = np.where(s["black"] == 1, "black", np.where(s["hisp"] == 1, "hispan", "white"))
    return s


COV = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def tol(printed: float, name: str, digits: int = 4) -> float:
    """Half a unit in the last printed digit (+ data-rounding bound for earnings means)."""
    return 0.5 * 10**-digits + (5e-7 * abs(printed) if name.startswith("re") else 0.0) + 1e-12


def test_hand_computed_small():
    df = pd.DataFrame({"d": [1, 1, 1, 0, 0, 0, 0], "x": [1.0, 2.0, 6.0, 0.0, 1.0, 1.0, 2.0],
                       "b": [1, 1, 0, 0, 0, 1, 0]})
    tab = ci.balance(df, treatment="d", covariates=["x", "b"]).set_index("covariate")
    s1 = np.std([1.0, 2.0, 6.0], ddof=1)
    assert tab.loc["x", "mean_treated"] == pytest.approx(3.0, rel=1e-12)
    assert tab.loc["x", "mean_control"] == pytest.approx(1.0, rel=1e-12)
    assert tab.loc["x", "smd"] == pytest.approx(2.0 / s1, rel=1e-12)
    vr = np.var([1, 2, 6], ddof=1) / np.var([0, 1, 1, 2], ddof=1)
    assert tab.loc["x", "variance_ratio"] == pytest.approx(vr, rel=1e-12)
    assert tab.loc["b", "smd"] == pytest.approx(2 / 3 - 1 / 4, rel=1e-12)  # raw difference (cobalt)
    assert tab.loc["b", "type"] == "binary" and np.isnan(tab.loc["b", "variance_ratio"])
    pooled = ci.balance(df, treatment="d", covariates="x", s_d_denom="pooled")["smd"].iloc[0]
    s0 = np.std([0.0, 1.0, 1.0, 2.0], ddof=1)
    assert pooled == pytest.approx(2.0 / np.sqrt((s1**2 + s0**2) / 2), rel=1e-12)
    std = ci.balance(df, treatment="d", covariates="b", binary="std")["smd"].iloc[0]
    assert std == pytest.approx((2 / 3 - 1 / 4) / np.sqrt(2 / 3 * 1 / 3), rel=1e-12)


def test_weighted_means_and_unweighted_denominator():
    df = pd.DataFrame({"d": [1, 1, 0, 0, 0], "x": [2.0, 4.0, 0.0, 3.0, 5.0]})
    w = np.array([1.0, 1.0, 0.0, 2.0, 1.0])
    tab = ci.balance(df, treatment="d", covariates="x", weights=w)
    assert tab["mean_control"].iloc[0] == pytest.approx((2 * 3 + 5) / 3, rel=1e-12)
    assert tab["smd"].iloc[0] == pytest.approx((3 - 11 / 3) / np.std([2.0, 4.0], ddof=1), rel=1e-12)
    # weights as an aligned Series and as a column give the same table
    df2 = df.assign(w=w)
    pd.testing.assert_frame_equal(tab, ci.balance(df2, treatment="d", covariates="x", weights="w"))
    pd.testing.assert_frame_equal(tab, ci.balance(df, treatment="d", covariates="x",
                                                  weights=pd.Series(w, index=df.index)))


def test_matchit_all_data_summary():
    s = lalonde()
    assert (s["treat"] == 1).sum() == REF["sample_sizes_all"]["treated"]
    assert (s["treat"] == 0).sum() == REF["sample_sizes_all"]["control"]
    tab = ci.balance(s, treatment="treat", covariates=COV, binary="std").set_index("covariate")
    cols = REF["all_data"]["columns"]
    ours = {"mean_treated": "mean_treated", "mean_control": "mean_control", "std_mean_diff": "smd",
            "var_ratio": "variance_ratio", "ecdf_max": "ks"}
    for name, values in REF["all_data"]["rows"].items():
        for col, printed in zip(cols, values, strict=True):
            got = tab.loc[name, ours[col]]
            if printed is None:
                assert np.isnan(got)
            else:
                assert abs(got - printed) <= tol(printed, name if col.startswith("mean") else ""), (name, col)


def test_categorical_expansion_polars_and_no_mutation():
    pl = pytest.importorskip("polars")
    df = pd.DataFrame({"d": [1, 0, 1, 0], "g": ["a", "b", "b", "c"], "x": [1.0, 2.0, 3.0, 5.0]})
    before = df.copy()
    tab = ci.balance(df, treatment="d", covariates=["g", "x"])
    assert tab["covariate"].tolist() == ["g_a", "g_b", "g_c", "x"]
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(tab, ci.balance(pl.from_pandas(df), treatment="d", covariates=["g", "x"]))


def test_errors_and_warnings():
    df = pd.DataFrame({"d": [1, 0, 1, 0], "x": [1.0, np.nan, 3.0, np.nan], "z": [1.5, 2.0, 1.5, 2.5]})
    with pytest.raises(ci.SpecificationError, match="Did you mean 'x'"):
        ci.balance(df, treatment="d", covariates=["xx"])
    with pytest.raises(ci.SpecificationError, match=r"'x': 2 row"):
        ci.balance(df, treatment="d", covariates=["x"])
    with pytest.raises(ci.SpecificationError, match="must be binary"):
        ci.balance(df.assign(d=[0, 1, 2, 1]), treatment="d", covariates=["z"])
    with pytest.warns(ci.ClusterImpactWarning, match="constant within one arm"):
        ci.balance(df, treatment="d", covariates=["z"])
    with pytest.raises(ci.SpecificationError, match="non-negative"):
        ci.balance(df, treatment="d", covariates=["z"], weights=[1, -1, 1, 1])


def test_love_plot_draws_both_samples():
    from clusterimpact.design.balance import love_plot

    t = pd.DataFrame({"covariate": ["a", "b", "a", "b"], "smd": [0.5, -0.3, 0.05, 0.01],
                      "sample": ["before", "before", "after", "after"]})
    ax = love_plot(t)
    assert len(ax.collections) == 2
    assert [x.get_text() for x in ax.get_legend().get_texts()] == ["before", "after"]


def test_balance_tables_export_to_latex_and_markdown():
    """Issue 6: balance tables (before and after matching) export to LaTeX and Markdown."""
    import clusterimpact as ci

    df = ci.datasets.load("nsw_lalonde")
    df = df[((df["dwincl"] == 1) & (df["treated"] == 1)) | (df["sample"] == 2)]
    df = df.assign(t=(df["treated"] == 1).astype(int))
    tab = ci.balance(df, treatment="t", covariates=["age", "educ", "re75"])
    assert "\\toprule" in tab.to_latex() or "\\begin{tabular}" in tab.to_latex()
    assert tab.to_markdown().startswith("|")
    m = ci.match(df, treatment="t", covariates=["age", "educ", "re75"], method="ipw")
    after = m.balance()
    assert after.to_markdown().count("\n") >= len(after)
