"""Unit-clustered ``att_gt`` from (subgroup, cohort) second moments reduced inside the engine.

With ``cluster = unit`` the block sums of :class:`~clusterimpact.engines.compress.CellStats`
are one row per unit: the unit-by-period matrix comes back to Python (1e7 units x 10
periods at 1e8 rows). This module needs only :math:`O(\\text{cohorts} \\times T^2)` numbers.

Why second moments suffice
--------------------------
For unit :math:`i` of subgroup-cohort code :math:`j` let
:math:`q_i = (w_i(d_{i1} - c_1), \\ldots, w_i(d_{i,T-1} - c_{T-1}), w_i)` with
:math:`d_{it} = y_{it} - y_{i,t-1}` and any fixed shifts :math:`c_t` (the
period-to-period changes of the overall outcome means, so that sums of
squares do not cancel). Every quantity ``att_gt`` and its aggregations put
in a unit's influence row is linear in :math:`q_i` with a map that depends
only on :math:`j`:

* the cell influence functions
  :math:`U_i = \\pm w_i(\\Delta_i - m_A)/S_A` (:math:`\\Delta_i` a long difference, a
  sum of the :math:`d_{it}`; the unit level :math:`y_{i0}` has coefficient 0),
* R ``did``'s ``wif`` of the aggregations, :math:`\\alpha_g w_i / \\sum_k W_{g_k}`.

The means :math:`m_A`, :math:`S_A`, the estimates and the aggregation weights
need the sums :math:`\\sum_{i\\in j} w_iy_{it}` and :math:`\\sum_{i\\in j} w_i`. The
variance of any estimate or aggregate is :math:`\\sum_i (a_j'q_i)^2 =
\\sum_j a_j' Q_j a_j` with :math:`Q_j = \\sum_{i\\in j} q_iq_i'`. So the engine
returns, per (subgroup, cohort), the sums and the :math:`T(T+1)/2` distinct
entries of :math:`Q_j`, in a second ``GROUP BY`` over the per-unit pass.

In Python, :math:`Q_j = R_j'R_j` (eigendecomposition, :math:`R_j` at most
:math:`T \\times T`) gives *pseudo-units*: rows with exactly the second moments of
the real units. The cell maps are computed from the true sums and applied to
the pseudo-units (in shifted coordinates, so that no large common level enters a
sum of squares); each pseudo-unit is its own influence row, so every
variance and covariance (cells, the four aggregations, subgroup comparisons)
equals the unit-level one up to rounding. What the pseudo-units do *not*
reproduce is the distribution of individual influence rows: the multiplier
bootstrap and the score wild bootstrap need the real rows, and ``LazyPanel``
takes the per-unit path for ``bootstrap=``.

Examples
--------
>>> import clusterimpact as ci
>>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
...                   cohort="first.treat")
>>> ms = lp.moment_stats("lemp")
>>> ms.moments.shape                      # 3 cohorts + never treated, T = 5
(4, 5, 5)
>>> round(float(ci.att_gt_from_moments(ms).aggregate("simple").std_error[0]), 4)
0.012
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.engines.compress import _group_codes, _time_labeller, _warn_drop
from clusterimpact.errors import SpecificationError
from clusterimpact.estimators.att_gt import (
    AttGtConfig,
    BasePeriod,
    ControlGroup,
    Method,
    _plan,
    _warn_cells,
    apply_cohort_rules,
)
from clusterimpact.kernels import cells as K
from clusterimpact.results.group_time import GroupTimeDesign, GroupTimeResult, build_result

__all__ = ["MomentStats", "att_gt_from_moments"]


@dataclass(frozen=True, eq=False)
class MomentStats:
    """Sums and second moments by (subgroup, cohort) of a unit-clustered balanced panel.

    Attributes
    ----------
    y, by, periods, cohort, groups, units, weight, ysum
        As in :class:`~clusterimpact.engines.compress.CellStats`, one row per
        (subgroup, cohort) instead of per block.
    moments : numpy.ndarray
        ``(H, T, T)``: :math:`\\sum_i q_iq_i'` with
        :math:`q_i = (w_i(d_{i1} - c_1), \\ldots, w_i(d_{i,T-1} - c_{T-1}), w_i)`.
    shift : numpy.ndarray
        The shifts :math:`c_t`, ``(T - 1,)``.
    cluster_name, time_integer, mean_weight, dropped_rows, dropped_units, n_rows, engine
        As in :class:`~clusterimpact.engines.compress.CellStats`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ms = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...                   cohort="first.treat").moment_stats("lemp")
    >>> ms.units.tolist(), ms.n_blocks
    ([20, 40, 131, 309], 4)
    """

    y: str
    by: tuple[str, ...]
    periods: np.ndarray
    cohort: np.ndarray
    groups: pd.DataFrame
    units: np.ndarray
    weight: np.ndarray
    ysum: np.ndarray
    moments: np.ndarray
    shift: np.ndarray
    cluster_name: str
    time_integer: bool = True
    mean_weight: float = 1.0
    dropped_rows: int = 0
    dropped_units: int = 0
    n_rows: int = 0
    engine: str = ""
    group_labels: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_blocks(self) -> int:
        """Number of (subgroup, cohort) rows.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").moment_stats("lemp").n_blocks
        4
        """
        return int(self.cohort.size)


@dataclass(frozen=True, eq=False)
class _MomentDesign(GroupTimeDesign):
    """A design whose influence rows are pseudo-units: the weight table comes from the true sums."""

    totals: np.ndarray | None = None

    def weight_table(self) -> np.ndarray:
        return self.totals


def moment_factor(moments: np.ndarray) -> np.ndarray:
    """Rows ``R`` (at most ``d x d``) with ``R'R`` equal to a ``d x d`` moment matrix.

    Eigenvalues below ``1e-15 d`` times the largest (rounding noise of a
    positive semi-definite sum) are left out.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> r = moment_factor(q.T @ q)
    >>> bool(np.allclose(r.T @ r, q.T @ q))
    True
    """
    vals, vecs = np.linalg.eigh(moments)
    top = vals.max(initial=0.0)
    ok = vals > top * 1e-15 * moments.shape[0]
    return (vecs[:, ok] * np.sqrt(vals[ok])).T


def _pseudo_rows(q: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Pseudo-unit rows ``[Y'_0, ..., Y'_{T'-1}, w]`` over the kept periods whose second
    moments are those of the real units' shifted levels :math:`Y'_t = w(y_t - y_0 - C_t)`
    (``q``: the moments of :math:`(w(d_s - c_s), w)`; :math:`C_t` the cumulative shift)."""
    n_diff = q.shape[0] - 1
    # kept-period changes are sums of consecutive ones: d'_j = sum_{s in (p_{j-1}, p_j]} d_s
    pos = np.flatnonzero(keep)
    lmap = np.zeros((pos.size, q.shape[0]))  # rows: [q'_1..q'_{T'-1}, w]
    for j in range(1, pos.size):
        lmap[j - 1, pos[j - 1]:pos[j]] = 1.0
    lmap[-1, n_diff] = 1.0
    rows = moment_factor(lmap @ q @ lmap.T)                    # (r, T') with rows'rows = moments
    out = np.zeros((rows.shape[0], pos.size + 1))
    out[:, 1:pos.size] = np.cumsum(rows[:, :-1], axis=1)       # Y'_0 = 0: its coefficient is 0
    out[:, -1] = rows[:, -1]
    return out


