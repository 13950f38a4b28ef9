"""2x2 difference-in-differences kernels: numpy in, (ATT, influence function) out.

The outcome-regression, normalised IPW and doubly robust DiD estimators of
Sant'Anna & Zhao (2020) for panel data and for repeated cross-sections,
written to reproduce R ``DRDID`` (1.2.3) to floating-point precision:

* sampling weights are normalised to mean one;
* propensity scores are capped at :math:`1 - 10^{-6}` and comparison units with a
  score above ``trim_level`` (0.995) get weight zero;
* the influence function is DRDID's ``att.inf.func``: the estimator satisfies
  :math:`\\hat\\theta - \\theta \\approx n^{-1}\\sum_i \\psi_i`, and DRDID's analytic standard
  error is :math:`\\sqrt{\\sum_i(\\psi_i - \\bar\\psi)^2}/n` (``sd(psi) * sqrt(n - 1) / n``;
  :attr:`DidKernelResult.std_error`). :math:`\\bar\\psi = 0` at the exact optimum
  of the nuisance fits, so clustering ``psi`` by unit gives the same number.

No pandas, no loops over rows; an intercept-only design (``x=None``) takes
closed forms for the nuisance fits (weighted shares and means) and gives the
same numbers as the general code.

References
----------
Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust difference-in-differences
estimators. *Journal of Econometrics*, 219(1), 101-122.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from clusterimpact.errors import EstimationError, SpecificationError
from clusterimpact.kernels.ols import WLSDesign, WLSFit, fit_wls, wls_design
from clusterimpact.kernels.propensity import _SpdSolver, fit_ipt, fit_logit

__all__ = [
    "DidKernelResult",
    "PanelDesign",
    "drdid_imp_panel",
    "drdid_imp_rc",
    "drdid_panel",
    "drdid_rc",
    "ipw_did_panel",
    "reg_did_panel",
    "reg_did_rc",
    "std_ipw_did_panel",
    "std_ipw_did_rc",
]

PS_CAP = 1.0 - 1e-6  # DRDID: pmin(ps.fit, 1 - 1e-6)


class DidKernelResult(NamedTuple):
    """ATT and influence function of a 2x2 DiD kernel.

    Attributes
    ----------
    att
        The point estimate.
    influence
        Influence function, shape ``(n,)``, scaled as DRDID's ``att.inf.func``
        (:math:`\\hat\\theta - \\theta \\approx` ``influence.mean()``).

    Examples
    --------
    >>> import numpy as np
    >>> r = DidKernelResult(1.0, np.array([1.0, -1.0]))
    >>> r.std_error
    0.7071067811865476
    """

    att: float
    influence: np.ndarray

    @property
    def std_error(self) -> float:
        """DRDID 1.2.3's analytic standard error, ``sd(psi) * sqrt(n - 1) / n``."""
        psi = self.influence
        return float(np.sqrt(np.sum((psi - psi.mean()) ** 2)) / psi.size)


# --------------------------------------------------------------------------- input
def _as_vector(a, n: int | None, name: str) -> np.ndarray:
    v = np.asarray(a, dtype=float).reshape(-1) if np.ndim(a) <= 1 else None
    if v is None:
        raise SpecificationError(f"{name} must be one-dimensional, got shape {np.shape(a)}.")
    if n is not None and v.size != n:
        raise SpecificationError(f"{name} has {v.size} elements, expected {n}.")
    if not np.all(np.isfinite(v)):
        raise SpecificationError(f"{name} contains {int(np.sum(~np.isfinite(v)))} non-finite value(s).")
    return v


def _prepare(d, x, weights, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = _as_vector(d, n, "D")
    if not np.all((d == 0) | (d == 1)):
        raise SpecificationError("D must be a 0/1 treatment indicator.")
    if x is None:
        x = np.ones((n, 1))
    else:
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] != n:
            raise SpecificationError(f"x must have shape (n, k) with n = {n}, got {x.shape}.")
        if not np.all(np.isfinite(x)):
            raise SpecificationError("x contains non-finite values.")
        if not (((x[:, 0] == x[0, 0]).all() and x[0, 0] != 0)  # the usual layout: one column pass
                or np.any(np.all(x == x[:1], axis=0) & (x[0] != 0))):
            raise SpecificationError(
                "x must contain an intercept (a constant non-zero column), as DRDID's int.cov does."
            )
    if weights is None:
        w = np.ones(n)
    else:
        w = _as_vector(weights, n, "weights")
        if np.any(w < 0):
            raise SpecificationError("weights must be non-negative.")
        if not w.sum() > 0:
            raise EstimationError("All weights are zero.")
        w = w / w.mean()
    if not np.any((d == 1) & (w > 0)):
        raise EstimationError("No treated units (D = 1 with positive weight) in the 2x2 cell.")
    if not np.any((d == 0) & (w > 0)):
        raise EstimationError("No comparison units (D = 0 with positive weight) in the 2x2 cell.")
    return d, x, w


