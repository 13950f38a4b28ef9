"""clusterimpact: impact evaluation of joint-action CSR initiatives in industrial clusters.

Examples
--------
>>> import clusterimpact as ci
>>> df = ci.datasets.load("mpdta")
>>> panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
>>> panel.n_units
500
"""

from clusterimpact import datasets, indicators, simulate, workers
from clusterimpact._version import __version__
from clusterimpact.design import power
from clusterimpact.design.balance import balance
from clusterimpact.design.baseline import baseline
from clusterimpact.design.controls import matched_did, rank_comparison_clusters
from clusterimpact.design.matching import match
from clusterimpact.design.panel import Panel
from clusterimpact.engines import (
    CellStats,
    LazyPanel,
    MomentStats,
    att_gt_from_moments,
    att_gt_from_stats,
    event_study_from_stats,
    twfe_from_stats,
)
from clusterimpact.errors import (
    ClusterImpactError,
    ClusterImpactWarning,
    DroppedRowsWarning,
    EstimationError,
    EstimationWarning,
    FewClustersWarning,
    PanelError,
    SmallCellWarning,
    SpecificationError,
    TimingWarning,
)
from clusterimpact.estimators.att_gt import att_gt
from clusterimpact.estimators.bacon import bacon, twfe_weights
from clusterimpact.estimators.ddd import ddd, ddd_regression
from clusterimpact.estimators.did import did
from clusterimpact.estimators.event_study import event_study
from clusterimpact.estimators.synthetic import synthetic_control, synthetic_did
from clusterimpact.estimators.twfe import twfe
from clusterimpact.indicators.indices import anderson_index, klk_index
from clusterimpact.inference.honest import honest, pretrend_power, pretrend_slope
from clusterimpact.inference.multiplicity import adjust
from clusterimpact.results import GroupTimeResult, Result
from clusterimpact.results.matching import MatchResult
from clusterimpact.results.sensitivity import SensitivityResult
from clusterimpact.workers.distributional import changes_in_changes, winners_losers
from clusterimpact.workers.exclusion import lee_bounds

__all__ = [
    "CellStats",
    "ClusterImpactError",
    "ClusterImpactWarning",
    "DroppedRowsWarning",
    "EstimationError",
    "EstimationWarning",
    "FewClustersWarning",
    "GroupTimeResult",
    "LazyPanel",
    "MatchResult",
    "MomentStats",
    "Panel",
    "PanelError",
    "Result",
    "SensitivityResult",
    "SmallCellWarning",
    "SpecificationError",
    "TimingWarning",
    "__version__",
    "adjust",
    "anderson_index",
    "att_gt",
    "att_gt_from_moments",
    "att_gt_from_stats",
    "bacon",
    "balance",
    "baseline",
    "changes_in_changes",
    "datasets",
    "ddd",
    "ddd_regression",
    "did",
    "event_study",
    "event_study_from_stats",
    "honest",
    "indicators",
    "klk_index",
    "lee_bounds",
    "match",
    "matched_did",
    "power",
    "pretrend_power",
    "pretrend_slope",
    "rank_comparison_clusters",
    "simulate",
    "synthetic_control",
    "synthetic_did",
    "twfe",
    "twfe_from_stats",
    "twfe_weights",
    "winners_losers",
    "workers",
]