def att_gt_from_moments(
    stats: MomentStats,
    *,
    control: ControlGroup = "never_treated",
    method: Method = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    alpha: float = 0.05,
    **options: Any,
) -> GroupTimeResult:
    """``ci.att_gt`` without covariates, clustered by unit, from :class:`MomentStats`.

    Parameters
    ----------
    stats
        From :meth:`clusterimpact.LazyPanel.moment_stats`.
    control, method, anticipation, base_period, alpha
        As in :func:`clusterimpact.att_gt` (no bootstrap: see the module notes).
    **options
        Further options of :class:`~clusterimpact.estimators.att_gt.AttGtConfig`
        understood by this version of ``att_gt`` (e.g. ``last_cohort_as_control``).

    Returns
    -------
    GroupTimeResult
        Estimates, standard errors and aggregations of ``ci.att_gt`` clustered
        by unit; its influence rows are pseudo-units (same second moments).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> res = ci.att_gt_from_moments(lp.moment_stats("lemp"))
    >>> res.tidy()[["cohort", "time", "estimate", "std_error"]].head(2).round(4)
       cohort  time  estimate  std_error
    0    2004  2004   -0.0105     0.0233
    1    2004  2005   -0.0704     0.0310
    """
    from dataclasses import replace

    cfg = AttGtConfig.make(stats.y, None, control, method, anticipation, base_period, None,
                           alpha, stats.by)
    if options:
        cfg = replace(cfg, **options)
    if stats.dropped_rows:
        _warn_drop(f"Dropped {stats.dropped_rows} row(s) with missing outcome or covariates.")
    if stats.dropped_units:
        _warn_drop(f"{stats.dropped_units} unit(s) are not observed in every period; dropped to "
                   "balance the panel, as R did does by default.")
    periods = np.asarray(stats.periods, dtype=float)
    cohort = np.asarray(stats.cohort, dtype=float).copy()
    units = np.asarray(stats.units, dtype=np.int64)
    keep = units > 0
    if not keep.any():
        raise SpecificationError("No units left after dropping incomplete and first-period "
                                 "treated units.")
    cohort, keep, period_keep, exclude_latest = apply_cohort_rules(
        cohort, keep, periods, np.ones(periods.size, dtype=bool), cfg, counts=units)
    tvals = periods[period_keep]
    cvals = np.unique(cohort[keep & np.isfinite(cohort)])
    n_coh = cvals.size + 1
    row_cidx = np.searchsorted(cvals, cohort)
    eligible = cvals > tvals[0] + cfg.anticipation
    if exclude_latest is not None:
        eligible &= cvals != exclude_latest
    row_group, group_labels = _group_codes(stats)
    n_groups = len(group_labels)
    n_cg = n_groups * n_coh
    row_cg = np.where(keep, row_group * n_coh + row_cidx, -1)
    present = np.bincount(row_cg[keep], weights=units[keep], minlength=n_cg).reshape(n_groups, n_coh)
    glists = [np.flatnonzero(eligible & (present[s, :-1] > 0)) for s in range(n_groups)]
    if not any(g.size for g in glists):
        raise SpecificationError("No treated cohort has a pre-treatment period in the data.")
    plan = _plan(tvals, cvals, glists, cfg)

    # true sums per subgroup-cohort code (one block each) and pseudo-units per code
    mw = stats.mean_weight
    kept = np.flatnonzero(keep)
    n_t = tvals.size
    ysum = np.zeros((n_cg, n_t))
    np.add.at(ysum, row_cg[kept], stats.ysum[kept][:, period_keep] / mw)
    wsum = np.bincount(row_cg[kept], weights=stats.weight[kept] / mw, minlength=n_cg)
    cg_units = np.bincount(row_cg[kept], weights=units[kept], minlength=n_cg).astype(np.int64)
    qsum = np.zeros((n_cg, *stats.moments.shape[1:]))
    np.add.at(qsum, row_cg[kept], stats.moments[kept] / mw**2)
    codes = np.flatnonzero(cg_units > 0)
    pseudo = [_pseudo_rows(qsum[j], period_keep) for j in codes]
    counts = np.zeros(n_cg, dtype=np.int64)
    counts[codes] = [p.shape[0] for p in pseudo]
    table = np.ascontiguousarray(np.vstack(pseudo))
    m = table.shape[0]
    cg_start = np.r_[0, np.cumsum(counts)]
    totals = K.BlockLayout(np.arange(codes.size), np.arange(codes.size), codes,
                           np.r_[0, np.cumsum(cg_units > 0)])
    cells = K.panel_cell_factors(ysum[codes], wsum[codes], totals, plan, n_coh, cg_units, scale=m)
    # the maps act on [wY, w]; on the shifted levels wY' = wY - w C (C: cumulative shift of the
    # kept periods from the first) the weight row absorbs C: M'_w = M_w + C M_Y. The few
    # pseudo-rows are multiplied out (dense): their signs make BlockInfluence's centring unsafe.
    cum = np.r_[0.0, np.cumsum(stats.shift)][period_keep]
    cum -= cum[0]
    mats = cells.influence.mats.copy()
    mats[:, n_t] += np.einsum("t,jtk->jk", cum, mats[:, :n_t])
    infl = np.zeros((m, mats.shape[2]))
    for j in codes:
        infl[cg_start[j]:cg_start[j + 1]] = table[cg_start[j]:cg_start[j + 1]] @ mats[j]
    block_cg = np.repeat(np.arange(n_cg), counts)
    n_kept = int(units[kept].sum())
    design = _MomentDesign(
        cell_group=plan.group, cell_cohort=plan.cohort, cell_time=plan.time,
        cohort_value=cvals[plan.cohort], time_value=tvals[plan.time],
        block_row=np.arange(m), block_cg=block_cg, block_weight=table[:, -1],
        n_cohorts=n_coh, cohort_values=cvals, period_values=tvals,
        group_labels=group_labels, by=list(cfg.by),
        n_units_by_group=np.bincount(row_group[keep], weights=units[keep],
                                     minlength=n_groups).astype(np.int64),
        row_cluster=np.arange(m), bootstrap=None, boot_weights=cfg.boot_weights,
        boot_seed=None, time_labels=_time_labeller(stats.time_integer),
        totals=wsum.reshape(n_groups, n_coh))
    _warn_cells(design, cells.reason, cells.att)
    info: dict[str, Any] = {
        "estimator": "Callaway-Sant'Anna ATT(g,t)", "outcome": cfg.y,
        "n_obs": n_kept * n_t, "n_units": n_kept, "n_clusters": n_kept, "control": cfg.control,
        "method": "no covariates", "covariates": [], "anticipation": cfg.anticipation,
        "base_period": cfg.base_period,
        "vcov_type": f"analytic (influence function), clustered by {stats.cluster_name}",
        "by": list(cfg.by), "panel": True,
        "engine": f"compressed ({stats.engine}): {stats.n_rows} rows -> {stats.n_blocks} "
                  f"(subgroup, cohort) moment tables, {m} pseudo-units",
        # the influence rows reproduce every variance and covariance, not the units themselves
        "influence_rows": "pseudo-units",
    }
    return build_result(design, cells, infl, cfg.alpha, info, None)
