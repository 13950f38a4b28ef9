"""Shared plumbing of the event-study estimators: sample, relative-time bins, fits.

Every method returns a :class:`MethodFit`: estimates by event time, their
covariance, and per-cluster scores (``G x H``) whose cross-products give the
covariance across subgroups when ``by=`` is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg

from clusterimpact.errors import DroppedRowsWarning, EstimationError, SpecificationError
from clusterimpact.kernels.demean import _dense_codes

__all__ = ["MethodFit", "Sample", "event_bins", "independent_columns", "prepare", "window"]


@dataclass(frozen=True, eq=False)
class Sample:
    """The estimation rows of one subgroup, as plain arrays.

    ``event`` is NaN for units never treated within the data; ``cohort`` is
    ``inf`` for them. ``fe`` holds the codes of the absorbed fixed effects
    (first: the unit-like set nested in the clusters; second: the period-like set)
    and ``fe_names`` their names (``("unit", "time")`` by default).
    """

    y: np.ndarray
    cov: np.ndarray
    w: np.ndarray | None
    fe: list[np.ndarray]
    cluster: np.ndarray
    n_clusters: int
    event: np.ndarray
    cohort: np.ndarray
    treated: np.ndarray
    unit: np.ndarray
    time: np.ndarray
    fe_names: tuple[str, ...] = ()
    survey: Any = None  # the Panel's SurveyDesign, for vcov="survey"
    psu: np.ndarray | None = None  # the Panel's cluster (PSU) code of each row, with a survey

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.y.size)

    def weights(self) -> np.ndarray:
        """Row weights (ones when unweighted)."""
        return np.ones(self.n) if self.w is None else self.w

    def subset(self, mask: np.ndarray) -> Sample:
        """The rows in ``mask`` (boolean, or row indices; cluster codes keep their global numbering)."""
        return Sample(self.y[mask], self.cov[mask], None if self.w is None else self.w[mask],
                      [f[mask] for f in self.fe], self.cluster[mask], self.n_clusters,
                      self.event[mask], self.cohort[mask], self.treated[mask], self.unit[mask],
                      self.time[mask], self.fe_names, self.survey,
                      None if self.psu is None else self.psu[mask])


@dataclass(frozen=True, eq=False)
class MethodFit:
    """Estimates by event time from one method on one subgroup.

    Attributes
    ----------
    event_time
        Event time of each estimate (binned endpoints carry the endpoint value).
    estimate, vcov
        Estimates and their covariance (NaN where not estimated jointly).
    dof
        Degrees of freedom of the t reference, or ``None`` for the normal.
    scores
        Per-cluster scores, shape ``(G, H)``, with ``scores.T @ scores``
        equal to the (post-period) covariance block; NaN columns where unavailable.
    mass
        Sum of weights of the rows behind each estimate (treated rows for
        post periods), used for the ``aggregate("simple")`` weights.
    info
        Method details (pre-trend block, cohort-level estimates, notes).
    """

    event_time: np.ndarray
    estimate: np.ndarray
    vcov: np.ndarray
    dof: float | None
    scores: np.ndarray
    mass: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def window(event: np.ndarray, leads: int | None, lags: int | None) -> tuple[float, float]:
    """The number of pre-periods ``L`` and post-periods ``R`` (defaults: all observed)."""
    finite = event[np.isfinite(event)]
    if finite.size == 0:
        raise EstimationError("No treated unit is observed: there are no event times.")
    n_pre = float(max(0.0, -finite.min()))
    n_post = float(max(0.0, finite.max()))
    for name, value in (("leads", leads), ("lags", lags)):
        if value is not None and (not np.isfinite(value) or value < 0):
            raise SpecificationError(f"{name} must be a non-negative number of periods, got {value!r}.")
    big_l = n_pre if leads is None else float(leads)
    big_r = n_post if lags is None else float(lags)
    return big_l, big_r


def event_bins(event: np.ndarray, big_l: float, big_r: float, reference: float | None,
               bin_endpoints: bool) -> tuple[np.ndarray, np.ndarray]:
    """Relative-time bin of each row and a mask of rows outside the window.

    Rows of never-treated units, and rows whose bin is the reference period,
    get NaN (no dummy). With ``bin_endpoints`` event times below ``-L`` join
    the bin ``-L`` (the reference group when ``L`` is 0 or ``-L`` is the
    reference) and those above ``R`` the bin ``R``; otherwise they are
    flagged in the returned mask.

    Examples
    --------
    >>> import numpy as np
    >>> b, out = event_bins(np.array([-3.0, -1, 0, 2, np.nan]), 2, 1, -1, True)
    >>> b.tolist(), out.tolist()
    ([-2.0, nan, 0.0, 1.0, nan], [True, False, False, True, False])
    """
    finite = np.isfinite(event)
    with np.errstate(invalid="ignore"):
        outside = finite & ((event < -big_l) | (event > big_r))
    if bin_endpoints:
        b = np.where(finite, np.clip(event, -big_l, big_r), np.nan)
        if big_l == 0:
            b[finite & (event < 0)] = np.nan
    else:
        b = np.where(finite & ~outside, event, np.nan)
    if reference is not None:
        b[b == reference] = np.nan
    return b, outside


def prepare(panel: Any, y: str, covariates: Sequence[str], fe: Sequence[str] | None,
            method: str) -> tuple[Sample, np.ndarray, dict[str, Any]]:
    """Validate columns and build the :class:`Sample` of all usable rows.

    Drops rows with a missing outcome, covariate or a zero weight, and the
    units treated in or before the first period (they have no untreated
    observation), with a :class:`~clusterimpact.errors.DroppedRowsWarning`.
    Returns the sample, the kept-row mask over the panel and counts.
    """
    from clusterimpact.estimators.twfe import _fe_codes

    outcome = np.asarray(panel.column(y, role="outcome"), dtype=float)
    cov_cols = [np.asarray(panel.column(c, role="covariate"), dtype=float) for c in covariates]
    w = np.asarray(panel.weights, dtype=float) if getattr(panel, "has_weights", False) else None
    fe_codes, fe_names = _fe_codes(panel, fe)
    if len(fe_codes) != 2:
        raise SpecificationError(
            f"event_study absorbs exactly two sets of fixed effects (unit-like, period-like); got "
            f"{fe_names}.")
    keep = np.isfinite(outcome)
    for col in cov_cols:
        keep &= np.isfinite(col)
    if w is not None:
        keep &= np.isfinite(w) & (w > 0)
    n_missing = int((~keep).sum())
    cohort = np.asarray(panel.cohort_value, dtype=float)
    always = cohort <= panel.period_values[0]
    n_always = int((keep & always).sum())
    keep &= ~always
    if n_missing:
        warnings.warn(f"event_study dropped {n_missing} row(s) with a missing outcome or covariate or "
                      "a zero weight.", DroppedRowsWarning, stacklevel=3)
    if n_always:
        warnings.warn(f"event_study dropped {n_always} row(s) of units treated in or before the first "
                      "period (always treated): they have no untreated observation.",
                      DroppedRowsWarning, stacklevel=3)
    if keep.sum() == 0:
        raise EstimationError("No usable rows remain after dropping missing values.")
    cluster = np.asarray(panel.cluster_code)
    cl = _recode(cluster[keep])
    event = np.asarray(panel.event_time, dtype=float)
    sample = Sample(
        y=outcome[keep],
        cov=np.column_stack(cov_cols)[keep] if cov_cols else np.zeros((int(keep.sum()), 0)),
        w=None if w is None else w[keep],
        fe=[_recode(f[keep]) for f in fe_codes],
        cluster=cl.astype(np.int64),
        n_clusters=int(cl.max()) + 1,
        event=event[keep],
        cohort=cohort[keep],
        treated=np.asarray(panel.treated)[keep],
        unit=np.asarray(panel.unit_code)[keep],
        time=np.asarray(panel.time_value, dtype=float)[keep],
        fe_names=tuple(fe_names),
        survey=panel.survey,
        psu=None if panel.survey is None else cluster[keep].astype(np.int64),
    )
    return sample, keep, {"n_dropped_missing": n_missing, "n_dropped_always_treated": n_always,
                          "fixed_effects": fe_names}


def _recode(codes: np.ndarray) -> np.ndarray:
    """Integer codes 0..L-1 in sorted order of ``codes`` (``np.unique``'s inverse, O(n) when dense)."""
    c = np.asarray(codes)
    out = _dense_codes(c) if c.dtype.kind in "iu" else np.unique(c, return_inverse=True)[1].ravel()
    return out.astype(np.int64, copy=False)


def independent_columns(gram: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Indices of a maximal set of linearly independent columns, from a Gram matrix.

    Columns are scanned in order (a pivoted Cholesky without reordering), so
    a later column that is a combination of earlier ones is the one dropped,
    as ``fixest`` does.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0, 1], [0, 1, 1], [1, 1, 2]])
    >>> independent_columns(x.T @ x).tolist()
    [0, 1]
    """
    k = gram.shape[0]
    keep: list[int] = []
    scale = np.sqrt(np.maximum(np.diag(gram), 0.0))
    for j in range(k):
        if scale[j] == 0:
            continue
        idx = [*keep, j]
        sub = gram[np.ix_(idx, idx)] / np.outer(scale[idx], scale[idx])
        if not keep:
            keep.append(j)
            continue
        a = sub[:-1, :-1]
        bvec = sub[:-1, -1]
        try:
            sol = linalg.solve(a, bvec, assume_a="pos")
        except (linalg.LinAlgError, ValueError):
            continue
        if 1.0 - bvec @ sol > tol:
            keep.append(j)
    return np.asarray(keep, dtype=np.int64)
