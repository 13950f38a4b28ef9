"""Regression tests for bugs found by the reliability suite (one test per fix)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import clusterimpact as ci

from .conftest import staggered_frame


def panel(df, **kw):
    return ci.Panel(df, unit="id", time="t", cohort="g", **kw)


def test_wild_bootstrap_zero_se_is_nan_with_warning_not_zerodivision():
    # a constant outcome: estimate 0 with standard error 0 used to raise ZeroDivisionError
    df = staggered_frame().assign(y=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        twfe = ci.twfe(panel(df), "y")
        agg = ci.att_gt(panel(df), "y").aggregate("simple")
        for res in (twfe, agg):
            with pytest.warns(ci.EstimationWarning, match="no sampling variation"):
                out = res.wild_bootstrap(reps=99, seed=1).tidy()
            assert out["estimate"].iloc[0] == 0.0
            assert np.isnan(out["p_value"].iloc[0])  # not 0: an undefined test must not "reject"


def test_ddd_inestimable_cell_warns_with_a_clusterimpact_class():
    # every unit eventually treated and never_treated comparisons: each DDD cell is empty
    df = staggered_frame()
    df["g"] = np.where(df["g"] == 0, 2004, df["g"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ci.ddd(panel(df), "y", subgroup="sex", target="f")
    cells = [w for w in caught if "DDD cell" in str(w.message)]
    assert cells and all(issubclass(w.category, ci.EstimationWarning) for w in cells)


def test_aggregate_calendar_ignored_options_warn_with_a_clusterimpact_class():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        res = ci.att_gt(panel(staggered_frame()), "y")
    with pytest.warns(ci.ClusterImpactWarning, match="ignored for kind='calendar'"):
        res.aggregate("calendar", min_e=0)


def test_panel_rejects_duplicated_column_names():
    # pandas allows two columns named 'x'; frame['x'] is then a DataFrame and estimators crashed
    df = staggered_frame()
    df = df.join(df[["x"]], rsuffix="_copy").rename(columns={"x_copy": "x"})
    with pytest.raises(ci.PanelError, match=r"Duplicated column name\(s\) in the data: 'x'"):
        panel(df)


def test_att_gt_collinear_covariates_reason_names_the_cause():
    df = staggered_frame().assign(x2=lambda d: 2 * d["x"])
    with pytest.warns(ci.EstimationWarning, match="could not be estimated"):
        res = ci.att_gt(panel(df), "y", covariates=["x", "x2"])
    reasons = set(res.tidy()["reason"])
    assert len(reasons) == 1 and "collinear or constant" in reasons.pop()


def test_twfe_collinear_covariates_error_names_the_covariate():
    df = staggered_frame().assign(x2=lambda d: 2 * d["x"], z=lambda d: d["id"] * 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        with pytest.raises(ci.EstimationError, match=r"Regressor\(s\) 'x2' are collinear"):
            ci.twfe(panel(df), "y", covariates=["x", "x2"])
        with pytest.raises(ci.EstimationError, match=r"Regressor\(s\) 'z' are collinear"):
            ci.twfe(panel(df), "y", covariates=["z"])  # time-invariant: absorbed by the unit effects


@pytest.mark.parametrize("covariates", [None, ["x"]])
def test_att_gt_by_with_a_last_subgroup_without_treated_units(covariates):
    # subgroup 'm' (sorted last) has no treated unit: the cell masks were one subgroup short
    # (ValueError from matmul without covariates, IndexError risk with them)
    df = staggered_frame()
    df["sex"] = np.where(df["g"] > 0, "f", np.where(df["id"] % 2 == 0, "f", "m"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        res = ci.att_gt(panel(df), "y", by="sex", covariates=covariates)
        tab = res.tidy()
        assert set(tab["sex"]) == {"f"} and np.isfinite(tab["estimate"]).any()
        plain = ci.att_gt(panel(df[df["sex"] == "f"]), "y", covariates=covariates).tidy()
    np.testing.assert_allclose(tab["estimate"], plain["estimate"], rtol=1e-10)


def test_ddd_aggregate_without_estimable_cells_raises_instead_of_nan():
    df = staggered_frame()
    df["g"] = np.where(df["g"] == 0, 2004, df["g"])  # no never-treated comparison: every cell empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.EstimationWarning)
        res = ci.ddd(panel(df), "y", subgroup="sex", target="f")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from 0/0 either
        for kind in ("simple", "group", "dynamic"):
            with pytest.raises(ci.SpecificationError, match="No estimable"):
                res.aggregate(kind)


def test_one_cluster_and_exact_fit_raise_instead_of_zerodivision():
    df = staggered_frame().assign(c=0)
    p = ci.Panel(df, unit="id", time="t", cohort="g", cluster="c")
    for fit in (lambda: ci.twfe(p, "y"), lambda: ci.event_study(p, "y"),
                lambda: ci.event_study(p, "y", method="sun_abraham")):
        with pytest.raises(ci.SpecificationError, match="at least two clusters"):
            fit()
    tiny = staggered_frame().query("id in (0, 6) and t in (2000, 2002)")
    with pytest.raises(ci.EstimationError, match="No residual degrees of freedom"):
        ci.twfe(panel(tiny), "y", vcov="HC1")


def test_att_gt_unbalanced_panel_with_no_complete_unit_raises():
    # every unit misses a period: balancing (as R did does) leaves nobody; used to be a numpy
    # "zero-size array to reduction" ValueError
    df = staggered_frame()
    df = df[df["t"] != 2000 + df["id"] % 5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.DroppedRowsWarning)
        with pytest.raises(ci.SpecificationError, match="No units left"):
            ci.att_gt(panel(df), "y")


@pytest.mark.parametrize("method", ["twfe", "sun_abraham"])
def test_event_study_reference_not_observed_raises(method):
    # waves 2000, 2002, 2005: relative period -1 never occurs. The regression then dropped a
    # post-period dummy as collinear and reported every estimate relative to it (effect ~ 0)
    df = staggered_frame(n_units=20, n_periods=6)
    df = df[df["t"].isin([2000, 2002, 2005])].copy()
    df["g"] = df["g"].replace({2003: 2005, 2004: 2005})
    p = panel(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ci.FewClustersWarning)
        with pytest.raises(ci.SpecificationError, match=r"reference=-1 is not an observed.*reference=-2"):
            ci.event_study(p, "y", method=method)
        res = ci.event_study(p, "y", method=method, reference=-2).tidy()
    assert -2 not in set(res["event_time"]) and 0 in set(res["event_time"])
