"""Event studies: effects by time relative to first treatment, four ways.

:func:`event_study` estimates :math:`\\tau_e`, the average effect :math:`e`
periods after (or, for leads, before) first treatment, by

* ``"twfe"``: the dynamic two-way fixed-effects regression (what referees ask
  for; biased under heterogeneous effects across cohorts);
* ``"sun_abraham"``: Sun & Abraham's (2021) interaction-weighted estimator;
* ``"imputation"``: Borusyak, Jaravel & Spiess's (2024) imputation estimator;
* ``"two_stage"``: Gardner's (2022) two-stage difference-in-differences.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.errors import DroppedRowsWarning, FewClustersWarning, SpecificationError, suggest
from clusterimpact.estimators._subgroups import warn_few_subgroup_clusters
from clusterimpact.estimators.event_study._common import MethodFit, Sample, event_bins, prepare, window
from clusterimpact.estimators.event_study._imputation import fit_imputation, fit_two_stage
from clusterimpact.estimators.event_study._regression import fit_dynamic_twfe, fit_sun_abraham
from clusterimpact.results.event_study import EventStudyResult

__all__ = ["event_study"]

Method = Literal["twfe", "sun_abraham", "imputation", "two_stage"]
VcovName = Literal["CR1", "CR2", "CR3", "HC1", "SURVEY"]

_LABELS = {
    "twfe": "Event study (dynamic TWFE)",
    "sun_abraham": "Event study (Sun & Abraham interaction-weighted)",
    "imputation": "Event study (Borusyak-Jaravel-Spiess imputation)",
    "two_stage": "Event study (Gardner two-stage DiD)",
}


def _check(value: str, options: tuple[str, ...], name: str, upper: bool = False) -> str:
    key = str(value).upper() if upper else str(value)
    if key not in options:
        raise SpecificationError(f"Unknown {name} {value!r}; choose one of "
                                 f"{', '.join(map(repr, options))}.{suggest(key, options)}")
    return key


@dataclass(frozen=True)
class _Setup:
    """Everything but the covariance estimator that a fit of one subgroup needs."""

    method: str
    big_l: float
    big_r: float
    reference: float | None
    bin_endpoints: bool
    tol: float
    n_pre_max: float
    bjs_leave_out: bool
    sa_share_variance: bool


def _second_cluster(s: Sample, cluster2: str | None) -> np.ndarray | None:
    if cluster2 is None:
        return None
    return {"time": s.fe[1], "unit": s.fe[0]}[cluster2]


def _fit_group(s: Sample, setup: _Setup, vcov: str, options: Mapping[str, Any] | None = None,
               cluster2: str | None = None) -> MethodFit:
    method, big_l, big_r = setup.method, setup.big_l, setup.big_r
    if method in ("twfe", "sun_abraham"):
        bins, outside = event_bins(s.event, big_l, big_r, setup.reference, setup.bin_endpoints)
        if not setup.bin_endpoints and outside.any():
            warnings.warn(f"bin_endpoints=False: {int(outside.sum())} row(s) of treated units outside "
                          f"the window [-{big_l:g}, {big_r:g}] were dropped.", DroppedRowsWarning,
                          stacklevel=3)
            s, bins = s.subset(~outside), bins[~outside]
        if method == "twfe":
            return fit_dynamic_twfe(s, bins, vcov, setup.tol, options, _second_cluster(s, cluster2))
        return fit_sun_abraham(s, bins, vcov, setup.tol, options, _second_cluster(s, cluster2),
                               setup.sa_share_variance)
    if method == "two_stage":
        bins, _ = event_bins(s.event, big_l, big_r, setup.reference, setup.bin_endpoints)
        return fit_two_stage(s, bins, setup.tol, vcov)
    post_bins, _ = event_bins(s.event, big_l, big_r, None, setup.bin_endpoints)
    n_leads = big_l if big_l < setup.n_pre_max else max(setup.n_pre_max - 1, 0)
    lead_bins, _ = event_bins(s.event, n_leads, big_r, None, False)
    return fit_imputation(s, post_bins, lead_bins, vcov, setup.tol, setup.bjs_leave_out)


def _refit(vcov: str, options: Mapping[str, Any], cluster2: str | None, *, parts: list[Sample],
           setup: _Setup, context: tuple) -> EventStudyResult:
    """The regression event study of every subgroup again, with another covariance estimator."""
    fits = [_fit_group(part, setup, vcov, options, cluster2) for part in parts]
    labels, by_names, y, alpha, sample, meta, spec = context
    spec = {**spec, "vcov": vcov, "vcov_options": dict(options), "cluster2": cluster2}
    return _assemble(fits, labels, by_names, setup.method, y, alpha, sample, meta, spec,
                     partial(_refit, parts=parts, setup=setup, context=context))


def event_study(
    panel,
    y: str,
    *,
    method: Method = "twfe",
    leads: int | None = None,
    lags: int | None = None,
    reference: int | None = -1,
    vcov: VcovName | None = None,
    covariates: Sequence[str] | None = None,
    bin_endpoints: bool = True,
    alpha: float = 0.05,
    by: str | Sequence[str] | None = None,
    fe: Sequence[str] | None = None,
    tol: float = 1e-10,
    bjs_leave_out: bool = True,
    sa_share_variance: bool = False,
) -> EventStudyResult:
    """Effects by event time (periods since first treatment) for staggered roll-outs.

    Parameters
    ----------
    panel
        A :class:`clusterimpact.Panel`; standard errors are clustered on
        ``panel.cluster`` and its weights, if any, are used throughout.
    y
        Outcome column.
    method
        ``"twfe"`` (dynamic two-way fixed effects), ``"sun_abraham"``,
        ``"imputation"`` or ``"two_stage"``; see Notes.
    leads, lags
        Number of pre- and post-treatment periods with their own estimate
        (window :math:`[-L, R]`); default all observed event times.
    reference
        Omitted relative period (``"twfe"``, ``"sun_abraham"`` and
        ``"two_stage"``); ``None`` omits none. The imputation method has no
        reference period: its leads are BJS's pre-trend coefficients
        relative to the untreated periods before the window (by default all
        but the earliest pre-period get a lead).
    vcov
        Covariance estimator from the registry for the regression methods
        (``"CR1"``, ``"CR2"``, ``"CR3"``, ``"HC1"``, or ``"survey"``: design-based
        with the Panel's strata and fpc, R ``svyglm``'s) and for the imputation
        pre-trend regression. ``None``: ``"survey"`` when the Panel declares a
        survey design, else ``"CR1"``, as ``twfe`` does. Otherwise the
        imputation and two-stage post-period covariances are their own
        (clustered on ``panel.cluster``); with ``"survey"`` both use the
        design-based variance of the estimator's exact linearisation (the
        Butts-Gardner GMM scores totalled by PSU, centred within strata, with
        the fpc; equal to R ``svyglm`` on the equivalent regression with a dummy
        for every treated cohort-period cell), not BJS's conservative variance.
    covariates
        Time-varying covariates (in the regression, or in the first stage).
    bin_endpoints
        Pool event times beyond the window into the endpoint bins
        (:math:`e < -L` into :math:`-L`, :math:`e > R` into :math:`R`); with
        ``False`` the rows of treated units outside the window are dropped
        (regression methods) or get no estimate (imputation, two-stage).
    alpha
        One minus the confidence level.
    by
        Subgroup column(s): the event study is estimated within each
        subgroup (same window); covariances across subgroups come from the
        per-cluster scores, so ``res.compare()`` works.
    fe
        The two sets of fixed effects, unit-like then period-like (default
        ``["unit", "time"]``; ``"<column>^time"`` gives category-specific period
        effects, e.g. ``["unit", "region^time"]``); the first must be nested in
        the clusters for the imputation and two-stage variances.
    tol
        Convergence tolerance of the fixed-effect absorption.
    sa_share_variance
        ``"sun_abraham"`` only: add the variance from estimating the cohort shares
        :math:`\\hat\\omega_{ge}` (Sun & Abraham 2021, Proposition 6, as their Stata
        ``eventstudyinteract``). Default ``False``, as ``fixest``'s ``sunab``: the
        intervals are then for the effect at the sample's cohort composition (see Notes).
    bjs_leave_out
        ``"imputation"`` only: centre each treated row's effect at the average of its
        (cohort, period) cell *leaving out its own cluster* (BJS Appendix A.6, Stata
        ``did_imputation, leaveout``; their recommended option) rather than at the full
        cell average, which overfits and biases the variance downwards when cells hold
        few clusters. ``False`` gives the plain Theorem 3 estimator (R ``didimputation``).

    Returns
    -------
    EventStudyResult
        ``tidy()`` has ``event_time, estimate, std_error, statistic, p_value,
        conf_low, conf_high`` (+ ``df``, ``n_obs`` and the ``by`` columns);
        ``.pretrend_test()``, ``.aggregate("simple")`` and ``.plot()``.

    Notes
    -----
    Write :math:`g_i` for unit :math:`i`'s first treated period and
    :math:`e = t - g_i`.

    **Dynamic TWFE.** :math:`y_{it} = \\alpha_i + \\lambda_t + \\sum_{e \\ne r}
    \\beta_e 1\\{t - g_i = e\\} + x_{it}'\\gamma + \\varepsilon_{it}`, never-treated
    units without indicators; under heterogeneous effects each
    :math:`\\beta_e` mixes effects of other relative periods (Sun & Abraham 2021).

    **Sun & Abraham.** The regression is saturated in cohort :math:`\\times`
    relative time, :math:`\\sum_{g}\\sum_{e\\ne r}\\delta_{ge}1\\{g_i = g, t - g_i =
    e\\}`, with the never-treated (else the last-treated cohort, dropping
    periods from its treatment on) as the only control; then
    :math:`\\hat\\beta_e = \\sum_g \\hat\\omega_{ge}\\hat\\delta_{ge}` with
    :math:`\\hat\\omega_{ge}` the share of cohort :math:`g` among the
    observations at relative time :math:`e`, and
    :math:`\\hat V(\\hat\\beta) = A\\hat V(\\hat\\delta)A'` for the aggregation
    matrix :math:`A` (the shares treated as fixed, as ``fixest``'s
    ``sunab``/``aggregate`` does).

    **Imputation.** Fit :math:`y_{it} = \\alpha_i + \\lambda_t + x_{it}'\\gamma`
    on untreated rows, impute :math:`\\hat Y_{it}(0)` for treated rows and set
    :math:`\\hat\\tau_e = \\sum_{t - g_i = e} w_{it}(y_{it} - \\hat Y_{it}(0)) /
    \\sum w_{it}`. The variance is BJS Theorem 3's conservative estimator
    :math:`\\sum_c(\\sum_{it\\in c} v_{it}\\tilde\\varepsilon_{it})^2` with the
    implied weights :math:`v` and :math:`\\tilde\\varepsilon` the untreated
    residuals or :math:`\\hat\\tau_{it} - \\bar\\tau_{g t}` for treated rows,
    :math:`\\bar\\tau_{gt}` the :math:`v^2`-weighted mean in the (cohort,
    period) cell over clusters; by default (``bjs_leave_out``) the mean over the
    *other* clusters of the cell, BJS's recommended finite-sample version: the
    plain mean includes the row's own cluster, so with :math:`m` clusters in a
    cell the residuals shrink by about :math:`(m-1)/m` and the variance with
    them. Normal critical values, as Stata ``did_imputation``. Leads are BJS's
    Test 1.

    **Two-stage.** Same first stage; regress :math:`y - \\hat Y(0)` on the
    relative-time indicators; GMM sandwich covariance of the two stages
    (Butts & Gardner 2022). Post-period estimates equal the imputation ones.

    References
    ----------
    Sun, L. & Abraham, S. (2021). Estimating dynamic treatment effects in event
    studies with heterogeneous treatment effects. *Journal of Econometrics*
    225(2), 175-199.

    Borusyak, K., Jaravel, X. & Spiess, J. (2024). Revisiting event-study
    designs: robust and efficient estimation. *Review of Economic Studies*
    91(6), 3253-3285.

    Gardner, J. (2022). Two-stage differences in differences. arXiv:2207.05943.

    Butts, K. & Gardner, J. (2022). did2s: Two-stage difference-in-differences.
    *The R Journal* 14(3), 162-173.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...              cohort="first.treat")
    >>> res = ci.event_study(p, "lemp", method="sun_abraham")
    >>> res.tidy()[["event_time", "estimate"]].round(4)
       event_time  estimate
    0          -4    0.0033
    1          -3    0.0250
    2          -2    0.0245
    3           0   -0.0199
    4           1   -0.0510
    5           2   -0.1373
    6           3   -0.1008
    """
    method = _check(method, get_args(Method), "method")
    if vcov is None:  # the Panel's survey design if it has one, else CR1 (as twfe)
        vcov = "SURVEY" if panel.survey is not None else "CR1"
    vcov = _check(vcov, get_args(VcovName), "vcov", upper=True)
    if vcov == "SURVEY" and panel.survey is None:
        raise SpecificationError("vcov='survey' needs a survey design: build the Panel with "
                                 "strata= and/or fpc= (cluster= is the PSU).")
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if reference is not None and (not np.isfinite(reference) or reference >= 0):
        raise SpecificationError(f"reference must be a negative relative period (or None), got "
                                 f"{reference!r}.")
    sample, keep, meta = prepare(panel, y, covariates, fe, method)
    group, labels = panel.groups(by)
    group = group[keep]
    big_l, big_r = window(sample.event, leads, lags)
    finite = sample.event[np.isfinite(sample.event)]
    if method != "imputation" and reference is not None and finite.size:
        seen = np.unique(np.clip(finite, -big_l, big_r) if bin_endpoints else finite)
        pre = seen[seen < 0]
        if pre.size and not np.isin(reference, seen):
            # without its reference the dummies are collinear and one post period would be
            # dropped instead: every estimate would silently be relative to that period
            raise SpecificationError(
                f"reference={reference:g} is not an observed relative period (treated units are "
                f"observed at {', '.join(f'{v:g}' for v in pre)} before treatment; survey waves "
                f"with gaps?). Choose an observed pre-period, e.g. reference={pre.max():g}.")
    n_pre_max = float(max(0.0, -finite.min()))
    by_names = [by] if isinstance(by, str) else list(by or [])
    setup = _Setup(method, big_l, big_r, reference, bin_endpoints, tol, n_pre_max,
                   bool(bjs_leave_out), bool(sa_share_variance))
    parts = [sample if len(labels) == 1 and (group == j).all()  # row indices: no mask scans
             else sample.subset(np.flatnonzero(group == j)) for j in range(len(labels))]
    with warnings.catch_warnings():
        if len(labels) > 1:  # one warning naming the subgroups replaces one per subgroup fit
            warnings.simplefilter("ignore", FewClustersWarning)
        fits = [_fit_group(part, setup, vcov) for part in parts]
    if len(labels) > 1 and vcov != "SURVEY" and (method == "imputation" or vcov == "CR1"):
        remedy = ("check them with res.wild_bootstrap()" if method == "imputation" else
                  "check them with res.with_vcov('CR2') (Bell-McCaffrey df) or res.wild_bootstrap()")
        warn_few_subgroup_clusters(group, np.isfinite(sample.cohort), sample.cluster, labels,
                                   remedy=remedy, stacklevel=3)
    spec = {"window": (-big_l, big_r), "reference": None if method == "imputation" else reference,
            "bin_endpoints": bin_endpoints, "vcov": vcov, "sa_share_variance": bool(sa_share_variance)
            if method == "sun_abraham" else None,
            "bjs_leave_out": bool(bjs_leave_out) if method == "imputation" else None}
    refit = (partial(_refit, parts=parts, setup=setup,
                     context=(labels, by_names, y, alpha, sample, meta, spec))
             if method in ("twfe", "sun_abraham") else None)
    return _assemble(fits, labels, by_names, method, y, alpha, sample, meta, spec, refit)


def _event_labels(values: np.ndarray) -> np.ndarray:
    if np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values


def _assemble(fits: list[MethodFit], labels: pd.DataFrame, by: list[str], method: str, y: str,
              alpha: float, sample: Sample, meta: dict, spec: dict,
              refit: Callable[..., EventStudyResult] | None = None) -> EventStudyResult:
    sizes = [f.estimate.size for f in fits]
    k = int(sum(sizes))
    vc = np.zeros((k, k))
    starts = np.cumsum([0, *sizes])
    for a, fa in enumerate(fits):
        for b, fb in enumerate(fits):
            block = fa.vcov if a == b else fa.scores.T @ fb.scores
            vc[starts[a]:starts[a + 1], starts[b]:starts[b + 1]] = block
    keys = pd.DataFrame({"event_time": _event_labels(np.concatenate([f.event_time for f in fits]))})
    for col in by:
        keys[col] = np.repeat(labels[col].to_numpy(), sizes)
    if all(f.dof is None for f in fits):
        dof = None
    else:
        dof = np.concatenate([np.broadcast_to(np.inf if f.dof is None else np.asarray(f.dof, float),
                                              (f.estimate.size,)) for f in fits])
    extra = pd.DataFrame({"n_obs": np.concatenate([f.mass for f in fits])})
    notes: list[str] = []
    for f in fits:
        for note in f.info.get("notes", []):
            if note not in notes:
                notes.append(note)
    cohort_effects = None
    if method == "sun_abraham":
        tables = []
        for j, f in enumerate(fits):
            t = f.info["cohort_effects"].copy()
            for col in by:
                t[col] = labels[col].iloc[j]
            tables.append(t)
        cohort_effects = pd.concat(tables, ignore_index=True)
    regression = spec["vcov"] + (f" (two-way: cluster and {spec['cluster2']})"
                                 if spec.get("cluster2") else "")
    if spec.get("sa_share_variance"):
        regression += " + estimated cohort shares"
    leave = ", leave-out" if spec.get("bjs_leave_out") else ""
    vcov_label = {"twfe": regression, "sun_abraham": regression,
                  "imputation": f"BJS conservative (clustered{leave}); leads {spec['vcov']}",
                  "two_stage": "Butts-Gardner GMM (clustered)"}[method]
    if spec["vcov"] == "SURVEY" and method in ("imputation", "two_stage"):
        vcov_label = ("survey (design-based, linearised GMM scores)" if method == "two_stage" else
                      "survey (design-based, linearised; leads: survey regression)")
    info = {
        "estimator": _LABELS[method],
        "method": method,
        "outcome": y,
        "n_obs": sample.n,
        "n_units": int(np.unique(sample.unit).size) if sample.unit.dtype.kind not in "iu"
        or sample.unit.min() < 0 else int(np.count_nonzero(np.bincount(sample.unit))),
        "n_clusters": sample.n_clusters,
        "vcov_type": vcov_label,
        "by": by,
        "notes": notes,
        **meta,
        **spec,
    }
    return EventStudyResult(keys=keys, estimate=np.concatenate([f.estimate for f in fits]), vcov=vc,
                            alpha=alpha, dof=dof, extra=extra, info=info,
                            cohort_effects=cohort_effects, refit=refit)
