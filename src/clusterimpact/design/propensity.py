"""Propensity scores for matching and weighting: logit/probit fits, common support, trimming.

The model is fitted by statsmodels (``Logit`` / ``Probit``, Newton's method to
a tight tolerance); the per-observation scores and the Hessian are kept so
that weighting estimators can account for the estimated score in their
standard errors (M-estimation).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special

from clusterimpact.errors import EstimationError, SpecificationError

__all__ = ["PropensityModel", "common_support", "crump_threshold", "fit_propensity"]

Link = Literal["logit", "probit"]


@dataclass(frozen=True)
class PropensityModel:
    """A fitted propensity score model.

    Attributes
    ----------
    link
        ``"logit"`` or ``"probit"``.
    design
        The design matrix with an intercept column, shape ``(n, k)``.
    coef
        Coefficients, shape ``(k,)``.
    score
        Fitted probabilities ``P(D = 1 | X)``.
    converged
        Whether Newton's method met its tolerance.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 40)[:, None]; d = (np.arange(40) % 3 == 0).astype(float)
    >>> fit_propensity(x, d).score.shape
    (40,)
    """

    link: str
    design: np.ndarray
    coef: np.ndarray
    score: np.ndarray
    converged: bool

    @property
    def linear_predictor(self) -> np.ndarray:
        """``X @ coef`` (the logit or probit index).

        Examples
        --------
        >>> import numpy as np
        >>> x = np.linspace(-1, 1, 40)[:, None]; d = (np.arange(40) % 3 == 0).astype(float)
        >>> fit_propensity(x, d).linear_predictor.shape
        (40,)
        """
        return self.design @ self.coef


def _probability(link: str, eta: np.ndarray) -> np.ndarray:
    return special.expit(eta) if link == "logit" else special.ndtr(eta)


def fit_propensity(x: np.ndarray, d: np.ndarray, *, link: Link = "logit") -> PropensityModel:
    """Fit ``P(D = 1 | X)`` by maximum likelihood with statsmodels.

    Parameters
    ----------
    x
        Covariates without intercept, shape ``(n, k)``; an intercept is added.
    d
        0/1 treatment.
    link
        ``"logit"`` (default) or ``"probit"``.

    Raises
    ------
    EstimationError
        Collinear covariates or perfect separation (fitted scores of exactly 0 or 1).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); x = rng.normal(size=(200, 2))
    >>> d = (x[:, 0] + rng.normal(size=200) > 0).astype(float)
    >>> m = fit_propensity(x, d)
    >>> bool(0 < m.score.min() and m.score.max() < 1)
    True
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    if link not in ("logit", "probit"):
        raise SpecificationError(f"link must be 'logit' or 'probit', got {link!r}.")
    design = np.column_stack([np.ones(len(d)), np.asarray(x, dtype=float)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise EstimationError(
            "The propensity score design is collinear (a covariate is constant or a linear "
            "combination of others, e.g. all levels of a category). Remove redundant covariates."
        )
    model = (sm.Logit if link == "logit" else sm.Probit)(np.asarray(d, dtype=float), design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            res = model.fit(method="newton", maxiter=200, tol=1e-12, disp=0)
        except Exception as err:  # statsmodels raises PerfectSeparationError / LinAlgError
            raise EstimationError(f"The propensity score model failed: {err}") from err
    coef = np.asarray(res.params, dtype=float)
    score = _probability(link, design @ coef)
    if np.any(score <= 1e-12) or np.any(score >= 1 - 1e-12):
        raise EstimationError(
            "The propensity score separates the arms (scores of 0 or 1): some covariate "
            "predicts treatment perfectly. Drop it, coarsen it or restrict to common support."
        )
    converged = bool(res.mle_retvals.get("converged", True))
    return PropensityModel(link=link, design=design, coef=coef, score=score, converged=converged)


def score_contributions(link: str, design: np.ndarray, d: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Per-observation score of the binary-choice log likelihood, shape ``(n, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> score_contributions("logit", np.ones((2, 1)), np.array([1.0, 0.0]), np.zeros(1)).ravel()
    array([ 0.5, -0.5])
    """
    eta = design @ coef
    if link == "logit":
        return design * (d - special.expit(eta))[:, None]
    p = np.clip(special.ndtr(eta), 1e-300, 1 - 1e-16)
    dens = np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi)
    return design * (dens * (d - p) / (p * (1 - p)))[:, None]


def common_support(score: np.ndarray, d: np.ndarray) -> dict[str, float | int]:
    """Min/max common-support diagnostics of a propensity score.

    Returns the range of scores in each arm and how many units of each arm
    lie outside the other arm's range.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.array([True, True, False, False])
    >>> common_support(np.array([0.2, 0.6, 0.1, 0.5]), d)["treated_outside"]
    1
    """
    s1, s0 = score[d], score[~d]
    return {
        "treated_min": float(s1.min()), "treated_max": float(s1.max()),
        "control_min": float(s0.min()), "control_max": float(s0.max()),
        "treated_outside": int(np.sum((s1 < s0.min()) | (s1 > s0.max()))),
        "control_outside": int(np.sum((s0 < s1.min()) | (s0 > s1.max()))),
    }


def crump_threshold(score: np.ndarray) -> float:
    """The optimal trimming threshold of Crump, Hotz, Imbens & Mitnik (2009).

    Units with scores outside ``[alpha, 1 - alpha]`` are dropped; ``alpha = 0``
    when no trimming improves the efficiency bound.

    Notes
    -----
    With :math:`g(x) = 1/(e(x)(1-e(x)))`: if :math:`\\max g \\le 2\\,\\mathbb E[g]`,
    :math:`\\alpha = 0`; otherwise :math:`\\alpha = 1/2 - \\sqrt{1/4 - 1/\\gamma}`
    where :math:`\\gamma` solves :math:`\\gamma = 2\\,\\mathbb E[g \\mid g \\le \\gamma]`
    (their Theorem 1). The rule of thumb is :math:`\\alpha = 0.1`.

    References
    ----------
    Crump, R. K., Hotz, V. J., Imbens, G. W. and Mitnik, O. A. (2009). Dealing with
    limited overlap in estimation of average treatment effects. *Biometrika* 96, 187-199.

    Examples
    --------
    >>> import numpy as np
    >>> crump_threshold(np.full(10, 0.5))
    0.0
    >>> round(crump_threshold(np.r_[np.full(50, 0.5), np.full(5, 0.01)]), 4)
    0.1464
    """
    g = 1.0 / (score * (1.0 - score))
    if g.max() <= 2.0 * g.mean():
        return 0.0
    gs = np.sort(g)
    cond_mean = np.cumsum(gs) / np.arange(1, gs.size + 1)
    upper = np.r_[gs[1:], np.inf]
    # h(gamma) = gamma - 2 E[g | g <= gamma] is linear between order statistics: the root
    # lies in the first interval [g_(k), g_(k+1)) that contains 2 * mean(g_(1..k)).
    ok = np.flatnonzero((gs <= 2 * cond_mean) & (2 * cond_mean < upper))
    gamma = 2 * cond_mean[ok[0]] if ok.size else gs[-1]
    return float(0.5 - np.sqrt(0.25 - 1.0 / max(gamma, 4.0)))
