"""Regression event studies: dynamic TWFE and Sun & Abraham's interaction-weighted estimator.

Both regress the outcome on relative-time indicators with unit and period
fixed effects absorbed by :func:`clusterimpact.kernels.demean.demean`, and take
their covariance from the registry in :mod:`clusterimpact.inference.vcov`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import EstimationError, EstimationWarning, SpecificationError
from clusterimpact.estimators.event_study._common import MethodFit, Sample, independent_columns
from clusterimpact.estimators.event_study._saturated import saturated_cells
from clusterimpact.inference.vcov import VcovData, VcovEstimate, compute_vcov, satterthwaite_contrast
from clusterimpact.kernels.demean import demean
from clusterimpact.results.regression import _survey_vcov

__all__ = ["contrast_inference", "fit_dynamic_twfe", "fit_sun_abraham", "share_scores"]


def _design(y: np.ndarray, codes: np.ndarray, n_levels: int, cov: np.ndarray) -> np.ndarray:
    """``[y, indicators of codes (-1: none), cov]`` as one column-major matrix (no copies)."""
    n = y.size
    out = np.zeros((n, 1 + n_levels + cov.shape[1]), order="F")
    out[:, 0] = y
    rows = np.flatnonzero(codes >= 0)
    out[rows, 1 + codes[rows]] = 1.0
    out[:, 1 + n_levels:] = cov
    return out


def _ols_fe(s: Sample, yx: np.ndarray, vcov: str, tol: float, names: list[str],
            options: Mapping[str, Any] | None = None, cluster2: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, VcovEstimate, np.ndarray]:
    """Least squares of ``yx[:, 0]`` (the outcome) on ``yx[:, 1:]`` with the fixed effects absorbed.

    Returns the indices of the estimated (non-collinear) columns, their
    coefficients, the registry's :class:`VcovEstimate` and the residuals.
    ``cluster2`` (row codes) adds a second clustering dimension (two-way CR1).
    """
    scale = np.abs(yx[:, 1:]).max(axis=0, initial=0.0)  # before demeaning (yx is not modified)
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
    # a regressor the fixed effects absorb keeps only rounding noise relative to its size before
    # demeaning; the scaled Gram alone cannot tell that noise from signal
    noise = np.abs(xd).max(axis=0, initial=0.0) <= 1e-9 * scale
    if noise.any():
        gram = gram.copy()
        gram[noise, :] = 0.0
        gram[:, noise] = 0.0
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
    cluster = None if upper == "HC1" else (
        s.cluster if cluster2 is None else np.column_stack([s.cluster, cluster2]))
    if upper == "SURVEY":  # design-based (R svyglm): PSU totals of the scores, by stratum
        est = _survey_vcov(data, s.psu, s.survey, options or {})
    else:
        est = compute_vcov(upper, data, cluster, **dict(options or {}))
    return keep, coef, est, resid


def contrast_inference(est: VcovEstimate, agg: np.ndarray, columns: np.ndarray, cluster: np.ndarray,
                       n_clusters: int) -> tuple[np.ndarray, np.ndarray | float | None, np.ndarray]:
    """Covariance, degrees of freedom and per-cluster scores of ``agg @ coef[columns]``.

    Degrees of freedom: the registry's (``G - 1`` for CR1, ``n - K`` for HC1) or, for CR2
    and CR3, each contrast's own Bell-McCaffrey/Satterthwaite value
    (:func:`~clusterimpact.inference.vcov.satterthwaite_contrast`). Scores are ``G x H``
    with ``U'U`` equal to the covariance (NaN where the estimator has none: HC1, two-way).
    """
    full = np.zeros((agg.shape[0], est.cov.shape[0]))
    full[:, columns] = agg
    cov = full @ est.cov @ full.T
    if est.name in ("CR2", "CR3"):
        dof: np.ndarray | float | None = np.array([satterthwaite_contrast(est, c) for c in full])
    else:
        dof = float(est.df[0]) if np.isfinite(est.df[0]) else None
    if "scores" in est.details:
        # the registry numbers the clusters present in this regression 0..G-1 in sorted order
        scores = np.zeros((n_clusters, agg.shape[0]))
        scores[np.unique(cluster)] = est.details["scores"] @ full.T
    else:
        scores = np.full((n_clusters, agg.shape[0]), np.nan)
    return cov, dof, scores


def fit_dynamic_twfe(s: Sample, bins: np.ndarray, vcov: str, tol: float,
                     options: Mapping[str, Any] | None = None,
                     cluster2: np.ndarray | None = None) -> MethodFit:
    """Dynamic TWFE: ``y`` on one indicator per relative-time bin, unit and period FE.

    Never-treated rows and reference-period rows get no indicator.
    """
    labels = np.unique(bins[np.isfinite(bins)])
    if labels.size == 0:
        raise EstimationError("No relative-time indicator to estimate (check leads, lags, reference).")
    codes = np.where(np.isfinite(bins), np.searchsorted(labels, bins), -1)
    yx = _design(s.y, codes, labels.size, s.cov)
    names = [f"event_time::{e:g}" for e in labels] + [f"covariate {j}" for j in range(s.cov.shape[1])]
    keep, coef, est, _ = _ols_fe(s, yx, vcov, tol, names, options, cluster2)
    ev = np.flatnonzero(keep < labels.size)
    idx = keep[ev]
    cov, dof, scores = contrast_inference(est, np.eye(ev.size), ev, s.cluster, s.n_clusters)
    mass = np.bincount(codes[codes >= 0], weights=s.weights()[codes >= 0], minlength=labels.size)
    return MethodFit(labels[idx], coef[ev], cov, dof, scores, mass[idx],
                     {"covariates": coef[keep >= labels.size]})


def _cell_codes(s: Sample, bins: np.ndarray, control_cohort: float) -> tuple[pd.DataFrame, np.ndarray]:
    """The (cohort, relative time) cells sorted by event time then cohort, and each row's cell."""
    is_control = s.cohort == control_cohort
    cell_rows = np.isfinite(bins) & ~is_control
    if not cell_rows.any():
        raise EstimationError("No (cohort, relative time) cell to estimate.")
    pairs = pd.DataFrame({"cohort": s.cohort[cell_rows], "event_time": bins[cell_rows]})
    cells = pairs.drop_duplicates().sort_values(["event_time", "cohort"]).reset_index(drop=True)
    codes = np.full(s.n, -1, dtype=np.int64)
    codes[cell_rows] = pd.MultiIndex.from_frame(cells).get_indexer(pd.MultiIndex.from_frame(pairs))
    return cells, codes


