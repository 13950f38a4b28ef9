"""Multiplier (weighted) bootstrap of influence functions, clustered, with sup-t bands.

Given cluster sums :math:`U_c` of influence functions (one row per cluster,
scaled so that :math:`\\hat\\theta - \\theta \\approx \\sum_c U_c`), one bootstrap draw
is :math:`\\hat\\theta^* - \\hat\\theta = \\sum_c v_c U_c` with i.i.d. multipliers
:math:`v_c` of mean zero and variance one. This is R ``did``'s ``mboot``
(Callaway & Sant'Anna 2021, Algorithm 1 and Remark 10) written on cluster
sums: its ``bres`` is the same draw times :math:`n/\\sqrt{C}`, a constant that
cancels in every reported quantity.

**Survey designs.** With strata and an fpc the rows are not the raw cluster
sums but :func:`clusterimpact.inference.survey.bootstrap_rows`: the PSU totals
centred within stratum and scaled by :math:`\\sqrt{(1-f_h)\\,n_h/(n_h-1)}` (lonely
PSUs as the design declares), one multiplier per PSU; the draws' covariance is
then the linearised design-based covariance in expectation, and the sup-t
bands follow the design (``att_gt(..., bootstrap=B)`` on a survey Panel).

No global random state is touched: randomness comes from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from scipy import stats

from clusterimpact.errors import SpecificationError

__all__ = ["MultiplierBootstrap", "MultiplierWeights", "multiplier_bootstrap", "multiplier_draws"]

MultiplierWeights = Literal["mammen", "rademacher"]

_SQRT5 = np.sqrt(5.0)
_IQR_NORMAL = float(stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
_TINY = np.sqrt(np.finfo(float).eps) * 10  # R did's "zero standard error" threshold
_CHUNK_ELEMENTS = 1 << 22  # multipliers generated per block (32 MB)


@dataclass(frozen=True)
class MultiplierBootstrap:
    """Bootstrap standard errors and the simultaneous critical value.

    Attributes
    ----------
    std_error
        IQR-based bootstrap standard errors, :math:`(q_{.75} - q_{.25}) /
        (z_{.75} - z_{.25})` of the draws; NaN for degenerate columns.
    crit_value
        The :math:`1-\\alpha` quantile of :math:`\\max_j |\\theta^*_j - \\hat\\theta_j| /
        \\mathrm{se}_j` over the non-degenerate columns (sup-t band).
    reps, weights, seed
        What was drawn; ``seed`` regenerates exactly the same multipliers.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.random.default_rng(0).normal(size=(200, 2)) / 200
    >>> b = multiplier_bootstrap(u, reps=499, seed=1)
    >>> b.std_error.shape, bool(b.crit_value > 1.9)
    ((2,), True)
    """

    std_error: np.ndarray
    crit_value: float
    reps: int
    weights: str
    seed: int


def _check(reps: int, weights: str) -> None:
    if weights not in get_args(MultiplierWeights):
        raise SpecificationError(
            f"weights={weights!r} is not allowed; use one of {list(get_args(MultiplierWeights))}."
        )
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
        raise SpecificationError(f"The number of bootstrap draws must be a positive integer, got {reps!r}.")


def child_seed(seed: int | np.random.Generator | None) -> int:
    """Draw the integer seed of the multipliers from ``seed`` (never the global RNG).

    Examples
    --------
    >>> child_seed(1) == child_seed(1)
    True
    """
    return int(np.random.default_rng(seed).integers(2**63 - 1))


def _multipliers(rng: np.random.Generator, shape: tuple[int, int], weights: str) -> np.ndarray:
    u = rng.random(shape)
    if weights == "rademacher":
        return np.where(u < 0.5, -1.0, 1.0)
    # Mammen's two-point distribution: mean 0, variance 1, third moment 1
    p = (_SQRT5 + 1) / (2 * _SQRT5)
    return np.where(u < p, (1 - _SQRT5) / 2, (1 + _SQRT5) / 2)


def multiplier_draws(
    influence: np.ndarray,
    reps: int,
    *,
    weights: MultiplierWeights = "mammen",
    seed: int = 0,
) -> np.ndarray:
    """Bootstrap draws :math:`\\sum_c v_c U_c` of :math:`\\hat\\theta^* - \\hat\\theta`.

    Parameters
    ----------
    influence
        Cluster sums of influence functions, shape ``(C, k)``, scaled so that
        the estimator minus the truth is approximately their column sum.
    reps
        Number of draws.
    weights
        Distribution of the multipliers.
    seed
        Integer seed; the same seed and number of clusters give the same
        multipliers whatever ``k``, so draws for aggregations of the same
        estimates are coherent.

    Returns
    -------
    numpy.ndarray
        Shape ``(reps, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> d = multiplier_draws(np.ones((3, 1)), 4, weights="rademacher", seed=0)
    >>> d.shape, set(np.abs(d.ravel()).tolist()) <= {1.0, 3.0}
    ((4, 1), True)
    """
    _check(reps, weights)
    u = np.asarray(influence, dtype=float)
    if u.ndim == 1:
        u = u[:, None]
    n_clusters, k = u.shape
    rng = np.random.default_rng(seed)
    out = np.empty((reps, k))
    step = max(1, min(reps, _CHUNK_ELEMENTS // max(n_clusters, 1)))
    for start in range(0, reps, step):
        stop = min(reps, start + step)
        v = _multipliers(rng, (stop - start, n_clusters), weights)
        out[start:stop] = v @ u
    return out


def summarize_draws(draws: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """IQR standard errors and the sup-t critical value of bootstrap draws (R ``mboot``).

    Examples
    --------
    >>> import numpy as np
    >>> se, c = summarize_draws(np.random.default_rng(0).normal(size=(4000, 3)), 0.05)
    >>> bool(np.allclose(se, 1, atol=0.1)), bool(2.0 < c < 2.8)
    (True, True)
    """
    finite = np.all(np.isfinite(draws), axis=0)
    safe = np.where(finite, draws, 0.0)
    # type-1 quantiles (inverted CDF), as R's quantile(type = 1)
    q25, q75 = np.quantile(safe, [0.25, 0.75], axis=0, method="inverted_cdf")
    se = (q75 - q25) / _IQR_NORMAL
    degenerate = ~finite | (np.sum(safe**2, axis=0) <= 0) | ~(se > _TINY)
    se = np.where(degenerate, np.nan, se)
    ok = ~degenerate
    if not ok.any():
        return se, float("nan")
    tstat = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
    crit = float(np.quantile(tstat, 1 - alpha, method="inverted_cdf"))
    return se, crit


def multiplier_bootstrap(
    influence: np.ndarray,
    reps: int = 1000,
    *,
    weights: MultiplierWeights = "mammen",
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> MultiplierBootstrap:
    """Clustered multiplier bootstrap: standard errors and a simultaneous critical value.

    Parameters
    ----------
    influence
        Cluster sums of influence functions, shape ``(C, k)`` (one row per
        cluster; with one unit per cluster these are the unit influence
        functions divided by ``n``).
    reps
        Number of bootstrap draws (R ``did``: ``biters = 1000``).
    weights
        ``"mammen"`` (R ``did``'s default) or ``"rademacher"``.
    alpha
        One minus the coverage of the simultaneous band.
    seed
        ``int``, :class:`numpy.random.Generator` or ``None``; the global
        NumPy random state is never used.

    Returns
    -------
    MultiplierBootstrap

    Notes
    -----
    Draw :math:`b` is :math:`\\Delta^{(b)} = \\sum_c v^{(b)}_c U_c`. The standard
    error of column :math:`j` is the interquartile range of
    :math:`\\Delta^{(b)}_j` divided by :math:`z_{.75} - z_{.25}`; the critical
    value of the uniform band is the :math:`1-\\alpha` quantile of
    :math:`\\max_j |\\Delta^{(b)}_j| / \\mathrm{se}_j`. Columns with zero or
    non-finite variation are degenerate (standard error NaN) and excluded
    from the maximum, as in R ``did``.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences with
    multiple time periods. *Journal of Econometrics*, 225(2), 200-230.

    Mammen, E. (1993). Bootstrap and wild bootstrap for high dimensional linear
    models. *Annals of Statistics*, 21(1), 255-285.

    Examples
    --------
    >>> import numpy as np
    >>> psi = np.random.default_rng(0).normal(size=(500, 1))
    >>> b = multiplier_bootstrap(psi / 500, reps=999, seed=2)
    >>> bool(abs(b.std_error[0] - psi.std() / np.sqrt(500)) < 0.01)
    True
    """
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must lie in (0, 1), got {alpha}.")
    _check(reps, weights)
    s = child_seed(seed)
    draws = multiplier_draws(influence, reps, weights=weights, seed=s)
    se, crit = summarize_draws(draws, alpha)
    return MultiplierBootstrap(std_error=se, crit_value=crit, reps=int(reps), weights=weights, seed=s)
