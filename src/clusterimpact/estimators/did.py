"""Two-period difference-in-differences: ``ci.did``.

The public front door to the 2x2 kernels of :mod:`clusterimpact.kernels.drdid`
(outcome regression, normalised IPW and doubly robust DiD of Sant'Anna & Zhao
2020, as in R ``DRDID``/``did``), for a panel or repeated cross-sections with
two periods. Standard errors cluster the influence functions on
``panel.cluster``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.design.panel import Panel
from clusterimpact.errors import (
    DroppedRowsWarning,
    EstimationError,
    SpecificationError,
    suggest,
)
from clusterimpact.estimators._subgroups import FEW_CLUSTERS, warn_few_subgroup_clusters
from clusterimpact.inference.small_sample import arm_leverage, small_sample_vcov
from clusterimpact.kernels import drdid as kernels
from clusterimpact.kernels.ols import fit_wls
from clusterimpact.results import Result

__all__ = ["did"]

DidMethod = Literal["dr", "ipw", "reg", "twfe", "dr_improved"]

_PANEL_KERNELS: dict[str, Callable[..., kernels.DidKernelResult]] = {
    "dr": kernels.drdid_panel,
    "dr_improved": kernels.drdid_imp_panel,
    "ipw": kernels.std_ipw_did_panel,
    "reg": kernels.reg_did_panel,
}
_RC_KERNELS: dict[str, Callable[..., kernels.DidKernelResult]] = {
    "dr": kernels.drdid_rc,
    "dr_improved": kernels.drdid_imp_rc,
    "ipw": kernels.std_ipw_did_rc,
    "reg": kernels.reg_did_rc,
}
_LABELS = {
    "dr": "doubly robust (Sant'Anna & Zhao 2020; DRDID drdid_panel / drdid_rc)",
    "dr_improved": "improved doubly robust (IPT propensity score, weighted OLS)",
    "ipw": "normalised (Hajek) IPW (Abadie 2005)",
    "reg": "outcome regression (Heckman, Ichimura & Todd 1997)",
    "twfe": "two-way fixed effects regression",
}


def _twfe_panel(delta_y, d, x, weights) -> kernels.DidKernelResult:
    # unit and time fixed effects with two periods: OLS of the change on (1, D, X)
    n = d.size
    w = np.ones(n) if weights is None else weights / weights.mean()
    xx = np.column_stack([np.ones(n), d] + ([] if x is None else [x[:, 1:]]))
    fit = fit_wls(xx, delta_y, w, "two-way fixed effects")
    u = delta_y - xx @ fit.coef
    e = np.zeros(xx.shape[1])
    e[1] = 1.0
    return kernels.DidKernelResult(float(fit.coef[1]), w * u * (xx @ fit.solve_gram(e, n)))


def _twfe_rc(y, post, d, x, weights) -> kernels.DidKernelResult:
    # DRDID twfe_did_rc: y ~ D + post + D:post + x
    n = d.size
    w = np.ones(n) if weights is None else weights / weights.mean()
    xx = np.column_stack([np.ones(n), d, post, d * post] + ([] if x is None else [x[:, 1:]]))
    fit = fit_wls(xx, y, w, "two-way fixed effects")
    u = y - xx @ fit.coef
    e = np.zeros(xx.shape[1])
    e[3] = 1.0
    return kernels.DidKernelResult(float(fit.coef[3]), w * u * (xx @ fit.solve_gram(e, n)))


def _check_method(method: str) -> None:
    allowed = get_args(DidMethod)
    if method not in allowed:
        raise SpecificationError(
            f"method must be one of {', '.join(map(repr, allowed))}, got {method!r}."
            + suggest(method, allowed)
        )


def _design(panel: Panel, covariates: Sequence[str]) -> np.ndarray:
    cols = [np.ones(panel.n_obs)]
    cols += [np.asarray(panel.column(c, role="covariate"), dtype=float) for c in covariates]
    return np.column_stack(cols)


def _cluster_sums(score: np.ndarray, cluster: np.ndarray, group: np.ndarray,
                  n_groups: int) -> np.ndarray:
    """Within-cluster sums :math:`S_{gs}` of every subgroup's influence column, one pass.

    ``score`` holds each row's value in its own subgroup's column (the others are
    zero), so one weighted ``bincount`` over the (cluster, subgroup) key gives
    the (clusters x subgroups) sums, adding the rows in the same order as a
    column-by-column sum. Cluster codes without rows are dropped, leaving the
    clusters in ascending code order (as ``np.unique`` would).

    Examples
    --------
    >>> _cluster_sums(np.array([1.0, 2, 3, 4]), np.array([0, 0, 2, 2]), np.array([0, 1, 1, 1]), 2)
    array([[1., 2.],
           [0., 7.]])
    """
    n_cl = int(cluster.max()) + 1 if cluster.size else 0
    key = cluster.astype(np.int64) * n_groups + group
    sums = np.bincount(key, weights=score, minlength=n_cl * n_groups).reshape(n_cl, n_groups)
    present = np.bincount(cluster, minlength=n_cl) > 0
    return sums if present.all() else sums[present]


def _small_sample_vcov(sums: np.ndarray, cluster: np.ndarray, group: np.ndarray,
                      arm: np.ndarray, w: np.ndarray, n_groups: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Arm-leverage (cluster HC2) covariance and Welch df of the 2x2 (see ``small_sample``).

    ``sums`` are the clusters' sums of the influence functions over ``n``
    (:func:`_cluster_sums`); rows are aggregated to (cluster, subgroup, arm) blocks whose weights give
    each cluster's leverage in its arm
    (:func:`clusterimpact.inference.small_sample.arm_leverage`).
    """
    codes, inverse = np.unique(cluster, return_inverse=True)
    n_arms = int(arm.max()) + 1
    key = (inverse * n_groups + group) * n_arms + arm
    uniq, block = np.unique(key, return_inverse=True)
    weight = np.bincount(block, weights=w, minlength=uniq.size)
    lev = arm_leverage(uniq // (n_groups * n_arms), uniq % (n_groups * n_arms), weight,
                       codes.size, n_groups, n_arms)
    vcov, dof, _ = small_sample_vcov(sums, np.arange(n_groups), lev)
    return vcov, dof


