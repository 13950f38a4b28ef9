"""Sufficient-statistic compression on pandas/polars, DuckDB and Spark.

``ci.LazyPanel`` validates a panel that stays in its engine (Parquet/CSV files
through DuckDB, a DuckDB relation, a Spark DataFrame, a polars LazyFrame or
any pandas/polars frame) and compresses it, with one aggregation pushed down
to the engine, to :class:`CellStats`; :func:`att_gt_from_stats` then gives
exactly what ``ci.att_gt`` gives on the rows. See
:mod:`clusterimpact.engines.compress` for what is exactly compressible.

Examples
--------
>>> import clusterimpact as ci
>>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
>>> lp = ci.LazyPanel(mpdta, unit="countyreal", time="year",
...                   cohort="first.treat", cluster="state")
>>> round(float(lp.att_gt("lemp").aggregate("group").overall.estimate[0]), 4)
-0.031
"""

from clusterimpact.engines.compress import CellStats, att_gt_from_stats
from clusterimpact.engines.covariates import (
    CrossStats,
    cross_stats,
    event_study_from_cross,
    twfe_from_cross,
)
from clusterimpact.engines.lazy import LazyPanel
from clusterimpact.engines.moments import MomentStats, att_gt_from_moments
from clusterimpact.engines.regression import event_study_from_stats, twfe_from_stats
from clusterimpact.engines.sources import open_source
from clusterimpact.engines.unbalanced import (
    PatternStats,
    event_study_from_patterns,
    pattern_stats,
    twfe_from_patterns,
)

__all__ = ["CellStats", "CrossStats", "LazyPanel", "MomentStats", "PatternStats",
           "att_gt_from_moments", "att_gt_from_stats", "cross_stats", "event_study_from_cross",
           "event_study_from_patterns", "event_study_from_stats", "open_source", "pattern_stats",
           "twfe_from_cross", "twfe_from_patterns", "twfe_from_stats"]
