"""Weighted least squares for the 2x2 DiD kernels (outcome regressions).

Pure numpy/scipy. The fit uses a QR decomposition of :math:`\\sqrt{w}X` (more
accurate than the normal equations when covariates are on very different
scales, e.g. earnings in dollars beside dummies); the influence-function
corrections only need products :math:`(X'WX/n)^{-1} m`, computed from the same
triangular factor.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import linalg

from clusterimpact.errors import EstimationError
from clusterimpact.kernels import propensity as _ps

__all__ = ["WLSDesign", "WLSFit", "fit_wls", "wls_design"]


class WLSFit(NamedTuple):
    """A weighted least-squares fit on a subset of rows.

    Attributes
    ----------
    coef
        Coefficients, shape ``(k,)``.
    r
        Upper-triangular factor of the column-pivoted QR of :math:`\\sqrt{w}X`
        on the subset (so :math:`P'X'WXP = R'R`), shape ``(k, k)``; ``None``
        for the intercept-only closed form.
    piv
        The column permutation :math:`P` (indices), or ``None``.
    sum_w
        :math:`\\sum_i w_i x_i^2` for an intercept-only design (else ``nan``).
    """

    coef: np.ndarray
    r: np.ndarray | None
    piv: np.ndarray | None
    sum_w: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Fitted values ``x @ coef`` for all rows.

        Examples
        --------
        >>> import numpy as np
        >>> fit = fit_wls(np.ones((3, 1)), np.array([1.0, 2, 3]), np.ones(3), "demo")
        >>> fit.predict(np.ones((2, 1)))
        array([2., 2.])
        """
        if x.shape[1] == 1:
            return x[:, 0] * self.coef[0]
        return x @ self.coef

    def solve_gram(self, m: np.ndarray, n: int) -> np.ndarray:
        """Return :math:`(X'WX/n)^{-1} m` for the fitted subset.

        Examples
        --------
        >>> import numpy as np
        >>> fit = fit_wls(np.ones((4, 1)), np.arange(4.0), np.ones(4), "demo")
        >>> fit.solve_gram(np.array([1.0]), n=8)
        array([2.])
        """
        if self.r is None:
            return m * (n / self.sum_w)
        z = linalg.solve_triangular(self.r, m[self.piv], trans="T", check_finite=False)
        z = linalg.solve_triangular(self.r, z, check_finite=False)
        out = np.empty_like(z)
        out[self.piv] = z
        return n * out


class WLSDesign(NamedTuple):
    """The outcome-free part of :func:`fit_wls`: rows, weights and the QR factor.

    Built once by :func:`wls_design`, it fits any number of outcomes on the
    same design (e.g. the comparison-group regressions of the group-time cells
    that share their comparison units and covariates) with :meth:`fit`; each
    fit is exactly the one :func:`fit_wls` returns.

    Attributes
    ----------
    rows
        Indices of the rows used (in the subset, with positive weight); ``None``
        for the intercept-only closed form (then ``subset`` selects the rows).
    subset
        The boolean row mask given to :func:`wls_design` (or ``None``).
    sq
        :math:`\\sqrt{w}` on ``rows``.
    q, r, piv
        Column-pivoted economic QR of :math:`\\sqrt{w}X` on ``rows``; ``None``
        for the closed form.
    weights
        Weights on the subset (closed form only).
    scale
        The constant regressor (closed form only; else ``nan``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> des = wls_design(x, np.ones(4), "demo")
    >>> des.fit(np.array([1.0, 3, 5, 7])).coef.round(12), des.fit(np.arange(4.0)).coef.round(12)
    (array([1., 2.]), array([0., 1.]))
    """

    rows: np.ndarray | None
    subset: np.ndarray | None
    sq: np.ndarray | None
    q: np.ndarray | None
    r: np.ndarray | None
    piv: np.ndarray | None
    weights: np.ndarray | None
    scale: float

    def fit(self, y: np.ndarray) -> WLSFit:
        """Weighted least squares of ``y`` (all rows, shape ``(n,)``) on the design.

        Examples
        --------
        >>> import numpy as np
        >>> wls_design(np.ones((3, 1)), np.ones(3), "demo").fit(np.array([1.0, 2, 6])).coef
        array([3.])
        """
        if self.q is None:
            ys = y if self.subset is None else y[self.subset]
            sw, c = float(self.weights.sum()), self.scale
            return WLSFit(np.array([float(self.weights @ ys) / sw / c]), None, None, sw * c * c)
        coef_p = linalg.solve_triangular(self.r, self.q.T @ (y[self.rows] * self.sq),
                                         check_finite=False)
        coef = np.empty(coef_p.size)
        coef[self.piv] = coef_p
        return WLSFit(coef, self.r, self.piv, float("nan"))