def _check_post(post, d: np.ndarray, w: np.ndarray, n: int) -> np.ndarray:
    post = _as_vector(post, n, "post")
    if not np.all((post == 0) | (post == 1)):
        raise SpecificationError("post must be a 0/1 period indicator.")
    for dv, pv, label in ((1, 0, "treated, pre"), (1, 1, "treated, post"),
                          (0, 0, "comparison, pre"), (0, 1, "comparison, post")):
        if not np.any((d == dv) & (post == pv) & (w > 0)):
            raise EstimationError(
                f"The ({label}) cell of the repeated cross-section is empty; "
                "the 2x2 DiD needs observations in all four group-period cells."
            )
    return post


def _mean_positive(v: np.ndarray, what: str) -> float:
    m = float(v.mean())
    if not m > 0:
        raise EstimationError(
            f"The {what} weights sum to zero (every comparison unit was trimmed for a "
            "propensity score above trim_level?): no overlap."
        )
    return m


# --------------------------------------------------------------------- nuisances
def _pscore(x, d, w, trim_level: float, ipt: bool = False, fitted: np.ndarray | None = None):
    if fitted is None:
        fitted = (fit_ipt if ipt else fit_logit)(x, d, w).fitted
    ps = np.minimum(fitted, PS_CAP)
    keep = np.where(d == 1, True, ps < trim_level)
    return ps, keep.astype(float)


class _PsEffect:
    """``asy.lin.rep.ps %*% m`` for any direction ``m``: the logit's estimation effect.

    The information matrix is formed and factored once per design.
    """

    def __init__(self, x, d, w, ps) -> None:
        self.x, self.n = x, d.size
        wv = ps * (1.0 - ps) * w
        if x.shape[1] == 1:
            self.denom, self.solve = float(wv.sum()) * x[0, 0] ** 2, None
        else:
            self.solve = _SpdSolver((x * wv[:, None]).T @ x, "propensity score information matrix")
        self.score = w * (d - ps)

    def __call__(self, m: np.ndarray) -> np.ndarray:
        h = m * self.n / self.denom if self.solve is None else self.n * self.solve(m)
        return self.score * (self.x @ h)


def _ps_effect(x, d, w, ps, m: np.ndarray) -> np.ndarray:
    """``asy.lin.rep.ps %*% m``: the logit's estimation effect in direction ``m``."""
    return _PsEffect(x, d, w, ps)(m)