def did(
    panel: Panel,
    y: str,
    *,
    covariates: str | Sequence[str] | None = None,
    method: DidMethod = "dr",
    by: str | Sequence[str] | None = None,
    alpha: float = 0.05,
    trim_level: float = 0.995,
    small_sample: bool = False,
) -> Result:
    """Average treatment effect on the treated in a two-period DiD design.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel` with exactly two periods: units first
        treated in the second period form the treated group, never-treated units
        the comparison group. Repeated cross-sections (``unit=None``) are allowed.
    y
        Outcome column.
    covariates
        Pre-treatment covariates (a column name or a list); for panel data the
        values of the first period are used, as DRDID does.
    method
        ``"dr"`` the doubly robust estimator of R ``DRDID::drdid_panel`` /
        ``drdid_rc`` (and ``did``'s ``est_method="dr"``); ``"dr_improved"`` its
        improved version (``DRDID::drdid``'s default); ``"ipw"`` normalised IPW;
        ``"reg"`` outcome regression; ``"twfe"`` the regression with unit and time
        effects (panel: change on treatment and covariates; repeated cross-sections:
        DRDID's ``twfe_did_rc``).
    by
        Subgroup column(s): the ATT is estimated in each subgroup, with a joint
        covariance (``result.compare()`` tests differences).
    alpha
        One minus the confidence level.
    trim_level
        Comparison units with a propensity score above this are dropped from the
        IPW/DR estimators (DRDID's ``trim.level``).
    small_sample
        ``True``: each cluster's influence function is divided by
        :math:`\\sqrt{1-h_c}`, with :math:`h_c` its weight share of its arm
        (treated or comparison; on repeated cross-sections each group-period
        cell), and the interval uses Welch-Satterthwaite degrees of freedom, as
        ``att_gt(small_sample=True)`` (:mod:`clusterimpact.inference.small_sample`);
        without covariates, Welch's two-sample *t* test on units (or on
        equal-sized cluster means). Not with survey designs.

    Returns
    -------
    Result
        ``tidy()`` has one row (per subgroup) with ``estimate, std_error,
        statistic, p_value, conf_low, conf_high``; ``influence`` holds the
        (full-sample scaled) influence functions and ``cluster`` their clusters.

    Raises
    ------
    SpecificationError
        For a design that is not 2x2 (other than two periods, units treated in
        the first period, a subgroup varying within unit) or an unknown method.
    EstimationError
        If the kernel fails (no overlap, singular covariates, an empty cell).

    Notes
    -----
    With :math:`\\psi_i` the kernel's influence function (scaled as DRDID's
    ``att.inf.func``) for unit (panel) or observation (cross-sections) :math:`i`
    and :math:`S_g = \\sum_{i \\in g}\\psi_i` its sum over cluster :math:`g`,

    .. math:: \\widehat{V} = \\frac{1}{n^2}\\sum_g S_g^2 ,

    with no small-sample factor (R ``did``'s convention). With clusters equal to
    units this is DRDID 1.2.3's analytic variance, ``var(psi) (n - 1) / n^2``
    (older DRDID versions used ``var(psi) / n``: a factor :math:`n/(n-1)`).
    With ``by=``, subgroup :math:`s` of size :math:`n_s` contributes the column
    :math:`(n/n_s)\\psi_i 1\\{i \\in s\\}` so that one clustered sum gives the joint
    covariance.

    References
    ----------
    Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
    estimators. *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import numpy as np, pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(6), 2), "t": np.tile([1, 2], 6),
    ...                    "g": np.repeat([2, 2, 0, 0, 0, 0], 2),
    ...                    "y": [1.0, 4, 2, 5, 0, 1, 1, 3, 2, 4, 1, 2]})
    >>> res = ci.did(ci.Panel(df, unit="id", time="t", cohort="g"), "y", method="reg")
    >>> res.tidy()[["estimate", "std_error"]].round(4)
       estimate  std_error
    0       1.5       0.25
    """
    _check_method(method)
    if small_sample not in (True, False):
        raise SpecificationError(f"small_sample must be True or False, got {small_sample!r}.")
    if panel.n_periods != 2:
        raise SpecificationError(
            f"did() needs exactly two periods, the panel has {panel.n_periods}; "
            "use ci.att_gt() for more periods or subset the data."
        )
    covs = [covariates] if isinstance(covariates, str) else list(covariates or [])
    pv = np.asarray(panel.period_values, dtype=float)
    cohort = np.asarray(panel.cohort_value, dtype=float)
    early = np.isfinite(cohort) & (cohort <= pv[0])
    if early.any():
        raise SpecificationError(
            f"{int(early.sum())} row(s) belong to units already treated in the first period "
            f"({panel.periods[0]!r}); a 2x2 DiD needs an untreated pre-period. Drop them."
        )
    d_row = (np.isfinite(cohort) & (cohort <= pv[1])).astype(float)
    post_row = (np.asarray(panel.time_code) == 1).astype(float)
    y_row = np.asarray(panel.column(y), dtype=float)
    x_row = _design(panel, covs)
    w_row = np.asarray(panel.weights, dtype=float)
    group_row, labels = panel.groups(by)
    cluster_row = np.asarray(panel.cluster_code)
    ok = np.isfinite(y_row) & np.all(np.isfinite(x_row), axis=1)

    if panel.is_panel:
        unit = np.asarray(panel.unit_code)
        n_units = panel.n_units
        both = np.zeros(n_units, dtype=int)
        np.add.at(both, unit[ok], 1)
        keep_unit = both == 2
        if not keep_unit.all():
            warnings.warn(
                f"{int((~keep_unit).sum())} unit(s) without an outcome (and covariates) in both "
                "periods were dropped (the panel estimators need both periods).",
                DroppedRowsWarning, stacklevel=2,
            )
        pre = (post_row == 0) & ok & keep_unit[unit]
        pst = (post_row == 1) & ok & keep_unit[unit]
        order_pre, order_pst = np.argsort(unit[pre]), np.argsort(unit[pst])
        rows_pre = np.flatnonzero(pre)[order_pre]
        rows_pst = np.flatnonzero(pst)[order_pst]
        g_pre, g_pst = group_row[rows_pre], group_row[rows_pst]
        if np.any(g_pre != g_pst):
            raise SpecificationError("The by= subgroup varies within unit between the two periods.")
        outcome = y_row[rows_pst] - y_row[rows_pre]
        post = None
        d, x, w = d_row[rows_pre], x_row[rows_pre], w_row[rows_pre]
        group, cluster = g_pre, cluster_row[rows_pre]
        n_units_used = rows_pre.size
    else:
        if not ok.all():
            warnings.warn(f"{int((~ok).sum())} row(s) with missing outcome or covariates dropped.",
                          DroppedRowsWarning, stacklevel=2)
        outcome, post, d, x = y_row[ok], post_row[ok], d_row[ok], x_row[ok]
        w, group, cluster = w_row[ok], group_row[ok], cluster_row[ok]
        n_units_used = outcome.size
    x_arg = x if covs else None
    w_arg = w if panel.has_weights else None

    n = outcome.size
    n_groups = len(labels)
    estimates = np.full(n_groups, np.nan)
    score = np.zeros(n)  # each row's influence in its own subgroup's column of phi
    for s in range(n_groups):
        rows = np.flatnonzero(group == s) if n_groups > 1 else slice(None)
        args = (outcome[rows], d[rows]) if post is None else (outcome[rows], post[rows], d[rows])
        xs = None if x_arg is None else x_arg[rows]
        ws = None if w_arg is None else w_arg[rows]
        try:
            if method == "twfe":
                res = (_twfe_panel(*args, xs, ws) if post is None else _twfe_rc(*args, xs, ws))
            else:
                fn = (_PANEL_KERNELS if post is None else _RC_KERNELS)[method]
                res = fn(*args, xs, ws, trim_level=trim_level) if method != "reg" else fn(*args, xs, ws)
        except EstimationError as err:
            where = "" if by is None else f" in subgroup {labels.iloc[s].to_dict()}"
            raise EstimationError(f"did(method={method!r}){where}: {err}") from err
        estimates[s] = res.att
        score[rows] = res.influence * (n / res.influence.size)
    if n_groups > 1:
        phi = np.zeros((n, n_groups))
        phi[np.arange(n), group] = score
    else:
        phi = score[:, None]
    sums = _cluster_sums(score, cluster, group, n_groups)  # one pass for every subgroup

    survey = panel.survey
    dof = None if survey is None else survey.df
    if small_sample and survey is not None:
        raise SpecificationError("small_sample=True with a survey design: design-based variances "
                                 "already use the design's degrees of freedom; drop small_sample.")
    if small_sample:
        arm = d > 0 if post is None else 2 * (d > 0) + (post > 0)
        vcov, dof = _small_sample_vcov(_cluster_sums(score / n, cluster, group, n_groups),
                                       cluster, group, arm, w, n_groups)
    else:
        vcov = sums.T @ sums / n**2 if survey is None else survey.vcov(phi / n, cluster)
    keys = labels.reset_index(drop=True) if by is not None else pd.DataFrame(index=[0])
    n_clusters = sums.shape[0]
    if n_groups > 1 and survey is None and not small_sample and n_clusters >= FEW_CLUSTERS:
        warn_few_subgroup_clusters(group, d > 0, cluster, labels, stacklevel=3,
                                   remedy="check them with res.wild_bootstrap() or .randomization(), "
                                   "or refit with small_sample=True (arm-leverage SEs, Welch df)")
    info = {
        "estimator": "2x2 difference-in-differences",
        "outcome": y,
        "method": _LABELS[method],
        "n_obs": int(ok.sum()) if not panel.is_panel else 2 * n_units_used,
        "n_units": n_units_used,
        "n_clusters": n_clusters,
        "vcov_type": f"clustered influence function (by {panel.cluster or 'unit'}), sum of S_g^2 / n^2"
        if survey is None else survey.label(),
        "by": [by] if isinstance(by, str) else list(by or []),
        "covariates": covs,
        "panel": panel.is_panel,
    }
    if small_sample:
        info["vcov_type"] += ", arm-leverage adjusted, Welch-Satterthwaite df"
    return Result(keys=keys, estimate=estimates, vcov=vcov, alpha=alpha, info=info,
                  dof=dof, influence=phi, cluster=cluster)