def wls_design(
    x: np.ndarray,
    weights: np.ndarray,
    what: str,
    subset: np.ndarray | None = None,
) -> WLSDesign:
    """Factor the weighted design of :func:`fit_wls` once, for several outcomes.

    Parameters
    ----------
    x, weights, what, subset
        As in :func:`fit_wls`.

    Returns
    -------
    WLSDesign

    Raises
    ------
    EstimationError
        As :func:`fit_wls`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> wls_design(x, np.ones(4), "demo").fit(np.array([1.0, 3, 5, 7])).coef.round(12)
    array([1., 2.])
    """
    rows = np.arange(x.shape[0]) if subset is None else np.flatnonzero(subset)
    if subset is not None:
        x, weights = x[subset], weights[subset]
    k = x.shape[1]
    sw = float(weights.sum())
    if x.shape[0] == 0 or not sw > 0:
        raise EstimationError(f"The {what} regression has no observations (with positive weight).")
    if _ps._is_constant_column(x):
        return WLSDesign(None, subset, None, None, None, None, weights, float(x[0, 0]))
    pos = weights > 0
    sq = np.sqrt(weights[pos])
    xs = x[pos] * sq[:, None]
    if xs.shape[0] < k:
        raise EstimationError(
            f"The {what} regression has {xs.shape[0]} observations for {k} coefficients; "
            "remove covariates or enlarge the cell."
        )
    q, r, piv = linalg.qr(xs, mode="economic", pivoting=True, check_finite=False)
    dr = np.abs(np.diag(r))
    if dr[0] == 0 or dr[-1] <= dr[0] * 1e-10 * max(xs.shape):
        rank = int(np.sum(dr > dr[0] * 1e-10 * max(xs.shape)))
        raise EstimationError(
            f"The {what} regression design is singular (rank {rank} < {k} columns): "
            "covariates are collinear or constant within the cell. Remove redundant covariates."
        )
    return WLSDesign(rows[pos], subset, sq, q, r, piv, None, float("nan"))


def fit_wls(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    what: str,
    subset: np.ndarray | None = None,
) -> WLSFit:
    """Weighted least squares of ``y`` on ``x`` over the rows in ``subset``.

    Parameters
    ----------
    x
        Regressors including the intercept column, shape ``(n, k)``.
    y
        Outcome, shape ``(n,)``.
    weights
        Non-negative weights, shape ``(n,)``.
    what
        Name of the regression for error messages (e.g. ``"comparison-group outcome"``).
    subset
        Boolean mask of the rows to use; all rows if ``None``.

    Returns
    -------
    WLSFit

    Raises
    ------
    EstimationError
        If the subset is empty, has no positive weight, or the weighted design
        is rank deficient.

    Notes
    -----
    :math:`\\hat\\beta = \\arg\\min_b \\sum_{i \\in S} w_i (y_i - x_i'b)^2`, solved through
    the QR decomposition :math:`\\sqrt{W}X = QR`, :math:`\\hat\\beta = R^{-1}Q'\\sqrt{W}y`.
    An intercept-only design uses the weighted mean directly.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> fit_wls(x, np.array([1.0, 3, 5, 7]), np.ones(4), "demo").coef.round(12)
    array([1., 2.])
    """
    return wls_design(x, weights, what, subset).fit(y)
