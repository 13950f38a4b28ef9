"""Plots of synthetic control and synthetic DiD fits.

Trajectories (as ``synthdid::synthdid_plot``: SDID shifts the synthetic path by the
time-weighted pre-period gap and shades the time weights), gaps with in-space
placebos (Abadie, Diamond & Hainmueller 2010, Figure 4), unit and time weights,
and the placebo distribution. Everything is read from the stored
:class:`~clusterimpact.results.synthetic.SyntheticResult`; nothing is refitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from clusterimpact.errors import SpecificationError
from clusterimpact.plots.core import _axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from clusterimpact.results.synthetic import SyntheticResult

PlotKind = Literal["trajectories", "gaps", "weights", "time_weights", "placebos"]
KINDS: tuple[str, ...] = ("trajectories", "gaps", "weights", "time_weights", "placebos")
_TREATED = "#1f77b4"
_SYNTH = "#d62728"
_GREY = "#9e9e9e"


def synthetic_plot(result: SyntheticResult, kind: PlotKind = "trajectories", ax: Axes | None = None,
                   **kwargs) -> Axes:
    """Draw one view of a synthetic fit; see :meth:`SyntheticResult.plot`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
    >>> synthetic_plot(ci.synthetic_did(p, "cigsale"), "time_weights").get_title()
    'Time weights'
    """
    if kind not in KINDS:
        raise SpecificationError(f"kind must be one of {KINDS}, got {kind!r}.")
    return _DRAW[kind](result, _axes(ax), **kwargs)


def _groups(traj: pd.DataFrame) -> list[tuple[object, pd.DataFrame]]:
    return [(None, traj)] if "cohort" not in traj else list(traj.groupby("cohort"))


def _start_line(result: SyntheticResult, ax: Axes) -> None:
    start = result.info.get("treatment_start")
    if start is not None and not isinstance(start, list | tuple):
        ax.axvline(start, color="black", lw=0.8, ls=":")


def _trajectories(result: SyntheticResult, ax: Axes, **kwargs) -> Axes:
    for cohort, sub in _groups(result.trajectory):
        lab = "" if cohort is None else f" (cohort {cohort})"
        ax.plot(sub["period"], sub["treated"], color=_TREATED, lw=1.8, label="Treated" + lab)
        ax.plot(sub["period"], sub["synthetic"], color=_SYNTH, lw=1.5, ls="--",
                label="Synthetic" + lab)
    tw = result.time_weights
    if tw is not None and "cohort" not in tw:
        lo, hi = ax.get_ylim()
        ax.bar(tw["period"], tw["weight"] * 0.25 * (hi - lo), bottom=lo, color=_GREY, alpha=0.5,
               width=0.8, label="Time weights")
    _start_line(result, ax)
    ax.set_xlabel("Period")
    ax.set_ylabel(str(result.info.get("outcome", "Outcome")))
    ax.set_title("Treated and synthetic trajectories")
    ax.legend(frameon=False)
    return ax


def _gaps(result: SyntheticResult, ax: Axes, **kwargs) -> Axes:
    placebo = result.placebo_gaps
    if placebo is not None:
        for _, sub in placebo.groupby("unit"):
            ax.plot(sub["period"], sub["gap"], color=_GREY, lw=0.6, alpha=0.6)
    for cohort, sub in _groups(result.trajectory):
        ax.plot(sub["period"], sub["treated"] - sub["synthetic"], color=_TREATED, lw=1.8,
                label="Treated" if cohort is None else f"cohort {cohort}")
    ax.axhline(0, color="black", lw=0.8, ls="--")
    _start_line(result, ax)
    ax.set_xlabel("Period")
    ax.set_ylabel("Treated minus synthetic")
    ax.set_title("Gaps" + (" (grey: in-space placebos)" if placebo is not None else ""))
    ax.legend(frameon=False)
    return ax


def _unit_weights(result: SyntheticResult, ax: Axes, top: int = 20, **kwargs) -> Axes:
    w = result.weights("unit")
    if "cohort" in w:
        w = w.groupby("unit", as_index=False)["weight"].mean().sort_values("weight", ascending=False)
    w = w.head(top)
    y = np.arange(len(w))[::-1]
    ax.barh(y, w["weight"], color=_TREATED)
    ax.set_yticks(y, [str(u) for u in w["unit"]])
    ax.set_xlabel("Weight")
    ax.set_title(f"Unit weights (top {len(w)})")
    return ax


def _time_weights(result: SyntheticResult, ax: Axes, **kwargs) -> Axes:
    tw = result.weights("time", nonzero=False)
    ax.bar(tw["period"], tw["weight"], color=_TREATED)
    ax.set_xlabel("Period")
    ax.set_ylabel("Weight")
    ax.set_title("Time weights")
    return ax


def _placebos(result: SyntheticResult, ax: Axes, **kwargs) -> Axes:
    tab = result.placebos()
    if "ratio" in tab:
        values, marks = tab.loc[~tab["treated"], "ratio"], tab.loc[tab["treated"], "ratio"]
        label, mark_label = "Post/pre RMSPE ratio", "Treated"
    else:
        values, marks = tab["estimate"], pd.Series(result.estimate)
        label, mark_label = "Placebo estimate", "Estimate"
    ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=_GREY)
    for m in np.asarray(marks, dtype=float):
        ax.axvline(m, color=_SYNTH, lw=1.8, label=mark_label)
    ax.set_xlabel(label)
    ax.set_ylabel("Count")
    ax.set_title("Placebo distribution")
    ax.legend(frameon=False)
    return ax


_DRAW = {"trajectories": _trajectories, "gaps": _gaps, "weights": _unit_weights,
         "time_weights": _time_weights, "placebos": _placebos}
