"""TWFE and dynamic-TWFE event studies from compressed (subgroup, cohort, cluster) block sums.

Why block sums suffice (balanced panels)
----------------------------------------
Take a balanced panel (every unit observed, with an outcome, in each of the
:math:`T` periods), unit weights :math:`w_i` constant over time (1 when
unweighted) and regressors that depend only on the unit's cohort and the
period, :math:`x_{it} = x(g_i, t)` -- the treatment dummy
:math:`1\\{t \\ge g_i\\}` of ``ci.twfe`` and the relative-time dummies of
``ci.event_study(method="twfe")`` are such. The weights factor as
:math:`w_i \\cdot 1`, so the two-way (unit, period) layout is proportional and
the fixed effects are absorbed in closed form:

.. math:: \\tilde x(g, t) = x(g, t) - \\bar x_{g\\cdot} - \\bar x^w_{\\cdot t} + \\bar x^w,

with :math:`\\bar x_{g\\cdot} = T^{-1}\\sum_t x(g,t)`,
:math:`\\bar x^w_{\\cdot t} = \\sum_g W_g x(g,t) / W` and :math:`\\bar x^w` its mean
over periods (:math:`W_g` the weight of cohort :math:`g`, :math:`W` the total).
The demeaned regressor is again a function of (cohort, period), so

.. math:: \\hat\\beta = \\Big(\\sum_{g,t} W_g \\tilde x\\tilde x'\\Big)^{-1}
          \\sum_{g,t}\\tilde x(g,t)\\,Y_{gt}, \\qquad Y_{gt} = \\sum_{i \\in g} w_iy_{it}:

the coefficient needs only cohort-by-period weighted sums of the outcome and
cohort weights. For the CR1 variance, cluster :math:`c`'s score is
:math:`s_c = \\sum_{it \\in c} w_i\\tilde x_{it}e_{it}` with residual
:math:`e_{it} = \\tilde y_{it} - \\tilde x_{it}'\\hat\\beta`. Because
:math:`\\sum_t \\tilde x(g, t) = 0`, the unit means in :math:`\\tilde y` drop out and,
for the units of a (cohort :math:`g`, cluster :math:`c`) block :math:`b`,

.. math:: s_b = \\sum_t \\tilde x(g,t)\\big(Y_{bt} - W_b\\bar y^w_t
          - W_b\\tilde x(g,t)'\\hat\\beta\\big),\\qquad s_c = \\sum_{b \\in c} s_b,

a linear function of the block sums :math:`Y_{bt}` and :math:`W_b` -- exactly
the :class:`~clusterimpact.engines.compress.CellStats` table that
``att_gt`` uses; no sum of squares or cross-product of outcomes is needed.
The small-sample factor :math:`\\frac{G}{G-1}\\frac{n-1}{n-K}` needs the
numbers of rows, clusters and periods only.

What is not exact
-----------------
* **Unbalanced panels** (units missing some periods, or outcomes missing in
  some rows): the unit fixed effects are then not absorbed in closed form and
  the coefficient depends on each unit's observed periods, which the block
  sums do not record. :func:`twfe_from_stats` and
  :func:`event_study_from_stats` raise :class:`~clusterimpact.errors.SpecificationError`;
  ``LazyPanel.twfe``/``.event_study`` then use the per-block observation patterns of
  :mod:`clusterimpact.engines.unbalanced`, which are exact.
* Weights that vary within unit (refused by ``LazyPanel.cell_stats``),
  time-varying covariates (they need per-block cross-products:
  :mod:`clusterimpact.engines.covariates`), fixed effects other than unit and period (or unit
  and ``"<category>^time"`` for a category constant within unit: each level is
  then its own two-way layout, ``twfe_from_stats(..., pool=True)``),
  ``vcov`` other than CR1 (CR2/CR3 need each cluster's hat matrix, HC1 the
  sums of squared residuals), ``bin_endpoints=False`` when treated rows fall
  outside the window (dropping them unbalances the panel).

Examples
--------
>>> import clusterimpact as ci
>>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
...                   cohort="first.treat")
>>> round(float(lp.twfe("lemp").estimate[0]), 4)
-0.0365
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import linalg

from clusterimpact.engines.compress import CellStats, _group_codes
from clusterimpact.engines.moments import MomentStats, moment_factor
from clusterimpact.errors import DroppedRowsWarning, EstimationError, EstimationWarning, SpecificationError
from clusterimpact.estimators.event_study import _assemble
from clusterimpact.estimators.event_study._common import MethodFit, event_bins, independent_columns, window
from clusterimpact.inference.vcov import warn_few_clusters
from clusterimpact.results.event_study import EventStudyResult
from clusterimpact.results.regression import RegressionResult

__all__ = ["event_design", "event_study_from_stats", "twfe_from_stats"]


# ------------------------------------------------------------------- plumbing
class _Blocks(SimpleNamespace):
    """Blocks of a balanced panel: cohort index, subgroup, cluster code, sums."""


def _blocks(stats: CellStats | MomentStats, vcov: str, who: str, drop_always: bool) -> _Blocks:
    """Check that the statistics allow the closed form and code the blocks."""
    if str(vcov).upper() != "CR1":
        raise SpecificationError(
            f"{who} from cell statistics supports vcov='CR1' only (got {vcov!r}): CR2/CR3 need "
            "each cluster's hat matrix and HC1 the squared residuals of every row. Use the "
            "in-memory estimator on the rows for those.")
    if stats.dropped_units or stats.dropped_rows:
        raise SpecificationError(
            f"{who} from cell statistics needs a balanced panel: {stats.dropped_units} unit(s) are "
            f"observed in some but not all periods and {stats.dropped_rows} row(s) lack the outcome. "
            "With unit fixed effects the coefficient then depends on every unit's set of observed "
            "periods, which the (cohort, cluster) sums do not record. Run the in-memory estimator on "
            "the rows (ci.Panel), or keep the units observed in every period.")
    periods = np.asarray(stats.periods, dtype=float)
    cohort = np.asarray(stats.cohort, dtype=float)
    keep = np.asarray(stats.units) > 0
    n_always = 0
    if drop_always:
        always = cohort <= periods[0]
        n_always = int(np.asarray(stats.units)[always & keep].sum()) * periods.size
        keep &= ~always
    if not keep.any():
        raise EstimationError("No usable rows remain after dropping missing values.")
    group, labels = _group_codes(stats)
    units = np.asarray(stats.units, dtype=np.int64)[keep]
    if isinstance(stats, MomentStats):  # cluster = unit: rows are (subgroup, cohort) moment tables
        cluster, n_clusters = None, int(units.sum())
        moments, shift = np.asarray(stats.moments, float)[keep], np.asarray(stats.shift, float)
    else:
        code, cluster_labels = pd.factorize(pd.Series(stats.cluster[keep]), sort=True)
        cluster, n_clusters = code.astype(np.int64), len(cluster_labels)
        moments = shift = None
    cvals, cidx = np.unique(cohort[keep], return_inverse=True)  # inf (never) sorts last
    return _Blocks(periods=periods, cohorts=cvals, cidx=cidx.astype(np.int64),
                   group=group[keep], labels=labels, cluster=cluster, n_clusters=n_clusters,
                   weight=np.asarray(stats.weight, float)[keep], units=units,
                   ysum=np.asarray(stats.ysum, float)[keep], n_always=n_always,
                   moments=moments, shift=shift)


def _within(x: np.ndarray, wg: np.ndarray) -> np.ndarray:
    """Two-way within transform of a ``(cohorts, periods, k)`` regressor table, cohort weights ``wg``."""
    xt = np.einsum("h,htk->tk", wg, x) / wg.sum()
    return x - x.mean(axis=1, keepdims=True) - xt[None] + xt.mean(axis=0)[None, None]


def _fit(b: _Blocks, rows: np.ndarray, x: np.ndarray) -> SimpleNamespace:
    """Closed-form least squares of one subgroup: ``rows`` selects its blocks, ``x`` is
    ``(cohorts, periods, k)``. Returns the Gram matrix, cross-products, the demeaned table
    and what the scores need."""
    n_coh = b.cohorts.size
    cidx, w, ys = b.cidx[rows], b.weight[rows], b.ysum[rows]
    wg = np.bincount(cidx, weights=w, minlength=n_coh)
    yg = np.zeros((n_coh, b.periods.size))
    np.add.at(yg, cidx, ys)
    present = wg > 0
    h = np.zeros_like(x)
    h[present] = _within(x[present], wg[present])
    gram = np.einsum("h,htk,htl->kl", wg, h, h)
    xty = np.einsum("htk,ht->k", h, yg)
    ybar = yg.sum(axis=0) / wg.sum()  # weighted period means of the outcome
    units = int(b.units[rows].sum())
    return SimpleNamespace(h=h, gram=gram, xty=xty, ybar=ybar, cidx=cidx, w=w, ys=ys, wg=wg,
                           cluster=None if b.cluster is None else b.cluster[rows],
                           moments=None if b.moments is None else b.moments[rows], shift=b.shift,
                           n=units * b.periods.size, units=units,
                           n_clusters=units if b.cluster is None else
                           int(np.count_nonzero(np.bincount(b.cluster[rows]))))


def _scores(f: SimpleNamespace, h: np.ndarray, coef: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-cluster sums of :math:`w_i \\tilde x_{it} e_{it}` (``clusters x k``), cohort by cohort.

    For a block :math:`b` of cohort :math:`g`, :math:`s_b = Y_b H_g - W_b c_g` with
    :math:`c_g = H_g'\\bar y^w + H_g'H_g\\hat\\beta`. With moment tables (cluster = unit)
    the rows are pseudo-units with the units' second moments of the scores (see
    :func:`_moment_scores`), not clusters.
    """
    k = h.shape[2]
    if f.moments is not None:
        return _moment_scores(f, h, coef)
    s = np.empty((f.cidx.size, k))
    for g in np.unique(f.cidx):  # a handful of cohorts: s_b = Y_b H_g - W_b c_g
        rows = f.cidx == g
        c_g = f.ybar @ h[g] + np.einsum("tk,tl,l->k", h[g], h[g], coef)
        s[rows] = f.ys[rows] @ h[g] - np.multiply.outer(f.w[rows], c_g)
    return np.column_stack([np.bincount(f.cluster, weights=s[:, j], minlength=n_clusters)
                            for j in range(k)])


