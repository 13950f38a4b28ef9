"""Group-time average treatment effects, ``ci.att_gt`` (Callaway & Sant'Anna 2021).

The public function validates the options once, plans the (subgroup, cohort,
period) cells exactly as R ``did`` 2.5 does, computes them with
:mod:`clusterimpact.kernels.cells` and returns a
:class:`~clusterimpact.results.group_time.GroupTimeResult` that aggregates,
pre-tests and bootstraps without refitting.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.design.panel import Panel
from clusterimpact.errors import (
    DroppedRowsWarning,
    EstimationWarning,
    FewClustersWarning,
    SpecificationError,
    suggest,
)
from clusterimpact.estimators._subgroups import FEW_CLUSTERS, warn_few_subgroup_clusters
from clusterimpact.inference.multiplier import MultiplierWeights
from clusterimpact.inference.randomization import RefitSpec
from clusterimpact.kernels import cells as K
from clusterimpact.results.group_time import GroupTimeDesign, GroupTimeResult, build_result

__all__ = ["BasePeriod", "ControlGroup", "Method", "att_gt"]

ControlGroup = Literal["never_treated", "not_yet_treated"]
Method = Literal["dr", "ipw", "reg"]
BasePeriod = Literal["varying", "universal"]


def check_choice(name: str, value: object, options: object) -> None:
    """Raise :class:`SpecificationError` unless ``value`` is one of the ``Literal`` ``options``.

    Examples
    --------
    >>> check_choice("method", "dr", Method)
    >>> try:
    ...     check_choice("method", "DR", Method)
    ... except SpecificationError as err:
    ...     print(err)
    method='DR' is not allowed; use one of 'dr', 'ipw', 'reg'. Did you mean 'dr'?
    """
    allowed = get_args(options)
    if value not in allowed:
        raise SpecificationError(
            f"{name}={value!r} is not allowed; use one of {', '.join(map(repr, allowed))}."
            + suggest(str(value).lower(), allowed)
        )


@dataclass(frozen=True)
class AttGtConfig:
    """The validated options of :func:`att_gt` (one place, immutable)."""

    y: str
    covariates: tuple[str, ...] | str | None
    control: ControlGroup
    method: Method
    anticipation: float
    base_period: BasePeriod
    bootstrap: int | None
    boot_weights: MultiplierWeights
    alpha: float
    by: tuple[str, ...]
    unbalanced: bool = False  # R did's allow_unbalanced_panel
    last_cohort_as_control: bool = False  # R did's coercion without never-treated units

    @classmethod
    def make(cls, y, covariates, control, method, anticipation, base_period, bootstrap,
             alpha, by, boot_weights="mammen", unbalanced=False) -> AttGtConfig:
        if not isinstance(y, str):
            raise SpecificationError(f"y must be a column name, got {type(y).__name__}.")
        check_choice("control", control, ControlGroup)
        check_choice("method", method, Method)
        check_choice("base_period", base_period, BasePeriod)
        check_choice("boot_weights", boot_weights, MultiplierWeights)
        if isinstance(anticipation, bool) or not isinstance(anticipation, int | float | np.number) \
                or not np.isfinite(anticipation) or anticipation < 0:
            raise SpecificationError(f"anticipation must be a non-negative number of periods, "
                                     f"got {anticipation!r}.")
        if bootstrap is not None and (isinstance(bootstrap, bool) or not isinstance(
                bootstrap, int | np.integer) or bootstrap < 1):
            raise SpecificationError(f"bootstrap must be None (analytic standard errors) or a "
                                     f"positive number of draws, got {bootstrap!r}.")
        if not isinstance(alpha, float | int) or not 0 < alpha < 1:
            raise SpecificationError(f"alpha must lie in (0, 1), got {alpha!r}.")
        if isinstance(covariates, str) and "~" not in covariates and "+" not in covariates:
            covariates = (covariates,)
        elif covariates is not None and not isinstance(covariates, str):
            covariates = tuple(covariates) or None
        by = (by,) if isinstance(by, str) else tuple(by or ())
        if not isinstance(unbalanced, bool | np.bool_):
            raise SpecificationError(f"allow_unbalanced_panel must be True or False, got "
                                     f"{unbalanced!r}.")
        return cls(y, covariates, control, method, float(anticipation), base_period,
                   None if bootstrap is None else int(bootstrap), boot_weights, float(alpha), by,
                   bool(unbalanced))


# ------------------------------------------------------------------- design matrix
def _covariate_matrix(panel: Panel, spec: tuple[str, ...] | str) -> tuple[np.ndarray, list[str]]:
    """Row-aligned design with an intercept first (NaN rows where a value is missing)."""
    if isinstance(spec, str):
        import formulaic

        rhs = spec.split("~", 1)[1] if "~" in spec else spec
        try:
            mm = formulaic.model_matrix(rhs, panel.data, na_action="ignore")
        except Exception as err:  # formulaic raises many types
            raise SpecificationError(f"Cannot build covariates from {spec!r}: {err}") from err
        x = np.asarray(mm, dtype=float)
        names = list(mm.columns)
        if "Intercept" not in names:
            x = np.column_stack([np.ones(len(x)), x])
            names = ["Intercept", *names]
        else:
            i = names.index("Intercept")
            order = [i] + [j for j in range(len(names)) if j != i]
            x, names = x[:, order], [names[j] for j in order]
        return x, names
    cols = [panel.column(c, role="covariate") for c in spec]
    return np.column_stack([np.ones(panel.n_obs), *cols]), ["Intercept", *spec]


def _warn_drop(message: str) -> None:
    warnings.warn(message, DroppedRowsWarning, stacklevel=4)


# ------------------------------------------------------------------------- planning
@dataclass
class _Sample:
    row_keep: np.ndarray | None  # None: every row
    unit_keep: np.ndarray
    period_keep: np.ndarray       # over panel periods
    cohort_code: np.ndarray       # per unit (row, for cross-sections): index into cohort_value
    cohort_value: np.ndarray      # numeric cohort of each code, inf never (after the rules)
    exclude_latest: float | None  # cohort kept as comparison only
    unbalanced: bool = False      # estimate on the unbalanced panel (allow_unbalanced_panel)


def _sample(panel: Panel, y: np.ndarray, x: np.ndarray | None, cfg: AttGtConfig,
            unit_group: np.ndarray | None) -> _Sample:
    """R ``did``'s pre-processing: missing rows, balancing, no never-treated, first-period units.

    With ``cfg.unbalanced`` (R's ``allow_unbalanced_panel = TRUE``) incomplete units are kept;
    if the sample left after the cohort rules is balanced anyway, the panel estimator is used,
    as R ``did`` does.
    """
    # a finite total rules out missing outcomes in one read-only pass (Panel.column excludes inf)
    # (likewise a finite covariate total: the row-wise check is ~8x slower than the sum)
    x_bad = x is not None and not np.isfinite(np.add.reduce(x, axis=None))
    bad = np.isnan(y) if x_bad or not np.isfinite(panel._column_total(cfg.y)) else None
    if x_bad:
        bad |= ~np.all(np.isfinite(x), axis=1)
    row_keep = None
    if bad is not None and bad.any():
        _warn_drop(f"Dropped {int(bad.sum())} row(s) with missing outcome or covariates.")
        row_keep = ~bad
    unit_keep = np.ones(panel.n_units, dtype=bool)
    n_per = panel.n_periods
    period_keep = np.ones(n_per, dtype=bool)
    unbalanced = panel.is_panel and cfg.unbalanced and (row_keep is not None
                                                        or not panel.is_balanced)
    if panel.is_panel and (row_keep is not None or not panel.is_balanced):
        codes = panel.unit_code if row_keep is None else panel.unit_code[row_keep]
        tcodes = panel.time_code if row_keep is None else panel.time_code[row_keep]
        period_keep = np.bincount(tcodes, minlength=n_per) > 0
        counts = np.bincount(codes, minlength=panel.n_units)
        full = (counts > 0) if unbalanced else counts == period_keep.sum()
        n_drop = int((~full & (counts > 0)).sum())
        if n_drop:
            _warn_drop(f"{n_drop} unit(s) are not observed in every period; dropped to "
                       "balance the panel, as R did does by default.")
        unit_keep &= full
    # the cohort rules act on the distinct cohorts (blocks of units), then map back per unit
    codes, distinct = _cohort_codes(panel)
    counts = K.code_counts(codes if unit_keep.all() else codes[unit_keep], distinct.size)
    present = counts > 0
    cohort, keep_d, period_keep, exclude_latest = apply_cohort_rules(
        distinct, present, panel.period_values, period_keep, cfg, counts=counts)
    if not np.array_equal(keep_d, present):
        unit_keep = unit_keep & keep_d[codes]
    if unbalanced:
        unit_keep, period_keep, unbalanced = _unbalanced_sample(panel, row_keep, unit_keep,
                                                                period_keep)
    return _Sample(row_keep, unit_keep, period_keep, codes, cohort, exclude_latest, unbalanced)


def _cohort_codes(panel: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Code of each unit's (row's, for cross-sections) cohort and the sorted distinct cohorts.

    The Panel keeps its sorted distinct cohorts (never treated last); with few
    of them the codes are counts of comparisons, ``code = #{d_k < c}`` (a few
    elementwise passes instead of hashing).
    """
    cohort = panel.unit_cohort if panel.is_panel else panel.cohort_value
    distinct = getattr(panel, "_distinct_cohorts", None)
    if distinct is None or distinct.size > 32 or cohort.size == 0:
        codes, uniques = pd.factorize(cohort, sort=True)
        return codes.astype(np.int64), np.asarray(uniques, dtype=float)
    codes = np.zeros(cohort.size, dtype=np.int8)
    for d in distinct[:-1]:
        codes += cohort > d
    return codes, np.asarray(distinct, dtype=float)


def _unbalanced_sample(panel: Panel, row_keep: np.ndarray | None, unit_keep: np.ndarray,
                       period_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Units and periods with rows left after the cohort rules, and whether they are unbalanced.

    R ``did`` (``pre_process_did``) tests balance on the rows that survive its
    rules (``nrow == units x periods``) and uses the panel estimator when they are
    balanced.
    """
    rows = period_keep[panel.time_code] & unit_keep[panel.unit_code]
    if row_keep is not None:
        rows &= row_keep
    unit_keep = unit_keep & (np.bincount(panel.unit_code[rows], minlength=panel.n_units) > 0)
    period_keep = period_keep & (np.bincount(panel.time_code[rows],
                                             minlength=period_keep.size) > 0)
    unbalanced = int(rows.sum()) != int(unit_keep.sum()) * int(period_keep.sum())
    return unit_keep, period_keep, unbalanced


def apply_cohort_rules(cohort: np.ndarray, keep: np.ndarray, periods: np.ndarray,
                       period_keep: np.ndarray, cfg: AttGtConfig,
                       counts: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """R ``did``'s rules on cohorts once the units are known (shared with the compressed path).

    Without never-treated units, periods from the last cohort's treatment on are dropped and
    the last cohort serves only as a comparison (``control="not_yet_treated"``);
    ``"never_treated"`` is an error naming the fixes unless ``cfg.last_cohort_as_control``,
    which uses the last cohort as never treated (R ``did``'s coercion). Units treated in the first
    period (allowing for anticipation) are dropped. ``cohort`` and ``keep`` are per unit (or per block of
    ``counts`` units). Returns ``(cohort, keep, period_keep, exclude_latest)``.

    Examples
    --------
    >>> import numpy as np
    >>> cfg = AttGtConfig.make("y", None, "never_treated", "dr", 0, "varying", None, 0.05, None)
    >>> out = apply_cohort_rules(np.array([2.0, 3.0, np.inf]), np.ones(3, bool),
    ...                          np.array([1.0, 2.0, 3.0]), np.ones(3, bool), cfg)
    >>> out[1].tolist(), out[2].tolist()
    ([True, True, True], [True, True, True])
    """
    keep = keep.copy()
    period_keep = period_keep.copy()
    first = periods[period_keep][0]
    exclude_latest = None
    alive = keep & (np.isinf(cohort) | (cohort > first + cfg.anticipation))
    if alive.any() and not np.isinf(cohort[alive]).any():
        latest = float(cohort[alive].max())
        cutoff = latest - cfg.anticipation
        period_keep &= periods < cutoff
        if cfg.control == "never_treated" and not cfg.last_cohort_as_control:
            treated = ", ".join(f"{c:g}" for c in np.unique(cohort[alive]))
            raise SpecificationError(
                f"control='never_treated' needs never-treated units, but every unit is eventually "
                f"treated (cohorts {treated}). Use control='not_yet_treated' (each cohort is "
                f"compared with units not yet treated; periods from {cutoff:g} on are dropped), or "
                f"last_cohort_as_control=True to do what R did does: the last cohort ({latest:g}) "
                f"becomes the never-treated comparison group and periods from {cutoff:g} on are "
                "dropped.")
        if cfg.control == "never_treated":
            cohort = np.where(cohort == latest, np.inf, cohort)
            what = (f"the last cohort ({latest:g}) is used as never treated and periods from "
                    f"{cutoff:g} on are dropped")
        else:
            exclude_latest = latest
            what = (f"periods from {cutoff:g} on are dropped (no comparison units left) and the "
                    f"last cohort ({latest:g}) serves only as a comparison")
        _warn_drop(f"No never-treated units: {what}, as R did does.")
        if period_keep.sum() < 2:
            raise SpecificationError("Fewer than two periods remain before the last cohort is "
                                     "treated: no ATT(g,t) can be estimated.")
    early = keep & np.isfinite(cohort) & (cohort <= first + cfg.anticipation)
    if early.any():
        n_early = int(early.sum() if counts is None else counts[early].sum())
        _warn_drop(f"Dropped {n_early} unit(s) already treated in the first period"
                   + (f" (accounting for anticipation = {cfg.anticipation:g})"
                      if cfg.anticipation else "") + ", as R did does.")
        keep &= ~early
    if not keep.any():
        raise SpecificationError("No units left after dropping incomplete and first-period "
                                 "treated units.")
    return cohort, keep, period_keep, exclude_latest


def _plan(tvals: np.ndarray, cvals: np.ndarray, glist_by_group: list[np.ndarray],
          cfg: AttGtConfig) -> K.CellPlan:
    """The cells of every subgroup, in R ``did``'s order (cohort, then period)."""
    never = cvals.size
    n_coh = never + 1
    antic = cfg.anticipation
    universal = cfg.base_period == "universal"
    rows: list[tuple[int, int, int, int, bool]] = []
    controls: list[np.ndarray] = []
    cvals_ext = np.append(cvals, np.inf)
    for grp, glist in enumerate(glist_by_group):
        for gi in glist:
            g = cvals[gi]
            pre = np.flatnonzero(tvals + antic < g)
            pret_g = int(pre[-1])
            for ti in range(0 if universal else 1, tvals.size):
                post = g <= tvals[ti]
                base = pret_g if (universal or post) else ti - 1
                ref = universal and base == ti
                if cfg.control == "never_treated":
                    ctrl = np.zeros(n_coh, dtype=bool)
                    ctrl[never] = True
                else:
                    threshold = tvals[max(ti, base)] + antic
                    ctrl = (cvals_ext > threshold) & (np.arange(n_coh) != gi)
                rows.append((grp, gi, ti, base, ref))
                controls.append(ctrl)
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return K.CellPlan(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3],
                      np.array(controls, dtype=bool).reshape(-1, n_coh), arr[:, 4].astype(bool))


# ------------------------------------------------------------------------ the verb
def att_gt(
    panel: Panel,
    y: str,
    *,
    covariates: list[str] | str | None = None,
    control: ControlGroup = "never_treated",
    method: Method = "dr",
    anticipation: int = 0,
    base_period: BasePeriod = "varying",
    bootstrap: int | None = None,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
    by: str | list[str] | None = None,
    last_cohort_as_control: bool = False,
    allow_unbalanced_panel: bool = False,
    small_sample: bool = False,
) -> GroupTimeResult:
    """Group-time average treatment effects ATT(g,t) of a staggered adoption design.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel` (balanced or not; repeated
        cross-sections when built with ``unit=None``).
    y
        Outcome column.
    covariates
        Pre-treatment covariates: a list of columns or a formulaic right-hand
        side such as ``"x1 + C(region)"``. With time-varying covariates each
        cell uses the values of the earlier of its two periods (R ``did``'s
        convention: the base period for post-treatment cells).
    control
        ``"never_treated"`` or ``"not_yet_treated"`` comparison units.
    method
        2x2 estimator with covariates: ``"dr"`` (doubly robust), ``"ipw"``
        (normalised inverse probability weighting) or ``"reg"`` (outcome
        regression). All three coincide without covariates.
    anticipation
        Number of periods before treatment in which units may already react.
    base_period
        ``"varying"`` (pre-treatment cells compare with the previous period)
        or ``"universal"`` (every cell compares with period g - anticipation - 1).
    bootstrap
        ``None`` for analytic standard errors, or the number of multiplier
        bootstrap draws (Mammen weights, clustered on ``panel.cluster``), which
        also gives simultaneous (sup-t) bands ``band_low, band_high``.
    alpha
        One minus the confidence level.
    seed
        Randomness of the bootstrap: ``int``, ``numpy.random.Generator`` or ``None``.
    by
        Subgroup column(s), constant within unit. Every subgroup is estimated
        in the same pass and the influence functions are stacked, so the joint
        covariance across subgroups is available (``.aggregate(...).compare()``).
    last_cohort_as_control
        Only matters when every unit is eventually treated. ``False`` (default):
        ``control="never_treated"`` is then an error (use ``"not_yet_treated"``).
        ``True``: R ``did``'s rule, with a warning: the last cohort is used as
        the never-treated group and periods from its adoption on are dropped.
    allow_unbalanced_panel
        ``False`` (default, as R ``did``): units not observed in every period
        are dropped to balance the panel (with a warning). ``True``: every row
        is used, each cell with the repeated cross-section estimators on the
        rows of its two periods and the influence functions summed within
        unit, so standard errors stay clustered on units (R ``did``'s
        ``allow_unbalanced_panel = TRUE``). Cohort shares for the
        aggregations count units. A sample that is balanced after the
        pre-processing uses the panel estimator, as R ``did`` does.
    small_sample
        ``False`` (default): R ``did``'s analytic variance and normal intervals.
        ``True``: for few clusters per cohort (below about 30), each cluster's
        influence function is divided by :math:`\\sqrt{1 - h_c}`, with
        :math:`h_c` its weight share of its cohort (a cluster-level HC2), and
        every estimate and aggregate gets Welch-Satterthwaite degrees of
        freedom for *t* intervals (column ``df``); see
        :mod:`clusterimpact.inference.small_sample`. In the package's Monte
        Carlo study (about 10 clusters per cohort) cohort-level intervals cover
        94% instead of 90%. Not with survey designs, which have their own df.

    Returns
    -------
    GroupTimeResult
        ``tidy()`` has ``cohort, time, estimate, std_error, conf_low, conf_high``
        (plus bands, ``by`` columns and a ``reason`` for cells that could not be
        estimated); ``.aggregate(kind)`` and ``.pretest()`` as in R ``did``.

    Raises
    ------
    SpecificationError
        For an unknown option value or column; for ``control="never_treated"``
        when every unit is eventually treated (see ``last_cohort_as_control``).

    Warns
    -----
    DroppedRowsWarning
        For rows with missing values, units not observed in every period
        (the panel is balanced, as R ``did`` does by default, unless
        ``allow_unbalanced_panel=True``), units treated
        in the first period, and the no-never-treated adjustment.
    EstimationWarning
        Naming the (cohort, time) cells that could not be estimated (kept as NaN).

    Notes
    -----
    For cohort :math:`g`, period :math:`t` and base period :math:`b` (``t - 1`` for
    pre-treatment cells with a varying base, else :math:`g - \\delta - 1`), without
    covariates

    .. math:: \\widehat{ATT}(g,t) = \\frac{\\sum_{i:G_i=g} w_i (Y_{it}-Y_{ib})}{\\sum_{i:G_i=g} w_i}
              - \\frac{\\sum_{i\\in C_{g,t}} w_i (Y_{it}-Y_{ib})}{\\sum_{i\\in C_{g,t}} w_i},

    with :math:`C_{g,t}` the never-treated units, or those not yet treated by
    :math:`\\max(t, b) + \\delta`. Its influence function is the unit's centred
    long difference; both only need the weighted (cohort, cluster) by period
    sums of :math:`Y`, computed in one ``np.bincount`` pass. With covariates each
    cell calls the 2x2 kernels of Sant'Anna & Zhao (2020). Standard errors are
    :math:`\\sqrt{\\sum_c (\\sum_{i\\in c}\\psi_i)^2}/n`, clustered on
    ``panel.cluster`` (R ``did``'s analytic standard errors when clusters are
    units). Repeated cross-sections use the four cell means, as do unbalanced
    panels with ``allow_unbalanced_panel=True``, where a unit's rows in the
    cell's two periods add up to its influence function
    (:math:`\\psi_i = \\sum_{r \\in i}\\phi_r\\,n/n_1`, with :math:`n_1` the cell's
    rows and :math:`n` the units). Units are weighted
    by the panel's weights, which must be constant within unit.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
    multiple time periods. *Journal of Econometrics*, 225(2), 200-230.

    Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> res = ci.att_gt(p, "lemp")
    >>> res.tidy()[["cohort", "time", "estimate"]].head(2).round(4)
       cohort  time  estimate
    0    2004  2004   -0.0105
    1    2004  2005   -0.0704
    >>> round(float(res.aggregate("simple").estimate[0]), 4)
    -0.04
    """
    cfg = AttGtConfig.make(y, covariates, control, method, anticipation, base_period, bootstrap,
                           alpha, by, unbalanced=allow_unbalanced_panel)
    if last_cohort_as_control not in (True, False):
        raise SpecificationError(f"last_cohort_as_control must be True or False, got "
                                 f"{last_cohort_as_control!r}.")
    cfg = replace(cfg, last_cohort_as_control=bool(last_cohort_as_control))
    if small_sample not in (True, False):
        raise SpecificationError(f"small_sample must be True or False, got {small_sample!r}.")
    if small_sample and panel.survey is not None:
        raise SpecificationError(
            "small_sample=True with a survey design (strata=/fpc= on the Panel): design-based "
            "variances already use the design's degrees of freedom; drop small_sample.")
    yv = panel.column(cfg.y)
    x, x_names = (None, []) if cfg.covariates is None else _covariate_matrix(panel, cfg.covariates)

    unit_code = panel.unit_code
    unit_group, group_labels = _unit_groups(panel, cfg.by)
    sample = _sample(panel, yv, x, cfg, unit_group)
    # unit weights; without a weights column a read-only view of ones (made real for the row paths)
    weights = (_unit_weights(panel) if panel.has_weights else np.broadcast_to(1.0, (panel.n_units,))) \
        if panel.is_panel else panel.weights

    # periods and cohorts of the estimation sample
    tvals = panel.period_values[sample.period_keep]
    period_map = np.cumsum(sample.period_keep) - 1
    keep_u = sample.unit_keep
    # cohort index of each unit (inf -> cvals.size, never): a lookup of the cohort codes
    codes, distinct = sample.cohort_code, sample.cohort_value
    kept = distinct if keep_u.all() else distinct[np.unique(codes[keep_u])]
    cvals = np.unique(kept[np.isfinite(kept)])
    n_coh = cvals.size + 1
    lookup = np.searchsorted(cvals, distinct)
    unit_cidx = (lookup.astype(np.int8) if n_coh < 127 else lookup)[codes]  # (narrow: 1 byte/unit)
    eligible = cvals > tvals[0] + cfg.anticipation
    if sample.exclude_latest is not None:
        eligible &= cvals != sample.exclude_latest
    n_groups = len(group_labels)
    all_kept = bool(keep_u.all())
    unit_cg = unit_cidx if n_groups == 1 and all_kept else \
        np.where(keep_u, unit_group * n_coh + unit_cidx, -1)
    kept_cg = unit_cg if all_kept else unit_cg[keep_u]
    present = K.code_counts(kept_cg, n_groups * n_coh).reshape(n_groups, n_coh)
    glists = [np.flatnonzero(eligible & (present[s, :-1] > 0)) for s in range(n_groups)]
    if not any(g.size for g in glists):
        raise SpecificationError("No treated cohort has a pre-treatment period in the data.")
    plan = _plan(tvals, cvals, glists, cfg)

    n_t = tvals.size
    if panel.is_panel and panel._grid and sample.row_keep is None and x is None \
            and not sample.unbalanced:
        # sorted unit-by-period rows without gaps: the outcomes are a (units, periods) matrix
        ywide = yv.reshape(panel.n_units, -1)
        ywide = ywide if sample.period_keep.all() else ywide[:, sample.period_keep]
        stats, rows_u, row_cluster, blocks, n_obs_units = _panel_path(
            panel, cfg, x, None, True, None, None, ywide, unit_cg, weights, plan, n_coh,
            n_groups, n_t, keep_u, cg_units=present.reshape(-1))
        n_obs = n_obs_units * n_t
    else:
        unit_cg = unit_cg.astype(np.int64, copy=False)  # the row paths compute with the codes
        weights = np.ascontiguousarray(weights)
        # rows of the estimation sample
        if sample.period_keep.all() and keep_u.all():
            row_keep = sample.row_keep if sample.row_keep is not None else np.ones(1, dtype=bool)
        else:
            row_keep = sample.period_keep[panel.time_code]
            row_keep &= keep_u[unit_code]
            if sample.row_keep is not None:
                row_keep &= sample.row_keep
        all_rows = bool(row_keep.all())
        sel = slice(None) if all_rows else row_keep
        tcode = panel.time_code if sample.period_keep.all() else period_map[panel.time_code]
        tcode = tcode if all_rows else tcode[sel]
        y_rows = yv if all_rows else yv[sel]
        n_obs = int(y_rows.size)
        ucode = unit_code if all_rows else unit_code[sel]
        path = _unbalanced_path if sample.unbalanced else \
            _panel_path if panel.is_panel else _rc_path
        stats, rows_u, row_cluster, blocks, n_obs_units = path(
            panel, cfg, x, sel, all_rows, ucode, tcode, y_rows, unit_cg, weights, plan,
            n_coh, n_groups, n_t, keep_u)

    design = GroupTimeDesign(
        cell_group=plan.group, cell_cohort=plan.cohort, cell_time=plan.time,
        cohort_value=cvals[plan.cohort], time_value=tvals[plan.time],
        block_row=blocks[0], block_cg=blocks[1], block_weight=blocks[2],
        n_cohorts=n_coh, cohort_values=cvals, period_values=tvals,
        group_labels=group_labels, by=list(cfg.by),
        n_units_by_group=present.sum(axis=1),
        row_cluster=row_cluster, bootstrap=cfg.bootstrap, boot_weights=cfg.boot_weights,
        boot_seed=None, time_labels=_time_labeller(panel), survey=panel.survey,
        small_sample=bool(small_sample),
    )
    _warn_cells(design, stats.reason, stats.att)
    info = {
        "estimator": "Callaway-Sant'Anna ATT(g,t)", "outcome": cfg.y,
        "n_obs": n_obs, "n_units": n_obs_units,
        "n_clusters": int(row_cluster.size), "control": cfg.control,
        "method": cfg.method if cfg.covariates is not None else "no covariates",
        "covariates": x_names[1:], "anticipation": cfg.anticipation,
        "base_period": cfg.base_period,
        "vcov_type": (panel.survey.label() + (
            f", multiplier bootstrap per PSU ({cfg.bootstrap} {cfg.boot_weights} draws)"
            if cfg.bootstrap else "")) if panel.survey is not None else
        (f"multiplier bootstrap ({cfg.bootstrap} {cfg.boot_weights} draws)"
         if cfg.bootstrap else "analytic (influence function)")
        + f", clustered by {panel.cluster or 'unit'}"
        + (", cohort-leverage adjusted, Welch-Satterthwaite df" if small_sample else ""),
        "by": list(cfg.by), "panel": panel.is_panel, "unbalanced": sample.unbalanced,
        # how to re-estimate on re-assigned roll-out dates (randomization inference)
        "refit": RefitSpec(panel, partial(
            att_gt, covariates=covariates, control=control, method=method,
            anticipation=anticipation, base_period=base_period, alpha=alpha, by=by,
            last_cohort_as_control=last_cohort_as_control,
            allow_unbalanced_panel=allow_unbalanced_panel, small_sample=small_sample), cfg.y),
    }
    _warn_few_clusters(int(row_cluster.size), panel)
    if (cfg.by and panel.is_panel and row_cluster.size >= FEW_CLUSTERS and not small_sample
            and panel.survey is None):  # CR1-like analytic SEs only
        warn_few_subgroup_clusters(unit_group[keep_u], unit_cidx[keep_u] < n_coh - 1,
                                   np.asarray(panel.unit_cluster)[keep_u], group_labels,
                                   remedy=_SUBGROUP_REMEDY)
    return build_result(design, stats, rows_u, cfg.alpha, info, seed)


_SUBGROUP_REMEDY = ("check them with res.aggregate(...).wild_bootstrap() or .randomization(), or "
                    "refit with small_sample=True (cohort-leverage SEs with Welch df)")


def _warn_few_clusters(n_clusters: int, panel: Panel) -> None:
    """Analytic influence-function SEs need many clusters (like CR1); say so when there are few."""
    if n_clusters < FEW_CLUSTERS:
        warnings.warn(
            f"Only {n_clusters} clusters ({panel.cluster or 'unit'}): analytic standard errors "
            "clustered on so few clusters tend to be too small. Refit with small_sample=True "
            "(cohort-leverage SEs, Welch df) and check the aggregated effects with "
            "res.aggregate(...).wild_bootstrap() or .randomization().",
            FewClustersWarning, stacklevel=3)


def _unit_groups(panel: Panel, by: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """Subgroup code of each unit and the label frame (the codes of ``panel.groups``).

    On panels the subgroups are coded once per unit: each ``by`` column is
    checked for missing values and constancy within unit on its raw values (a
    reshaped comparison on sorted grids), and only one row per unit is grouped.
    Any failure falls back to the row-level path, which names the offending rows.
    """
    if not by:
        n = panel.n_units
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=[0])
    if not panel.is_panel:
        return panel.groups(list(by))
    fast = _unit_groups_fast(panel, list(by))
    if fast is not None:
        return fast
    codes, labels = panel.groups(list(by))
    unit_group = np.empty(panel.n_units, dtype=np.int64)
    unit_group[panel.unit_code] = codes
    varies = unit_group[panel.unit_code] != codes
    if varies.any():
        n_bad = np.unique(panel.unit_code[varies]).size
        raise SpecificationError(
            f"The by= column(s) {list(by)} vary within unit for {n_bad} unit(s); subgroups of "
            "att_gt must be fixed unit characteristics (e.g. measured at baseline).")
    return unit_group, labels


def _unit_groups_fast(panel: Panel, names: list[str]) -> tuple[np.ndarray, pd.DataFrame] | None:
    """:func:`_unit_groups` on one row per unit, or ``None`` when a column is missing or varies.

    Each column is coded as ``groupby(sort=True, observed=True)`` codes it (sorted
    factorisation; categories in their order), the codes are combined in mixed
    radix and the combinations present are numbered in order, which is
    ``ngroup()``'s numbering.
    """
    from clusterimpact.design import _codes

    data = panel.data
    if any(name not in data for name in names):
        return None
    n_units = panel.n_units
    small = [_small_codes(data[name]) for name in names]
    if all(c is not None for c in small) and \
            np.prod([c[2] for c in small], dtype=float) <= 4 * n_units + 1024:
        return _unit_groups_small(panel, names, small)
    if panel._grid:
        first = np.arange(n_units, dtype=np.int64) * (panel.n_obs // n_units)
    else:  # any row of each unit will do once the columns are known to be constant within unit
        first = np.empty(n_units, dtype=np.int64)
        first[panel.unit_code] = np.arange(panel.n_obs)
    combined = np.zeros(n_units, dtype=np.int64)
    uniques = []
    for name in names:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            raw = col.cat.codes.to_numpy()
            if (raw < 0).any():
                return None
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":
            raw = col.to_numpy()  # NaN never equals itself: unit_values then returns None
        else:
            if col.isna().any():
                return None
            raw = col.to_numpy()
        if _codes.unit_values(raw, panel.unit_code, n_units, panel._grid) is None:
            return None
        if isinstance(col.dtype, pd.CategoricalDtype):
            seen = np.bincount(raw[first], minlength=len(col.cat.categories)) > 0
            used = np.flatnonzero(seen)
            code = (np.cumsum(seen) - 1)[raw[first]]
            levels = pd.Index(pd.Categorical.from_codes(used, dtype=col.dtype))
        else:
            code, levels = _sorted_codes(col, raw, first)
        uniques.append(levels)
        combined *= len(levels)
        combined += code
    size = int(np.prod([len(u) for u in uniques], dtype=float))
    if size <= 4 * n_units + 1024:
        seen = np.bincount(combined, minlength=size) > 0
        present = np.flatnonzero(seen)
        unit_group = (np.cumsum(seen) - 1)[combined]
    else:
        present, unit_group = np.unique(combined, return_inverse=True)
    labels = {}
    for name, levels in zip(reversed(names), reversed(uniques), strict=True):
        labels[name] = levels.take(present % len(levels))
        present = present // len(levels)
    return unit_group.astype(np.int64), pd.DataFrame({n: labels[n] for n in names})


def _small_codes(col: pd.Series) -> tuple[np.ndarray, int, int] | None:
    """``(row values, low, span)`` of a categorical (codes) or small-range integer/bool column."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        raw = col.cat.codes.to_numpy()
        return None if raw.size == 0 or raw.min() < 0 else (raw, 0, len(col.cat.categories))
    if not isinstance(col.dtype, np.dtype) or col.dtype.kind not in "biu" or col.size == 0:
        return None
    raw = col.to_numpy()
    if raw.dtype.kind == "b":
        return raw.view(np.uint8), 0, 2
    low, high = int(raw.min()), int(raw.max())
    return (raw, low, high - low + 1) if high - low < (1 << 16) else None


def _unit_groups_small(panel: Panel, names: list[str], small: list[tuple[np.ndarray, int, int]]
                       ) -> tuple[np.ndarray, pd.DataFrame] | None:
    """Subgroups of small-code columns, coded on one row per unit.

    Each column's row codes are checked for constancy within unit (on sorted
    grids: every change between consecutive rows falls on a unit boundary),
    then the mixed-radix code of the units' (category code / value - min, ...)
    orders the combinations as ``groupby(sort=True)`` does and the
    combinations present are numbered in that order.
    """
    from clusterimpact.design import _codes

    n_units = panel.n_units
    if panel._grid:
        n_per = panel.n_obs // n_units
        first = np.arange(n_units, dtype=np.int64) * n_per
    else:
        first = np.empty(n_units, dtype=np.int64)
        first[panel.unit_code] = np.arange(panel.n_obs)
    total = int(np.prod([c[2] for c in small]))
    combined = np.zeros(n_units, dtype=np.int64)
    for raw, low, span in small:
        if panel._grid:  # rows i and i + 1 may differ only where row i + 1 starts a unit
            change = np.empty(raw.size, dtype=bool)
            np.not_equal(raw[1:], raw[:-1], out=change[:-1])
            change.reshape(n_units, n_per)[:, -1] = False
            if change.any():
                return None
        elif _codes.unit_values(raw, panel.unit_code, n_units, False) is None:
            return None
        combined *= span
        combined += raw[first]
        combined -= low
    seen = np.bincount(combined, minlength=total) > 0
    present = np.flatnonzero(seen)
    unit_group = (np.cumsum(seen) - 1)[combined]
    labels = {}
    for name, (_, low, span) in zip(reversed(names), reversed(small), strict=True):
        digit, present = present % span, present // span
        col = panel.data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            labels[name] = pd.Categorical.from_codes(digit, dtype=col.dtype)
        else:
            labels[name] = (digit + low).astype(col.dtype)
    return unit_group, pd.DataFrame({n: labels[n] for n in names})


def _sorted_codes(col: pd.Series, raw: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(col.take(rows), sort=True)``; small-range integers by one ``np.bincount``."""
    values = raw[rows]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu" and values.size:
        low = values.min()
        span = int(values.max()) - int(low) + 1
        if span <= 4 * values.size + 1024:
            shifted = (values - low).astype(np.intp)
            seen = np.bincount(shifted, minlength=span) > 0
            levels = pd.Index((np.flatnonzero(seen) + int(low)).astype(col.dtype), name=col.name)
            return (np.cumsum(seen) - 1)[shifted], levels
    return pd.factorize(col.take(rows), sort=True)


def _unit_weights(panel: Panel) -> np.ndarray:
    if not panel.has_weights:
        return np.ones(panel.n_units)
    w = np.empty(panel.n_units)
    w[panel.unit_code] = panel.weights
    if not np.allclose(w[panel.unit_code], panel.weights, rtol=0, atol=np.sqrt(np.finfo(float).eps)):
        raise SpecificationError(
            f"The weights column {panel.weights_column!r} varies within unit; att_gt needs one "
            "weight per unit (e.g. the baseline sampling weight).")
    return w / w.mean()


def _panel_path(panel, cfg, x, sel, all_rows, ucode, tcode, y_rows, unit_cg, weights, plan,
                n_coh, n_groups, n_t, keep_u, cg_units=None):
    n_cg = n_groups * n_coh
    unit_cluster = panel.unit_cluster
    n_kept = int(keep_u.sum())
    if x is None:
        junk_cg = unit_cg if n_kept == keep_u.size else np.where(unit_cg >= 0, unit_cg, n_cg)
        layout = K.block_layout(unit_cluster, junk_cg, n_cg + 1, panel.n_clusters,
                                unit_block=ucode is not None)
        n_real = int(layout.cg_start[n_cg])
        # (blocks, periods + 1) sums, the last column left for the weights (see panel_cell_factors)
        one_per_block = layout.order is not None
        if ucode is None and one_per_block:  # rows of the (units, periods) outcomes, not copied
            wunit = weights if panel.has_weights else None
            table = K.GridRows(y_rows, layout.order[:n_real], wunit)
        elif ucode is None:  # y_rows is the (units, periods) outcome matrix of a sorted grid
            table = K.grid_table(y_rows, weights if panel.has_weights else None, layout, n_real,
                                 fill_weights=one_per_block)
        else:
            key = layout.unit_block[ucode] * np.int64(n_t + 1)
            key += tcode
            wy = y_rows if not panel.has_weights else y_rows * weights[ucode]
            table = np.bincount(key, weights=wy, minlength=layout.n_blocks * (n_t + 1))
            table = table.reshape(layout.n_blocks, n_t + 1)[:n_real]
        filled = ucode is None and one_per_block
        ysum = None if filled else table[:, :n_t]
        if filled:  # each block is a unit: its weight
            wsum = np.broadcast_to(1.0, n_real) if wunit is None else wunit[layout.order[:n_real]]
        else:
            wsum = np.bincount(layout.unit_block, weights=weights if n_kept == keep_u.size else
                               np.where(keep_u, weights, 0.0),
                               minlength=layout.n_blocks)[:n_real]
        lay = K.BlockLayout(layout.unit_block, layout.block_cluster[:n_real],
                            layout.block_cg[:n_real], layout.cg_start[: n_cg + 1])
        if cg_units is None:  # kept units per subgroup-cohort code
            cg_units = np.bincount(unit_cg if n_kept == keep_u.size else unit_cg[keep_u],
                                   minlength=n_cg)
        # one unit per cluster: every block is its own cluster (row)
        n_rows = n_real if one_per_block else int(np.count_nonzero(np.bincount(lay.block_cluster)))
        stats = K.panel_cell_factors(ysum, wsum, lay, plan, n_coh, cg_units, scale=n_rows,
                                     table=table, weights_in_table=filled,
                                     equal_weights=(one_per_block and not panel.has_weights) or None)
        if one_per_block:
            rows_u, row_cluster, block_row = stats.influence, lay.block_cluster, np.arange(n_real)
        else:
            rows_u, row_cluster, block_row = K.cluster_rows(stats.influence, lay.block_cluster)
        blocks = (block_row, lay.block_cg, wsum)
    else:
        xr = x if all_rows else x[sel]
        if all_rows and panel._grid and _grid_rows(panel, n_t):  # sorted rows: reshape
            ywide = y_rows.reshape(panel.n_units, n_t)
            xwide = xr.reshape(panel.n_units, n_t, xr.shape[1])
        else:
            ywide = np.full((panel.n_units, n_t), np.nan)
            ywide[ucode, tcode] = y_rows
            xwide = []
            for p in range(n_t):
                xp = np.zeros((panel.n_units, xr.shape[1]))
                rows_p = tcode == p
                xp[ucode[rows_p]] = xr[rows_p]
                xwide.append(xp)
        stats = K.kernel_panel_cells(ywide, xwide, weights, unit_cg, plan, n_coh, cfg.method)
        idx = np.flatnonzero(keep_u)
        if idx.size < keep_u.size:
            stats = stats._replace(influence=stats.influence[idx])
        rows_u, row_cluster, block_row = K.cluster_rows(stats.influence, unit_cluster[idx])
        rows_u = rows_u * row_cluster.size
        blocks = (block_row, unit_cg[idx], weights[idx])
    return stats, rows_u, row_cluster, blocks, n_kept


def _grid_rows(panel: Panel, n_t: int) -> bool:
    """Whether the Panel's sorted grid rows are the sample's (every period kept)."""
    return panel.n_obs == panel.n_units * n_t


def _rc_path(panel, cfg, x, sel, all_rows, ucode, tcode, y_rows, unit_cg, weights, plan, n_coh,
             n_groups, n_t, keep_u):
    row_cg = unit_cg if all_rows else unit_cg[sel]
    w = weights if all_rows else weights[sel]
    cluster = panel.cluster_code if all_rows else panel.cluster_code[sel]
    xr = None if x is None else x if all_rows else x[sel]
    return _rows_path(cfg, xr, tcode, y_rows, row_cg, w, cluster, panel.n_clusters, plan, n_coh,
                      n_groups, n_t)


def _unbalanced_path(panel, cfg, x, sel, all_rows, ucode, tcode, y_rows, unit_cg, weights, plan,
                     n_coh, n_groups, n_t, keep_u):
    """R ``did``'s ``allow_unbalanced_panel``: the cross-section cells on the panel's rows.

    Each row is an observation of its unit's cohort; the sum-scale influence
    functions of a unit's rows (and of a cluster's units) add up to one row per
    cluster. The aggregation blocks are units, as R ``did``'s ``aggte`` takes
    cohort shares over units (``pg``).
    """
    unit_cluster = panel.unit_cluster
    xr = None if x is None else x if all_rows else x[sel]
    stats, rows_u, row_cluster, _, _ = _rows_path(
        cfg, xr, tcode, y_rows, unit_cg[ucode], weights[ucode], unit_cluster[ucode],
        panel.n_clusters, plan, n_coh, n_groups, n_t)
    idx = np.flatnonzero(keep_u)
    row_of = np.full(panel.n_clusters, -1, dtype=np.int64)
    row_of[row_cluster] = np.arange(row_cluster.size)
    blocks = (row_of[unit_cluster[idx]], unit_cg[idx], weights[idx])
    return stats, rows_u, row_cluster, blocks, int(idx.size)


def _rows_path(cfg, xr, tcode, y_rows, row_cg, w, cluster, n_clusters, plan, n_coh, n_groups, n_t):
    """Cells of repeated cross-sections from the selected rows (codes, weights, clusters)."""
    n_cg = n_groups * n_coh
    w = w / w.mean()
    if xr is None:
        layout = K.block_layout(cluster, row_cg * n_t + tcode, n_cg * n_t, n_clusters)
        ysum = np.bincount(layout.unit_block, weights=w * y_rows, minlength=layout.n_blocks)
        wsum = np.bincount(layout.unit_block, weights=w, minlength=layout.n_blocks)
        cgp_rows = np.bincount(row_cg * n_t + tcode, minlength=n_cg * n_t)
        stats = K.rc_cells(ysum, wsum, layout, n_t, plan, n_coh, cgp_rows)
        rows_u, row_cluster, block_row = K.cluster_rows(stats.influence, layout.block_cluster)
        rows_u = rows_u * row_cluster.size
        blocks = (block_row, layout.block_cg // n_t, wsum)
    else:
        stats = K.kernel_rc_cells(y_rows, xr, w, row_cg, tcode, plan, n_coh, cfg.method)
        rows_u, row_cluster, block_row = K.cluster_rows(stats.influence, cluster)
        rows_u = rows_u * row_cluster.size
        blocks = (block_row, row_cg, w)
    return stats, rows_u, row_cluster, blocks, int(y_rows.size)


def _time_labeller(panel: Panel):
    periods = panel.periods
    values = panel.period_values
    if np.issubdtype(np.asarray(periods).dtype, np.number):
        dtype = np.asarray(periods).dtype
        return lambda v: np.asarray(v).astype(dtype) if np.all(np.isfinite(v)) else np.asarray(v)
    return lambda v: np.asarray(panel._label_times(np.asarray(v, dtype=float)), dtype=object) \
        if values.size else v


def _warn_cells(design: GroupTimeDesign, reason: np.ndarray, att: np.ndarray) -> None:
    bad = np.flatnonzero(np.isnan(att))
    if bad.size == 0:
        return
    parts = []
    for j in bad[:8]:
        label = f"(cohort {design.cohort_value[j]:g}, time {design.time_value[j]:g})"
        if design.by:
            label += " in " + ", ".join(
                f"{c}={design.group_labels[c].iloc[design.cell_group[j]]}" for c in design.by)
        parts.append(f"{label}: {reason[j]}")
    more = f" and {bad.size - 8} more" if bad.size > 8 else ""
    warnings.warn(
        f"{bad.size} ATT(g,t) cell(s) could not be estimated and are reported as NaN "
        f"(aggregations skip them): " + "; ".join(parts) + more + ".",
        EstimationWarning, stacklevel=3)
