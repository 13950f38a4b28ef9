"""Triple differences, ``ci.ddd`` (Ortiz-Villavicencio & Sant'Anna 2025).

The programme reaches a *target* subgroup (e.g. home-based workers, women)
in treated clusters; the other subgroup in the same clusters absorbs
cluster-specific shocks that coincide with the programme. The DDD effect on
the target subgroup is identified if the *difference* in trends between
the subgroups would have been the same in treated and comparison clusters,
which allows treated clusters to follow different trends from comparison
clusters, as long as both subgroups share them.

:func:`ddd` computes every ATT(g,t) as a combination of three doubly robust
2x2 DiDs that all use the target units of cohort g as the treated group, so
the covariate adjustment is always towards the target group's covariates, and
aggregates with influence functions clustered on ``panel.cluster``.
:func:`ddd_regression` is the naive three-way fixed-effects regression, kept
for comparison (it is biased with staggered adoption and heterogeneous
effects, and with covariates whose distribution differs across cells).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.errors import (
    DroppedRowsWarning,
    EstimationError,
    EstimationWarning,
    SpecificationError,
    suggest,
)
from clusterimpact.estimators.att_gt import _unit_weights
from clusterimpact.inference.survey import SurveyDesign
from clusterimpact.kernels import drdid as kernels
from clusterimpact.results.base import Result

__all__ = ["DDDResult", "ddd", "ddd_regression"]

DddMethod = Literal["dr", "reg", "ipw"]
DddControl = Literal["never_treated", "not_yet_treated"]
_KERNELS = {"dr": kernels.drdid_panel, "reg": kernels.reg_did_panel, "ipw": kernels.std_ipw_did_panel}
_RC_KERNELS = {"dr": kernels.drdid_rc, "reg": kernels.reg_did_rc, "ipw": kernels.std_ipw_did_rc}


def _check(name: str, value: Any, options: Any) -> None:
    allowed = get_args(options)
    if value not in allowed:
        raise SpecificationError(f"{name}={value!r} is not allowed; use one of "
                                 f"{', '.join(map(repr, allowed))}.{suggest(str(value), allowed)}")


def _target_flag(panel, subgroup: str, target: Any) -> np.ndarray:
    if subgroup not in panel.data:
        raise SpecificationError(f"The subgroup column {subgroup!r} is not in the data."
                                 f"{suggest(subgroup, panel.data.columns)}")
    col = panel.data[subgroup]
    if col.isna().any():
        raise SpecificationError(f"The subgroup column {subgroup!r} has {int(col.isna().sum())} missing "
                                 "value(s).")
    values = pd.unique(col)
    if target is None:
        if set(map(str, values)) <= {"0", "1", "True", "False", "0.0", "1.0"}:
            target = True if col.dtype == bool else 1
        else:
            raise SpecificationError(
                f"Say which level of {subgroup!r} is the target subgroup: target=... (one of "
                f"{', '.join(map(repr, values[:8]))}).")
    if not (col == target).any():
        raise SpecificationError(f"No row has {subgroup} == {target!r}."
                                 f"{suggest(str(target), list(map(str, values)))}")
    return (col == target).to_numpy()


@dataclass(frozen=True, eq=False, repr=False)
class DDDResult(Result):
    """DDD ATT(g,t) for the target subgroup; aggregate without refitting.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.ddd(sim.panel, "earnings", subgroup="site", target="home")
    >>> res.tidy().columns[:2].tolist()
    ['cohort', 'time']
    """

    cell_cohort: np.ndarray | None = None
    cell_time: np.ndarray | None = None
    target_unit_cohort: np.ndarray | None = None
    #: sampling weight of each influence row (unit or row), mean one; None when unweighted
    row_weight: np.ndarray | None = None
    survey: SurveyDesign | None = None

    def aggregate(self, kind: Literal["simple", "dynamic", "group"] = "simple") -> Result:
        """Aggregate the ATT(g,t) as R ``did`` does (weights = target units per cohort).

        Cohort sizes are weighted by the sampling weights when the panel has them
        (R did's weighted group probabilities). ``"simple"``: post-treatment cells
        weighted by cohort size; ``"dynamic"``:
        by event time; ``"group"``: by cohort. The influence of the estimated
        weights is included.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> sim = ci.simulate.scenario("football_stitching", seed=1)
        >>> agg = ci.ddd(sim.panel, "earnings", subgroup="site", target="home").aggregate()
        >>> agg.tidy()["estimate"].round(2).tolist()
        [-1.59]
        """
        allowed = ("simple", "dynamic", "group")
        if kind not in allowed:
            raise SpecificationError(f"kind must be one of {allowed}, got {kind!r}.{suggest(kind, allowed)}")
        g, t = self.cell_cohort, self.cell_time
        ok = np.isfinite(self.estimate)
        psi = self.influence
        tgt = self.target_unit_cohort
        w_row = np.ones(tgt.size) if self.row_weight is None else self.row_weight
        share = {c: float(np.mean(w_row * (tgt == c))) for c in np.unique(g)}

        def combine(cells: np.ndarray, equal: bool = False) -> tuple[float, np.ndarray]:
            p = np.array([share[c] for c in g[cells]])
            w = np.full(cells.size, 1.0 / cells.size) if equal else p / p.sum()
            theta = float(w @ self.estimate[cells])
            col = psi[:, cells] @ w
            if not equal:
                dev = self.estimate[cells] - theta
                member = (tgt[:, None] == g[cells][None, :]) * w_row[:, None]
                col = col + member @ dev / p.sum()
            return theta, col

        keys, est, cols = [], [], []
        post = ok & (t >= g)
        if kind in ("simple", "group") and not post.any():
            raise SpecificationError(
                f"No estimable post-treatment DDD cell for the {kind!r} aggregation: see the "
                "warnings (and tidy()) of the cell estimates for why each one is missing.")
        if kind == "dynamic" and not ok.any():
            raise SpecificationError("No estimable DDD cell for the 'dynamic' aggregation.")
        if kind == "simple":
            theta, col = combine(np.flatnonzero(post))
            keys.append({}), est.append(theta), cols.append(col)
        elif kind == "group":
            for c in np.unique(g[post]):
                theta, col = combine(np.flatnonzero(post & (g == c)), equal=True)
                keys.append({"cohort": c}), est.append(theta), cols.append(col)
        else:
            e = t - g
            for ev in np.unique(e[ok]):
                theta, col = combine(np.flatnonzero(ok & (e == ev)))
                keys.append({"event_time": ev}), est.append(theta), cols.append(col)
        infl = np.column_stack(cols)
        frame = pd.DataFrame(keys) if kind != "simple" else pd.DataFrame(index=[0])
        return Result(keys=frame, estimate=np.array(est), vcov=_vcov(infl, self.cluster, self.survey),
                      alpha=self.alpha, dof=self.dof,
                      info={**self.info, "estimator": f"Triple differences, {kind} aggregation"},
                      influence=infl, cluster=self.cluster)


def _vcov(infl: np.ndarray, cluster: np.ndarray, survey: SurveyDesign | None) -> np.ndarray:
    """Clustered influence-function covariance, or the design-based one with a survey design."""
    n = infl.shape[0]
    if survey is not None:
        return survey.vcov(infl / n, cluster)
    scores = np.zeros((int(cluster.max()) + 1, infl.shape[1]))
    np.add.at(scores, cluster, infl)
    scores /= n
    return scores.T @ scores


def ddd(
    panel,
    y: str,
    *,
    subgroup: str,
    target: Any = None,
    covariates: Sequence[str] | None = None,
    method: DddMethod = "dr",
    control: DddControl = "never_treated",
    alpha: float = 0.05,
    trim_level: float = 0.995,
) -> DDDResult:
    """Triple-difference ATT(g,t) of the programme on a target subgroup (2x2x2 or staggered).

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel` of units (units not observed in every
        period are dropped) or of repeated cross-sections (``unit=None``: each
        2x2 DiD is then DRDID's repeated cross-section estimator on the rows of
        its two periods).
    y
        Outcome column.
    subgroup
        Column defining the subgroups, constant within unit (e.g. ``"site"``).
    target
        The level of ``subgroup`` the programme targets; the other levels form the
        comparison subgroup. Optional for a 0/1 column (target = 1).
    covariates
        Baseline covariates (values of the first period; with repeated
        cross-sections each row's own values), used by the three 2x2 kernels.
    method
        ``"dr"`` doubly robust (default), ``"reg"`` outcome regression, ``"ipw"``
        normalised IPW; all coincide without covariates.
    control
        ``"never_treated"`` or ``"not_yet_treated"`` comparison clusters.
    alpha
        One minus the confidence level.
    trim_level
        Propensity-score trimming of the comparison cells (as in DRDID).

    Returns
    -------
    DDDResult
        ``tidy()`` has ``cohort, time`` and the statistics; ``.aggregate(kind)``.

    Raises
    ------
    SpecificationError
        Unknown option or column, or no target / comparison subgroup.

    Notes
    -----
    Let :math:`S_i=g` be the cohort of unit :math:`i`'s cluster, :math:`Q_i=1` the
    target subgroup and :math:`\\Delta Y_i = Y_{it} - Y_{ib}` with base period
    :math:`b = g-1` (post cells) or :math:`t-1` (pre cells). With
    :math:`\\widehat{DiD}_{A,B}` the 2x2 DiD (doubly robust with covariates)
    between the *treated* cell :math:`A=\\{S=g,Q=1\\}` and comparison cell B,

    .. math:: \\widehat{ATT}_{DDD}(g,t) = \\widehat{DiD}_{A,\\{S=g,Q=0\\}}
              + \\widehat{DiD}_{A,\\{S=c,Q=1\\}} - \\widehat{DiD}_{A,\\{S=c,Q=0\\}},

    with :math:`c` the never (or not yet) treated. Without covariates this is
    :math:`(\\bar\\Delta_{g1}-\\bar\\Delta_{g0})-(\\bar\\Delta_{c1}-\\bar\\Delta_{c0})`;
    with covariates every term reweights towards the covariates of A, which
    the "difference of two DiDs" (each subgroup with its own covariates) does
    not. The influence function is the sum of the three kernels' (each scaled
    by :math:`n/n_{AB}`), clustered as :math:`\\hat V=\\sum_c S_c S_c'/n^2`.

    With repeated cross-sections (Ortiz-Villavicencio & Sant'Anna 2025, section
    on repeated cross-sections; R ``triplediff``'s ``panel = FALSE``) each
    :math:`\\widehat{DiD}_{A,B}` is the repeated cross-section estimator of
    Sant'Anna & Zhao (2020) (``"dr"``: the locally efficient ``drdid_rc``;
    ``"reg"``: ``reg_did_rc``; ``"ipw"``: ``std_ipw_did_rc``) on the observations
    of cells A and B in periods :math:`t` and :math:`b`, :math:`n` counts
    observations, :math:`n_{AB}` those of the 2x2, and the panel's weights
    (if any) are the sampling weights. Without covariates it is the
    difference of the eight cell means,
    :math:`[(\\bar Y_{g1t}-\\bar Y_{g1b})-(\\bar Y_{g0t}-\\bar Y_{g0b})]
    -[(\\bar Y_{c1t}-\\bar Y_{c1b})-(\\bar Y_{c0t}-\\bar Y_{c0b})]`.

    Why not a regression with three-way fixed effects
    (:func:`ddd_regression`): as with TWFE DiD, with staggered adoption its
    coefficient mixes post-treatment periods of early cohorts into the
    comparison of later ones ("forbidden comparisons"), so heterogeneous or
    dynamic effects give weights that can be negative; and covariates
    entered linearly impose a common covariate effect across all eight
    cells, biasing the estimate when the covariate distribution differs
    between subgroups and trends depend on covariates (Olden & Moen 2022;
    Ortiz-Villavicencio & Sant'Anna 2025). The tests show both failures.

    References
    ----------
    Ortiz-Villavicencio, M. and Sant'Anna, P. H. C. (2025). Better understanding
    triple differences estimators. arXiv:2505.09942.

    Olden, A. and Moen, J. (2022). The triple difference estimator.
    *The Econometrics Journal*, 25(3), 531-553.

    Gruber, J. (1994). The incidence of mandated maternity benefits.
    *American Economic Review*, 84(3), 622-641.

    Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> res = ci.ddd(sim.panel, "earnings", subgroup="site", target="centre")
    >>> round(float(res.aggregate("simple").estimate[0]), 2)
    0.96
    """
    _check("method", method, DddMethod)
    _check("control", control, DddControl)
    covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if not panel.is_panel:
        return _ddd_rcs(panel, y, subgroup=subgroup, target=target, covs=covs, method=method,
                        control=control, alpha=alpha, trim_level=trim_level)
    q_row = _target_flag(panel, subgroup, target)
    yv = panel.column(y)
    n_t, n_u = panel.n_periods, panel.n_units
    wide = np.full((n_u, n_t), np.nan)
    wide[panel.unit_code, panel.time_code] = yv
    q = np.zeros(n_u, dtype=bool)
    q[panel.unit_code] = q_row
    if np.any(q[panel.unit_code] != q_row):
        raise SpecificationError(f"The subgroup column {subgroup!r} varies within unit; use a "
                                 "baseline characteristic.")
    x = None
    if covs:
        first = panel.time_code == panel.time_code.min()
        x = np.full((n_u, len(covs) + 1), np.nan)
        x[:, 0] = 1.0
        for j, c in enumerate(covs):
            x[panel.unit_code[first], j + 1] = panel.column(c, role="covariate")[first]
    keep = np.all(np.isfinite(wide), axis=1) & (True if x is None else np.all(np.isfinite(x), axis=1))
    if not keep.all():
        warnings.warn(f"ddd dropped {int((~keep).sum())} unit(s) not observed (with covariates) in every "
                      "period.", DroppedRowsWarning, stacklevel=2)
    cohort = panel.unit_cohort[keep]
    wide, q, cluster = wide[keep], q[keep], panel.unit_cluster[keep]
    w = _unit_weights(panel)[keep] if panel.has_weights else None
    w = None if w is None else w / w.mean()
    x = None if x is None else x[keep]
    if q.all() or not q.any():
        raise SpecificationError("ddd needs units both in and outside the target subgroup.")
    n = q.size
    tv = panel.period_values
    fn = _KERNELS[method]
    cohorts = [c for c in np.unique(cohort[np.isfinite(cohort)]) if c > tv[0]]
    rows_g, rows_t, est, cols = [], [], [], []
    for g in cohorts:
        pre = int(np.flatnonzero(tv < g)[-1])
        for ti in range(1, n_t):
            post = tv[ti] >= g
            b = pre if post else ti - 1
            if control == "never_treated":
                ctrl = np.isinf(cohort)
            else:
                ctrl = (cohort > tv[max(ti, b)]) & (cohort != g)
            dy = wide[:, ti] - wide[:, b]
            cell_a = (cohort == g) & q
            psi = np.zeros(n)
            att = 0.0
            try:
                for sign, other in ((1.0, (cohort == g) & ~q), (1.0, ctrl & q), (-1.0, ctrl & ~q)):
                    rows = np.flatnonzero(cell_a | other)
                    if not other.any() or not cell_a.any():
                        raise EstimationError("an empty cell")
                    xs = None if x is None else x[rows]
                    args = {"trim_level": trim_level} if method != "reg" else {}
                    res = fn(dy[rows], cell_a[rows].astype(float), xs, None if w is None else w[rows],
                             **args)
                    att += sign * res.att
                    psi[rows] += sign * res.influence * (n / rows.size)
            except EstimationError as err:
                warnings.warn(f"DDD cell (cohort {g:g}, time {tv[ti]:g}) not estimable: {err}",
                              EstimationWarning, stacklevel=2)
                att, psi = np.nan, np.zeros(n)
            rows_g.append(g), rows_t.append(tv[ti]), est.append(att), cols.append(psi)
    if not est:
        raise SpecificationError("No treated cohort with a pre-treatment period.")
    infl = np.column_stack(cols)
    vcov = _vcov(infl, cluster, panel.survey)
    tgt = np.where(q, cohort, np.nan)
    keys = pd.DataFrame({"cohort": panel._label_times(np.array(rows_g)),
                         "time": panel._label_times(np.array(rows_t))})
    info = {"estimator": "Triple differences ATT(g,t) (Ortiz-Villavicencio & Sant'Anna)",
            "outcome": y, "method": method, "control": control, "n_units": n,
            "n_obs": int(n * n_t), "n_clusters": int(np.unique(cluster).size),
            "subgroup": subgroup, "target": target, "covariates": covs,
            "vcov_type": f"influence function, clustered by {panel.cluster or 'unit'}"
            if panel.survey is None else panel.survey.label()}
    return DDDResult(keys=keys, estimate=np.array(est, dtype=float), vcov=vcov, alpha=alpha, info=info,
                     dof=None if panel.survey is None else panel.survey.df,
                     influence=infl, cluster=cluster, survey=panel.survey,
                     cell_cohort=np.array(rows_g, dtype=float),
                     cell_time=np.array(rows_t, dtype=float), target_unit_cohort=tgt, row_weight=w)


def ddd_regression(panel, y: str, *, subgroup: str, target: Any = None,
                   covariates: Sequence[str] | None = None, vcov: str = "CR1",
                   alpha: float = 0.05) -> Result:
    """The naive three-way fixed-effects DDD regression (for comparison with :func:`ddd`).

    Estimates :math:`Y_{it} = \\beta\\, 1\\{t \\ge S_i\\} Q_i + \\alpha_i + \\lambda_{t,Q_i}
    + \\mu_{t,S_i} + X_{it}'\\gamma + \\varepsilon_{it}` (unit, time-by-subgroup
    and time-by-cohort fixed effects) with :func:`clusterimpact.twfe`. Biased
    with staggered adoption and heterogeneous effects, or with covariates whose
    distribution differs across cells; see the Notes of :func:`ddd`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1)
    >>> r = ci.ddd_regression(sim.panel, "earnings", subgroup="site", target="home")
    >>> r.tidy()["term"].tolist()
    ['treated']
    """
    from clusterimpact.design.panel import Panel
    from clusterimpact.estimators.twfe import twfe

    q = _target_flag(panel, subgroup, target)
    data = panel.data.copy()
    cohort = np.where(np.isfinite(panel.cohort_value), panel.cohort_value, 0.0)
    data["_ddd_cohort"] = np.where(q, cohort, 0.0)
    data["_ddd_tq"] = panel.time_code * 2 + q
    data["_ddd_tg"] = pd.factorize(pd.Series(panel.time_code).astype(str) + "|" + pd.Series(cohort)
                                   .astype(str))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p2 = Panel(data, unit=panel.unit, time=panel.time, cohort="_ddd_cohort", cluster=panel.cluster)
    res = twfe(p2, y, covariates=covariates, vcov=vcov, fe=["unit", "_ddd_tq", "_ddd_tg"], alpha=alpha)
    from dataclasses import replace

    return replace(res, info={**res.info, "estimator": "Three-way FE DDD regression"})


def _ddd_rcs(panel, y: str, *, subgroup: str, target: Any, covs: list[str], method: str,
             control: str, alpha: float, trim_level: float) -> DDDResult:
    """:func:`ddd` on repeated cross-sections: three DRDID cross-section 2x2s per (g, t) cell.

    Every 2x2 uses the target rows of cohort g (cell A) as its treated group
    and the rows of periods t and b only; its influence function (DRDID's
    scale, over its :math:`n_{AB}` rows) enters the cell's column as
    :math:`\\pm\\phi_i\\, n/n_{AB}` so that :math:`\\hat V = \\sum_c S_c S_c'/n^2`.
    """
    q = _target_flag(panel, subgroup, target)
    yv = np.asarray(panel.column(y), dtype=float)
    x = np.ones((yv.size, len(covs) + 1))
    for j, c in enumerate(covs):
        x[:, j + 1] = panel.column(c, role="covariate")
    keep = np.isfinite(yv) & np.all(np.isfinite(x), axis=1)
    if not keep.all():
        warnings.warn(f"ddd dropped {int((~keep).sum())} row(s) with a missing outcome or covariate.",
                      DroppedRowsWarning, stacklevel=3)
    cohort = np.asarray(panel.cohort_value, dtype=float)[keep]
    tcode = np.asarray(panel.time_code)[keep]
    cluster = np.asarray(panel.cluster_code)[keep]
    yv, q, x = yv[keep], q[keep], (x[keep] if covs else None)
    w = np.asarray(panel.weights, dtype=float)[keep] if panel.has_weights else None
    w = None if w is None else w / w.mean()
    if q.all() or not q.any():
        raise SpecificationError("ddd needs observations both in and outside the target subgroup.")
    n = yv.size
    tv = panel.period_values
    fn = _RC_KERNELS[method]
    args = {"trim_level": trim_level} if method != "reg" else {}
    rows_g, rows_t, est, cols = [], [], [], []
    for g in [c for c in np.unique(cohort[np.isfinite(cohort)]) if c > tv[0]]:
        pre = int(np.flatnonzero(tv < g)[-1])
        for ti in range(1, tv.size):
            b = pre if tv[ti] >= g else ti - 1
            ctrl = np.isinf(cohort) if control == "never_treated" else \
                (cohort > tv[max(ti, b)]) & (cohort != g)
            in_cell = (tcode == ti) | (tcode == b)
            cell_a = (cohort == g) & q & in_cell
            psi = np.zeros(n)
            att = 0.0
            try:
                for sign, other in ((1.0, (cohort == g) & ~q), (1.0, ctrl & q), (-1.0, ctrl & ~q)):
                    other = other & in_cell
                    for cell in (cell_a, other):
                        if not ((cell & (tcode == ti)).any() and (cell & (tcode == b)).any()):
                            raise EstimationError("a cell without observations in one of the two "
                                                  "periods")
                    rows = np.flatnonzero(cell_a | other)
                    res = fn(yv[rows], (tcode[rows] == ti).astype(float), cell_a[rows].astype(float),
                             None if x is None else x[rows], None if w is None else w[rows], **args)
                    att += sign * res.att
                    psi[rows] += sign * res.influence * (n / rows.size)
            except EstimationError as err:
                warnings.warn(f"DDD cell (cohort {g:g}, time {tv[ti]:g}) not estimable: {err}",
                              EstimationWarning, stacklevel=3)
                att, psi = np.nan, np.zeros(n)
            rows_g.append(g), rows_t.append(tv[ti]), est.append(att), cols.append(psi)
    if not est:
        raise SpecificationError("No treated cohort with a pre-treatment period.")
    infl = np.column_stack(cols)
    survey = panel.survey
    keys = pd.DataFrame({"cohort": panel._label_times(np.array(rows_g)),
                         "time": panel._label_times(np.array(rows_t))})
    info = {"estimator": "Triple differences ATT(g,t), repeated cross-sections "
                         "(Ortiz-Villavicencio & Sant'Anna)",
            "outcome": y, "method": method, "control": control, "n_units": n, "n_obs": n,
            "n_clusters": int(np.unique(cluster).size), "panel": False,
            "subgroup": subgroup, "target": target, "covariates": covs,
            "vcov_type": f"influence function, clustered by {panel.cluster or 'observation'}"
            if survey is None else survey.label()}
    return DDDResult(keys=keys, estimate=np.array(est, dtype=float), vcov=_vcov(infl, cluster, survey),
                     alpha=alpha, info=info, dof=None if survey is None else survey.df,
                     influence=infl, cluster=cluster, survey=survey,
                     cell_cohort=np.array(rows_g, dtype=float), cell_time=np.array(rows_t, dtype=float),
                     target_unit_cohort=np.where(q, cohort, np.nan), row_weight=w)
