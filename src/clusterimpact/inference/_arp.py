"""Moment-inequality tests with linear nuisance parameters (Andrews, Roth & Pakes).

The engine behind :mod:`clusterimpact.inference.honest`. For moments
:math:`Y \\sim N(\\mu, \\Sigma)` (one per row of a constraint matrix) and a
nuisance matrix :math:`X`, the null is :math:`\\exists\\nu: \\mu - X\\nu \\le 0`.
The statistic is the value of the linear programme

.. math:: \\hat\\eta = \\min_{\\eta,\\nu} \\eta \\;\\text{s.t.}\\; Y - X\\nu \\le \\eta\\,\\sigma
          = \\max_{\\gamma \\in V} \\gamma' Y,

with :math:`\\sigma = \\sqrt{\\operatorname{diag}\\Sigma}` and :math:`V` the vertices of the dual
polytope :math:`\\{\\gamma \\ge 0, X'\\gamma = 0, \\sigma'\\gamma = 1\\}`. Conditional on the
optimal vertex :math:`\\gamma^*` and on :math:`S = Y - c\\hat\\eta`,
:math:`c = \\Sigma\\gamma^*/\\gamma^{*\\prime}\\Sigma\\gamma^*`, the statistic is normal with
variance :math:`\\gamma^{*\\prime}\\Sigma\\gamma^*` truncated to :math:`[V^{lo}, V^{up}]`, the
set of :math:`\\eta` at which :math:`\\gamma^*` stays optimal:
:math:`V^{lo} = \\max_{\\gamma'c<1} \\gamma'S/(1-\\gamma'c)`,
:math:`V^{up} = \\min_{\\gamma'c>1} \\gamma'S/(1-\\gamma'c)`. The vertices are enumerated
once (supports of size ``rank(X) + 1``), which makes the test, its inversion
over a grid of parameter values and the least-favourable simulation exact and
vectorised; very large problems fall back on :func:`scipy.optimize.linprog`.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
from scipy import linalg, stats
from scipy.optimize import linprog

__all__ = ["MomentTest"]

_MAX_SUPPORTS = 200_000
_TOL = 1e-9


class MomentTest:
    """The ARP conditional / hybrid test of ``exists nu: E[Y0 - a*theta] - X nu <= 0``.

    Parameters
    ----------
    y0, a
        Moments at ``theta = 0`` and their slope in ``theta``: ``Y(theta) = y0 - a*theta``.
    x
        Nuisance matrix, shape ``(m, k)`` (``k`` may be zero).
    sigma
        Covariance of the moments, shape ``(m, m)``.

    Examples
    --------
    >>> import numpy as np
    >>> t = MomentTest(np.array([0.0, 0.0]), np.array([1.0, -1.0]), np.zeros((2, 0)), np.eye(2))
    >>> t.accept(np.array([0.0, 3.0]), alpha=0.05).tolist()
    [True, False]
    """

    def __init__(self, y0: np.ndarray, a: np.ndarray, x: np.ndarray, sigma: np.ndarray) -> None:
        self.y0 = np.asarray(y0, float)
        self.a = np.asarray(a, float)
        self.sigma = np.asarray(sigma, float)
        self.sd = np.sqrt(np.clip(np.diag(self.sigma), 0, None))
        x = np.asarray(x, float).reshape(self.y0.size, -1)
        # only the column space of X matters: replace it with an orthonormal basis
        if x.shape[1]:
            u, s, _ = linalg.svd(x, full_matrices=False)
            x = u[:, s > s.max(initial=0) * 1e-10] if s.size else x
        self.x = x
        self.vertices = self._enumerate()

    # ------------------------------------------------------------ vertices
    def _enumerate(self) -> np.ndarray | None:
        m, k = self.x.shape
        q = k + 1
        if q > m:
            return np.zeros((0, m))
        if comb(m, q) > _MAX_SUPPORTS:
            return None
        subsets = np.array(list(combinations(range(m), q)), dtype=int)
        mats = np.concatenate([np.transpose(self.x[subsets], (0, 2, 1)),
                               self.sd[subsets][:, None, :]], axis=1)  # (n, q, q)
        ok = np.abs(np.linalg.det(mats)) > 1e-12
        rhs = np.zeros(q)
        rhs[-1] = 1.0
        sol = np.linalg.solve(mats[ok], np.broadcast_to(rhs, (int(ok.sum()), q))[..., None])[..., 0]
        feasible = np.all(sol >= -1e-10, axis=1)
        out = np.zeros((int(feasible.sum()), m))
        rows = np.repeat(np.arange(out.shape[0]), q)
        out[rows, subsets[ok][feasible].ravel()] = np.clip(sol[feasible], 0, None).ravel()
        return np.unique(np.round(out, 12), axis=0)

    # ---------------------------------------------------- value of the LP
    def _lp_value(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        m, k = self.x.shape
        res = linprog(np.r_[1.0, np.zeros(k)], A_ub=-np.column_stack([self.sd, self.x]), b_ub=-y,
                      bounds=[(None, None)] * (k + 1), method="highs")
        if res.status == 3:  # unbounded below: the dual polytope is empty
            return -np.inf, np.zeros(m)
        return float(res.fun), -np.asarray(res.ineqlin.marginals)

    def _lp_bounds(self, s: np.ndarray, c: np.ndarray) -> tuple[float, float]:
        k = self.x.shape[1]
        a_ub = np.column_stack([c - self.sd, -self.x])
        out = []
        for sign in (1.0, -1.0):
            res = linprog(np.r_[sign, np.zeros(k)], A_ub=a_ub, b_ub=-s,
                          bounds=[(None, None)] * (k + 1), method="highs")
            out.append(sign * -np.inf if res.status == 3 else float(res.x[0]))
        return out[0], out[1]

    # ------------------------------------------------------------ the test
    def least_favorable_cv(self, kappa: float, draws: int, seed: int | np.random.Generator | None
                           ) -> float:
        """The ``1 - kappa`` quantile of the statistic when every moment binds at zero.

        Examples
        --------
        >>> import numpy as np
        >>> t = MomentTest(np.zeros(1), np.ones(1), np.zeros((1, 0)), np.eye(1))
        >>> round(t.least_favorable_cv(0.05, 20000, 1), 1)
        1.6
        """
        rng = np.random.default_rng(seed)
        xi = rng.multivariate_normal(np.zeros(self.y0.size), self.sigma, size=draws,
                                     method="eigh")
        if self.vertices is not None:
            eta = (xi @ self.vertices.T).max(axis=1) if self.vertices.size else np.full(draws, -np.inf)
        else:
            eta = np.array([self._lp_value(row)[0] for row in xi])
        return float(np.quantile(eta, 1 - kappa))

    def accept(self, theta: np.ndarray, *, alpha: float, lf_cv: float | None = None,
               kappa: float = 0.0) -> np.ndarray:
        """Whether each ``theta`` is accepted (conditional test, or the LF hybrid if ``lf_cv``).

        Examples
        --------
        >>> import numpy as np
        >>> t = MomentTest(np.zeros(1), np.ones(1), np.zeros((1, 0)), np.eye(1))
        >>> t.accept(np.array([-5.0, 0.0, -1.0]), alpha=0.05).tolist()
        [False, True, True]
        """
        theta = np.atleast_1d(np.asarray(theta, float))
        size = alpha if lf_cv is None else (alpha - kappa) / (1 - kappa)
        if self.vertices is not None:
            eta, lo, up, sb = self._stats_vertices(theta)
        else:
            eta, lo, up, sb = self._stats_lp(theta)
        out = np.ones(theta.size, dtype=bool)
        finite = np.isfinite(eta)
        if lf_cv is not None:
            out[finite & (eta > lf_cv)] = False
            up = np.minimum(up, lf_cv)
        degenerate = finite & (sb < 1e-12)
        out[degenerate & (eta > 0)] = False
        live = finite & ~degenerate & out
        z = eta[live] / sb[live]
        zlo, zup = lo[live] / sb[live], up[live] / sb[live]
        inside = (zlo - 1e-9 <= z) & (z <= zup + 1e-9) & (zup > zlo)
        crit = np.full(z.size, np.inf)
        if inside.any():
            crit[inside] = np.maximum(0.0, stats.truncnorm.ppf(1 - size, zlo[inside], zup[inside]))
        out[np.flatnonzero(live)] = ~(inside & (z > crit))
        return out

    def _stats_vertices(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        v = self.vertices
        n = theta.size
        if v.shape[0] == 0:
            inf = np.full(n, -np.inf)
            return inf, inf, -inf, np.ones(n)
        vsv = v @ self.sigma @ v.T  # (nv, nv)
        var = np.clip(np.diag(vsv), 0, None)
        vals = (v @ self.y0)[:, None] - (v @ self.a)[:, None] * theta[None, :]  # (nv, n)
        best = np.argmax(vals, axis=0)
        eta = vals[best, np.arange(n)]
        with np.errstate(divide="ignore", invalid="ignore"):
            vc = vsv[:, best] / np.where(var[best] > 0, var[best], np.nan)[None, :]  # gamma'c
            vs = vals - vc * eta[None, :]
            denom = 1.0 - vc
            ratio = vs / denom
        lo_mask = denom > 1e-10
        up_mask = denom < -1e-10
        lo = np.where(lo_mask, ratio, -np.inf).max(axis=0)
        up = np.where(up_mask, ratio, np.inf).min(axis=0)
        return eta, lo, up, np.sqrt(var[best])

    def _stats_lp(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        n = theta.size
        eta, lo, up, sb = (np.full(n, np.nan) for _ in range(4))
        for i, t in enumerate(theta):
            y = self.y0 - self.a * t
            eta[i], g = self._lp_value(y)
            if not np.isfinite(eta[i]):
                continue
            var = float(g @ self.sigma @ g)
            sb[i] = np.sqrt(max(var, 0.0))
            if var <= 1e-24:
                lo[i], up[i] = -np.inf, np.inf
                continue
            c = self.sigma @ g / var
            lo[i], up[i] = self._lp_bounds(y - c * eta[i], c)
        return eta, lo, up, sb
