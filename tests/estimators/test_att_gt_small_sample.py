"""att_gt(small_sample=True): cohort-leverage (cluster HC2) variances with Welch-Satterthwaite df.

The reference is Welch's two-sample t test (scipy.stats.ttest_ind(equal_var=False)):
without covariates and with never-treated comparisons, a cell is a difference of
two cluster means, so with one unit per cluster (mpdta) or equal-sized clusters the
corrected t statistic and its degrees of freedom are exactly Welch's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import clusterimpact as ci
from clusterimpact.errors import SpecificationError


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return ci.datasets.load("mpdta")


@pytest.fixture(scope="module")
def panel(mpdta) -> ci.Panel:
    return ci.Panel(mpdta, unit="countyreal", time="year", cohort="first.treat")


def _welch(wide: pd.DataFrame, cohort: pd.Series, g: float, t: float, base: float):
    dy = wide[t] - wide[base]
    return stats.ttest_ind(dy[cohort == g], dy[cohort == 0], equal_var=False)


def test_every_cell_is_welchs_test_on_units(mpdta, panel):
    res = ci.att_gt(panel, "lemp", small_sample=True)
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    cohort = mpdta.groupby("countyreal")["first.treat"].first()
    tidy = res.tidy()
    for row in tidy.itertuples():
        base = row.cohort - 1 if row.time >= row.cohort else row.time - 1
        ref = _welch(wide, cohort, row.cohort, row.time, base)
        assert row.estimate / row.std_error == pytest.approx(ref.statistic, rel=1e-10)
        assert row.df == pytest.approx(ref.df, rel=1e-10)
        half = stats.t.ppf(0.975, ref.df) * row.std_error
        assert row.conf_low == pytest.approx(row.estimate - half, rel=1e-10)


def test_equal_sized_clusters_give_welch_on_cluster_means():
    rng = np.random.default_rng(3)
    n_c, per, periods = 14, 4, 4
    cl = np.repeat(np.arange(n_c), per)
    coh = np.where(cl < 6, 3.0, np.inf)
    effect = rng.normal(size=n_c)[cl]
    frame = pd.DataFrame({
        "unit": np.repeat(np.arange(n_c * per), periods),
        "time": np.tile(np.arange(1, periods + 1), n_c * per),
        "cluster": np.repeat(cl, periods), "cohort": np.repeat(coh, periods),
    })
    frame["y"] = rng.normal(size=len(frame)) + np.repeat(effect, periods) * (frame["time"] >= 3)
    p = ci.Panel(frame, unit="unit", time="time", cohort="cohort", cluster="cluster")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        res = ci.att_gt(p, "y", small_sample=True)
    row = res.tidy().query("time == 4").iloc[0]
    wide = frame.pivot(index="unit", columns="time", values="y")
    dy = (wide[4] - wide[2]).groupby(cl).mean()
    ref = stats.ttest_ind(dy[:6], dy[6:], equal_var=False)
    assert row.estimate / row.std_error == pytest.approx(ref.statistic, rel=1e-10)
    assert row.df == pytest.approx(ref.df, rel=1e-10)


def test_estimates_unchanged_and_intervals_wider(panel):
    base = ci.att_gt(panel, "lemp")
    small = ci.att_gt(panel, "lemp", small_sample=True)
    np.testing.assert_array_equal(small.estimate, base.estimate)
    assert "df" not in base.tidy()
    for kind in ("simple", "group", "dynamic", "calendar"):
        a, b = base.aggregate(kind).tidy(), small.aggregate(kind).tidy()
        np.testing.assert_array_equal(a["estimate"], b["estimate"])
        assert (b["std_error"] > a["std_error"]).all(), kind
        assert ((b["conf_high"] - b["conf_low"]) > (a["conf_high"] - a["conf_low"])).all(), kind
        assert np.isfinite(b["df"]).all() and (b["df"] > 1).all(), kind


def test_subgroups_use_their_own_cohort_leverages(mpdta):
    frame = mpdta.assign(half=mpdta["countyreal"].rank(method="dense").astype(int) % 2)
    p = ci.Panel(frame, unit="countyreal", time="year", cohort="first.treat")
    joint = ci.att_gt(p, "lemp", by="half", small_sample=True).aggregate("group").tidy()
    for h in (0, 1):
        sub = ci.Panel(frame[frame["half"] == h], unit="countyreal", time="year",
                       cohort="first.treat")
        alone = ci.att_gt(sub, "lemp", small_sample=True).aggregate("group").tidy()
        mine = joint[joint["half"] == h].reset_index(drop=True)
        np.testing.assert_allclose(mine["std_error"], alone["std_error"], rtol=1e-10)
        np.testing.assert_allclose(mine["df"], alone["df"], rtol=1e-10)


def test_bootstrap_resamples_the_adjusted_influence(panel):
    small = ci.att_gt(panel, "lemp", small_sample=True).aggregate("simple")
    boot = ci.att_gt(panel, "lemp", small_sample=True, bootstrap=20000, seed=1).aggregate("simple")
    assert boot.std_error[0] == pytest.approx(small.std_error[0], rel=0.03)


def test_bad_options(panel, mpdta):
    with pytest.raises(SpecificationError, match="small_sample must be True or False"):
        ci.att_gt(panel, "lemp", small_sample="yes")
    survey = ci.Panel(mpdta.assign(st=mpdta["countyreal"] % 3), unit="countyreal", time="year",
                      cohort="first.treat", strata="st")
    with pytest.raises(SpecificationError, match="survey design"):
        ci.att_gt(survey, "lemp", small_sample=True)


def test_two_period_did_equals_welch_and_the_att_gt_cell(mpdta):
    two = mpdta[mpdta["year"].isin([2006, 2007]) & mpdta["first.treat"].isin([0, 2007])]
    p = ci.Panel(two, unit="countyreal", time="year", cohort="first.treat")
    res = ci.did(p, "lemp", small_sample=True).tidy().iloc[0]
    wide = two.pivot(index="countyreal", columns="year", values="lemp")
    cohort = two.groupby("countyreal")["first.treat"].first()
    ref = _welch(wide, cohort, 2007, 2007, 2006)
    assert res.estimate / res.std_error == pytest.approx(ref.statistic, rel=1e-10)
    assert res.df == pytest.approx(ref.df, rel=1e-10)
    cell = ci.att_gt(p, "lemp", small_sample=True).tidy().iloc[-1]
    assert (cell.cohort, cell.time) == (2007, 2007)
    assert cell.std_error == pytest.approx(res.std_error, rel=1e-10)
    assert ci.did(p, "lemp").std_error[0] < res.std_error


def test_repeated_cross_section_did_uses_cell_arms(mpdta):
    two = mpdta[mpdta["year"].isin([2006, 2007]) & mpdta["first.treat"].isin([0, 2007])]
    rcs = ci.Panel(two, unit=None, time="year", cohort="first.treat")
    base, small = ci.did(rcs, "lemp"), ci.did(rcs, "lemp", small_sample=True)
    assert small.estimate[0] == base.estimate[0]
    # four arms (group x period): each row is a unit here, so the leverage factor is
    # n/(n-1) per cell and the SE grows by about the square root of it
    assert 1.0 < small.std_error[0] / base.std_error[0] < 1.05
    assert np.isfinite(small.tidy()["df"].iloc[0])
    with pytest.raises(SpecificationError, match="small_sample must be True or False"):
        ci.did(rcs, "lemp", small_sample=1.5)
