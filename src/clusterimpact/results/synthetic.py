"""Results of synthetic control and synthetic difference-in-differences.

:class:`SyntheticResult` is a :class:`~clusterimpact.results.Result` with one
row (the average effect on the treated over the post-treatment periods) that
also keeps the unit (and time) weights, the treated and synthetic
trajectories, the per-period effects and the placebo replications, so that
tables and plots never refit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from clusterimpact.errors import SpecificationError
from clusterimpact.plots.synthetic import PlotKind
from clusterimpact.results.base import Result

__all__ = ["SyntheticResult"]


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticResult(Result):
    """A synthetic control / synthetic DiD estimate with its weights and placebos.

    Besides the fields of :class:`~clusterimpact.results.Result` (one row,
    ``term == "ATT"``):

    Attributes
    ----------
    unit_weights
        Frame ``unit, weight`` (plus ``cohort`` for staggered designs), donors
        sorted by decreasing weight.
    time_weights
        Frame ``period, weight`` (plus ``cohort``) for SDID, else ``None``.
    trajectory
        Frame ``period, event_time, treated, synthetic`` (plus ``cohort``): the
        treated (mean) outcome and its synthetic counterpart; for SDID the
        synthetic path is shifted by the time-weighted pre-period gap, as in
        ``synthdid::synthdid_plot``.
    period_effects
        A :class:`Result` keyed by ``event_time`` (see :meth:`effects_by_period`).
    placebo_table
        One row per placebo replication (see :meth:`placebos`).
    placebo_gaps
        Long frame ``unit, period, event_time, gap`` of in-space placebo gaps
        (synthetic control only).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("prop99")
    >>> panel = ci.Panel(df, unit="state", time="year", treatment="treated")
    >>> res = ci.synthetic_control(panel, "cigsale", placebo=False)
    >>> res.weights().head(2)["unit"].tolist()
    ['Utah', 'Montana']
    """

    unit_weights: pd.DataFrame | None = None
    time_weights: pd.DataFrame | None = None
    trajectory: pd.DataFrame | None = None
    period_effects: Result | None = None
    placebo_table: pd.DataFrame | None = None
    placebo_gaps: pd.DataFrame | None = None
    refit: Any = None

    # ---------------------------------------------------------------- tables
    def weights(self, kind: Literal["unit", "time"] = "unit", *, nonzero: bool = True) -> pd.DataFrame:
        """Unit weights (``kind="unit"``) or SDID time weights (``kind="time"``) as a tidy frame.

        Parameters
        ----------
        kind
            ``"unit"`` (columns ``unit, weight``) or ``"time"`` (``period, weight``).
        nonzero
            Drop zero weights.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> res = ci.synthetic_did(p, "cigsale", reps=0)
        >>> res.weights("time").round(3).to_dict("list")
        {'period': [1988, 1986, 1987], 'weight': [0.427, 0.366, 0.206]}
        """
        if kind not in ("unit", "time"):
            raise SpecificationError(f"kind must be 'unit' or 'time', got {kind!r}.")
        frame = self.unit_weights if kind == "unit" else self.time_weights
        if frame is None:
            raise SpecificationError(
                f"{self.info.get('estimator', 'This estimator')} has no time weights; "
                "use weights('unit').")
        out = frame[frame["weight"] > 0] if nonzero else frame
        return out.reset_index(drop=True).copy()

    def placebos(self) -> pd.DataFrame:
        """The placebo replications behind the standard error and the p-value.

        Synthetic control (in-space placebos): one row per unit (the treated
        unit first) with ``unit, treated, pre_rmspe, post_rmspe, ratio,
        estimate, rank``; the permutation p-value is ``rank / n`` of the
        treated unit. SDID: one row per replication with ``replication,
        estimate``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> ci.synthetic_control(p, "cigsale").placebos().iloc[0]["unit"]
        'California'
        """
        if self.placebo_table is None:
            raise SpecificationError("No placebo replications were run (placebo=False or reps=0).")
        return self.placebo_table.copy()

    def effects_by_period(self) -> Result:
        """Per-period effects as a :class:`Result` keyed by ``event_time``.

        Pre-treatment rows are placebo effects (fit diagnostics); their
        standard errors come from the same replications as the overall one.
        The shared event-study plot applies (``.plot()``).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> es = ci.synthetic_did(p, "cigsale", reps=0).effects_by_period()
        >>> es.tidy()["event_time"].tolist()[:2]
        [-19, -18]
        """
        if self.period_effects is None:
            raise SpecificationError("This result keeps no per-period effects.")
        return self.period_effects

    def in_time_placebo(self, period: Any = None) -> SyntheticResult:
        """Refit as if treatment had started at an earlier ``period`` (in-time placebo).

        Only the periods before the actual start are used; a good design
        shows no effect. Default: the middle pre-treatment period.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> res = ci.synthetic_control(p, "cigsale", placebo=False)
        >>> bool(abs(res.in_time_placebo(1980).estimate[0]) < 5)
        True
        """
        if self.refit is None:
            raise SpecificationError("This result cannot be refitted (no stored design).")
        return self.refit.in_time_placebo(period)

    def leave_one_out(self) -> pd.DataFrame:
        """Refit dropping, in turn, each donor with positive weight.

        Returns a frame ``dropped, weight, estimate, pre_rmspe`` (one row per
        dropped donor): how much the estimate hinges on a single donor.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> loo = ci.synthetic_control(p, "cigsale", placebo=False).leave_one_out()
        >>> list(loo.columns)
        ['dropped', 'weight', 'estimate', 'pre_rmspe']
        """
        if self.refit is None:
            raise SpecificationError("This result cannot be refitted (no stored design).")
        return self.refit.leave_one_out()

    # ---------------------------------------------------------------- plots
    def plot(self, kind: PlotKind = "trajectories", ax=None, **kwargs):
        """Plot the fit; returns the matplotlib Axes.

        Parameters
        ----------
        kind
            ``"trajectories"`` (treated vs synthetic; SDID shades the time
            weights), ``"gaps"`` (treated minus synthetic, with the placebo
            gaps in grey for synthetic control), ``"weights"`` (unit weights),
            ``"time_weights"`` (SDID) or ``"placebos"`` (the placebo
            distribution with the estimate marked).
        ax
            Axes to draw on.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
        >>> res = ci.synthetic_control(p, "cigsale")
        >>> [res.plot(k).get_title()[:4] for k in ("trajectories", "gaps", "weights", "placebos")]
        ['Trea', 'Gaps', 'Unit', 'Plac']
        """
        from clusterimpact.plots.synthetic import synthetic_plot

        return synthetic_plot(self, kind, ax=ax, **kwargs)
