"""Plots: every figure the package draws, by the kind of result it shows.

- :mod:`~clusterimpact.plots.core`: event studies, group-time panels,
  coefficient plots and roll-out timing (used by ``Result.plot`` and ``Panel.plot_timing``);
- :mod:`~clusterimpact.plots.synthetic`: synthetic control and synthetic DiD fits;
- :mod:`~clusterimpact.plots.forest`: forest plots of subgroup x outcome effects
  (winners and losers).

All functions return matplotlib Axes and never call ``plt.show()``.
"""

from clusterimpact.plots.core import (
    coefficient_plot,
    event_study_plot,
    group_time_plot,
    plot_result,
    timing_plot,
)
from clusterimpact.plots.forest import forest_plot
from clusterimpact.plots.synthetic import synthetic_plot

__all__ = [
    "coefficient_plot",
    "event_study_plot",
    "forest_plot",
    "group_time_plot",
    "plot_result",
    "synthetic_plot",
    "timing_plot",
]