def _ols_effect(fit: WLSFit, x, resid_w: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``asy.lin.rep.ols %*% m`` with ``resid_w = weights.ols * (y - fitted)``."""
    return resid_w * (x @ fit.solve_gram(m, resid_w.size))


def _colmeans(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    return v @ x / v.size


# ------------------------------------------------------------------------- panel
class PanelDesign:
    """The outcome-free part of the panel kernels for one 2x2 design (D, X, weights).

    Everything :func:`drdid_panel`, :func:`reg_did_panel` and
    :func:`std_ipw_did_panel` compute before they read the outcome - checked
    inputs, the propensity score fit, trimming, the comparison-group QR factor and
    the estimation-effect directions - is computed once here, so group-time cells
    that share their units, treatment indicator and covariates (R ``did``'s cells of
    one cohort against the same comparison units, with covariates that do not
    change over time) refit only the outcome. :meth:`estimate` then returns exactly
    what the kernel returns for that outcome change.

    Parameters
    ----------
    d, x, weights, trim_level, pscore
        As in :func:`std_ipw_did_panel`.
    method
        ``"dr"`` (:func:`drdid_panel`), ``"reg"`` (:func:`reg_did_panel`) or
        ``"ipw"`` (:func:`std_ipw_did_panel`).
    comparison_wls
        The comparison-group regression's factor built on the comparison rows
        alone, ``wls_design(x[d == 0], w[d == 0], ...)`` with ``w`` the weights
        normalised to mean one over this design (as :attr:`comparison_wls` of a
        design with the same comparison units, covariates and normalised weights);
        ``None`` to build it.

    Examples
    --------
    >>> import numpy as np
    >>> des = PanelDesign(np.array([1, 1, 0, 0, 0]), method="dr")
    >>> des.estimate(np.array([3.0, 5, 1, 2, 3])).att, des.estimate(np.zeros(5)).att
    (2.0, 0.0)
    """

    def __init__(self, d, x=None, weights=None, *, method: str = "dr", trim_level: float = 0.995,
                 pscore: np.ndarray | None = None, comparison_wls: WLSDesign | None = None
                 ) -> None:
        if method not in ("dr", "reg", "ipw"):
            raise SpecificationError(f"method must be 'dr', 'reg' or 'ipw', got {method!r}.")
        n = np.size(d)
        d, x, w = _prepare(d, x, weights, n)
        self.method, self.n, self.x = method, n, x
        self.comparison_wls = None
        if method == "reg":
            self.wls = self._comparison_fit(x, d, w, comparison_wls)
            self.w_t = w * d
            self.mw_t = self.w_t.mean()
            self.w_ctrl = w * (1.0 - d)
            self.xh_t = x @ _gram_solver(self.wls)(_colmeans(self.w_t, x), n)
            return
        ps, keep = _pscore(x, d, w, trim_level, fitted=pscore)
        if method == "dr":
            self.wls = self._comparison_fit(x, d, w, comparison_wls)
        self.w_t = keep * w * d
        self.w_c = keep * w * ps * (1.0 - d) / (1.0 - ps)
        self.mw_t = self.w_t.mean()
        self.mw_c = _mean_positive(self.w_c, "comparison-group IPW")
        self.ps_effect = _PsEffect(x, d, w, ps)
        if method == "dr":
            self.w_ctrl = w * (1.0 - d)
            solve = _gram_solver(self.wls)
            self.xh_t = x @ solve(_colmeans(self.w_t, x), n)
            self.xh_c = x @ solve(_colmeans(self.w_c, x), n)

    def _comparison_fit(self, x, d, w, shared: WLSDesign | None) -> WLSDesign:
        """The comparison-group regression's factor, on this design's rows.

        Built on the comparison rows alone and re-indexed: the same arithmetic
        as ``wls_design(x, w, what, d == 0)``, and shareable between designs.
        """
        ctrl = d == 0
        if shared is None:
            shared = wls_design(x[ctrl], w[ctrl], "comparison-group outcome")
        self.comparison_wls = shared
        rows = None if shared.rows is None else np.flatnonzero(ctrl)[shared.rows]
        return shared._replace(rows=rows, subset=ctrl)

    def estimate(self, delta_y) -> DidKernelResult:
        """ATT and influence function for the outcome change ``delta_y``.

        Examples
        --------
        >>> import numpy as np
        >>> des = PanelDesign(np.array([1, 1, 0, 0, 0]), method="reg")
        >>> des.estimate(np.array([3.0, 5, 1, 2, 3])).att
        2.0
        """
        dy = _as_vector(delta_y, self.n, "delta_y")
        x, w_t, mw_t = self.x, self.w_t, self.mw_t
        if self.method == "reg":
            out = self.wls.fit(dy).predict(x)
            eta_t = float((w_t * dy).mean() / mw_t)
            eta_c = float((w_t * out).mean() / mw_t)
            inf_treat = w_t * (dy - eta_t) / mw_t
            resid_w = self.w_ctrl * (dy - out)
            inf_cont = (w_t * (out - eta_c) + resid_w * self.xh_t) / mw_t
            return DidKernelResult(eta_t - eta_c, inf_treat - inf_cont)
        w_c, mw_c = self.w_c, self.mw_c
        res = dy if self.method == "ipw" else dy - self.wls.fit(dy).predict(x)
        eta_t = float((w_t * res).mean() / mw_t)
        eta_c = float((w_c * res).mean() / mw_c)
        dev_c = w_c * (res - eta_c)
        ps_eff = self.ps_effect(_colmeans(dev_c, x))
        if self.method == "ipw":
            return DidKernelResult(eta_t - eta_c, w_t * (res - eta_t) / mw_t - (dev_c + ps_eff) / mw_c)
        resid_w = self.w_ctrl * res
        inf_treat = (w_t * (res - eta_t) - resid_w * self.xh_t) / mw_t
        inf_cont = (dev_c + ps_eff - resid_w * self.xh_c) / mw_c
        return DidKernelResult(eta_t - eta_c, inf_treat - inf_cont)


def _gram_solver(wls):
    """``m, n -> (X'WX/n)^{-1} m`` of a :class:`~clusterimpact.kernels.ols.WLSDesign`."""
    return WLSFit(np.zeros(0), wls.r, wls.piv, float("nan") if wls.q is not None
                  else float(wls.weights.sum()) * wls.scale * wls.scale).solve_gram


def reg_did_panel(delta_y, d, x=None, weights=None) -> DidKernelResult:
    """Outcome-regression DiD with panel data (Heckman, Ichimura & Todd 1997).

    Parameters
    ----------
    delta_y
        Outcome change ``y1 - y0`` per unit, shape ``(n,)``.
    d
        0/1 treatment-group indicator, shape ``(n,)``.
    x
        Pre-treatment covariates *including* the intercept column, shape ``(n, k)``;
        ``None`` for no covariates.
    weights
        Sampling weights (normalised to mean one here), or ``None``.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    With :math:`\\hat\\mu_{0,\\Delta}(x) = x'\\hat\\beta` the weighted OLS fit of
    :math:`\\Delta Y` on :math:`X` among comparison units,

    .. math:: \\hat\\theta = \\frac{\\sum_i w_i D_i (\\Delta Y_i - x_i'\\hat\\beta)}{\\sum_i w_i D_i}.

    The influence function adds the estimation effect of :math:`\\hat\\beta`
    (DRDID ``reg_did_panel``).

    References
    ----------
    Sant'Anna & Zhao (2020), eq. (2.2); Heckman, Ichimura & Todd (1997), *Review of
    Economic Studies*, 64(4), 605-654.

    Examples
    --------
    >>> import numpy as np
    >>> r = reg_did_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0]))
    >>> r.att, r.influence.round(3).tolist()
    (2.0, [-2.5, 2.5, 1.667, 0.0, -1.667])
    """
    dy = _as_vector(delta_y, None, "delta_y")
    d = _as_vector(d, dy.size, "D")
    return PanelDesign(d, x, weights, method="reg").estimate(dy)


def std_ipw_did_panel(delta_y, d, x=None, weights=None, *, trim_level: float = 0.995,
                      pscore: np.ndarray | None = None) -> DidKernelResult:
    """Normalised (Hajek) inverse-probability-weighted DiD with panel data (Abadie 2005).

    Parameters
    ----------
    delta_y, d, x, weights
        As in :func:`reg_did_panel`.
    trim_level
        Comparison units with a propensity score above this get weight zero.
    pscore
        Fitted logit propensity scores of ``d`` on ``x`` with these (normalised)
        weights, when the caller has them already (skips the refit; must be
        that fit).

    Returns
    -------
    DidKernelResult

    Notes
    -----
    With the logit propensity score :math:`\\hat p(x)` and odds weights
    :math:`\\hat w_0 = w\\,\\hat p(X)(1-D)/(1-\\hat p(X))`,

    .. math:: \\hat\\theta = \\frac{\\sum w_i D_i \\Delta Y_i}{\\sum w_i D_i}
              - \\frac{\\sum \\hat w_{0,i} \\Delta Y_i}{\\sum \\hat w_{0,i}}.

    The influence function adds the logit's estimation effect (DRDID ``std_ipw_did_panel``).

    References
    ----------
    Abadie, A. (2005). Semiparametric difference-in-differences estimators.
    *Review of Economic Studies*, 72(1), 1-19. Sant'Anna & Zhao (2020), eq. (2.3).

    Examples
    --------
    >>> import numpy as np
    >>> r = std_ipw_did_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0]))
    >>> round(r.att, 12)
    2.0
    """
    dy = _as_vector(delta_y, None, "delta_y")
    d = _as_vector(d, dy.size, "D")
    return PanelDesign(d, x, weights, method="ipw", trim_level=trim_level, pscore=pscore).estimate(dy)


def ipw_did_panel(delta_y, d, x=None, weights=None, *, trim_level: float = 0.995
                  ) -> DidKernelResult:
    """Unnormalised (Horvitz-Thompson) IPW DiD with panel data (Abadie 2005).

    Parameters
    ----------
    delta_y, d, x, weights, trim_level
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    .. math:: \\hat\\theta = \\frac{1}{\\sum_i w_i D_i}\\sum_i \\Big(w_i D_i
              - \\frac{w_i \\hat p(X_i)(1-D_i)}{1-\\hat p(X_i)}\\Big)\\Delta Y_i

    (DRDID ``ipw_did_panel``; the comparison weights are not renormalised to sum to one).

    References
    ----------
    Abadie, A. (2005). *Review of Economic Studies*, 72(1), 1-19.

    Examples
    --------
    >>> import numpy as np
    >>> r = ipw_did_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0]))
    >>> round(r.att, 12)
    2.0
    """
    dy = _as_vector(delta_y, None, "delta_y")
    d, x, w = _prepare(d, x, weights, dy.size)
    ps, keep = _pscore(x, d, w, trim_level)
    w_t = keep * w * d
    w_c = keep * w * ps * (1.0 - d) / (1.0 - ps)
    pi_hat = float((w * d).mean())
    att = float(((w_t - w_c) * dy).mean() / pi_hat)
    lin1 = (w_t - w_c) * dy
    lin2 = _ps_effect(x, d, w, ps, _colmeans(w_c * dy, x))
    return DidKernelResult(att, (lin1 - lin2 - w * d * att) / pi_hat)


def drdid_panel(delta_y, d, x=None, weights=None, *, trim_level: float = 0.995,
                pscore: np.ndarray | None = None) -> DidKernelResult:
    """Locally efficient doubly robust DiD with panel data (R ``did``'s ``est_method="dr"``).

    Parameters
    ----------
    delta_y, d, x, weights, trim_level, pscore
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    Logit propensity score :math:`\\hat p`, OLS outcome regression
    :math:`x'\\hat\\beta` of :math:`\\Delta Y` among comparison units, and

    .. math:: \\hat\\theta = \\frac{\\sum \\hat w_{1,i}(\\Delta Y_i - x_i'\\hat\\beta)}{\\sum \\hat w_{1,i}}
              - \\frac{\\sum \\hat w_{0,i}(\\Delta Y_i - x_i'\\hat\\beta)}{\\sum \\hat w_{0,i}},

    with :math:`\\hat w_1 = w D` and :math:`\\hat w_0 = w\\hat p(1-D)/(1-\\hat p)`
    (Sant'Anna & Zhao 2020, eq. 3.1). The influence function includes the
    estimation effects of :math:`\\hat\\beta` and of the logit (DRDID ``drdid_panel``).

    References
    ----------
    Sant'Anna, P. H. C. and Zhao, J. (2020). *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import numpy as np
    >>> r = drdid_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0]))
    >>> round(r.att, 12), round(r.std_error, 6)
    (2.0, 0.849837)
    """
    dy = _as_vector(delta_y, None, "delta_y")
    d = _as_vector(d, dy.size, "D")
    return PanelDesign(d, x, weights, method="dr", trim_level=trim_level, pscore=pscore).estimate(dy)


def drdid_imp_panel(delta_y, d, x=None, weights=None, *, trim_level: float = 0.995
                    ) -> DidKernelResult:
    """Improved locally efficient doubly robust DiD with panel data (DRDID ``drdid``'s default).

    Parameters
    ----------
    delta_y, d, x, weights, trim_level
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    The propensity score is fitted by inverse probability tilting
    (:func:`~clusterimpact.kernels.propensity.fit_ipt`) and the outcome
    regression by weighted least squares among comparison units with weights
    :math:`w\\hat p/(1-\\hat p)`. These choices make the estimation effects vanish, so

    .. math:: \\hat\\theta = \\frac{\\sum_i w_i\\,(D_i - \\hat p_i(1-D_i)/(1-\\hat p_i))
              (\\Delta Y_i - x_i'\\hat\\beta)}{\\sum_i w_i D_i},
              \\qquad \\psi_i = \\frac{w_i[(D_i - \\tfrac{\\hat p_i(1-D_i)}{1-\\hat p_i})
              (\\Delta Y_i - x_i'\\hat\\beta) - D_i\\hat\\theta]}{n^{-1}\\sum_j w_j D_j}

    (Sant'Anna & Zhao 2020, section 3.1; DRDID ``drdid_imp_panel``).

    References
    ----------
    Sant'Anna, P. H. C. and Zhao, J. (2020). *Journal of Econometrics*, 219(1), 101-122.
    Graham, B. S., Pinto, C. C. X. and Egel, D. (2012). *Review of Economic Studies*, 79(3).

    Examples
    --------
    >>> import numpy as np
    >>> r = drdid_imp_panel(np.array([3.0, 5, 1, 2, 3]), np.array([1, 1, 0, 0, 0]))
    >>> round(r.att, 12)
    2.0
    """
    dy = _as_vector(delta_y, None, "delta_y")
    d, x, w = _prepare(d, x, weights, dy.size)
    ps, keep = _pscore(x, d, w, trim_level, ipt=True)
    odds = ps / (1.0 - ps)
    fit = fit_wls(x, dy, w * odds, "comparison-group outcome (odds-weighted)", d == 0)
    summand = keep * (1.0 - (1.0 - d) / (1.0 - ps)) * (dy - fit.predict(x))
    pi_hat = float((w * d).mean())
    att = float((w * summand).mean() / pi_hat)
    return DidKernelResult(att, w * keep * (summand - d * att) / pi_hat)


# -------------------------------------------------------------- repeated cross-sections
def _cell_ols(x, y, w, d, post, dv: int, pv: int, weights_or=None) -> tuple[WLSFit, np.ndarray]:
    label = f"{'treated' if dv else 'comparison'}-group {'post' if pv else 'pre'}-period outcome"
    sub = (d == dv) & (post == pv)
    fit = fit_wls(x, y, w if weights_or is None else weights_or, label, sub)
    return fit, fit.predict(x)


def reg_did_rc(y, post, d, x=None, weights=None) -> DidKernelResult:
    """Outcome-regression DiD with repeated cross-sections.

    Parameters
    ----------
    y
        Outcome, shape ``(n,)``.
    post
        0/1 post-period indicator, shape ``(n,)``.
    d, x, weights
        As in :func:`reg_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    With OLS fits :math:`\\hat\\mu_{0,t}(x)` of :math:`Y` on :math:`X` among comparison
    units in period :math:`t`,

    .. math:: \\hat\\theta = \\bar Y_{1,1} - \\bar Y_{1,0}
              - \\frac{\\sum_i w_i D_i(\\hat\\mu_{0,1}(X_i) - \\hat\\mu_{0,0}(X_i))}{\\sum_i w_i D_i},

    :math:`\\bar Y_{1,t}` the weighted mean among treated units in period :math:`t`
    (DRDID ``reg_did_rc``).

    References
    ----------
    Sant'Anna & Zhao (2020), eq. (2.2) and section 3.2.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 4, 2, 3, 0, 1, 1, 2])
    >>> post = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> d = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    >>> round(reg_did_rc(y, post, d).att, 12)
    1.0
    """
    y = _as_vector(y, None, "y")
    d, x, w = _prepare(d, x, weights, y.size)
    post = _check_post(post, d, w, y.size)
    fit_pre, out_pre = _cell_ols(x, y, w, d, post, 0, 0)
    fit_post, out_post = _cell_ols(x, y, w, d, post, 0, 1)
    w_tpre, w_tpost, w_c = w * d * (1 - post), w * d * post, w * d
    m_tpre, m_tpost, m_c = w_tpre.mean(), w_tpost.mean(), w_c.mean()
    eta_tpre = float((w_tpre * y).mean() / m_tpre)
    eta_tpost = float((w_tpost * y).mean() / m_tpost)
    eta_c = float((w_c * (out_post - out_pre)).mean() / m_c)
    inf_treat = w_tpost * (y - eta_tpost) / m_tpost - w_tpre * (y - eta_tpre) / m_tpre
    m1 = _colmeans(w_c, x)
    rw_pre = w * (1 - d) * (1 - post) * (y - out_pre)
    rw_post = w * (1 - d) * post * (y - out_post)
    inf_cont = (w_c * (out_post - out_pre - eta_c) + _ols_effect(fit_post, x, rw_post, m1)
                - _ols_effect(fit_pre, x, rw_pre, m1)) / m_c
    return DidKernelResult((eta_tpost - eta_tpre) - eta_c, inf_treat - inf_cont)


def std_ipw_did_rc(y, post, d, x=None, weights=None, *, trim_level: float = 0.995
                   ) -> DidKernelResult:
    """Normalised (Hajek) IPW DiD with repeated cross-sections (Abadie 2005).

    Parameters
    ----------
    y, post
        As in :func:`reg_did_rc`.
    d, x, weights, trim_level
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    .. math:: \\hat\\theta = (\\bar Y^{w_1}_{1} - \\bar Y^{w_1}_{0})
              - (\\bar Y^{w_0}_{1} - \\bar Y^{w_0}_{0}),

    weighted means by period with :math:`w_1 = wD` for treated and
    :math:`w_0 = w\\hat p(1-D)/(1-\\hat p)` for comparison observations, each
    normalised within its group-period cell (DRDID ``std_ipw_did_rc``).

    References
    ----------
    Abadie, A. (2005). *Review of Economic Studies*, 72(1), 1-19.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 4, 2, 3, 0, 1, 1, 2])
    >>> post = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> d = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    >>> round(std_ipw_did_rc(y, post, d).att, 12)
    1.0
    """
    y = _as_vector(y, None, "y")
    d, x, w = _prepare(d, x, weights, y.size)
    post = _check_post(post, d, w, y.size)
    ps, keep = _pscore(x, d, w, trim_level)
    odds = ps / (1.0 - ps)
    cells = (keep * w * d * (1 - post), keep * w * d * post,
             keep * w * odds * (1 - d) * (1 - post), keep * w * odds * (1 - d) * post)
    means = [_mean_positive(c, "cell") for c in cells]
    att_cell = [float((c * y).mean() / m) for c, m in zip(cells, means, strict=True)]
    infl = [c * (y - a) / m for c, a, m in zip(cells, att_cell, means, strict=True)]
    m2_pre = _colmeans(cells[2] * (y - att_cell[2]), x) / means[2]
    m2_post = _colmeans(cells[3] * (y - att_cell[3]), x) / means[3]
    inf_cont = infl[3] - infl[2] + _ps_effect(x, d, w, ps, m2_post - m2_pre)
    att = (att_cell[1] - att_cell[0]) - (att_cell[3] - att_cell[2])
    return DidKernelResult(att, (infl[1] - infl[0]) - inf_cont)


def _dr_rc_core(y, post, d, x, w, ps, keep, fits, outs, improved: bool):
    (f_c0, f_c1, f_t0, f_t1), (o_c0, o_c1, o_t0, o_t1) = fits, outs
    o_c = post * o_c1 + (1 - post) * o_c0
    odds = ps / (1.0 - ps)
    kt = np.ones_like(keep) if improved else keep
    w_t0, w_t1 = kt * w * d * (1 - post), kt * w * d * post
    w_c0, w_c1 = keep * w * odds * (1 - d) * (1 - post), keep * w * odds * (1 - d) * post
    w_d, w_dt1, w_dt0 = kt * w * d, kt * w * d * post, kt * w * d * (1 - post)
    m = {k: _mean_positive(v, "cell") for k, v in
         (("t0", w_t0), ("t1", w_t1), ("c0", w_c0), ("c1", w_c1), ("d", w_d))}
    m["dt1"], m["dt0"] = m["t1"], m["t0"]
    r = y - o_c

    def part(wv, v, key):  # (normalised summand, its mean)
        e = wv * v / m[key]
        return e, float(e.mean())

    e_t0, a_t0 = part(w_t0, r, "t0")
    e_t1, a_t1 = part(w_t1, r, "t1")
    e_c0, a_c0 = part(w_c0, r, "c0")
    e_c1, a_c1 = part(w_c1, r, "c1")
    e_d1, a_d1 = part(w_d, o_t1 - o_c1, "d")
    e_dt1, a_dt1 = part(w_dt1, o_t1 - o_c1, "dt1")
    e_d0, a_d0 = part(w_d, o_t0 - o_c0, "d")
    e_dt0, a_dt0 = part(w_dt0, o_t0 - o_c0, "dt0")
    att = (a_t1 - a_t0) - (a_c1 - a_c0) + (a_d1 - a_dt1) - (a_d0 - a_dt0)

    inf_t = (e_t1 - w_t1 * a_t1 / m["t1"]) - (e_t0 - w_t0 * a_t0 / m["t0"])
    inf_c = (e_c1 - w_c1 * a_c1 / m["c1"]) - (e_c0 - w_c0 * a_c0 / m["c0"])
    inf_eff = ((e_d1 - w_d * a_d1 / m["d"]) - (e_dt1 - w_dt1 * a_dt1 / m["dt1"])
               - ((e_d0 - w_d * a_d0 / m["d"]) - (e_dt0 - w_dt0 * a_dt0 / m["dt0"])))
    psi = inf_t - inf_c + inf_eff
    if improved:
        return att, psi
    # estimation effects of the four regressions and of the logit (drdid_rc)
    rw_c0 = w * (1 - d) * (1 - post) * (y - o_c0)
    rw_c1 = w * (1 - d) * post * (y - o_c1)
    rw_t0 = w * d * (1 - post) * (y - o_t0)
    rw_t1 = w * d * post * (y - o_t1)
    m1_post = -_colmeans(w_t1, x) / m["t1"]
    m1_pre = -_colmeans(w_t0, x) / m["t0"]
    inf_t_or = _ols_effect(f_c1, x, rw_c1, m1_post) + _ols_effect(f_c0, x, rw_c0, m1_pre)
    m2_pre = _colmeans(w_c0 * (r - a_c0), x) / m["c0"]
    m2_post = _colmeans(w_c1 * (r - a_c1), x) / m["c1"]
    inf_c_ps = _ps_effect(x, d, w, ps, m2_post - m2_pre)
    m3_post = -_colmeans(w_c1, x) / m["c1"]
    m3_pre = -_colmeans(w_c0, x) / m["c0"]
    inf_c_or = _ols_effect(f_c1, x, rw_c1, m3_post) + _ols_effect(f_c0, x, rw_c0, m3_pre)
    mom_post = _colmeans(w_d / m["d"] - w_dt1 / m["dt1"], x)
    mom_pre = _colmeans(w_d / m["d"] - w_dt0 / m["dt0"], x)
    inf_or = ((_ols_effect(f_t1, x, rw_t1, mom_post) - _ols_effect(f_c1, x, rw_c1, mom_post))
              - (_ols_effect(f_t0, x, rw_t0, mom_pre) - _ols_effect(f_c0, x, rw_c0, mom_pre)))
    return att, psi + inf_t_or - inf_c_ps - inf_c_or + inf_or


def drdid_rc(y, post, d, x=None, weights=None, *, trim_level: float = 0.995) -> DidKernelResult:
    """Locally efficient doubly robust DiD with repeated cross-sections (R ``did``'s ``"dr"``).

    Parameters
    ----------
    y, post
        As in :func:`reg_did_rc`.
    d, x, weights, trim_level
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    Sant'Anna & Zhao (2020), eq. (3.4): with logit :math:`\\hat p`, OLS fits
    :math:`\\hat\\mu_{d,t}` of :math:`Y` on :math:`X` in each group-period cell,
    :math:`\\hat\\mu_{0,Y}(T, X) = T\\hat\\mu_{0,1}(X) + (1-T)\\hat\\mu_{0,0}(X)`, and
    cell-normalised weights,

    .. math:: \\hat\\theta = \\big[\\mathbb{E}_n^{w_{1,1}} - \\mathbb{E}_n^{w_{1,0}}
              - \\mathbb{E}_n^{w_{0,1}} + \\mathbb{E}_n^{w_{0,0}}\\big](Y - \\hat\\mu_{0,Y}(T,X))
              + \\big[\\mathbb{E}_n^{w_1} - \\mathbb{E}_n^{w_{1,1}}\\big](\\hat\\mu_{1,1} - \\hat\\mu_{0,1})
              - \\big[\\mathbb{E}_n^{w_1} - \\mathbb{E}_n^{w_{1,0}}\\big](\\hat\\mu_{1,0} - \\hat\\mu_{0,0}).

    The influence function includes the estimation effects of the four
    regressions and of the logit (DRDID ``drdid_rc``).

    References
    ----------
    Sant'Anna, P. H. C. and Zhao, J. (2020). *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 4, 2, 3, 0, 1, 1, 2])
    >>> post = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> d = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    >>> round(drdid_rc(y, post, d).att, 12)
    1.0
    """
    y = _as_vector(y, None, "y")
    d, x, w = _prepare(d, x, weights, y.size)
    post = _check_post(post, d, w, y.size)
    ps, keep = _pscore(x, d, w, trim_level)
    cells = [_cell_ols(x, y, w, d, post, dv, pv) for dv, pv in ((0, 0), (0, 1), (1, 0), (1, 1))]
    fits, outs = zip(*cells, strict=True)
    att, psi = _dr_rc_core(y, post, d, x, w, ps, keep, fits, outs, improved=False)
    return DidKernelResult(att, psi)


def drdid_imp_rc(y, post, d, x=None, weights=None, *, trim_level: float = 0.995
                 ) -> DidKernelResult:
    """Improved locally efficient doubly robust DiD with repeated cross-sections.

    Parameters
    ----------
    y, post
        As in :func:`reg_did_rc`.
    d, x, weights, trim_level
        As in :func:`std_ipw_did_panel`.

    Returns
    -------
    DidKernelResult

    Notes
    -----
    The estimator of :func:`drdid_rc` (Sant'Anna & Zhao 2020, eq. 3.4) with the
    propensity score fitted by inverse probability tilting and the comparison-group
    regressions by least squares weighted by :math:`w\\hat p/(1-\\hat p)`, which
    removes the first-order estimation effects; the influence function is the
    leading term only (DRDID ``drdid_imp_rc``).

    References
    ----------
    Sant'Anna, P. H. C. and Zhao, J. (2020). *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 4, 2, 3, 0, 1, 1, 2])
    >>> post = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    >>> d = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    >>> round(drdid_imp_rc(y, post, d).att, 12)
    1.0
    """
    y = _as_vector(y, None, "y")
    d, x, w = _prepare(d, x, weights, y.size)
    post = _check_post(post, d, w, y.size)
    ps, keep = _pscore(x, d, w, trim_level, ipt=True)
    w_or = w * ps / (1.0 - ps)
    cells = [_cell_ols(x, y, w, d, post, 0, 0, w_or), _cell_ols(x, y, w, d, post, 0, 1, w_or),
             _cell_ols(x, y, w, d, post, 1, 0), _cell_ols(x, y, w, d, post, 1, 1)]
    fits, outs = zip(*cells, strict=True)
    att, psi = _dr_rc_core(y, post, d, x, w, ps, keep, fits, outs, improved=True)
    return DidKernelResult(att, psi)
