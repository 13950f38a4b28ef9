"""Group-time ATT results: aggregation (R ``did``'s ``aggte``) and the parallel-trends pre-test.

A :class:`GroupTimeResult` keeps, besides the ATT(g,t), their influence
functions summed within clusters and the (cluster, subgroup, cohort) weight
sums, which is everything an aggregation needs: its influence function is a
linear combination of the cells' plus the influence of the estimated
aggregation weights (R ``did``'s ``wif``), so nothing is refitted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from scipy import stats

from clusterimpact.errors import ClusterImpactWarning, SpecificationError, suggest
from clusterimpact.inference.multiplier import child_seed, multiplier_draws, summarize_draws
from clusterimpact.inference.small_sample import (
    ArmLeverage,
    arm_leverage,
    leverage_scale,
    small_sample_vcov,
    welch_dof,
)
from clusterimpact.inference.survey import SurveyDesign
from clusterimpact.kernels.cells import BlockInfluence
from clusterimpact.results.base import Result

__all__ = ["AggregateResult", "AggregationKind", "GroupTimeDesign", "GroupTimeResult"]

AggregationKind = Literal["simple", "group", "calendar", "dynamic"]
_TINY = np.sqrt(np.finfo(float).eps) * 10  # R did: standard errors below this are NA


@dataclass(frozen=True, eq=False)
class GroupTimeDesign:
    """What the aggregations need besides estimates and influence functions.

    Cells are described by their subgroup, cohort index and period index;
    *blocks* are (cluster, subgroup, cohort) groups of units with their
    summed weight and the influence-function row (cluster) they belong to.
    """

    cell_group: np.ndarray
    cell_cohort: np.ndarray
    cell_time: np.ndarray
    cohort_value: np.ndarray
    time_value: np.ndarray
    block_row: np.ndarray
    block_cg: np.ndarray
    block_weight: np.ndarray
    n_cohorts: int
    cohort_values: np.ndarray
    period_values: np.ndarray
    group_labels: pd.DataFrame
    by: list[str]
    n_units_by_group: np.ndarray
    row_cluster: np.ndarray
    bootstrap: int | None
    boot_weights: str
    boot_seed: int | None
    time_labels: Callable[[np.ndarray], np.ndarray]
    valid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    survey: SurveyDesign | None = None
    small_sample: bool = False

    @property
    def dof(self) -> int | None:
        """Design degrees of freedom with a survey design, else ``None`` (normal inference)."""
        return None if self.survey is None else self.survey.df

    @property
    def n_rows(self) -> int:
        """Rows of the influence matrix (clusters)."""
        return int(self.row_cluster.size)

    def weight_table(self) -> np.ndarray:
        """``(subgroups, cohorts)`` sums of unit weights (R ``did``'s ``pg`` times ``n``)."""
        tab = self.__dict__.get("_weight_table")  # computed once per design (read-only)
        if tab is None:
            n_groups = len(self.group_labels)
            tab = np.bincount(self.block_cg, weights=self.block_weight,
                              minlength=n_groups * self.n_cohorts).reshape(n_groups, self.n_cohorts)
            tab.flags.writeable = False
            self.__dict__["_weight_table"] = tab
        return tab

    def arm_leverage(self) -> ArmLeverage:
        """Cohort-arm leverages of the clusters (``small_sample=True``), computed once."""
        lev = self.__dict__.get("_arm_leverage")
        if lev is None:
            lev = arm_leverage(self.block_row, self.block_cg, self.block_weight, self.n_rows,
                               len(self.group_labels), self.n_cohorts)
            self.__dict__["_arm_leverage"] = lev
        return lev

    def share_scale(self, group: int, cohorts: np.ndarray) -> np.ndarray:
        """Leverage factors of a cohort-share term (``small_sample``): :math:`1/\\sqrt{1-h_c}`.

        The shares of ``cohorts`` among themselves are estimated from all their
        clusters together, so a cluster's leverage is its weight share
        :math:`h_c = \\sum_{g} W_{cg} / \\sum_{g} W_g` over those cohorts.
        """
        code = group * self.n_cohorts + np.unique(cohorts)
        mine = np.isin(self.block_cg, code)
        w_c = np.bincount(self.block_row[mine], weights=self.block_weight[mine],
                          minlength=self.n_rows)
        h = w_c / w_c.sum()
        return np.where((h > 0) & (h < 1 - 1e-12), 1.0 / np.sqrt(np.clip(1.0 - h, 1e-300, None)),
                        1.0)

    def wif(self, group: int, cohorts: np.ndarray, atts: np.ndarray, theta: float) -> np.ndarray:
        """Sum-scale influence of the estimated weights of a ``pg``-weighted average.

        For the average :math:`\\theta = \\sum_k p_{g_k}\\theta_k / \\sum_k p_{g_k}` over
        items :math:`k` of cohorts :math:`g_k`, with :math:`p_g` the weight share of
        cohort :math:`g`, R ``did``'s ``wif`` summed over the units of each cluster
        is :math:`\\sum_g \\alpha_g W_{cg} / \\sum_k W_{g_k}` with
        :math:`\\alpha_g = \\sum_{k: g_k = g}(\\theta_k - \\theta)` and :math:`W_{cg}` the
        weight of cohort :math:`g` in cluster :math:`c` (the :math:`p_g` terms
        cancel because :math:`\\sum_k p_{g_k}(\\theta_k - \\theta) = 0`).
        """
        wtab = self.weight_table()[group]
        alpha = np.zeros(self.n_cohorts)
        np.add.at(alpha, cohorts, atts - theta)
        denom = wtab[cohorts].sum()
        if len(self.group_labels) == 1:  # block_cg is the cohort
            contrib = alpha[self.block_cg] * self.block_weight
        else:
            block_group = self.block_cg // self.n_cohorts
            block_cohort = self.block_cg - block_group * self.n_cohorts
            contrib = np.where(block_group == group, alpha[block_cohort] * self.block_weight, 0.0)
        if self.block_row.size == self.n_rows and self.block_row[-1] == self.n_rows - 1 and (
                self.block_row[:-1] < self.block_row[1:]).all():  # each block its own row, in order
            contrib /= denom
            return contrib
        return np.bincount(self.block_row, weights=contrib, minlength=self.n_rows) / denom


def _labels(design: GroupTimeDesign, groups: np.ndarray, columns: dict | None = None
            ) -> pd.DataFrame:
    """Subgroup labels of ``groups`` followed by ``columns`` (arrays), built in one go."""
    columns = columns or {}
    if not design.by:  # one constructor call (column-by-column __setitem__ costs ~1 ms each)
        return pd.DataFrame(columns, index=pd.RangeIndex(groups.size))
    keys = design.group_labels.iloc[groups].reset_index(drop=True)
    for name, values in columns.items():
        keys[name] = values
    return keys


def _vcov_and_se(infl: np.ndarray | BlockInfluence, d: GroupTimeDesign,
                 groups: np.ndarray | None = None, adjusted: bool = False
                 ) -> tuple[np.ndarray, np.ndarray | int | None, np.ndarray | BlockInfluence]:
    """Covariance, degrees of freedom and the influence matrix to resample.

    ``groups`` (the subgroup of each column) is needed with ``small_sample``,
    which rescales each cluster's row by its leverage in its cohort (unless
    the columns are ``adjusted`` already: aggregations combine adjusted cell
    influence functions) and gives every column its Welch-Satterthwaite df
    (:mod:`clusterimpact.inference.small_sample`).
    """
    dof = d.dof
    if d.survey is not None:  # design-based: PSU totals of the sum-scale influence functions
        vcov = d.survey.vcov(np.asarray(infl) / d.n_rows, d.row_cluster)
    elif d.small_sample and adjusted:
        vcov = infl.T @ infl / float(d.n_rows) ** 2
        dof = welch_dof(infl, groups, d.arm_leverage())
    elif d.small_sample:
        vcov, dof, infl = small_sample_vcov(np.asarray(infl) / d.n_rows, groups, d.arm_leverage())
        infl = infl * d.n_rows
    else:
        vcov = infl.gram() if isinstance(infl, BlockInfluence) else infl.T @ infl
        vcov /= float(d.n_rows) ** 2
    bad = ~(np.sqrt(np.clip(np.diag(vcov), 0, None)) > _TINY)
    vcov[bad, :] = np.nan
    vcov[:, bad] = np.nan
    return vcov, dof, infl


def _bootstrap(design: GroupTimeDesign, infl: np.ndarray, vcov: np.ndarray, alpha: float,
               band_sets: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap-scaled vcov (analytic correlation, bootstrap SEs) and band critical values.

    With a survey design the multipliers are drawn per PSU on the PSU totals centred within
    stratum and scaled by :math:`\\sqrt{(1-f_h) n_h/(n_h-1)}`, so that the bootstrap covariance
    is the design-based one (:func:`clusterimpact.inference.survey.bootstrap_rows`).
    """
    k = infl.shape[1]
    crit = np.full(k, np.nan)
    ok = np.isfinite(np.diag(vcov))
    if design.bootstrap is None or not ok.any():
        return vcov, crit
    rows = np.asarray(infl)[:, ok]
    if design.survey is not None:  # multipliers per PSU on stratum-centred, fpc-scaled totals
        rows = design.survey.bootstrap_rows(rows / design.n_rows, design.row_cluster) * design.n_rows
    draws = multiplier_draws(rows, design.bootstrap, weights=design.boot_weights,
                             seed=design.boot_seed)
    draws /= design.n_rows
    se_ok, _ = summarize_draws(draws, alpha)
    se = np.full(k, np.nan)
    se[ok] = se_ok
    for cols in band_sets or [np.arange(k)]:
        cols = cols[ok[cols]]
        if cols.size:
            pos = np.searchsorted(np.flatnonzero(ok), cols)
            _, c = summarize_draws(draws[:, pos], alpha)
            crit[cols] = c
    sd = np.sqrt(np.diag(vcov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = vcov / np.outer(sd, sd)
    return corr * np.outer(se, se), crit


def _band_columns(estimate: np.ndarray, vcov: np.ndarray, crit: np.ndarray) -> dict:
    se = np.sqrt(np.diag(vcov))
    return {"band_low": estimate - crit * se, "band_high": estimate + crit * se}


def _bands(estimate: np.ndarray, vcov: np.ndarray, crit: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(_band_columns(estimate, vcov, crit))


def build_result(design: GroupTimeDesign, cells: Any, infl: np.ndarray, alpha: float,
                 info: dict, seed: int | np.random.Generator | None) -> GroupTimeResult:
    """Assemble a :class:`GroupTimeResult` from cell statistics (used by ``att_gt``).

    ``infl`` has one row per cluster, scaled as :attr:`Result.influence`
    (the number of rows times the sum-scale influence functions), dense or
    as a :class:`~clusterimpact.kernels.cells.BlockInfluence` (materialised
    only if :attr:`GroupTimeResult.influence` is read).
    """
    att = np.asarray(cells.att, dtype=float)
    reason = np.asarray(cells.reason, dtype=object).copy()
    valid = np.isfinite(att)
    if not valid.all() and isinstance(infl, BlockInfluence):
        infl = infl.with_zero_columns(~valid)
    elif not valid.all():
        infl[:, ~valid] = 0.0
    vcov, dof, resampled = _vcov_and_se(infl, design, design.cell_group)
    zero = valid & ~np.isfinite(np.diag(vcov)) & (reason == "")
    reason[zero] = "zero variance"
    if design.bootstrap is not None:
        design = replace(design, boot_seed=child_seed(seed))
    design = replace(design, valid=valid)
    bands = {}
    if design.bootstrap is not None:
        vcov, crit = _bootstrap(design, resampled, vcov, alpha, None)
        bands = _band_columns(att, vcov, crit)
    extra = pd.DataFrame({**bands, "reason": reason, "n_treated": cells.n_treated,
                          "n_control": cells.n_control}, index=pd.RangeIndex(att.size))
    keys = _labels(design, design.cell_group, {"cohort": design.time_labels(design.cohort_value),
                                                "time": design.time_labels(design.time_value)})
    notes = []
    if (~valid).any():
        notes.append(f"{int((~valid).sum())} cell(s) could not be estimated (see reason).")
    return GroupTimeResult(keys=keys, estimate=att, vcov=vcov, alpha=alpha, dof=dof,
                           extra=extra, info={**info, "notes": notes}, influence=infl,
                           cluster=design.row_cluster, design=design)


@dataclass(frozen=True, eq=False, repr=False)
class AggregateResult(Result):
    """An aggregation of group-time effects; ``overall`` holds the overall summary row(s).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> agg = ci.att_gt(p, "lemp").aggregate("dynamic")
    >>> round(float(agg.overall.estimate[0]), 4)
    -0.0772
    """

    overall: Result | None = None


@dataclass(frozen=True, eq=False, repr=False)
class GroupTimeResult(Result):
    """ATT(g,t) estimates that aggregate and pre-test without refitting.

    Returned by :func:`clusterimpact.att_gt`. It keeps the influence function
    of every cell, so :meth:`aggregate` and :meth:`pretest` never re-estimate.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> gt = ci.att_gt(p, "lemp")
    >>> type(gt).__name__, len(gt.tidy())
    ('GroupTimeResult', 12)
    >>> round(float(gt.aggregate("simple").tidy()["estimate"].iloc[0]), 4)
    -0.04
    """

    design: GroupTimeDesign | None = None

    @property
    def influence(self) -> np.ndarray | None:
        """Influence functions of the cells, one row per cluster (see :class:`Result`).

        Without covariates they are kept factored (per-cohort outcome sums
        and small coefficient matrices) and only built here, on first access;
        variances, aggregations and the bootstrap do not need the dense matrix.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> ci.att_gt(p, "lemp").influence.shape
        (500, 12)
        """
        value = self.__dict__.get("_influence")
        if isinstance(value, BlockInfluence):
            value = value.toarray()
            self.__dict__["_influence"] = value
        return value

    @influence.setter
    def influence(self, value: np.ndarray | BlockInfluence | None) -> None:
        # the frozen dataclass __init__ sets fields through object.__setattr__
        self.__dict__["_influence"] = value

    def _influence_operator(self) -> np.ndarray | BlockInfluence | None:
        """The influence functions as stored: dense, or factored (supports ``@``)."""
        return self.__dict__.get("_influence")

    # --------------------------------------------------------------- pretest
    def pretest(self) -> pd.DataFrame:
        """Wald pre-test of parallel trends on the pre-treatment ATT(g,t) (as in did's summary).

        Returns
        -------
        pandas.DataFrame
            One row (per subgroup) with ``statistic``, ``df`` and ``p_value``
            of :math:`W = \\hat a'\\hat V^{-1}\\hat a \\sim \\chi^2_q`, where
            :math:`\\hat a` are the :math:`q` pre-treatment cells (:math:`g > t`)
            with a positive variance; NaN with a ``note`` when there are none
            or their covariance is singular.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> ci.att_gt(p, "lemp").pretest()[["statistic", "df", "p_value"]].round(4)
           statistic  df  p_value
        0     7.7912   5   0.1681
        """
        d = self.design
        rows = []
        diag = np.diag(self.vcov)
        for s in range(len(d.group_labels)):
            pre = np.flatnonzero((d.cell_group == s) & (d.cohort_value > d.time_value)
                                 & np.isfinite(diag) & np.isfinite(self.estimate))
            note = ""
            stat = np.nan
            if pre.size == 0:
                note = "no pre-treatment cells with a positive variance"
            else:
                v = self.vcov[np.ix_(pre, pre)]
                if 1.0 / np.linalg.cond(v, 1) <= np.finfo(float).eps:
                    note = "singular covariance of the pre-treatment cells"
                else:
                    a = self.estimate[pre]
                    stat = float(a @ np.linalg.solve(v, a))
            rows.append({"statistic": stat, "df": int(pre.size),
                         "p_value": float(stats.chi2.sf(stat, pre.size)) if pre.size else np.nan,
                         "note": note})
        out = pd.DataFrame(rows)
        return pd.concat([_labels(d, np.arange(len(d.group_labels))), out], axis=1)

    def summary(self, digits: int = 4) -> str:
        """The table plus R did's line on the pre-test of parallel trends.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> ci.att_gt(p, "lemp").summary().splitlines()[-1]
        'P-value for pre-test of parallel trends assumption: 0.1681'
        """
        text = super().summary(digits)
        pt = self.pretest()
        for _, row in pt.iterrows():
            label = " & ".join(f"{c}={row[c]}" for c in self.design.by)
            text += ("\nP-value for pre-test of parallel trends assumption"
                     + (f" ({label})" if label else "") + f": {row['p_value']:.{digits}f}")
        return text

    # ------------------------------------------------------------- aggregate
    def aggregate(self, kind: AggregationKind = "simple", *, min_e: float | None = None,
                  max_e: float | None = None, balance_e: float | None = None
                  ) -> AggregateResult:
        """Aggregate the ATT(g,t) as R ``did``'s ``aggte``.

        Parameters
        ----------
        kind
            ``"simple"`` (post-treatment cells weighted by cohort size),
            ``"group"`` (by cohort), ``"calendar"`` (by period) or
            ``"dynamic"`` (by event time).
        min_e, max_e
            Event-time window (``max_e`` also limits ``simple`` and ``group``;
            both are ignored, with a warning, by ``calendar``). Event time is
            on the scale of the time column.
        balance_e
            ``dynamic`` only: keep cohorts observed at least ``balance_e``
            periods after treatment, so each event time has the same cohorts.

        Returns
        -------
        AggregateResult
            ``tidy()`` has ``estimate, std_error, conf_low, conf_high`` and the key
            column ``cohort`` (group), ``time`` (calendar) or ``event_time``
            (dynamic) (plus the ``by`` columns and, with a bootstrap, simultaneous
            bands); ``simple`` has one row per subgroup. ``.overall`` holds the
            overall average of the elements (``None`` for ``simple``).

        Notes
        -----
        With :math:`p_g` the weight share of cohort :math:`g`, ``simple`` is
        :math:`\\sum_{g\\le t} p_g ATT(g,t) / \\sum_{g\\le t} p_g`; its influence function is
        :math:`\\sum_k w_k\\psi_k` plus the influence of the estimated :math:`p_g`
        (R ``did``'s ``wif``). ``dynamic`` and ``calendar`` weight cells the same
        way within an event time or period; ``group`` averages a cohort's post
        periods equally. Overall values: ``group`` weights cohorts by
        :math:`p_g` (with ``wif``), ``dynamic`` averages :math:`e\\ge 0`, ``calendar``
        averages periods. Cells that could not be estimated are skipped (R's
        ``na.rm = TRUE``) with a note.

        References
        ----------
        Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
        multiple time periods. *Journal of Econometrics*, 225(2), 200-230.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> res = ci.att_gt(p, "lemp")
        >>> res.aggregate("group").tidy()[["cohort", "estimate"]].round(4)
           cohort  estimate
        0    2004   -0.0797
        1    2006   -0.0229
        2    2007   -0.0261
        """
        kinds = get_args(AggregationKind)
        if kind not in kinds:
            raise SpecificationError(f"kind={kind!r} is not allowed; use one of "
                                     f"{', '.join(map(repr, kinds))}.{suggest(str(kind), kinds)}")
        if kind == "calendar" and any(v is not None for v in (min_e, max_e, balance_e)):
            warnings.warn("min_e, max_e and balance_e are ignored for kind='calendar' (as in R "
                          "did).", ClusterImpactWarning, stacklevel=2)
        if kind != "dynamic" and balance_e is not None and kind != "calendar":
            raise SpecificationError("balance_e applies to kind='dynamic' only.")
        return _aggregate(self, kind, -np.inf if min_e is None else float(min_e),
                          np.inf if max_e is None else float(max_e), balance_e)


def _aggregate(res: GroupTimeResult, kind: str, min_e: float, max_e: float,
               balance_e: float | None) -> AggregateResult:
    d = res.design
    infl = res._influence_operator()  # n_rows times the sum scale; dense or factored
    if d.small_sample:  # cell influence functions scaled by the clusters' cohort leverages
        infl = np.asarray(infl) * leverage_scale(d.arm_leverage(), d.cell_group)
    n_rows = d.n_rows
    att = res.estimate
    e_cell = d.time_value - d.cohort_value
    post = d.cohort_value <= d.time_value
    wtab = d.weight_table()
    el_group, el_key, el_est, el_u = [], [], [], []
    ov_group, ov_est, ov_u = [], [], []
    notes: list[str] = []

    def weighted(s: int, cells: np.ndarray, with_wif: bool = True) -> tuple[float, np.ndarray]:
        pg = wtab[s, d.cell_cohort[cells]]
        w = pg / pg.sum()
        theta = float(w @ att[cells])
        col = combine(cells, w)
        if with_wif:
            col += share_term(s, d.cell_cohort[cells], att[cells], theta)
        return theta, col

    def share_term(s: int, cohorts: np.ndarray, atts: np.ndarray, theta: float) -> np.ndarray:
        term = d.wif(s, cohorts, atts, theta) * n_rows
        return term * d.share_scale(s, cohorts) if d.small_sample else term

    def combine(cells: np.ndarray, w: np.ndarray) -> np.ndarray:
        full = np.zeros(att.size)
        full[cells] = w
        return infl @ full

    for s in range(len(d.group_labels)):
        mine = d.cell_group == s
        skipped = mine & ~d.valid
        ok = mine & d.valid
        if kind == "simple":
            cells = np.flatnonzero(ok & post & (e_cell <= max_e))
            skipped &= post & (e_cell <= max_e)
            if cells.size:
                theta, col = weighted(s, cells)
                el_group.append(s), el_key.append(None), el_est.append(theta), el_u.append(col)
        elif kind == "group":
            skipped &= post & (e_cell <= max_e)
            coh, atts, cols = [], [], []
            for h in np.unique(d.cell_cohort[mine]):
                cells = np.flatnonzero(ok & post & (d.cell_cohort == h) & (e_cell <= max_e))
                if cells.size == 0:
                    continue
                coh.append(h), atts.append(att[cells].mean())
                cols.append(combine(cells, np.full(cells.size, 1.0 / cells.size)))
                el_group.append(s), el_key.append(d.cohort_values[h])
                el_est.append(atts[-1]), el_u.append(cols[-1])
            if coh:
                coh_a, atts_a = np.array(coh), np.array(atts)
                pg = wtab[s, coh_a]
                w = pg / pg.sum()
                theta = float(w @ atts_a)
                col = np.column_stack(cols) @ w + share_term(s, coh_a, atts_a, theta)
                ov_group.append(s), ov_est.append(theta), ov_u.append(col)
        elif kind == "dynamic":
            include = np.ones_like(mine)
            eseq = np.unique(e_cell[ok])
            if balance_e is not None:
                max_t = d.time_value[ok].max() if ok.any() else np.nan
                include = (max_t - d.cohort_value) >= balance_e
                eseq = np.unique(e_cell[ok & include])
                first = d.period_values[0]
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - max_t + first)]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            skipped &= include & np.isin(e_cell, eseq)
            atts, cols = [], []
            for e in eseq:
                cells = np.flatnonzero(ok & include & (e_cell == e))
                theta, col = weighted(s, cells)
                el_group.append(s), el_key.append(e), el_est.append(theta), el_u.append(col)
                if e >= 0:
                    atts.append(theta), cols.append(col)
            if atts:
                ov_group.append(s), ov_est.append(float(np.mean(atts)))
                ov_u.append(np.column_stack(cols).mean(1))
        else:  # calendar
            skipped &= post
            min_g = d.cohort_value[mine].min() if mine.any() else np.inf
            atts, cols = [], []
            for t1 in np.unique(d.time_value[ok & post]):
                if t1 < min_g:
                    continue
                cells = np.flatnonzero(ok & post & (d.time_value == t1))
                theta, col = weighted(s, cells)
                el_group.append(s), el_key.append(t1), el_est.append(theta), el_u.append(col)
                atts.append(theta), cols.append(col)
            if atts:
                ov_group.append(s), ov_est.append(float(np.mean(atts)))
                ov_u.append(np.column_stack(cols).mean(1))
        if skipped.any():
            cells_txt = ", ".join(f"({d.cohort_value[j]:g}, {d.time_value[j]:g})"
                                  for j in np.flatnonzero(skipped)[:8])
            notes.append(f"{int(skipped.sum())} cell(s) that could not be estimated were skipped"
                         + (f" in subgroup {s}" if d.by else "") + f": {cells_txt}.")
    if not el_est:
        raise SpecificationError(f"No estimable cells for the {kind!r} aggregation.")

    key_name = {"group": "cohort", "calendar": "time", "dynamic": "event_time"}.get(kind)
    groups = np.array(el_group)
    columns = {}
    if key_name == "event_time":
        ev = np.array(el_key, dtype=float)
        columns["event_time"] = ev.astype(np.int64) if np.all(ev == np.round(ev)) else ev
    elif key_name is not None:
        columns[key_name] = d.time_labels(np.array(el_key, dtype=float))
    keys = _labels(d, groups, columns)
    info = {**res.info, "estimator": f"Callaway-Sant'Anna {kind} aggregation",
            "aggregation": kind, "notes": notes}
    refit = res.info.get("refit")
    if refit is not None:  # re-estimation returns this same aggregation
        info["refit"] = replace(refit, fit=partial(
            _refit_aggregate, fit=refit.fit, kind=kind, min_e=min_e, max_e=max_e,
            balance_e=balance_e))
    sets = [np.flatnonzero(groups == s) for s in np.unique(groups)]
    main = _finish(d, keys, np.array(el_est), np.column_stack(el_u), res.alpha, info, sets,
                   groups)
    overall = None
    if ov_est:
        ok_keys = _labels(d, np.array(ov_group))
        overall = _finish(d, ok_keys, np.array(ov_est), np.column_stack(ov_u), res.alpha,
                          {**info, "estimator": f"Callaway-Sant'Anna {kind} aggregation (overall)"},
                          None, np.array(ov_group), bands=False)
    return replace(main, overall=overall)


def _refit_aggregate(panel: Any, outcome: str, *, fit: Any, kind: str, min_e: float,
                     max_e: float, balance_e: float | None) -> AggregateResult:
    """Re-estimate group-time effects and aggregate them the same way (randomization inference)."""
    return fit(panel, outcome).aggregate(kind, min_e=min_e, max_e=max_e, balance_e=balance_e)


def _finish(d: GroupTimeDesign, keys: pd.DataFrame, est: np.ndarray, infl: np.ndarray,
            alpha: float, info: dict, sets: list[np.ndarray] | None, groups: np.ndarray,
            bands: bool = True) -> AggregateResult:
    vcov, dof, resampled = _vcov_and_se(infl, d, groups, adjusted=True)
    extra = None
    if d.bootstrap is not None:
        vcov, crit = _bootstrap(d, resampled, vcov, alpha, sets)
        if bands:
            extra = _bands(est, vcov, crit)
    return AggregateResult(keys=keys, estimate=est, vcov=vcov, alpha=alpha, dof=dof, extra=extra,
                           info=info, influence=infl, cluster=d.row_cluster)
