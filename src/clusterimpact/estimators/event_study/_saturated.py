"""Sun & Abraham's saturated regression in closed form, from (cluster, cohort, period) sums.

On a balanced panel with unit and period fixed effects, never-treated
controls, no covariates, no weights and one reference period per cohort,
the cohort x relative-time regression has an exact closed form: the period
effects are identified by the never-treated alone (each treated cohort has
one free unit effect per unit and one free cell per non-reference period),
so

.. math:: \\hat\\delta_{g,t} = (\\bar y_{g,t} - \\bar y_{g,r_g})
          - (\\bar y_{\\infty,t} - \\bar y_{\\infty,r_g}),

with :math:`r_g` the reference period of cohort :math:`g`. Writing
:math:`\\hat\\delta = \\sum_i a_i y_i`, the CR1 score of cluster :math:`c` is
:math:`M\\ddot X_c'e_c = \\sum_{i \\in c} a_i e_i`, and the regression
residuals of cohort :math:`g` are the two-way within residuals of that
cohort, so

.. math:: u_{c,(g,t)} = \\frac{S_{c,g,t} - S_{c,g,r_g}}{N_g}
          - \\frac{S_{c,\\infty,t} - S_{c,\\infty,r_g}}{N_\\infty},

with :math:`S_{c,h,t}` the sum over the rows of cohort :math:`h`, cluster
:math:`c` and period :math:`t` of :math:`y` centred at its (cohort, period)
mean. The covariance is CR1's :math:`\\frac{G}{G-1}\\frac{n-1}{n-K}U'U`
(same :math:`K`: cells plus the fixed-effect levels not nested in the
clusters), i.e. exactly the regression's, without any :math:`n \\times k`
matrix: the cost is a few :func:`numpy.bincount` passes over the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from clusterimpact.estimators.event_study._common import Sample
from clusterimpact.inference.vcov import warn_few_clusters
from clusterimpact.kernels.demean import _dense_codes, fe_redundancies, is_nested

__all__ = ["SaturatedFit", "saturated_cells"]

SaturatedFit = tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]


def saturated_cells(s: Sample, bins: np.ndarray, vcov: str) -> SaturatedFit | None:
    """The cohort x relative-time coefficients in closed form, or ``None`` if it does not apply.

    Applies to CR1, no covariates or weights, fixed effects ``("unit", "time")``,
    a balanced sample with never-treated units, and bins that give every
    treated cohort exactly one reference period and one cell per other period.

    Returns
    -------
    tuple or None
        ``(cells, delta, v_delta, scores, mass_cell, dof)``: the cells
        (``cohort, event_time``, sorted by event time then cohort), their
        coefficients, CR1 covariance, per-cluster scores (``G x cells``,
        scaled so that their cross-product is the covariance, as the registry's), row
        counts and the degrees of freedom :math:`G - 1`.
    """
    if (str(vcov).upper() != "CR1" or s.cov.shape[1] or s.w is not None
            or tuple(s.fe_names) != ("unit", "time") or not np.isfinite(s.cohort).any()
            or np.isfinite(s.cohort).all()):
        return None
    n = s.n
    u = _dense_codes(np.asarray(s.fe[0]))
    t = _dense_codes(np.asarray(s.fe[1]))
    n_u, n_t = int(u.max()) + 1, int(t.max()) + 1
    if n != n_u * n_t or np.bincount(u * n_t + t, minlength=n_u * n_t).max() != 1:
        return None                                        # not balanced
    unit_cohort = np.empty(n_u)
    unit_cohort[u] = s.cohort
    if not np.array_equal(unit_cohort[u], s.cohort):
        return None
    cohorts, unit_g = np.unique(unit_cohort, return_inverse=True)
    n_g = cohorts.size
    control = n_g - 1                                      # inf sorts last
    g_row = unit_g[u]
    key = g_row * n_t + t
    n_cells = n_g * n_t
    cell_bin = np.full(n_cells, np.nan)
    cell_bin[key] = bins
    if not np.array_equal(cell_bin[key], bins, equal_nan=True):
        return None                                        # bins vary within a (cohort, period)
    table = cell_bin.reshape(n_g, n_t)
    if np.isfinite(table[control]).any():
        return None
    refs = []
    for g in range(control):
        missing = np.flatnonzero(~np.isfinite(table[g]))
        finite = table[g][np.isfinite(table[g])]
        if missing.size != 1 or np.unique(finite).size != finite.size:
            return None                                    # pooled bins or no single reference
        refs.append(int(missing[0]))
    # the cells of the regression, in its order (event time, then cohort)
    gg, tt = np.nonzero(np.isfinite(table[:control]))
    ev = table[gg, tt]
    order = np.lexsort((cohorts[gg], ev))
    gg, tt, ev = gg[order], tt[order], ev[order]
    ref = np.asarray(refs, dtype=np.intp)[gg]
    units_g = np.bincount(unit_g, minlength=n_g).astype(float)
    count = np.bincount(key, minlength=n_cells).astype(float)
    mean = (np.bincount(key, weights=s.y, minlength=n_cells) / np.maximum(count, 1)).reshape(n_g, n_t)
    delta = (mean[gg, tt] - mean[gg, ref]) - (mean[control, tt] - mean[control, ref])
    # per-cluster sums of y centred at its (cohort, period) mean
    centred = s.y - mean.ravel()[key]
    g_all = s.n_clusters
    cl = np.asarray(s.cluster)
    if g_all * n_cells <= 4 * n + 4096:
        sums = np.bincount(cl * n_cells + key, weights=centred, minlength=g_all * n_cells)
        sums = sums.reshape(g_all, n_cells)
    else:
        sums = sparse.csr_matrix((centred, (cl, key)), shape=(g_all, n_cells))
    k = gg.size
    cols = np.arange(k)
    rows = np.concatenate([gg * n_t + tt, gg * n_t + ref, control * n_t + tt, control * n_t + ref])
    vals = np.concatenate([1.0 / units_g[gg], -1.0 / units_g[gg],
                           np.full(k, -1.0 / units_g[control]), np.full(k, 1.0 / units_g[control])])
    combine = sparse.csr_matrix((vals, (rows, np.tile(cols, 4))), shape=(n_cells, k))
    scores = np.asarray(sums @ combine) if isinstance(sums, np.ndarray) else (sums @ combine).toarray()
    # CR1 exactly as the registry computes it for the regression
    present = np.bincount(cl, minlength=g_all) > 0
    g = int(present.sum())
    if g < 2:  # no cluster-robust variance: the regression path raises the clear error
        return None
    warn_few_clusters(g, stacklevel=4)
    kept = [f for f in s.fe if not is_nested(f, cl)]
    if len(kept) == 1:
        fe_dof = int((np.bincount(_dense_codes(np.asarray(kept[0]))) > 0).sum())
    elif kept:
        fe_dof = int(sum(np.unique(f).size for f in kept)) - fe_redundancies(kept)
    else:
        fe_dof = 0
    small = (n - 1) / (n - (k + fe_dof))
    scores *= np.sqrt(small * g / (g - 1))
    v_delta = scores.T @ scores
    cells = pd.DataFrame({"cohort": cohorts[gg], "event_time": ev})
    mass_cell = count.reshape(n_g, n_t)[gg, tt]
    return cells, delta, v_delta, scores, mass_cell, float(g - 1)
