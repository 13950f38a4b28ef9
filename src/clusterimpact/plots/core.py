"""Plots shared by every result: event studies, group-time panels, coefficient plots, timing.

All functions return matplotlib objects and never call ``plt.show()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from clusterimpact.results.base import Result

_POST = "#1f77b4"
_PRE = "#7f7f7f"


def _axes(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def plot_result(result: Result, ax: Axes | None = None, **kwargs) -> Axes:
    """Dispatch on the result's key columns; see :meth:`Result.plot`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from clusterimpact.results import Result
    >>> r = Result(pd.DataFrame({"event_time": [-1, 0, 1]}), np.zeros(3), np.eye(3))
    >>> ax = plot_result(r)
    >>> ax.get_xlabel()
    'Periods relative to treatment'
    """
    keys = result.keys.columns
    tidy = result.tidy()
    by = result.by
    if "event_time" in keys:
        return event_study_plot(tidy, ax=ax, by=by, **kwargs)
    if "cohort" in keys and "time" in keys:
        return group_time_plot(tidy, ax=ax, **kwargs)
    return coefficient_plot(tidy, [c for c in keys], ax=ax, **kwargs)


def event_study_plot(tidy: pd.DataFrame, ax: Axes | None = None, by: list[str] | None = None,
                     title: str | None = None) -> Axes:
    """Estimates by event time with confidence intervals (and bands when present).

    Pre-treatment periods are grey, post-treatment blue; a dashed line marks zero.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"event_time": [-1, 0], "estimate": [0.0, 1.0],
    ...                   "conf_low": [-0.5, 0.4], "conf_high": [0.5, 1.6]})
    >>> ax = event_study_plot(t)
    """
    ax = _axes(ax)
    groups = [((), tidy)] if not by else list(tidy.groupby(by, sort=True))
    offsets = np.linspace(-0.15, 0.15, len(groups)) if len(groups) > 1 else [0.0]
    for (label, sub), off in zip(groups, offsets, strict=True):
        e = sub["event_time"].to_numpy(dtype=float)
        est = sub["estimate"].to_numpy(dtype=float)
        lo = sub["conf_low"].to_numpy(dtype=float)
        hi = sub["conf_high"].to_numpy(dtype=float)
        name = " & ".join(map(str, label)) if by else None
        if by:
            ax.errorbar(e + off, est, yerr=[est - lo, hi - est], fmt="o", capsize=3, label=name)
        else:
            for mask, colour, lab in ((e < 0, _PRE, "Pre-treatment"), (e >= 0, _POST, "Post-treatment")):
                if mask.any():
                    ax.errorbar(e[mask], est[mask], yerr=[est[mask] - lo[mask], hi[mask] - est[mask]],
                                fmt="o", color=colour, capsize=3, label=lab)
            if "band_low" in sub:
                ax.fill_between(e, sub["band_low"], sub["band_high"], color=_POST, alpha=0.12,
                                step="mid", label="Simultaneous band")
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.axvline(-0.5, color="black", lw=0.5, ls=":")
    ax.set_xlabel("Periods relative to treatment")
    ax.set_ylabel("Effect estimate")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def group_time_plot(tidy: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Group-time effects, one row of points per cohort, pre and post periods coloured.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"cohort": [2004, 2004], "time": [2004, 2005], "estimate": [0.1, 0.2],
    ...                   "conf_low": [0.0, 0.1], "conf_high": [0.2, 0.3]})
    >>> ax = group_time_plot(t)
    """
    cohorts = list(pd.unique(tidy["cohort"]))
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(len(cohorts), 1, figsize=(7, 2.2 * len(cohorts)), sharex=True,
                                 squeeze=False)
        axes = axes[:, 0]
    else:
        axes = [ax] * len(cohorts)
    for a, g in zip(axes, cohorts, strict=True):
        sub = tidy[tidy["cohort"] == g]
        t = sub["time"].to_numpy()
        est = sub["estimate"].to_numpy(dtype=float)
        lo = sub["conf_low"].to_numpy(dtype=float)
        hi = sub["conf_high"].to_numpy(dtype=float)
        post = np.asarray(t >= g)
        for mask, colour in ((~post, _PRE), (post, _POST)):
            if mask.any():
                a.errorbar(t[mask], est[mask], yerr=[est[mask] - lo[mask], hi[mask] - est[mask]],
                           fmt="o", color=colour, capsize=3)
        a.axhline(0, color="black", lw=0.8, ls="--")
        a.set_ylabel(f"cohort {g}")
    axes[-1].set_xlabel("Period")
    if title:
        axes[0].set_title(title)
    return axes[0]


def coefficient_plot(tidy: pd.DataFrame, label_columns: list[str], ax: Axes | None = None,
                     title: str | None = None) -> Axes:
    """Horizontal forest plot of estimates with confidence intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"term": ["a"], "estimate": [1.0], "conf_low": [0.5], "conf_high": [1.5]})
    >>> ax = coefficient_plot(t, ["term"])
    """
    ax = _axes(ax, (7, max(2.0, 0.45 * len(tidy) + 1)))
    labels = (
        [" & ".join(str(v) for v in row) for row in tidy[label_columns].itertuples(index=False)]
        if label_columns else ["estimate"] * len(tidy)
    )
    y = np.arange(len(tidy))[::-1]
    est = tidy["estimate"].to_numpy(dtype=float)
    lo = tidy["conf_low"].to_numpy(dtype=float)
    hi = tidy["conf_high"].to_numpy(dtype=float)
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color=_POST, capsize=3)
    ax.set_yticks(y, labels)
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("Effect estimate")
    if title:
        ax.set_title(title)
    return ax


def timing_plot(status: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Heatmap of treatment status, units (rows, sorted by cohort) by period (columns).

    ``status`` is a unit-by-period frame with 1 (treated), 0 (not yet / never
    treated) and NaN (not observed).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame([[0, 1], [0, 0]], index=["a", "b"], columns=[2000, 2001])
    >>> ax = timing_plot(s)
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    n_units, n_periods = status.shape
    ax = _axes(ax, (min(12, 2 + 0.5 * n_periods), min(9, 1.5 + 0.06 * n_units)))
    cmap = ListedColormap(["#d9d9d9", _POST]).with_extremes(bad="white")
    values = np.ma.masked_invalid(status.to_numpy(dtype=float))
    ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=0, vmax=1)
    step = max(1, n_periods // 12)
    ax.set_xticks(np.arange(0, n_periods, step), [str(c) for c in status.columns[::step]],
                  rotation=45 if n_periods > 8 else 0)
    if n_units <= 40:
        ax.set_yticks(np.arange(n_units), [str(i) for i in status.index])
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{n_units} units (sorted by first treated period)")
    ax.set_xlabel("Period")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#d9d9d9", _POST)]
    ax.legend(handles, ["untreated", "treated"], loc="upper left", bbox_to_anchor=(1.0, 1.0),
              frameon=False)
    if title:
        ax.set_title(title)
    return ax
