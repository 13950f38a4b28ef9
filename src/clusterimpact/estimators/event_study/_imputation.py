"""Imputation (Borusyak, Jaravel & Spiess 2024) and two-stage (Gardner 2022) event studies.

Both fit unit and period fixed effects (and covariates) on the untreated
rows only, impute :math:`\\hat Y_{it}(0)` for every row and average the
residualised outcome :math:`\\tilde y_{it} = y_{it} - \\hat Y_{it}(0)` within
relative-time bins, so their post-period point estimates coincide. They
differ in the variance (and in the pre-periods):

* imputation: BJS Theorem 3's conservative clustered variance with the
  auxiliary :math:`\\bar\\tau` averaged within (cohort, period) cells over
  clusters (:func:`auxiliary_centre`), by default leaving out the own cluster
  (BJS Appendix A.6, Stata ``did_imputation, leaveout``); pre-periods come from
  BJS's test regression of :math:`y` on lead indicators among the untreated rows.
* two-stage: the GMM sandwich of Butts & Gardner (2022) for the stacked
  first- and second-stage moment conditions; pre-periods are second-stage
  coefficients on lead indicators (mean first-stage residuals).

Notes
-----
Both variances are :math:`S'S` with per-cluster scores
:math:`S_{ch} = \\sum_{i \\in c} v^h_i(\\tilde y_i - c_i) - \\big(\\sum_{i\\in c,
D_i=0} w_i e_i z_i\\big)'\\gamma_h`, where :math:`v^h_i = w_i d_{ih}/N_h`
are the second-stage weights of estimate :math:`h`, :math:`e_i` the
first-stage residuals, :math:`z_i` the first-stage regressors and
:math:`\\gamma_h = (Z_0'W_0Z_0)^{-}Z'W d_h/N_h` (the influence of the
first-stage coefficients). :math:`c_i` is the cell average
:math:`\\bar\\tau` (imputation) or the bin estimate :math:`\\hat\\tau_h`
(two-stage). Because units are nested in clusters and the unit effects are
absorbed, the unit block of the first-stage score sums to zero within every
cluster, so only the period and covariate blocks of :math:`\\gamma_h` are
needed: they solve the :math:`(T+k)`-dimensional system left after
partialling out the unit effects. Nothing of size :math:`n \\times` units is
ever formed, so the cost is linear in the rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse

from clusterimpact.errors import DroppedRowsWarning, EstimationError
from clusterimpact.estimators.event_study._common import MethodFit, Sample
from clusterimpact.estimators.event_study._regression import _design, _ols_fe, contrast_inference
from clusterimpact.kernels.demean import _dense_codes, demean

__all__ = ["FirstStage", "auxiliary_centre", "first_stage", "fit_imputation", "fit_two_stage"]


@dataclass(frozen=True, eq=False)
class FirstStage:
    """Fixed effects (and covariates) fitted on the untreated rows."""

    untreated: np.ndarray
    imputable: np.ndarray
    resid: np.ndarray
    gamma: np.ndarray
    unit_weight: np.ndarray
    c_ut: sparse.csr_matrix
    c_ux: np.ndarray
    k_pinv: np.ndarray
    r_ct: sparse.csr_matrix
    r_cx: np.ndarray


# The unit-partialled period system is singular (one null direction per connected component)
# and its null eigenvalues come out as rounding noise of ~1e-13 relative, above pinvh's
# default cutoff (n * eps): inverting them adds a spurious component whose cancellation
# between unit and period effects is inexact (1e-5 to 1e-3 errors at 1e6 rows). Cut at 1e-10.
_PINV_RTOL = 1e-10


def _pinv(m: np.ndarray) -> np.ndarray:
    return linalg.pinvh(m, rtol=_PINV_RTOL)


def _pinv_solve(m: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return _pinv(m) @ rhs


def first_stage(s: Sample, tol: float = 1e-10) -> FirstStage:
    """Fit :math:`y = \\alpha_i + \\beta_t + x'\\gamma` by (weighted) least squares on untreated rows.

    The period effects solve the :math:`T \\times T` system left after
    eliminating the unit effects,
    :math:`(\\operatorname{diag}(W_t) - C'\\operatorname{diag}(1/W_i)C)\\beta =
    \\sum_t - C'(\\sum_i/W_i)`, with :math:`C` the unit-by-period weight sums
    (a pseudo-inverse takes care of the one redundant level per connected
    component); then :math:`\\alpha_i` are weighted unit means.
    """
    unit, time = s.fe[0], s.fe[1]
    n_u, n_t = int(unit.max()) + 1, int(time.max()) + 1
    u0 = ~s.treated
    if not u0.any():
        raise EstimationError("No untreated rows: the first stage has nothing to fit.")
    w = s.weights()
    w0, un0, ti0 = w[u0], unit[u0], time[u0]
    unit_weight = np.bincount(un0, weights=w0, minlength=n_u)
    time_weight = np.bincount(ti0, weights=w0, minlength=n_t)
    imputable = (unit_weight[unit] > 0) & (time_weight[time] > 0)
    cov0 = s.cov[u0]
    k = cov0.shape[1]
    y0 = s.y[u0]
    if k:
        dm = demean(np.column_stack([y0, cov0]), [un0, ti0], w0, tol=tol).values
        root = np.sqrt(w0)
        xs = dm[:, 1:] * root[:, None]
        if np.linalg.matrix_rank(xs) < k:
            raise EstimationError("A covariate is collinear with the fixed effects among the "
                                  "untreated rows (e.g. time-invariant).")
        gamma = np.linalg.lstsq(xs, dm[:, 0] * root, rcond=None)[0]
    else:
        gamma = np.zeros(0)
    r0 = y0 - cov0 @ gamma
    inv_u = np.divide(1.0, unit_weight, out=np.zeros(n_u), where=unit_weight > 0)
    if n_u * n_t <= 2 * un0.size + 1024:
        # the (unit x period) weight table by one bincount; C'diag(1/W_u)C as a dense product
        dense_ut = np.bincount(un0 * n_t + ti0, weights=w0, minlength=n_u * n_t).reshape(n_u, n_t)
        c_ut = sparse.csr_matrix(dense_ut)
        m_tt = np.diag(time_weight) - (dense_ut * inv_u[:, None]).T @ dense_ut
    else:
        c_ut = sparse.csr_matrix((w0, (un0, ti0)), shape=(n_u, n_t))
        m_tt = np.diag(time_weight) - (c_ut.T @ sparse.diags(inv_u) @ c_ut).toarray()
    sum_u = np.bincount(un0, weights=w0 * r0, minlength=n_u)
    sum_t = np.bincount(ti0, weights=w0 * r0, minlength=n_t)
    beta = _pinv_solve(m_tt, sum_t - c_ut.T @ (sum_u * inv_u))
    alpha = (sum_u - c_ut @ beta) * inv_u
    yhat = np.where(imputable, alpha[unit] + beta[time] + s.cov @ gamma, np.nan)
    resid = s.y - yhat
    # unit-partialled Gram of [period dummies, covariates] on untreated rows
    c_ux = np.column_stack([np.bincount(un0, weights=w0 * cov0[:, j], minlength=n_u)
                            for j in range(k)]) if k else np.zeros((n_u, 0))
    cov_tilde = cov0 - (c_ux * inv_u[:, None])[un0]
    k_tc = np.column_stack([np.bincount(ti0, weights=w0 * cov_tilde[:, j], minlength=n_t)
                            for j in range(k)]) if k else np.zeros((n_t, 0))
    k_cc = (cov_tilde * w0[:, None]).T @ cov_tilde
    big_k = np.block([[m_tt, k_tc], [k_tc.T, k_cc]])
    k_pinv = _pinv(big_k)
    e0 = resid[u0]
    g = s.n_clusters
    cl0 = s.cluster[u0]
    r_ct = sparse.csr_matrix(np.bincount(cl0 * n_t + ti0, weights=w0 * e0, minlength=g * n_t
                                         ).reshape(g, n_t))
    r_cx = np.column_stack([np.bincount(cl0, weights=w0 * e0 * cov0[:, j], minlength=g)
                            for j in range(k)]) if k else np.zeros((g, 0))
    return FirstStage(u0, imputable, resid, gamma, unit_weight, c_ut, c_ux, k_pinv, r_ct, r_cx)


def bin_scores(s: Sample, fs: FirstStage, codes: np.ndarray, n_bins: int, centre: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin means of the residualised outcome, their mass and per-cluster scores ``(G, H)``.

    ``centre`` is subtracted from :math:`\\tilde y` in the second-stage part
    of the score; ``None`` uses each bin's own mean (two-stage GMM).
    """
    w = s.weights()
    valid = codes >= 0
    cv, wv = codes[valid], w[valid]
    mass = np.bincount(cv, weights=wv, minlength=n_bins)
    tau = np.bincount(cv, weights=wv * fs.resid[valid], minlength=n_bins) / mass
    v = wv / mass[cv]
    unit, time = s.fe[0][valid], s.fe[1][valid]
    n_u, n_t = fs.c_ut.shape
    a_u = sparse.csr_matrix((v, (unit, cv)), shape=(n_u, n_bins)).toarray()
    a_t = sparse.csr_matrix((v, (time, cv)), shape=(n_t, n_bins)).toarray()
    k = s.cov.shape[1]
    a_x = np.vstack([np.bincount(cv, weights=v * s.cov[valid, j], minlength=n_bins)
                     for j in range(k)]) if k else np.zeros((0, n_bins))
    inv_u = np.divide(1.0, fs.unit_weight, out=np.zeros(n_u), where=fs.unit_weight > 0)
    scaled = a_u * inv_u[:, None]
    b = np.vstack([a_t - fs.c_ut.T @ scaled, a_x - fs.c_ux.T @ scaled])
    gam = fs.k_pinv @ b
    s0 = -(fs.r_ct @ gam[:n_t] + fs.r_cx @ gam[n_t:])
    c = tau[cv] if centre is None else centre[valid]
    g = s.n_clusters
    s1 = sparse.csr_matrix((v * (fs.resid[valid] - c), (s.cluster[valid], cv)),
                           shape=(g, n_bins)).toarray()
    return tau, mass, np.asarray(s0) + s1


