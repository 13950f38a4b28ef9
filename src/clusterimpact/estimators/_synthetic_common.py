"""Shared plumbing of the synthetic estimators: the wide outcome matrix and its checks.

Examples
--------
>>> import clusterimpact as ci
>>> from clusterimpact.estimators._synthetic_common import wide_outcome
>>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
>>> w = wide_outcome(p, "cigsale", "synthetic_did")
>>> w.y.shape, int(w.t0[0])
((39, 31), 19)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clusterimpact.errors import ClusterImpactWarning, SpecificationError

__all__ = ["ConvexHullWarning", "Wide", "hull_check", "progress", "wide_matrix", "wide_outcome"]


class ConvexHullWarning(ClusterImpactWarning):
    """The treated unit lies outside the range of the donors in some pre-treatment periods.

    A synthetic control (a convex combination of donors) cannot then
    reproduce the treated unit's pre-treatment path, and its post-treatment
    path is an extrapolation the method was not designed for.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> from clusterimpact.estimators._synthetic_common import ConvexHullWarning
    >>> issubclass(ConvexHullWarning, ci.ClusterImpactWarning)
    True
    """


@dataclass(frozen=True, eq=False)
class Wide:
    """A balanced block/staggered design as a unit-by-period matrix.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
    >>> wide_outcome(p, "cigsale", "x").cohorts.tolist()
    [1989.0]
    """

    y: np.ndarray            # (N, T) outcome
    units: pd.Index          # unit labels, by row
    periods: pd.Index        # period labels, by column
    cohort: np.ndarray       # (N,) first treated period value, inf if never
    cohorts: np.ndarray      # sorted distinct cohort values
    t0: np.ndarray           # number of pre-periods of each cohort
    controls: np.ndarray     # row indices of never-treated units

    def cohort_rows(self, k: int) -> np.ndarray:
        """Row indices of the units of the ``k``-th cohort."""
        return np.flatnonzero(self.cohort == self.cohorts[k])


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def wide_matrix(panel, column: str, what: str, role: str = "outcome") -> np.ndarray:
    """A column of a balanced panel as a unit-by-period matrix; missing cells raise.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("prop99"), unit="state", time="year", treatment="treated")
    >>> wide_matrix(p, "cigsale", "x").shape
    (39, 31)
    """
    values = np.asarray(panel.column(column, role=role), dtype=float)
    mat = np.full((panel.n_units, panel.n_periods), np.nan)
    mat[panel.unit_code, panel.time_code] = values
    bad = np.isnan(mat)
    if bad.any():
        observed = np.zeros_like(bad)
        observed[panel.unit_code, panel.time_code] = True
        absent = ~observed
        if absent.any():
            kind, cells = "unobserved (unit, period) cell(s)", np.argwhere(absent)
            hint = "The panel must be balanced: fill or drop these units/periods."
        else:
            kind, cells = f"missing value(s) of the {role} {column!r}", np.argwhere(bad)
            hint = "Impute them or drop the units or periods concerned."
        shown = ", ".join(f"({_plain(panel.unit_labels[i])!r}, {_plain(panel.periods[t])!r})"
                          for i, t in cells[:5])
        raise SpecificationError(
            f"{what} needs a balanced panel without missing values: {len(cells)} {kind}, "
            f"e.g. {shown}{' ...' if len(cells) > 5 else ''}. {hint}")
    return mat


def wide_outcome(panel, y: str, what: str) -> Wide:
    """Validate a panel for the synthetic estimators and return its outcome matrix.

    Raises :class:`~clusterimpact.errors.SpecificationError` for repeated
    cross-sections, an unbalanced panel or missing outcomes (listing the
    cells), no never-treated donors and cohorts with fewer than two
    pre-treatment periods.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "d": [0, 1, 0, 0], "y": [1.0] * 4})
    >>> wide_outcome(ci.Panel(df, unit="u", time="t", treatment="d"), "y", "SDID")
    Traceback (most recent call last):
    ...
    clusterimpact.errors.SpecificationError: SDID needs at least 2 pre-treatment periods ...
    """
    if not panel.is_panel:
        raise SpecificationError(f"{what} needs a panel of units (unit=...), not repeated "
                                 "cross-sections.")
    mat = wide_matrix(panel, y, what)
    cohort = np.asarray(panel.unit_cohort, dtype=float)
    controls = np.flatnonzero(np.isinf(cohort))
    if controls.size == 0:
        raise SpecificationError(
            f"{what} needs never-treated donor units; every unit is treated at some point. "
            "Restrict the periods to before the last cohort's start or use att_gt with "
            "control='not_yet_treated'.")
    cohorts = np.unique(cohort[np.isfinite(cohort)])
    if cohorts.size == 0:
        raise SpecificationError(f"{what} needs at least one treated unit.")
    t0 = np.searchsorted(np.asarray(panel.period_values), cohorts)
    short = t0 < 2
    if short.any():
        labels = panel._label_times(cohorts[short])
        raise SpecificationError(
            f"{what} needs at least 2 pre-treatment periods for every cohort; cohort(s) "
            f"{', '.join(map(str, labels))} have {', '.join(map(str, t0[short]))}. Drop units "
            "treated from the first periods or add earlier periods.")
    return Wide(y=mat, units=panel.unit_labels, periods=panel.periods, cohort=cohort,
                cohorts=cohorts, t0=t0, controls=controls)


def hull_check(y1_pre: np.ndarray, y0_pre: np.ndarray, rmspe: float, what: str,
               demeaned: bool = False, stacklevel: int = 3, min_share: float = 0.1) -> float:
    """Warn if the treated pre-period path leaves the donors' range; return the share of such periods.

    The warning is issued when the share exceeds ``min_share``: an
    occasional period just outside the range is common with noisy outcomes
    and harmless.

    Examples
    --------
    >>> import numpy as np
    >>> hull_check(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]), 0.0, "SC")
    0.0
    """
    above = y1_pre > y0_pre.max(axis=0)
    below = y1_pre < y0_pre.min(axis=0)
    share = float((above | below).mean())
    if share > min_share:
        advice = ("consider demean=True, synthetic_did or a different outcome scale"
                  if what == "synthetic_control" else
                  "the unit weights cannot reproduce its path; consider a different outcome "
                  "scale, fewer pre-periods or different donors")
        warnings.warn(
            f"{what}: the treated unit is outside the convex hull of the donors"
            f"{' (after removing pre-period means)' if demeaned else ''}: above the largest donor in "
            f"{above.mean():.0%} and below the smallest in {below.mean():.0%} of the pre-treatment "
            f"periods; pre-treatment RMSPE {rmspe:.4g}. The synthetic path extrapolates; "
            f"{advice}.",
            ConvexHullWarning, stacklevel=stacklevel)
    return share


def progress(iterable: Iterable, total: int, desc: str) -> Iterator:
    """Wrap ``iterable`` in a tqdm bar shown only after 2 seconds (if tqdm is installed).

    Examples
    --------
    >>> list(progress(range(3), 3, "demo"))
    [0, 1, 2]
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - optional dependency
        return iter(iterable)
    return iter(tqdm(iterable, total=total, desc=desc, delay=2.0, leave=False))