def _moment_scores(f: SimpleNamespace, h: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Pseudo-unit score rows whose cross-products equal :math:`\\sum_i s_is_i'` (cluster = unit).

    With :math:`w y_{it} = w y_{i0} + \\sum_{s \\le t}(q_{is} + w c_s)` and
    :math:`\\sum_t h_{gt} = 0`, unit :math:`i`'s score is :math:`q_i'A_g` with rows
    :math:`A_{g,s} = \\sum_{t \\ge s} h_{gt}` for the changes and
    :math:`\\sum_s c_sA_{g,s} - c_g` for the weight, so
    :math:`\\sum_i s_is_i' = \\sum_b A_g'Q_bA_g`.
    """
    rows = []
    for b in range(f.cidx.size):
        hg = h[f.cidx[b]]
        c_g = f.ybar @ hg + np.einsum("tk,tl,l->k", hg, hg, coef)
        tail = np.cumsum(hg[::-1], axis=0)[::-1][1:]                # A_{g,s}, s = 1..T-1
        a = np.vstack([tail, f.shift @ tail - c_g])
        rows.append(moment_factor(f.moments[b]) @ a)
    return np.vstack(rows)


def _small(n: int, big_k: int, g: int) -> float:
    if n <= big_k:
        raise EstimationError(
            f"No residual degrees of freedom: {n} observation(s) for {big_k} parameters (coefficients "
            "and fixed-effect levels), so the regression fits the data exactly and has no standard "
            "error. More units or periods are needed.")
    if g < 2:
        raise SpecificationError("Cluster-robust standard errors need at least two clusters; the "
                                 "data have one.")
    return (n - 1) / (n - big_k) * g / (g - 1)


# ------------------------------------------------------------------------ TWFE
def twfe_from_stats(stats: CellStats | MomentStats, *, vcov: str = "CR1",
                    alpha: float = 0.05, pool: bool = False) -> RegressionResult:
    """``ci.twfe`` (unit and period fixed effects, CR1) computed from compressed :class:`CellStats`.

    Parameters
    ----------
    stats
        Block sums from :meth:`clusterimpact.LazyPanel.cell_stats` (outcome,
        ``by`` subgroups, weights and clusters are those of the statistics), or
        for cluster = unit the moment tables of
        :meth:`clusterimpact.LazyPanel.moment_stats`.
    vcov
        ``"CR1"`` only (see the module notes).
    alpha
        One minus the confidence level.
    pool
        ``False``: one coefficient per subgroup of the statistics (``by=``).
        ``True``: the subgroups are the levels of a category with its own period
        effects and one shared coefficient, ``ci.twfe(panel, y,
        fe=["unit", "<category>^time"])`` (each level demeaned on its own, the
        Gram matrices and cross-products summed).

    Returns
    -------
    RegressionResult
        The estimates, CR1 covariance and degrees of freedom of
        ``ci.twfe(panel, y, by=...)`` on the rows. It keeps no row-level
        regression data, so ``with_vcov`` and the wild bootstrap are not
        available; ``influence`` has one row per cluster.

    Raises
    ------
    SpecificationError
        Unbalanced panel, a vcov other than CR1, a single cluster.
    EstimationError
        Treatment collinear with the fixed effects, no residual degrees of freedom.

    Notes
    -----
    :math:`y_{it} = \\beta D_{it} + \\alpha_i + \\lambda_t + \\varepsilon_{it}` with
    :math:`D_{it} = 1\\{t \\ge g_i\\}`; the closed form and its exactness are in
    :mod:`clusterimpact.engines.regression`. With subgroups the model is fully
    interacted (separate regressions, one joint CR1 covariance), as ``ci.twfe``.

    Examples
    --------
    >>> import warnings, clusterimpact as ci
    >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
    >>> lp = ci.LazyPanel(mpdta, unit="countyreal", time="year", cohort="first.treat",
    ...                   cluster="state")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ci.FewClustersWarning)   # 29 states
    ...     res = ci.twfe_from_stats(lp.cell_stats("lemp"))
    >>> res.tidy()[["term", "estimate", "std_error"]].round(4)
          term  estimate  std_error
    0  treated   -0.0365     0.0227
    """
    b = _blocks(stats, vcov, "twfe", drop_always=False)
    x = (b.periods[None, :] >= b.cohorts[:, None]).astype(float)[:, :, None]
    if pool:
        return _pooled_twfe(stats, b, x, alpha)
    n_groups = len(b.labels)
    coefs, breads, scores, n, units = [], [], [], 0, 0
    for s in range(n_groups):
        f = _fit(b, b.group == s, x)
        if not f.gram[0, 0] > 1e-12 * max(f.wg.sum(), 1.0):
            raise EstimationError(
                "Regressor(s) 'treated' are collinear with the fixed effects or with the regressors "
                "before them: after absorbing the fixed effects they have no variation of their own "
                "(e.g. every unit treated at the same time, a time-invariant covariate, or a "
                "covariate that duplicates another). Remove them.")
        bread = np.linalg.inv(f.gram)
        coef = bread @ f.xty
        coefs.append(coef), breads.append(bread)
        scores.append(_scores(f, f.h, coef, b.n_clusters) @ bread)
        n, units = n + f.n, units + f.units
    if b.cluster is None:   # pseudo-units of each subgroup: its own rows
        g, u = b.n_clusters, linalg.block_diag(*scores)
    else:
        g, u = int(np.count_nonzero(np.bincount(b.cluster, minlength=b.n_clusters))), \
            np.column_stack(scores)
    warn_few_clusters(g, stacklevel=2)
    t = b.periods.size
    big_k = n_groups + t * n_groups  # slopes + period-by-subgroup levels (unit FE nested)
    cov = _small(n, big_k, g) * (u.T @ u)
    keys = pd.DataFrame({"term": ["treated"] * n_groups})
    for col in b.labels.columns if stats.by else []:
        keys[col] = b.labels[col].to_numpy()
    info = {
        "estimator": "TWFE", "outcome": stats.y, "n_obs": n, "n_units": units,
        "fixed_effects": ["unit", "time"], "fe_dof": units + n_groups * (t - 1), "n_singletons": 0,
        "by": list(stats.by),
        "method": "TWFE (y on D = 1{t >= cohort}, unit and time FE absorbed)",
        "vcov_type": "CR1", "vcov_label": "CR1 (cluster-robust, fixest small-sample correction)",
        "n_clusters": g,
        "engine": f"compressed ({stats.engine}): {stats.n_rows} rows -> {stats.n_blocks} blocks",
    }
    return RegressionResult(keys=keys, estimate=np.concatenate(coefs), vcov=cov, alpha=alpha,
                            dof=np.full(n_groups, float(g - 1)), info=info, influence=u * g,
                            cluster=np.arange(u.shape[0]))


def _one_cluster_each(b: _Blocks) -> bool:
    """Whether every subgroup's blocks lie in a single cluster."""
    pairs = np.unique(b.group.astype(np.int64) * (b.n_clusters + 1) + b.cluster)
    return bool(np.all(np.bincount(pairs // (b.n_clusters + 1)) <= 1))


def _pooled_twfe(stats: CellStats | MomentStats, b: _Blocks, x: np.ndarray,
                 alpha: float) -> RegressionResult:
    """One slope with category-specific period effects: the subgroups' normal equations summed.

    With unit effects nested in the categories the two-way projection is block diagonal by
    category, so each category's regressor is demeaned on its own (:func:`_fit`) and
    :math:`\\hat\\beta = (\\sum_k G_k)^{-1}\\sum_k c_k`; cluster scores add up over the
    categories, evaluated at the pooled coefficient.
    """
    fits = [_fit(b, b.group == k, x) for k in range(len(b.labels))]
    gram = sum(f.gram for f in fits)
    if not gram[0, 0] > 1e-12 * max(sum(f.wg.sum() for f in fits), 1.0):
        raise EstimationError("Regressor(s) 'treated' are collinear with the fixed effects: "
                              "no variation within category and period. Remove them.")
    bread = np.linalg.inv(gram)
    coef = bread @ sum(f.xty for f in fits)
    parts = [_scores(f, f.h, coef, b.n_clusters) for f in fits]
    if b.cluster is None:  # pseudo-units: each category's units are its own rows
        u, g = np.vstack(parts) @ bread, b.n_clusters
    else:
        u = sum(parts) @ bread
        g = int(np.count_nonzero(np.bincount(b.cluster, minlength=b.n_clusters)))
    warn_few_clusters(g, stacklevel=3)
    n, units = sum(f.n for f in fits), sum(f.units for f in fits)
    t, n_cat = b.periods.size, len(b.labels)
    # slope + category-by-period levels, unless every category lies in one cluster (then that
    # fixed effect is nested in the clusters and, as fixest and ci.twfe do, not counted)
    nested = b.cluster is not None and _one_cluster_each(b)
    cov = _small(n, 1 + (0 if nested else t * n_cat), g) * (u.T @ u)
    category = "^".join(stats.by) if stats.by else "category"
    info = {
        "estimator": "TWFE", "outcome": stats.y, "n_obs": n, "n_units": units,
        "fixed_effects": ["unit", f"{category}^time"], "fe_dof": units + n_cat * (t - 1),
        "n_singletons": 0, "by": [],
        "method": "TWFE (y on D = 1{t >= cohort}, unit and category-by-period FE absorbed)",
        "vcov_type": "CR1", "vcov_label": "CR1 (cluster-robust, fixest small-sample correction)",
        "n_clusters": g,
        "engine": f"compressed ({stats.engine}): {stats.n_rows} rows -> {stats.n_blocks} blocks",
    }
    return RegressionResult(keys=pd.DataFrame({"term": ["treated"]}), estimate=coef, vcov=cov,
                            alpha=alpha, dof=np.full(1, float(g - 1)), info=info,
                            influence=u * g, cluster=np.arange(u.shape[0]))


# ---------------------------------------------------------------- event study
def event_study_from_stats(stats: CellStats | MomentStats, *, leads: int | None = None,
                           lags: int | None = None, reference: int | None = -1, vcov: str = "CR1",
                           bin_endpoints: bool = True, alpha: float = 0.05,
                           pool: bool = False) -> EventStudyResult:
    """``ci.event_study(method="twfe")`` (dynamic TWFE, CR1) from compressed :class:`CellStats`.

    Parameters
    ----------
    stats
        Block sums from :meth:`clusterimpact.LazyPanel.cell_stats`, or for
        cluster = unit the moment tables of :meth:`clusterimpact.LazyPanel.moment_stats`.
    leads, lags, reference, bin_endpoints, alpha
        As in :func:`clusterimpact.event_study`.
    vcov
        ``"CR1"`` only.
    pool
        ``True``: the subgroups of the statistics are the levels of a category with
        its own period effects and one set of event-time coefficients,
        ``ci.event_study(panel, y, fe=["unit", "<category>^time"])`` (as
        :func:`twfe_from_stats`'s ``pool``).

    Returns
    -------
    EventStudyResult
        The estimates, CR1 covariance (joint across ``by`` subgroups), degrees
        of freedom and ``n_obs`` of ``ci.event_study(panel, y, method="twfe")``.

    Raises
    ------
    SpecificationError
        Unbalanced panel, a vcov other than CR1, ``bin_endpoints=False`` with
        treated rows outside the window, an unobserved reference period.

    Notes
    -----
    :math:`y_{it} = \\alpha_i + \\lambda_t + \\sum_{e \\ne r}\\beta_e 1\\{t - g_i = e\\} +
    \\varepsilon_{it}`: the relative-time dummies depend on (cohort, period) only,
    so the closed form of :mod:`clusterimpact.engines.regression` applies.
    Units treated in or before the first period are dropped, as
    ``ci.event_study`` does; dummies collinear with the fixed effects are
    dropped with the same :class:`~clusterimpact.errors.EstimationWarning`.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> res = ci.event_study_from_stats(lp.cell_stats("lemp"))
    >>> res.tidy()[["event_time", "estimate"]].round(4).tail(2)
       event_time  estimate
    5           2   -0.1318
    6           3   -0.0922
    """
    if reference is not None and (not np.isfinite(reference) or reference >= 0):
        raise SpecificationError(f"reference must be a negative relative period (or None), got "
                                 f"{reference!r}.")
    b = _blocks(stats, vcov, "event_study", drop_always=True)
    if b.n_always:
        warnings.warn(f"event_study dropped {b.n_always} row(s) of units treated in or before the "
                      "first period (always treated): they have no untreated observation.",
                      DroppedRowsWarning, stacklevel=2)
    x, labels, big_l, big_r = event_design(b.periods, b.cohorts, leads, lags, reference,
                                           bin_endpoints)
    g_all = b.n_clusters
    if pool:
        fits = [_pooled_event_fit(b, x, labels, g_all)]
    else:
        fits = [_event_fit(b, b.group == s, x, labels, g_all) for s in range(len(b.labels))]
    if b.cluster is None and len(fits) > 1:  # pseudo-units: each subgroup on its own rows
        sizes = [f.scores.shape[0] for f in fits]
        starts = np.cumsum([0, *sizes])
        padded = []
        for j, f in enumerate(fits):
            rows = np.zeros((starts[-1], f.scores.shape[1]))
            rows[starts[j]:starts[j + 1]] = f.scores
            padded.append(replace(f, scores=rows))
        fits = padded
    units = int(b.units.sum())
    sample = SimpleNamespace(n=units * b.periods.size, unit=np.arange(units), n_clusters=g_all)
    category = "^".join(stats.by) if stats.by else "category"
    meta = {"n_dropped_missing": 0, "n_dropped_always_treated": b.n_always,
            "fixed_effects": ["unit", f"{category}^time" if pool else "time"]}
    labels_out, by_out = (pd.DataFrame(index=[0]), []) if pool else (b.labels, list(stats.by))
    res = _assemble(fits, labels_out, by_out, "twfe", stats.y, alpha, sample, meta,
                    {"window": (-big_l, big_r), "reference": reference,
                     "bin_endpoints": bin_endpoints, "vcov": "CR1"})
    res.info["engine"] = f"compressed ({stats.engine}): {stats.n_rows} rows -> {stats.n_blocks} blocks"
    return res



def event_design(periods: np.ndarray, cohorts: np.ndarray, leads: int | None, lags: int | None,
                 reference: int | None, bin_endpoints: bool
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Relative-time indicators as a ``(cohorts, periods, bins)`` table, as ``ci.event_study``.

    Returns the table, the bin labels and the window ``(L, R)``; raises for an unobserved
    reference period and for ``bin_endpoints=False`` with treated cells outside the window
    (dropping them unbalances the panel).

    Examples
    --------
    >>> import numpy as np
    >>> x, labels, lo, hi = event_design(np.arange(4.0), np.array([2.0, np.inf]), None, None, -1,
    ...                                  True)
    >>> labels.tolist(), x.shape
    ([-2.0, 0.0, 1.0], (2, 4, 3))
    """
    event = periods[None, :] - cohorts[:, None]          # (cohorts, periods); inf row: never
    event[~np.isfinite(cohorts)] = np.nan
    big_l, big_r = window(event.ravel(), leads, lags)
    finite = event[np.isfinite(event)]
    if reference is not None:
        seen = np.unique(np.clip(finite, -big_l, big_r) if bin_endpoints else finite)
        pre = seen[seen < 0]
        if pre.size and not np.isin(reference, seen):
            raise SpecificationError(
                f"reference={reference:g} is not an observed relative period (treated units are "
                f"observed at {', '.join(f'{v:g}' for v in pre)} before treatment; survey waves "
                f"with gaps?). Choose an observed pre-period, e.g. reference={pre.max():g}.")
    bins, outside = event_bins(event.ravel(), big_l, big_r, reference, bin_endpoints)
    if not bin_endpoints and outside.any():
        raise SpecificationError(
            "bin_endpoints=False drops the treated rows outside the window, which unbalances the "
            "panel: not exactly computable from cell statistics. Use bin_endpoints=True, a wider "
            "window, or the in-memory ci.event_study.")
    bins = bins.reshape(event.shape)
    labels = np.unique(bins[np.isfinite(bins)])
    if labels.size == 0:
        raise EstimationError("No relative-time indicator to estimate (check leads, lags, reference).")
    x = (bins[:, :, None] == labels[None, None, :]).astype(float)
    return x, labels, big_l, big_r


def _event_fit(b: _Blocks, rows: np.ndarray, x: np.ndarray, labels: np.ndarray, g_all: int
               ) -> MethodFit:
    """One subgroup's dynamic TWFE, as ``fit_dynamic_twfe`` computes it on the rows."""
    f = _fit(b, rows, x)
    keep = independent_columns(f.gram)
    if keep.size == 0:
        raise EstimationError("Every relative-time indicator is collinear with the fixed effects.")
    if keep.size < labels.size:
        dropped = [f"event_time::{e:g}" for j, e in enumerate(labels) if j not in set(keep.tolist())]
        warnings.warn(f"{len(dropped)} regressor(s) collinear with the fixed effects and earlier "
                      f"regressors were dropped: {', '.join(dropped[:8])}"
                      f"{' ...' if len(dropped) > 8 else ''}.", EstimationWarning, stacklevel=3)
    h = f.h[:, :, keep]
    bread = np.linalg.inv(f.gram[np.ix_(keep, keep)])
    coef = bread @ f.xty[keep]
    sc = _scores(f, h, coef, g_all) @ bread
    g = f.n_clusters
    warn_few_clusters(g, stacklevel=4)
    # K: kept dummies + period levels of the subgroup (the unit effects are nested in clusters)
    sc *= np.sqrt(_small(f.n, keep.size + b.periods.size, g))
    mass = np.einsum("h,htk->k", f.wg, x)[keep]
    # scores scaled by the subgroup's CR1 factor, so U'U is its covariance and the
    # cross-subgroup blocks U_a'U_b are those of the registry's per-cluster scores
    return MethodFit(labels[keep], coef, sc.T @ sc, float(g - 1), sc, mass,
                     {"covariates": np.zeros(0)})


def _pooled_event_fit(b: _Blocks, x: np.ndarray, labels: np.ndarray, g_all: int) -> MethodFit:
    """Dynamic TWFE with category-specific period effects: the categories' normal equations summed.

    As :func:`_pooled_twfe`: each category is its own two-way layout; the event-time
    coefficients are shared, their cluster scores added (stacked for pseudo-units).
    """
    fits = [_fit(b, b.group == k, x) for k in range(len(b.labels))]
    gram = sum(f.gram for f in fits)
    size = np.abs(x).max(axis=(0, 1))
    noise = np.max([np.abs(f.h).max(axis=(0, 1)) for f in fits], axis=0) <= 1e-9 * size
    gram[noise, :] = 0.0
    gram[:, noise] = 0.0
    keep = independent_columns(gram)
    if keep.size == 0:
        raise EstimationError("Every relative-time indicator is collinear with the fixed effects.")
    if keep.size < labels.size:
        dropped = [f"event_time::{e:g}" for j, e in enumerate(labels) if j not in set(keep.tolist())]
        warnings.warn(f"{len(dropped)} regressor(s) collinear with the fixed effects and earlier "
                      f"regressors were dropped: {', '.join(dropped[:8])}"
                      f"{' ...' if len(dropped) > 8 else ''}.", EstimationWarning, stacklevel=3)
    bread = np.linalg.inv(gram[np.ix_(keep, keep)])
    coef = bread @ sum(f.xty for f in fits)[keep]
    parts = [_scores(f, f.h[:, :, keep], coef, g_all) for f in fits]
    if b.cluster is None:  # pseudo-units: each category's units are its own rows
        sc, g = np.vstack(parts) @ bread, b.n_clusters
    else:
        sc = sum(parts) @ bread
        g = int(np.count_nonzero(np.bincount(b.cluster, minlength=b.n_clusters)))
    warn_few_clusters(g, stacklevel=4)
    nested = b.cluster is not None and _one_cluster_each(b)
    big_k = keep.size + (0 if nested else b.periods.size * len(b.labels))
    sc *= np.sqrt(_small(sum(f.n for f in fits), big_k, g))
    mass = sum(np.einsum("h,htk->k", f.wg, x) for f in fits)[keep]
    return MethodFit(labels[keep], coef, sc.T @ sc, float(g - 1), sc, mass,
                     {"covariates": np.zeros(0)})
