"""The few-clusters rule per subgroup: every by= estimator names the subgroups in few clusters."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.errors import FewClustersWarning


def _frame(n_periods: int, rare_clusters: int, n_clusters: int = 40, per: int = 6) -> pd.DataFrame:
    """``n_clusters`` clusters, half adopting in period 2 (2-period) or 3; workers of subgroup
    "rare" only in the first ``rare_clusters`` clusters, spread over treated and untreated ones."""
    rng = np.random.default_rng(5)
    n_units = n_clusters * per
    cluster = np.repeat(np.arange(n_clusters), per)
    cohort = np.where(cluster % 2 == 0, min(3, n_periods), 0)
    rare = (cluster < rare_clusters) & (np.arange(n_units) % per < 2)
    frame = pd.DataFrame({
        "unit": np.repeat(np.arange(n_units), n_periods),
        "time": np.tile(np.arange(1, n_periods + 1), n_units),
        "cluster": np.repeat(cluster, n_periods), "cohort": np.repeat(cohort, n_periods),
        "site": np.repeat(np.where(rare, "rare", "common"), n_periods)})
    frame["y"] = rng.normal(size=len(frame)) + 0.5 * (frame["cohort"] > 0) * (
        frame["time"] >= frame["cohort"])
    return frame


FITS = {
    "twfe": (4, lambda p: ci.twfe(p, "y", by="site")),
    "event_study": (4, lambda p: ci.event_study(p, "y", by="site")),
    "event_study_imputation": (4, lambda p: ci.event_study(p, "y", by="site", method="imputation")),
    "did": (2, lambda p: ci.did(p, "y", by="site")),
    "att_gt": (4, lambda p: ci.att_gt(p, "y", by="site")),
}


def _panel(n_periods: int, rare_clusters: int) -> ci.Panel:
    return ci.Panel(_frame(n_periods, rare_clusters), unit="unit", time="time", cohort="cohort",
                    cluster="cluster")


@pytest.mark.parametrize("name", FITS)
def test_small_subgroup_is_named(name):
    periods, fit = FITS[name]
    with pytest.warns(FewClustersWarning, match=r"site=rare \(10 clusters: 5 treated, 5 untreated\)"):
        fit(_panel(periods, rare_clusters=10))


@pytest.mark.parametrize("name", FITS)
def test_no_warning_when_every_subgroup_has_enough_clusters(name):
    periods, fit = FITS[name]
    panel = _panel(periods, rare_clusters=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        fit(panel)


def test_no_subgroup_warning_with_bias_reduced_covariance():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        ci.twfe(_panel(4, rare_clusters=10), "y", by="site", vcov="CR2")


REMEDIES = {
    "twfe": "vcov='CR2'",
    "event_study": "res.with_vcov('CR2')",
    "event_study_imputation": "res.wild_bootstrap()",
    "did": "small_sample=True",
    "att_gt": "small_sample=True",
}


@pytest.mark.parametrize("name", FITS)
def test_warning_names_the_estimators_remedy(name):
    periods, fit = FITS[name]
    with pytest.warns(FewClustersWarning) as record:
        fit(_panel(periods, rare_clusters=10))
    text = " ".join(str(w.message) for w in record if "Subgroup(s)" in str(w.message))
    assert REMEDIES[name] in text


SURVEY_FITS = {
    "twfe": (4, lambda p: ci.twfe(p, "y", by="site")),
    "event_study": (4, lambda p: ci.event_study(p, "y", by="site")),
    # the imputation estimators' covariance is design-based too with a survey Panel
    "event_study_imputation": (4, lambda p: ci.event_study(p, "y", by="site", method="imputation")),
    "event_study_two_stage": (4, lambda p: ci.event_study(p, "y", by="site", method="two_stage")),
    "did": (2, lambda p: ci.did(p, "y", by="site")),
    "att_gt": (4, lambda p: ci.att_gt(p, "y", by="site")),
}


@pytest.mark.parametrize("name", SURVEY_FITS)
def test_no_subgroup_warning_with_a_survey_design(name):
    """Design-based variances (t on #PSUs - #strata df) are not the CR1 the rule is about."""
    periods, fit = SURVEY_FITS[name]
    frame = _frame(periods, rare_clusters=10)
    frame["stratum"] = frame["cluster"] % 4  # PSUs (clusters) nested in strata
    panel = ci.Panel(frame, unit="unit", time="time", cohort="cohort", cluster="cluster",
                     strata="stratum")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        fit(panel)


@pytest.mark.parametrize("name", ["did", "att_gt"])
def test_no_subgroup_warning_with_small_sample(name):
    """small_sample=True is the remedy the warning names; with it, no warning."""
    periods, _ = FITS[name]
    estimator = getattr(ci, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewClustersWarning)
        estimator(_panel(periods, rare_clusters=10), "y", by="site", small_sample=True)


def test_twfe_counts_the_same_clusters_with_dropped_rows():
    """Dropped rows take the row-level count; one missing outcome changes no cluster's presence."""
    frame = _frame(4, rare_clusters=10)
    frame.loc[0, "y"] = np.nan
    panel = ci.Panel(frame, unit="unit", time="time", cohort="cohort", cluster="cluster")
    with pytest.warns(FewClustersWarning, match=r"site=rare \(10 clusters: 5 treated, 5 untreated\)"):
        ci.twfe(panel, "y", by="site")
