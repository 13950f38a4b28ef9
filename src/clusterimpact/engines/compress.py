"""Exact compression of a panel to sufficient statistics, and ``att_gt`` from them.

What is exactly compressible
----------------------------
Write a *block* for the units sharing a (subgroup, cohort, cluster), :math:`B`
for the number of blocks and :math:`T` for the number of periods.

**Callaway-Sant'Anna without covariates, panel data** (``ci.att_gt(panel, y)``
with any ``control``, ``anticipation``, ``base_period`` and ``by``). For cell
:math:`(g,t)` with base period :math:`b`, treated set :math:`G` and comparison
set :math:`C`, :math:`\\widehat{ATT} = m_G - m_C` with
:math:`m_A = \\sum_{i\\in A} w_i(Y_{it}-Y_{ib}) / \\sum_{i\\in A} w_i`, and unit
:math:`i`'s sum-scale influence function is
:math:`U_i = \\pm w_i(\\Delta_i - m_A)/S_A` (see
:func:`clusterimpact.kernels.cells.panel_cells`). Everything the estimator,
its variance and its aggregations use is

* the estimate: block sums :math:`\\sum w_i Y_{it}` and :math:`\\sum w_i`, added
  over the blocks of a cohort;
* the cluster-robust variance :math:`\\sum_c(\\sum_{i\\in c}U_i)^2`: the cluster
  sum :math:`\\sum_{i\\in c}U_i` is, block by block, the same linear map of
  :math:`(\\sum_{i\\in\\text{block}} w_iY_{i\\cdot}, \\sum_{i\\in\\text{block}} w_i)`
  (the means and totals are common to the block), so block sums suffice and
  no sum of squares or cross-product of outcomes is needed;
* aggregations (``simple``, ``group``, ``calendar``, ``dynamic``, ``by``
  comparisons): linear combinations of the cluster rows plus R ``did``'s
  ``wif``, which needs the weight of each (cluster, subgroup, cohort) -- again
  a block sum;
* the clustered multiplier bootstrap: one draw per cluster row, so it is
  reproduced draw for draw with the same seed.

Hence the table of :class:`CellStats` -- per block: units, :math:`\\sum w_i` and
the :math:`T` sums :math:`\\sum w_iY_{it}` -- is *sufficient*, and results agree
with the row-level ``ci.att_gt`` to rounding (1e-12 in the tests) when the
standard errors are clustered on the panel's cluster. It has at most
``subgroups x cohorts x clusters`` rows, whatever the number of workers.
When the cluster is the unit (the default), a block is a unit and the table is
the unit-by-period outcome matrix: one row per unit with its :math:`T`
outcomes, a :math:`T`-fold reduction of the rows (and of the columns to
:math:`T + 2`).

Unbalanced panels and missing outcomes are handled before compression, as
``att_gt`` does (R ``did``'s default): only units observed in every period
with an outcome are kept, which needs a per-unit pass (a ``GROUP BY unit``
pushed down to the engine) before the per-block one. Balanced panels with a
cohort column and no ``by``/weights compress in a single ``GROUP BY`` pass.

**Analytic SEs clustered more finely than the blocks** (e.g. by unit while
compressing by cluster) are *also* exactly compressible, though not
implemented: :math:`\\sum_i U_iU_i'` is a quadratic form in
:math:`z_i=(w_iY_{i1},\\dots,w_iY_{iT},w_i)`, so it needs the Gram matrices
:math:`\\sum_{i\\in\\text{block}} z_iz_i'` (the outcome cross-products
:math:`\\sum w_i^2Y_{is}Y_{it}`, :math:`T(T+1)/2` more sums per block). The
multiplier bootstrap at that level is not: it needs one row per unit.

**Not exactly compressible below one row per unit**: ``att_gt`` with
covariates (each 2x2 cell fits a propensity score / outcome regression on
unit-level covariates); repeated cross-sections are compressible to
(subgroup, cohort, period, cluster) sums (:func:`clusterimpact.kernels.cells.rc_cells`)
but not implemented here; TWFE (``ci.twfe``) with unit and time fixed effects
on a *balanced* panel is compressible for the coefficient and CR1/CR2 SEs
clustered on a coarser cluster: by Frisch-Waugh-Lovell, the two-way demeaned
treatment :math:`\\ddot D_{it}` depends on the cohort and period only,
:math:`\\hat\\beta = \\sum_{g,t}\\ddot D_{gt}S_{gt} / \\sum_{g,t} n_g\\ddot D_{gt}^2` with
:math:`S_{gt}` the cohort-period outcome sums, and each cluster's score
:math:`\\sum_{i\\in c,t}\\ddot D_{g_it}\\hat e_{it}` needs the (cluster, cohort,
period) sums and the period means only (:math:`\\sum_t\\ddot D_{gt}=0` removes
the unit means); HC1 (and unit-clustered) variances need per-unit sums of
squares, and unbalanced TWFE needs the iterative demeaning on unit rows.
These are not implemented here.

Examples
--------
>>> import clusterimpact as ci
>>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
...                   cohort="first.treat")
>>> stats = lp.cell_stats("lemp")
>>> stats.ysum.shape          # one row per county (cluster = unit), 5 periods
(500, 5)
>>> res = ci.att_gt_from_stats(stats)
>>> round(float(res.aggregate("simple").estimate[0]), 4)
-0.04
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import DroppedRowsWarning, SpecificationError
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

__all__ = ["CellStats", "att_gt_from_stats"]


@dataclass(frozen=True, eq=False)
class CellStats:
    """Sufficient statistics of a panel for no-covariate ``att_gt``: sums by block.

    A block is the set of units sharing a (subgroup, cohort, cluster). Only
    units observed with an outcome in every period of :attr:`periods` are
    included (the balanced estimation sample of ``att_gt``).

    Attributes
    ----------
    y : str
        Outcome column.
    by : tuple of str
        Subgroup columns (empty for none).
    periods : numpy.ndarray
        Sorted period values with an observed outcome, ``(T,)``.
    cohort : numpy.ndarray
        First treated period of each block (``inf``: never treated), ``(B,)``.
    cluster : numpy.ndarray
        Cluster label of each block, ``(B,)``.
    groups : pandas.DataFrame
        Subgroup labels of each block (one column per ``by`` variable).
    units : numpy.ndarray
        Units in each block.
    weight : numpy.ndarray
        Sum of unit weights in each block (``units`` when unweighted).
    ysum : numpy.ndarray
        ``(B, T)`` sums of weight times outcome.
    cluster_name : str
        Name of the clustering variable (for the result's description).
    time_integer : bool
        Whether periods are integers (labels are then printed as integers).
    mean_weight : float
        Mean unit weight over all units of the data (``att_gt`` scales weights by it).
    dropped_rows, dropped_units : int
        Rows without an outcome, and units with some but not all periods, left out.
    n_rows : int
        Rows of the data that were compressed.
    engine : str
        Where the aggregation ran (``"narwhals"``, ``"duckdb"``, ``"spark"``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> st = ci.LazyPanel(df, unit="countyreal", time="year", cohort="first.treat"
    ...                   ).cell_stats("lemp")
    >>> int(st.units.sum()), st.periods.tolist()
    (500, [2003.0, 2004.0, 2005.0, 2006.0, 2007.0])
    """

    y: str
    by: tuple[str, ...]
    periods: np.ndarray
    cohort: np.ndarray
    cluster: np.ndarray
    groups: pd.DataFrame
    units: np.ndarray
    weight: np.ndarray
    ysum: np.ndarray
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
        """Number of (subgroup, cohort, cluster) blocks.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> ci.LazyPanel(mpdta, unit="countyreal", time="year",
        ...              cohort="first.treat", cluster="state").cell_stats("lemp").n_blocks
        29
        """
        return int(self.cohort.size)

    def to_frame(self) -> pd.DataFrame:
        """The blocks as a tidy table: by columns, ``cohort, cluster, units, weight`` and
        one ``ysum_<period>`` column per period.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> st = ci.LazyPanel(mpdta, unit="countyreal", time="year",
        ...                   cohort="first.treat", cluster="state").cell_stats("lemp")
        >>> list(st.to_frame().columns)[:4]
        ['cohort', 'cluster', 'units', 'weight']
        """
        out = self.groups.reset_index(drop=True).copy()
        out["cohort"] = self.cohort
        out["cluster"] = self.cluster
        out["units"] = self.units
        out["weight"] = self.weight
        labels = self.periods.astype(np.int64) if self.time_integer else self.periods
        for j, p in enumerate(labels):
            out[f"ysum_{p}"] = self.ysum[:, j]
        return out

    def merge(self, other: CellStats) -> CellStats:
        """Add the statistics of another, disjoint set of units (e.g. another file or partition).

        Both must share the outcome, subgroups and periods; blocks with the same
        (subgroup, cohort, cluster) are summed.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> df = mpdta
        >>> roles = dict(unit="countyreal", time="year", cohort="first.treat", cluster="state")
        >>> a = ci.LazyPanel(df[df.countyreal < 30000], **roles).cell_stats("lemp")
        >>> b = ci.LazyPanel(df[df.countyreal >= 30000], **roles).cell_stats("lemp")
        >>> int(a.merge(b).units.sum())
        500
        """
        if (self.y, self.by) != (other.y, other.by) or not np.array_equal(self.periods,
                                                                          other.periods):
            raise SpecificationError("Only statistics of the same outcome, subgroups and periods "
                                     "can be merged.")
        keys = pd.concat([self.groups, other.groups], ignore_index=True)
        keys["__cohort"] = np.r_[self.cohort, other.cohort]
        keys["__cluster"] = np.r_[self.cluster, other.cluster]
        code = keys.groupby(list(keys.columns), sort=True, observed=True).ngroup().to_numpy()
        n = int(code.max()) + 1
        first = np.unique(code, return_index=True)[1]
        ysum = np.zeros((n, self.periods.size))
        np.add.at(ysum, code, np.vstack([self.ysum, other.ysum]))
        units = np.bincount(code, weights=np.r_[self.units, other.units], minlength=n)
        weight = np.bincount(code, weights=np.r_[self.weight, other.weight], minlength=n)
        n_self, n_other = int(self.units.sum()), int(other.units.sum())
        total = self.mean_weight * n_self + other.mean_weight * n_other
        labels = None
        if self.group_labels is not None and other.group_labels is not None:
            labels = pd.concat([self.group_labels, other.group_labels]).drop_duplicates()
        return CellStats(
            y=self.y, by=self.by, periods=self.periods, cohort=keys["__cohort"].to_numpy()[first],
            cluster=keys["__cluster"].to_numpy()[first],
            groups=keys[list(self.by)].iloc[first].reset_index(drop=True),
            units=units.astype(np.int64), weight=weight, ysum=ysum,
            cluster_name=self.cluster_name, time_integer=self.time_integer,
            mean_weight=total / max(n_self + n_other, 1),
            dropped_rows=self.dropped_rows + other.dropped_rows,
            dropped_units=self.dropped_units + other.dropped_units,
            n_rows=self.n_rows + other.n_rows, engine=self.engine, group_labels=labels)


def _warn_drop(message: str) -> None:
    warnings.warn(message, DroppedRowsWarning, stacklevel=4)


def att_gt_from_stats(
    stats: CellStats,
    *,
    control: ControlGroup = "never_treated",
    method: Method = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    bootstrap: int | None = None,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
    last_cohort_as_control: bool = False,
) -> GroupTimeResult:
    """``ci.att_gt`` without covariates, computed from compressed :class:`CellStats`.

    Parameters
    ----------
    stats
        Block sums from :meth:`clusterimpact.LazyPanel.cell_stats` (the
        outcome and ``by`` subgroups are those of the statistics).
    control, method, anticipation, base_period, bootstrap, alpha, seed, last_cohort_as_control
        As in :func:`clusterimpact.att_gt`. Without covariates the three
        ``method`` values coincide.

    Returns
    -------
    GroupTimeResult
        The same result as ``ci.att_gt`` on the rows the statistics came from
        (estimates, analytic or bootstrap standard errors clustered on the
        panel's cluster, aggregations, pre-test, subgroup comparisons).

    Notes
    -----
    The planning (cells, comparison groups, R ``did``'s sample rules for no
    never-treated units and units treated in the first period) is that of
    :func:`clusterimpact.att_gt`, applied to blocks instead of units; the
    cells and influence functions come from
    :func:`clusterimpact.kernels.cells.panel_cells` on the block sums. See the
    module docstring for why the block sums are sufficient.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
    >>> lp = ci.LazyPanel(mpdta, unit="countyreal", time="year",
    ...                   cohort="first.treat", cluster="state")
    >>> res = ci.att_gt_from_stats(lp.cell_stats("lemp"))
    >>> res.tidy()[["cohort", "time", "estimate"]].head(2).round(4)
       cohort  time  estimate
    0    2004  2004   -0.0105
    1    2004  2005   -0.0704
    """
    cfg = AttGtConfig.make(stats.y, None, control, method, anticipation, base_period, bootstrap,
                           alpha, stats.by)
    cfg = replace(cfg, last_cohort_as_control=bool(last_cohort_as_control))
    if stats.dropped_rows:
        _warn_drop(f"Dropped {stats.dropped_rows} row(s) with missing outcome or covariates.")
    if stats.dropped_units:
        _warn_drop(f"{stats.dropped_units} unit(s) are not observed in every period; dropped to "
                   "balance the panel, as R did does by default.")
    periods = np.asarray(stats.periods, dtype=float)
    period_keep = np.ones(periods.size, dtype=bool)
    cohort = np.asarray(stats.cohort, dtype=float).copy()
    units = np.asarray(stats.units, dtype=np.int64)
    keep = units > 0
    if not keep.any():
        raise SpecificationError("No units left after dropping incomplete and first-period "
                                 "treated units.")
    cohort, keep, period_keep, exclude_latest = apply_cohort_rules(
        cohort, keep, periods, period_keep, cfg, counts=units)

    tvals = periods[period_keep]
    cvals = np.unique(cohort[keep & np.isfinite(cohort)])
    n_coh = cvals.size + 1
    block_cidx = np.searchsorted(cvals, cohort)
    eligible = cvals > tvals[0] + cfg.anticipation
    if exclude_latest is not None:
        eligible &= cvals != exclude_latest
    block_group, group_labels = _group_codes(stats)
    n_groups = len(group_labels)
    n_cg = n_groups * n_coh
    block_cg = np.where(keep, block_group * n_coh + block_cidx, -1)
    present = np.bincount(block_cg[keep], weights=units[keep], minlength=n_cg).reshape(n_groups, n_coh)
    glists = [np.flatnonzero(eligible & (present[s, :-1] > 0)) for s in range(n_groups)]
    if not any(g.size for g in glists):
        raise SpecificationError("No treated cohort has a pre-treatment period in the data.")
    plan = _plan(tvals, cvals, glists, cfg)

    cluster_code, cluster_labels = pd.factorize(pd.Series(stats.cluster), sort=True)
    junk_cg = np.where(keep, block_cg, n_cg)
    layout = K.block_layout(cluster_code.astype(np.int64), junk_cg, n_cg + 1, len(cluster_labels))
    n_real = int(layout.cg_start[n_cg])
    n_t = tvals.size
    ysum = np.zeros((layout.n_blocks, n_t))
    np.add.at(ysum, layout.unit_block, stats.ysum[:, period_keep] / stats.mean_weight)
    wsum = np.bincount(layout.unit_block, weights=np.where(keep, stats.weight / stats.mean_weight, 0.0),
                       minlength=layout.n_blocks)[:n_real]
    lay = K.BlockLayout(layout.unit_block, layout.block_cluster[:n_real],
                        layout.block_cg[:n_real], layout.cg_start[: n_cg + 1])
    cg_units = np.bincount(block_cg[keep], weights=units[keep], minlength=n_cg).astype(np.int64)
    n_rows = int(np.count_nonzero(np.bincount(lay.block_cluster)))
    cells = K.panel_cells(ysum[:n_real], wsum, lay, plan, n_coh, cg_units, scale=n_rows)
    rows_u, row_cluster, block_row = K.cluster_rows(cells.influence, lay.block_cluster)

    design = GroupTimeDesign(
        cell_group=plan.group, cell_cohort=plan.cohort, cell_time=plan.time,
        cohort_value=cvals[plan.cohort], time_value=tvals[plan.time],
        block_row=block_row, block_cg=lay.block_cg, block_weight=wsum,
        n_cohorts=n_coh, cohort_values=cvals, period_values=tvals,
        group_labels=group_labels, by=list(cfg.by),
        n_units_by_group=np.bincount(block_group[keep], weights=units[keep],
                                     minlength=n_groups).astype(np.int64),
        row_cluster=row_cluster, bootstrap=cfg.bootstrap, boot_weights=cfg.boot_weights,
        boot_seed=None, time_labels=_time_labeller(stats.time_integer),
    )
    _warn_cells(design, cells.reason, cells.att)
    n_kept = int(units[keep].sum())
    info: dict[str, Any] = {
        "estimator": "Callaway-Sant'Anna ATT(g,t)", "outcome": cfg.y,
        "n_obs": n_kept * n_t, "n_units": n_kept,
        "n_clusters": int(row_cluster.size), "control": cfg.control,
        "method": "no covariates", "covariates": [], "anticipation": cfg.anticipation,
        "base_period": cfg.base_period,
        "vcov_type": (f"multiplier bootstrap ({cfg.bootstrap} {cfg.boot_weights} draws)"
                      if cfg.bootstrap else "analytic (influence function)")
        + f", clustered by {stats.cluster_name}",
        "by": list(cfg.by), "panel": True,
        "engine": f"compressed ({stats.engine}): {stats.n_rows} rows -> {stats.n_blocks} blocks",
    }
    return build_result(design, cells, rows_u, cfg.alpha, info, seed)


def _group_codes(stats: CellStats) -> tuple[np.ndarray, pd.DataFrame]:
    """Subgroup code of each block and the sorted subgroup labels (as ``Panel.groups``)."""
    by = list(stats.by)
    if not by:
        return np.zeros(stats.n_blocks, dtype=np.int64), pd.DataFrame(index=[0])
    labels = stats.group_labels if stats.group_labels is not None else stats.groups
    allk = pd.concat([labels[by], stats.groups[by]], ignore_index=True)
    grouped = allk.groupby(by, sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)[len(labels):]
    used = grouped.size().index.to_frame(index=False)[by]
    return codes, used


def _time_labeller(integer: bool):
    if integer:
        return lambda v: np.asarray(v).astype(np.int64) if np.all(np.isfinite(v)) else np.asarray(v)
    return lambda v: np.asarray(v, dtype=float)
