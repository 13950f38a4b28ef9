"""Baseline comparison: numbers checked against statsmodels OLS with clustered SEs."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import clusterimpact as ci


@pytest.fixture
def mpdta():
    return ci.datasets.load("mpdta")


def test_matches_clustered_ols(mpdta):
    """Difference in means = OLS of y on D; our CR (G/(G-1)) times (N-1)/(N-K) = statsmodels."""
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", cluster="state")
    tab = ci.baseline(panel, "lemp").tidy()
    base = df[df["year"] < 2004]
    ols = sm.OLS(base["lemp"], sm.add_constant(base["treat"].astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": base["state"]})
    n = len(base)
    assert tab["estimate"].iloc[0] == pytest.approx(ols.params["treat"], rel=1e-12)
    se_sm = ols.bse["treat"] / np.sqrt((n - 1) / (n - 2))
    assert tab["std_error"].iloc[0] == pytest.approx(se_sm, rel=1e-10)
    assert tab["df"].iloc[0] == base["state"].nunique() - 1


def test_columns_and_normalized_difference(mpdta):
    panel = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    tab = ci.baseline(panel, ["lemp", "lpop"], period=2003).tidy()
    for col in ("variable", "estimate", "std_error", "p_value", "conf_low", "conf_high",
                "mean_treated", "sd_treated", "n_treated", "mean_comparison", "sd_comparison",
                "n_comparison", "normalized_difference"):
        assert col in tab
    b = mpdta[mpdta["year"] == 2003]
    t, c = b[b["treat"] == 1]["lpop"], b[b["treat"] == 0]["lpop"]
    nd = (t.mean() - c.mean()) / np.sqrt((t.var() + c.var()) / 2)
    assert tab.loc[1, "normalized_difference"] == pytest.approx(nd, rel=1e-12)


def test_by_subgroups_and_compare(mpdta):
    df = mpdta.assign(size=np.where(mpdta["lpop"] > mpdta["lpop"].median(), "large", "small"))
    panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    res = ci.baseline(panel, "lemp", by="size")
    tab = res.tidy()
    assert tab["size"].tolist() == ["large", "small"]
    cmp = res.compare().tidy()
    assert cmp["contrast"].tolist() == ["small - large", "all equal"]
    diff = tab["estimate"].iloc[1] - tab["estimate"].iloc[0]
    assert cmp["estimate"].iloc[0] == pytest.approx(diff)


def test_weighted_means(mpdta):
    df = mpdta.assign(w=np.exp(mpdta["lpop"]))
    panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", weights="w")
    tab = ci.baseline(panel, "lemp", period=[2003]).tidy()
    b = df[df["year"] == 2003]
    treated = b[b["treat"] == 1]
    expect = np.average(treated["lemp"], weights=treated["w"])
    assert tab["mean_treated"].iloc[0] == pytest.approx(expect, rel=1e-12)


def test_bad_period(mpdta):
    panel = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    with pytest.raises(ci.SpecificationError, match="not observed"):
        ci.baseline(panel, "lemp", period=1999)


def test_exports(mpdta):
    panel = ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")
    res = ci.baseline(panel, ["lemp", "lpop"])
    assert "\\toprule" in res.to_latex()
    assert res.to_markdown().startswith("| variable |")
    assert "Baseline comparison" in res.summary()
    assert "<table" in res._repr_html_()
    assert res.plot() is not None
    assert isinstance(res.tidy(), pd.DataFrame)
