"""Propensity scores for the 2x2 DiD kernels: weighted logit and inverse probability tilting.

Both estimators are plain numpy (no pandas, no Python loop over rows) and
are written to reproduce R's ``glm(family = binomial)`` and DRDID's
``pscore.cal`` to floating-point precision: Newton's method is iterated to
convergence instead of stopping at ``glm``'s loose deviance tolerance, so the
result is the exact optimum that R approaches.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg, special

from clusterimpact.errors import EstimationError, EstimationWarning

__all__ = ["PropensityFit", "fit_ipt", "fit_logit"]

_MAX_ETA = 700.0  # exp() overflows beyond ~709


class PropensityFit(NamedTuple):
    """A fitted propensity score model.

    Attributes
    ----------
    coef
        Coefficients, shape ``(k,)``.
    fitted
        Fitted probabilities ``P(D = 1 | X)``, shape ``(n,)``.
    converged
        Whether the optimiser met its tolerance.
    n_iter
        Newton iterations used.
    method
        ``"logit"`` (maximum likelihood) or ``"ipt"`` (inverse probability tilting);
        ``"logit"`` also when IPT failed and the logit was used instead.
    """

    coef: np.ndarray
    fitted: np.ndarray
    converged: bool
    n_iter: int
    method: str


def _expit(eta: np.ndarray) -> np.ndarray:
    return special.expit(eta)


def _is_constant_column(x: np.ndarray) -> bool:
    return x.shape[1] == 1 and bool(np.all(x[:, 0] == x[0, 0])) and x[0, 0] != 0


def _solve_spd(a: np.ndarray, b: np.ndarray, what: str) -> np.ndarray:
    try:
        c = linalg.cho_factor(a, lower=False, check_finite=False)
        out = linalg.cho_solve(c, b, check_finite=False)
    except linalg.LinAlgError:
        out = None
    if out is None or not np.all(np.isfinite(out)):
        raise EstimationError(
            f"The {what} is singular: the covariates are collinear or do not vary. "
            "Remove redundant covariates (or a covariate constant within the cell)."
        )
    return out


class _SpdSolver:
    """Solves :math:`A z = b` for several ``b`` with one Cholesky factor of ``A``.

    Each solution equals :func:`_solve_spd`'s (same factor, same triangular solves).
    """

    def __init__(self, a: np.ndarray, what: str) -> None:
        self.what = what
        try:
            self.factor = linalg.cho_factor(a, lower=False, check_finite=False)
        except linalg.LinAlgError:
            self.factor = None
        if self.factor is None:
            _singular(what)

    def __call__(self, b: np.ndarray) -> np.ndarray:
        out = linalg.cho_solve(self.factor, b, check_finite=False)
        if not np.all(np.isfinite(out)):
            _singular(self.what)
        return out


def _singular(what: str) -> None:
    raise EstimationError(
        f"The {what} is singular: the covariates are collinear or do not vary. "
        "Remove redundant covariates (or a covariate constant within the cell)."
    )


def _first_constant_column(x: np.ndarray) -> int | None:
    """Index of the first constant column of ``x`` (the intercept; checked first on column 0)."""
    if x.shape[0] and (x[:, 0] == x[0, 0]).all():
        return 0
    found = np.flatnonzero(np.all(x == x[0], axis=0))
    return int(found[0]) if found.size else None


def _check_rank(x: np.ndarray, w: np.ndarray, what: str) -> None:
    # Rank check on the scaled weighted Gram matrix (eigenvalues of the correlation-type
    # matrix D^-1/2 X'WX D^-1/2; a threshold of 1e-13 is a relative singular value of ~3e-7).
    k = x.shape[1]
    npos = int(np.count_nonzero(w > 0))
    if npos < k:
        raise EstimationError(
            f"The {what} has {npos} observations with positive weight for "
            f"{k} coefficients; remove covariates or enlarge the cell."
        )
    g = (x * w[:, None]).T @ x
    scale = np.sqrt(np.diag(g))
    if np.any(scale == 0):
        raise EstimationError(
            f"The {what} design matrix is singular: a covariate is zero for every "
            "observation with positive weight. Remove it."
        )
    ev = np.linalg.eigvalsh(g / np.outer(scale, scale))
    if ev[0] <= 1e-13 * ev[-1]:
        rank = int(np.sum(ev > 1e-13 * ev[-1]))
        raise EstimationError(
            f"The {what} design matrix is singular (rank {rank} < {k} columns): "
            "covariates are collinear or constant. Remove redundant covariates."
        )


def fit_logit(
    x: np.ndarray,
    d: np.ndarray,
    weights: np.ndarray,
    *,
    tol: float = 1e-13,
    max_iter: int = 100,
    start: np.ndarray | None = None,
) -> PropensityFit:
    """Weighted maximum-likelihood logit of ``d`` on ``x`` by Newton-Raphson (IRLS).

    Parameters
    ----------
    x
        Covariates including the intercept column, shape ``(n, k)``.
    d
        0/1 treatment indicator, shape ``(n,)``.
    weights
        Non-negative observation weights, shape ``(n,)`` (R's prior weights).
    tol
        Convergence tolerance on the Newton step relative to the coefficients.
    max_iter
        Maximum number of Newton steps.
    start
        Starting coefficients (e.g. a similar sample's fit); used when their
        deviance is below the intercept-only start's. The optimum does not
        depend on the start (only the path to it).

    Returns
    -------
    PropensityFit

    Raises
    ------
    EstimationError
        If the design is singular, or the classes are perfectly separated (every
        fitted probability is 0 or 1, so no comparison unit resembles a treated one).

    Warns
    -----
    EstimationWarning
        If Newton's method did not converge, or some fitted probabilities are
        numerically 0 or 1 (quasi-separation; R's ``glm`` warns the same).

    Notes
    -----
    Maximises :math:`\\sum_i w_i [d_i x_i'\\gamma - \\log(1 + e^{x_i'\\gamma})]`.
    Each step solves :math:`(X'WX)\\,\\delta = X'w(d - p)` with
    :math:`W = \\mathrm{diag}(w\\,p(1-p))` by Cholesky, halving the step while the
    deviance increases. With an intercept-only design the solution is closed form,
    :math:`\\gamma = \\mathrm{logit}(\\sum w d / \\sum w)`. Iterating until the step is
    :math:`10^{-13}` gives the exact optimum that ``glm`` (deviance tolerance
    :math:`10^{-8}`) approaches.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> d = np.array([0.0, 1, 0, 1, 0, 1])
    >>> fit = fit_logit(x, d, np.ones(6))
    >>> np.round(fit.coef, 6)
    array([-0.903302,  0.361321])
    """
    n, k = x.shape
    sw = weights.sum()
    if not sw > 0:
        raise EstimationError("All weights are zero in the propensity score model.")
    p_bar = float((weights * d).sum() / sw)
    if p_bar <= 0.0 or p_bar >= 1.0:
        raise EstimationError(
            "The propensity score model needs both treated and comparison units "
            f"(weighted share treated = {p_bar:g})."
        )
    if _is_constant_column(x):
        coef = np.array([np.log(p_bar / (1.0 - p_bar)) / x[0, 0]])
        return PropensityFit(coef, np.full(n, p_bar), True, 0, "logit")
    _check_rank(x, weights, "propensity score (logit)")

    def deviance(eta: np.ndarray) -> float:
        # -2 log-likelihood, stable form: log(1+e^eta) - d*eta with
        # log(1+e^eta) = max(eta, 0) + log1p(e^-|eta|) (logaddexp's formula; 6x faster)
        soft = np.log1p(np.exp(-np.abs(eta)))
        soft += np.maximum(eta, 0.0)
        return float(2.0 * np.sum(weights * (soft - d * eta)))

    # start from the intercept-only fit (the usual glm start would do as well)
    coef = np.zeros(k)
    intercept = _first_constant_column(x)
    if intercept is not None:
        coef[intercept] = np.log(p_bar / (1.0 - p_bar)) / x[0, intercept]
    eta = x @ coef
    dev = deviance(eta)
    if start is not None and np.shape(start) == (k,) and np.all(np.isfinite(start)):
        start_eta = np.clip(x @ start, -_MAX_ETA, _MAX_ETA)
        start_dev = deviance(start_eta)
        if start_dev < dev:
            coef, eta, dev = np.array(start, dtype=float), start_eta, start_dev
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        p = _expit(eta)
        wv = weights * p * (1.0 - p)
        grad = x.T @ (weights * (d - p))
        hess = (x * wv[:, None]).T @ x
        try:
            step = _solve_spd(hess, grad, "propensity score information matrix")
        except EstimationError:
            break  # fitted values at 0/1: diagnosed below
        new = coef + step
        if np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(new))):
            # a full Newton step this small is converged: no deviance needed to accept it
            coef, eta, converged = new, np.clip(x @ new, -_MAX_ETA, _MAX_ETA), True
            break
        new_eta = np.clip(x @ new, -_MAX_ETA, _MAX_ETA)
        new_dev = deviance(new_eta)
        halvings = 0
        while not (new_dev <= dev * (1 + 1e-15) + 1e-300) and halvings < 50:
            step = step / 2.0
            new = coef + step
            new_eta = np.clip(x @ new, -_MAX_ETA, _MAX_ETA)
            new_dev = deviance(new_eta)
            halvings += 1
        small = np.max(np.abs(step)) <= tol * (1.0 + np.max(np.abs(new)))
        flat = abs(dev - new_dev) <= 1e-15 * (abs(new_dev) + 0.1)
        coef, eta, dev = new, new_eta, new_dev
        if small or (flat and halvings == 0 and it > 1):
            converged = True
            break
    fitted = _expit(eta)
    eps = 10 * np.finfo(float).eps
    extreme = (fitted < eps) | (fitted > 1 - eps)
    if dev < 1e-8 * sw or (np.all(extreme[d == 1]) and np.all(extreme[d == 0])):
        raise EstimationError(
            "The propensity score model perfectly separates treated and comparison "
            "units (all fitted probabilities are 0 or 1): there is no overlap. "
            "Remove or coarsen the covariates that predict treatment perfectly."
        )
    if not converged:
        warnings.warn(
            f"The propensity score logit did not converge in {max_iter} Newton steps; "
            "estimates may be unreliable (check for separation or extreme covariates).",
            EstimationWarning,
            stacklevel=3,
        )
    elif np.any(extreme):
        warnings.warn(
            f"{int(extreme.sum())} fitted propensity score(s) are numerically 0 or 1 "
            "(quasi-separation); overlap is poor.",
            EstimationWarning,
            stacklevel=3,
        )
    return PropensityFit(coef, fitted, converged, it, "logit")


def fit_ipt(
    x: np.ndarray,
    d: np.ndarray,
    weights: np.ndarray,
    *,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> PropensityFit:
    """Propensity score by inverse probability tilting (Graham, Pinto & Egel 2012).

    The calibrated propensity score of DRDID's ``pscore.cal``, used by the
    improved doubly robust DiD estimators.

    Parameters
    ----------
    x
        Covariates including the intercept column, shape ``(n, k)``.
    d
        0/1 treatment indicator, shape ``(n,)``.
    weights
        Observation weights normalised to mean one, shape ``(n,)``.
    tol
        Convergence tolerance on the gradient (sup norm).
    max_iter
        Maximum number of Newton steps.

    Returns
    -------
    PropensityFit
        ``method`` is ``"ipt"``; ``"logit"`` if tilting failed (then the
        logit fit is returned with an :class:`EstimationWarning`, as DRDID does
        when both its optimisers fail).

    Notes
    -----
    Minimises the strictly convex loss

    .. math:: \\ell(\\gamma) = \\frac1n \\sum_i w_i\\,[(1 - d_i)\\,e^{x_i'\\gamma} - d_i x_i'\\gamma],

    whose first-order condition is the exact balancing (calibration) condition
    :math:`\\sum_i w_i (1-d_i) e^{x_i'\\gamma} x_i = \\sum_i w_i d_i x_i`: the comparison
    units reweighted by the odds :math:`p/(1-p) = e^{x'\\gamma}` reproduce the
    treated covariate totals. The propensity score is
    :math:`p_i = \\mathrm{expit}(x_i'\\gamma)`. Damped Newton from the logit
    estimate, as DRDID starts its trust-region solver there. DRDID falls back
    on ``nlm`` with Graham et al.'s quadratic extension of the loss when the
    trust region fails; here a failure returns the logit directly.

    References
    ----------
    Graham, B. S., Pinto, C. C. X. and Egel, D. (2012). Inverse probability
    tilting for moment condition models with missing data. *Review of Economic
    Studies*, 79(3), 1053-1079.

    Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust
    difference-in-differences estimators. *Journal of Econometrics*, 219(1), 101-122.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> d = np.array([0.0, 1, 0, 1, 0, 1])
    >>> fit = fit_ipt(x, d, np.ones(6))
    >>> odds = fit.fitted / (1 - fit.fitted)
    >>> bool(np.allclose((odds * (1 - d)) @ x, d @ x))  # exact balance
    True
    """
    n = x.shape[0]
    logit = fit_logit(x, d, weights)
    if _is_constant_column(x):
        # balance on the constant: sum w(1-d) e^g = sum w d  <=>  the logit solution
        return logit._replace(method="ipt")
    ctrl = weights * (1.0 - d)
    target = (weights * d) @ x / n

    def loss(g: np.ndarray) -> tuple[float, np.ndarray]:
        eta = x @ g
        if np.max(eta[ctrl > 0], initial=-np.inf) > _MAX_ETA:
            return np.inf, eta
        return float(np.mean(ctrl * np.exp(eta)) - target @ g), eta

    coef = logit.coef.copy()
    val, eta = loss(coef)
    converged = False
    it = 0
    if np.isfinite(val):
        for it in range(1, max_iter + 1):  # noqa: B007
            e = ctrl * np.exp(eta)
            grad = e @ x / n - target
            if np.max(np.abs(grad)) <= tol * (1.0 + np.max(np.abs(target))):
                converged = True
                break
            hess = (x * e[:, None]).T @ x / n
            try:
                step = _solve_spd(hess, grad, "tilting Hessian")
            except EstimationError:
                break
            if float(grad @ step) <= 1e-14 * (1.0 + abs(val)):
                # The Newton decrement is below what the loss can resolve in floating point, so a
                # line search would stall on rounding (and could do so in one row order and not
                # another): take the full Newton step, which is quadratically convergent here.
                coef = coef - step
                eta = x @ coef
                converged = True
                break
            t = 1.0
            new = coef - step
            new_val, new_eta = loss(new)
            while not (new_val <= val + 1e-4 * t * (grad @ -step)) and t > 1e-12:
                t /= 2.0
                new = coef - t * step
                new_val, new_eta = loss(new)
            if not np.isfinite(new_val) or t <= 1e-12:
                # no descent possible: at the optimum up to rounding, or failed
                converged = bool(np.max(np.abs(grad)) <= 1e-8 * (1.0 + np.max(np.abs(target))))
                break
            coef, val, eta = new, new_val, new_eta
    if not converged:
        warnings.warn(
            "Inverse probability tilting did not converge when estimating the propensity "
            "score; the logit propensity score is used instead.",
            EstimationWarning,
            stacklevel=3,
        )
        return logit
    return PropensityFit(coef, _expit(eta), True, it, "ipt")