def _sun_abraham_regression(s: Sample, codes: np.ndarray, n_cells: int, vcov: str, tol: float,
                            options: Mapping[str, Any] | None, cluster2: np.ndarray | None
                            ) -> tuple[np.ndarray, np.ndarray, VcovEstimate, np.ndarray]:
    """The saturated cohort x relative-time regression with the fixed effects absorbed."""
    yx = _design(s.y, codes, n_cells, s.cov)
    names = [f"cell {j}" for j in range(n_cells)] + [f"covariate {j}" for j in range(s.cov.shape[1])]
    keep, coef, est, _ = _ols_fe(s, yx, vcov, tol, names, options, cluster2)
    cols = np.flatnonzero(keep < n_cells)
    return keep[cols], coef[cols], est, cols


def share_scores(s: Sample, codes: np.ndarray, cell_event: np.ndarray, cell_delta: np.ndarray,
                 beta: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Per-cluster influence of the estimated cohort shares on the IW estimates, ``G x H``.

    :math:`\\hat\\beta_e = \\sum_g \\hat\\omega_{ge}\\hat\\delta_{ge}` with
    :math:`\\hat\\omega_{ge} = m_{ge}/m_e` (weight sums of the rows of cohort :math:`g` at
    relative time :math:`e`); the share part of cluster :math:`C`'s score is
    :math:`\\sum_g \\hat\\delta_{ge}(m_{C,ge} - \\hat\\omega_{ge}m_{C,e})/m_e =
    \\sum_{i \\in C,\\, e_i = e} w_i(\\hat\\delta_{g_ie} - \\hat\\beta_e)/m_e`.
    ``cell_event`` is each cell's position in ``beta`` (-1: not estimated) and
    ``cell_delta`` its coefficient.
    """
    w = s.weights()
    rows = np.flatnonzero(codes >= 0)
    pos = cell_event[codes[rows]]
    rows, pos = rows[pos >= 0], pos[pos >= 0]
    h = beta.size
    value = w[rows] * (cell_delta[codes[rows]] - beta[pos]) / mass[pos]
    out = np.bincount(s.cluster[rows] * h + pos, weights=value, minlength=s.n_clusters * h)
    return out.reshape(s.n_clusters, h)


def fit_sun_abraham(s: Sample, bins: np.ndarray, vcov: str, tol: float,
                    options: Mapping[str, Any] | None = None, cluster2: np.ndarray | None = None,
                    share_variance: bool = False) -> MethodFit:
    """Sun & Abraham (2021): cohort x relative-time indicators, aggregated by cohort shares.

    The control cohort is the never treated if any, otherwise the last
    treated cohort (with the periods from its treatment on dropped). On a
    balanced panel with never-treated units, no covariates or weights and
    default CR1, the regression is computed in closed form from cell sums
    (:func:`~clusterimpact.estimators.event_study._saturated.saturated_cells`;
    same coefficients and covariance); otherwise by absorbing the fixed
    effects from the dummy columns. With ``share_variance`` the covariance
    adds the estimation of the cohort shares (Sun & Abraham 2021,
    Proposition 6; :func:`share_scores`), the per-cluster share scores
    scaled by :math:`\\sqrt{G/(G-1)}`.
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
    plain = not options and cluster2 is None and str(vcov).upper() == "CR1"
    fast = saturated_cells(s, bins, vcov) if note is None and plain else None
    w = s.weights()
    if fast is not None:
        cells, delta, v_delta, s_delta, mass_cell, dof = fast
        kept_cells = np.arange(len(cells))
        _, codes = _cell_codes(s, bins, control_cohort)
    else:
        cells, codes = _cell_codes(s, bins, control_cohort)
        kept_cells, delta, est, cols = _sun_abraham_regression(s, codes, len(cells), vcov, tol,
                                                               options, cluster2)
        mass_cell = np.bincount(codes[codes >= 0], weights=w[codes >= 0],
                                minlength=len(cells))[kept_cells]
    cell_event = cells["event_time"].to_numpy()[kept_cells]
    labels = np.unique(cell_event)
    agg = np.zeros((labels.size, kept_cells.size))
    pos = np.searchsorted(labels, cell_event)
    agg[pos, np.arange(kept_cells.size)] = mass_cell
    mass = agg.sum(axis=1)
    agg /= mass[:, None]
    if fast is not None:
        cov, scores = agg @ v_delta @ agg.T, s_delta @ agg.T
    else:
        cov, dof, scores = contrast_inference(est, agg, cols, s.cluster, s.n_clusters)
        v_delta = est.cov[np.ix_(cols, cols)]
    beta = agg @ delta
    if share_variance:
        if not np.isfinite(scores).all():
            raise SpecificationError(
                "share_variance=True needs one-way clustered scores: use vcov 'CR1', 'CR2' or "
                "'CR3' without a second clustering dimension.")
        pos_of_cell = np.full(len(cells), -1, dtype=np.int64)
        pos_of_cell[kept_cells] = pos
        delta_of_cell = np.zeros(len(cells))
        delta_of_cell[kept_cells] = delta
        g = int(np.count_nonzero(np.bincount(s.cluster, minlength=s.n_clusters)))
        extra = share_scores(s, codes, pos_of_cell, delta_of_cell, beta, mass)
        scores = scores + np.sqrt(g / max(g - 1, 1)) * extra
        cov = scores.T @ scores
    table = cells.iloc[kept_cells].reset_index(drop=True)
    table["estimate"] = delta
    table["std_error"] = np.sqrt(np.maximum(np.diag(v_delta), 0.0))
    table["weight"] = agg[pos, np.arange(kept_cells.size)]
    table["n_obs"] = mass_cell
    info = {"cohort_effects": table, "control_cohort": control_cohort, "notes": [note] if note else []}
    return MethodFit(labels, beta, cov, dof, scores, mass, info)