def _post_codes(s: Sample, fs: FirstStage, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    post = s.treated & np.isfinite(bins)
    lost = post & ~fs.imputable
    if lost.any():
        warnings.warn(f"{int(lost.sum())} treated row(s) cannot be imputed (their unit or period has no "
                      "untreated row) and are left out.", DroppedRowsWarning, stacklevel=4)
    post &= fs.imputable
    labels = np.unique(bins[post])
    if labels.size == 0:
        raise EstimationError("No treated row to estimate an effect for (check lags).")
    codes = np.full(s.n, -1, dtype=np.int64)
    codes[post] = np.searchsorted(labels, bins[post])
    return labels, codes


def auxiliary_centre(s: Sample, fs: FirstStage, codes: np.ndarray, leave_out: bool) -> np.ndarray:
    """BJS's auxiliary :math:`\\bar\\tau` of every treated row (NaN elsewhere).

    Within each (cohort, period) cell :math:`k`, with :math:`W_{Ck} = \\sum_{i \\in C \\cap k} w_i`
    the weight of cluster :math:`C` and :math:`T_{Ck} = \\sum_{i \\in C \\cap k} w_i\\hat\\tau_i`,
    :math:`\\bar\\tau_k = \\sum_C W_{Ck}T_{Ck} / \\sum_C W_{Ck}^2` (BJS Section 4.3's
    :math:`v^2`-weighted average with clusters as the sampling units, as Stata
    ``did_imputation`` computes it). With ``leave_out`` the row's own cluster is left out,
    :math:`\\bar\\tau_{k,-C} = (\\sum_{C'} W_{C'k}T_{C'k} - W_{Ck}T_{Ck}) / (\\sum_{C'} W_{C'k}^2 -
    W_{Ck}^2)` (BJS Appendix A.6; Stata ``leaveout``); in a cell whose treated rows all lie
    in one cluster the leave-out average is taken over the cell's event-time bin instead
    (Stata's coarser ``avgeffectsby``), and an error is raised if that bin too has one cluster.
    """
    w = s.weights()
    valid = np.flatnonzero(codes >= 0)
    cohort_code = np.unique(s.cohort[valid], return_inverse=True)[1].ravel()
    time_code = np.unique(s.time[valid], return_inverse=True)[1].ravel()
    cell = _dense_codes(cohort_code * (int(time_code.max()) + 1) + time_code)
    centre = np.full(s.n, np.nan)
    wv, tv, cl = w[valid], w[valid] * fs.resid[valid], s.cluster[valid]
    tau_c, denom, own = _cluster_average(cell, cl, wv, tv, leave_out)
    if leave_out:
        single = denom <= 1e-12 * np.maximum(own, 1e-300)
        if single.any():
            tau_b, denom_b, own_b = _cluster_average(codes[valid], cl, wv, tv, True)
            if np.any(denom_b[single] <= 1e-12 * np.maximum(own_b[single], 1e-300)):
                bad = np.unique(s.event[valid][single & (denom_b <= 1e-12 * own_b)])
                raise EstimationError(
                    "Leave-out BJS standard errors need treated rows from at least two clusters at "
                    f"every event time; event time(s) {', '.join(f'{e:g}' for e in bad[:5])} have "
                    "one. Shorten lags= (or bin the endpoints), or pass bjs_leave_out=False "
                    "(that variance is biased downwards here).")
            tau_c = np.where(single, tau_b, tau_c)
    centre[valid] = tau_c
    return centre


def _cluster_average(group: np.ndarray, cl: np.ndarray, w: np.ndarray, wt: np.ndarray,
                     leave_out: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the cluster-weighted average of its group (own cluster left out), its denominator
    and the own cluster's squared weight."""
    pair = _dense_codes(group.astype(np.int64) * (int(cl.max()) + 1) + cl)
    w_p = np.bincount(pair, weights=w)
    t_p = np.bincount(pair, weights=wt)
    g_p = np.zeros(w_p.size, dtype=np.int64)
    g_p[pair] = group
    num = np.bincount(g_p, weights=w_p * t_p)[g_p]
    den = np.bincount(g_p, weights=w_p**2)[g_p]
    own = w_p**2
    if leave_out:
        num, den = num - w_p * t_p, den - own
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = num / den
    return avg[pair], den[pair], own[pair]


def fit_imputation(s: Sample, post_bins: np.ndarray, lead_bins: np.ndarray, vcov: str, tol: float,
                   leave_out: bool = True) -> MethodFit:
    """BJS imputation estimates by event time, with the pre-trend test coefficients as leads."""
    fs = first_stage(s, tol)
    labels, codes = _post_codes(s, fs, post_bins)
    survey = str(vcov).upper() == "SURVEY"
    if survey:  # the estimator's exact linearisation, not BJS's conservative tau-bar centring
        tau, mass, scores = bin_scores(s, fs, codes, labels.size, None)
        v_post, scores = survey_scores(s, scores)
    else:
        centre = auxiliary_centre(s, fs, codes, leave_out)
        tau, mass, scores = bin_scores(s, fs, codes, labels.size, centre)
        v_post = scores.T @ scores
    info: dict = {"first_stage_gamma": fs.gamma}
    # BJS Test 1: leads among the untreated rows, unit and period FE (and covariates)
    lead_rows = ~s.treated & np.isfinite(lead_bins) & (lead_bins < 0)
    lead_labels = np.unique(lead_bins[lead_rows])
    if lead_labels.size:
        sub = s.subset(~s.treated)
        lcodes = np.where(lead_rows, np.searchsorted(lead_labels, lead_bins), -1)[~s.treated]
        yx = _design(sub.y, lcodes, lead_labels.size, sub.cov)
        names = [f"lead {e:g}" for e in lead_labels] + [f"covariate {j}" for j in range(s.cov.shape[1])]
        keep, coef, est, _ = _ols_fe(sub, yx, vcov, tol, names)
        ev = np.flatnonzero(keep < lead_labels.size)
        lead_cov, pdof, lead_scores = contrast_inference(est, np.eye(ev.size), ev, sub.cluster,
                                                         s.n_clusters)
        if survey:  # no per-PSU rows for the leads (their cross-subgroup covariance is NaN)
            lead_scores = np.full((scores.shape[0], ev.size), np.nan)
        all_mass = np.bincount(lcodes[lcodes >= 0], weights=sub.weights()[lcodes >= 0],
                               minlength=lead_labels.size)
        lead_labels, lead_mass = lead_labels[keep[ev]], all_mass[keep[ev]]
        lead_est = coef[ev]
    else:
        lead_est, lead_cov = np.zeros(0), np.zeros((0, 0))
        lead_scores, lead_mass, pdof = np.zeros((scores.shape[0], 0)), np.zeros(0), None
    n_pre, n_post = lead_labels.size, labels.size
    vc = np.full((n_pre + n_post, n_pre + n_post), np.nan)
    vc[:n_pre, :n_pre] = lead_cov
    vc[n_pre:, n_pre:] = v_post
    dof = np.r_[np.broadcast_to(np.inf if pdof is None else np.asarray(pdof, float), (n_pre,)),
                np.full(n_post, float(s.survey.df) if survey else np.inf)]
    info["notes"] = ["Leads are the coefficients of BJS's pre-trend regression on the untreated rows; "
                     "their covariance with the post-period estimates is not estimated (NaN)."] \
        if n_pre else []
    return MethodFit(np.r_[lead_labels, labels], np.r_[lead_est, tau], vc, dof,
                     np.column_stack([lead_scores, scores]), np.r_[lead_mass, mass], info)


def fit_two_stage(s: Sample, bins: np.ndarray, tol: float, vcov: str = "CR1") -> MethodFit:
    """Gardner's two-stage estimates with the Butts-Gardner GMM covariance.

    With ``vcov="survey"`` the same GMM scores, totalled by PSU, go through the
    design-based formula (:func:`survey_scores`) instead of :math:`S'S`.
    """
    fs = first_stage(s, tol)
    usable = np.isfinite(bins) & fs.imputable
    lost = np.isfinite(bins) & s.treated & ~fs.imputable
    if lost.any():
        warnings.warn(f"{int(lost.sum())} treated row(s) cannot be imputed (their unit or period has no "
                      "untreated row) and are left out.", DroppedRowsWarning, stacklevel=3)
    labels = np.unique(bins[usable])
    if labels.size == 0:
        raise EstimationError("No relative-time indicator to estimate (check leads, lags, reference).")
    codes = np.where(usable, np.searchsorted(labels, np.where(usable, bins, labels[0])), -1)
    tau, mass, scores = bin_scores(s, fs, codes, labels.size, None)
    if str(vcov).upper() == "SURVEY":
        vc, scores = survey_scores(s, scores)
        return MethodFit(labels, tau, vc, float(s.survey.df), scores, mass,
                         {"first_stage_gamma": fs.gamma})
    return MethodFit(labels, tau, scores.T @ scores, None, scores, mass,
                     {"first_stage_gamma": fs.gamma})


def survey_scores(s: Sample, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design-based covariance of estimates from their per-cluster scores, and PSU rows.

    ``scores`` is ``(G, H)`` by the sample's cluster code; its rows are added
    into the Panel's PSUs and the covariance is
    :math:`\\sum_h (1-f_h)\\frac{n_h}{n_h-1}\\sum_i (z_{hi}-\\bar z_h)(z_{hi}-\\bar z_h)'`
    (:meth:`~clusterimpact.inference.survey.SurveyDesign.vcov`, R ``survey``'s
    linearisation). The returned rows (one per PSU of the design) are the
    stratum-centred, fpc-scaled totals whose cross-product is that covariance,
    so cross-subgroup blocks computed from them are design-based too.
    """
    psu_of = np.zeros(scores.shape[0], dtype=np.int64)
    psu_of[s.cluster] = s.psu
    return s.survey.vcov(scores, psu_of), s.survey.bootstrap_rows(scores, psu_of)
