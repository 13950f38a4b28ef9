"""Regression event studies: dynamic TWFE and Sun & Abraham's interaction-weighted estimator.

Both regress the outcome on relative-time indicators with unit and period
fixed effects absorbed by :func:`clusterimpact.kernels.demean.demean`, and take
their covariance from the registry in :mod:`clusterimpact.inference.vcov`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning
from clusterimpact.estimators.event_study._common import MethodFit, Sample, independent_columns
from clusterimpact.estimators.event_study._saturated import saturated_cells
from clusterimpact.inference.vcov import VcovData, compute_vcov
from clusterimpact.kernels.demean import demean

__all__ = ["fit_dynamic_twfe", "fit_sun_abraham"]


def _design(y: np.ndarray, codes: np.ndarray, n_levels: int, cov: np.ndarray) -> np.ndarray:
    """``[y, indicators of codes (-1: none), cov]`` as one column-major matrix (no copies)."""
    n = y.size
    out = np.zeros((n, 1 + n_levels + cov.shape[1]), order="F")
    out[:, 0] = y
    rows = np.flatnonzero(codes >= 0)
    out[rows, 1 + codes[rows]] = 1.0
    out[:, 1 + n_levels:] = cov
    return out


def _ols_fe(s: Sample, yx: np.ndarray, vcov: str, tol: float, names: list[str]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None, np.ndarray]:
    """Least squares of ``yx[:, 0]`` (the outcome) on ``yx[:, 1:]`` with the fixed effects absorbed.

    Returns the indices of the estimated (non-collinear) columns, their
    coefficients, covariance, per-cluster scores (``G x k``, CR1-scaled),
    degrees of freedom and residuals.
    """
    absorbed = demean(yx, s.fe, s.w, tol=tol)
    if not absorbed.converged:
        warnings.warn("Fixed-effect absorption did not converge; estimates may be inaccurate.",
                      EstimationWarning, stacklevel=4)
    yd, xd = absorbed.values[:, 0], absorbed.values[:, 1:]
    k = xd.shape[1]
    if s.w is None:
        xs, ys = xd, yd
    else:
        root = np.sqrt(s.w)
        xs, ys = xd * root[:, None], yd * root
    gram = xs.T @ xs
    keep = independent_columns(gram)
    if keep.size == 0:
        raise EstimationError("Every relative-time indicator is collinear with the fixed effects.")
    full = keep.size == k
    if not full:
        dropped = [names[j] for j in range(k) if j not in set(keep.tolist())]
        warnings.warn(f"{len(dropped)} regressor(s) collinear with the fixed effects and earlier "
                      f"regressors were dropped: {', '.join(dropped[:8])}"
                      f"{' ...' if len(dropped) > 8 else ''}.", EstimationWarning, stacklevel=4)
    xk = xd if full else xd[:, keep]
    bread = np.linalg.inv(gram[np.ix_(keep, keep)])
    coef = bread @ ((xs if full else xs[:, keep]).T @ ys)
    resid = yd - xk @ coef
    data = VcovData(xk, resid, s.w, bread, tuple(s.fe))
    upper = str(vcov).upper()
    est = compute_vcov(upper, data, None if upper == "HC1" else s.cluster)
    g = s.n_clusters
    we = resid if s.w is None else s.w * resid
    scores = np.column_stack([np.bincount(s.cluster, weights=xk[:, j] * we, minlength=g)
                              for j in range(xk.shape[1])]) @ bread
    scores *= np.sqrt(g / max(g - 1, 1))
    dof = float(est.df[0]) if np.isfinite(est.df[0]) else None
    return keep, coef, est.cov, scores, dof, resid


def fit_dynamic_twfe(s: Sample, bins: np.ndarray, vcov: str, tol: float) -> MethodFit:
    """Dynamic TWFE: ``y`` on one indicator per relative-time bin, unit and period FE.

    Never-treated rows and reference-period rows get no indicator.
    """
    labels = np.unique(bins[np.isfinite(bins)])
    if labels.size == 0:
        raise EstimationError("No relative-time indicator to estimate (check leads, lags, reference).")
    codes = np.where(np.isfinite(bins), np.searchsorted(labels, bins), -1)
    yx = _design(s.y, codes, labels.size, s.cov)
    names = [f"event_time::{e:g}" for e in labels] + [f"covariate {j}" for j in range(s.cov.shape[1])]
    keep, coef, cov, scores, dof, _ = _ols_fe(s, yx, vcov, tol, names)
    ev = keep < labels.size
    idx = keep[ev]
    mass = np.bincount(codes[codes >= 0], weights=s.weights()[codes >= 0], minlength=labels.size)
    return MethodFit(labels[idx], coef[ev], cov[np.ix_(ev, ev)], dof, scores[:, ev], mass[idx],
                     {"covariates": coef[~ev]})


def _sun_abraham_regression(s: Sample, bins: np.ndarray, vcov: str, tol: float,
                            control_cohort: float) -> tuple:
    """The saturated cohort x relative-time regression with the fixed effects absorbed."""
    is_control = s.cohort == control_cohort
    cell_rows = np.isfinite(bins) & ~is_control
    if not cell_rows.any():
        raise EstimationError("No (cohort, relative time) cell to estimate.")
    pairs = pd.DataFrame({"cohort": s.cohort[cell_rows], "event_time": bins[cell_rows]})
    cells = pairs.drop_duplicates().sort_values(["event_time", "cohort"]).reset_index(drop=True)
    cell_index = pd.MultiIndex.from_frame(cells)
    codes = np.full(s.n, -1, dtype=np.int64)
    codes[cell_rows] = cell_index.get_indexer(pd.MultiIndex.from_frame(pairs))
    n_cells = len(cells)
    yx = _design(s.y, codes, n_cells, s.cov)
    names = [f"cohort {g:g} x event_time {e:g}" for g, e in cells.itertuples(index=False)]
    names += [f"covariate {j}" for j in range(s.cov.shape[1])]
    keep, coef, cov, scores, dof, _ = _ols_fe(s, yx, vcov, tol, names)
    ev = keep < n_cells
    kept_cells = keep[ev]
    w = s.weights()
    mass_cell = np.bincount(codes[codes >= 0], weights=w[codes >= 0], minlength=n_cells)[kept_cells]
    return cells, kept_cells, coef[ev], cov[np.ix_(ev, ev)], scores[:, ev], mass_cell, dof


def fit_sun_abraham(s: Sample, bins: np.ndarray, vcov: str, tol: float) -> MethodFit:
    """Sun & Abraham (2021): cohort x relative-time indicators, aggregated by cohort shares.

    The control cohort is the never treated if any, otherwise the last
    treated cohort (with the periods from its treatment on dropped). On a
    balanced panel with never-treated units, no covariates or weights and
    CR1, the regression is computed in closed form from cell sums
    (:func:`~clusterimpact.estimators.event_study._saturated.saturated_cells`;
    same coefficients and covariance); otherwise by absorbing the fixed
    effects from the dummy columns.
    """
    never = ~np.isfinite(s.cohort)
    note = None
    if never.any():
        control_cohort = np.inf
    else:
        control_cohort = float(np.max(s.cohort))
        keep_rows = s.time < control_cohort
        note = (f"No never-treated units: the last treated cohort ({control_cohort:g}) is the control "
                f"and the {int((~keep_rows).sum())} row(s) from its first treated period on are dropped.")
        s = s.subset(keep_rows)
        bins = bins[keep_rows]
    fast = saturated_cells(s, bins, vcov) if note is None else None
    if fast is not None:
        cells, delta, v_delta, s_delta, mass_cell, dof = fast
        kept_cells = np.arange(len(cells))
    else:
        cells, kept_cells, delta, v_delta, s_delta, mass_cell, dof = _sun_abraham_regression(
            s, bins, vcov, tol, control_cohort)
    cell_event = cells["event_time"].to_numpy()[kept_cells]
    labels = np.unique(cell_event)
    agg = np.zeros((labels.size, kept_cells.size))
    pos = np.searchsorted(labels, cell_event)
    agg[pos, np.arange(kept_cells.size)] = mass_cell
    mass = agg.sum(axis=1)
    agg /= mass[:, None]
    table = cells.iloc[kept_cells].reset_index(drop=True)
    table["estimate"] = delta
    table["std_error"] = np.sqrt(np.maximum(np.diag(v_delta), 0.0))
    table["weight"] = agg[pos, np.arange(kept_cells.size)]
    table["n_obs"] = mass_cell
    info = {"cohort_effects": table, "control_cohort": control_cohort, "notes": [note] if note else []}
    return MethodFit(labels, agg @ delta, agg @ v_delta @ agg.T, dof, s_delta @ agg.T, mass, info)
