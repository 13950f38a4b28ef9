"""Covariance estimators for least-squares coefficients: a registry of small classes.

Every estimator takes the same :class:`VcovData` (regressors after absorbing
fixed effects, residuals, weights, bread, fixed-effect codes) plus cluster
codes, and returns the covariance matrix of the slope coefficients and the
degrees of freedom of their t reference distribution. Adding an estimator
is one class and one entry in :data:`VCOV_ESTIMATORS`; unknown names and
unknown keyword arguments raise :class:`~clusterimpact.errors.SpecificationError`.

* ``HC1``: heteroskedasticity-robust with :math:`n/(n-K)`; df :math:`n - K`.
* ``CR1``: cluster-robust with fixest's small-sample correction; df :math:`G - 1`.
  A two-column ``cluster`` gives two-way clustering (Cameron, Gelbach & Miller 2011).
* ``CR2``: Bell-McCaffrey / Pustejovsky-Tipton bias-reduced; Satterthwaite df.
* ``CR3``: cluster jackknife (clubSandwich definition); Satterthwaite df.

Notes
-----
Write :math:`\\ddot X` for the regressors after absorbing the fixed effects,
:math:`e` for the residuals, :math:`W` for the weights and
:math:`M = (\\ddot X' W \\ddot X)^{-1}` for the bread. All estimators have the
form

.. math:: V = c\\, M \\Big(\\sum_g \\ddot X_g' W_g A_g e_g e_g' A_g W_g \\ddot X_g\\Big) M

with :math:`A_g = I` and :math:`c = \\frac{G}{G-1}\\frac{n-1}{n-K}` for CR1
(:math:`K` = slopes + fixed-effect levels not nested in the clusters, minus
redundancies; fixest's ``ssc()`` defaults), :math:`A_g = B_g^{+1/2}` for CR2
and :math:`A_g = B_g^{+1}` for CR3 (both with :math:`c = 1`), where
:math:`B_g = I - H_{gg}` in the :math:`W^{1/2}`-scaled model.

**Absorbed fixed effects and CR2/CR3.** :math:`H` is the hat matrix of the
full model *with* the fixed-effect dummies. Following Pustejovsky & Tipton
(2018, Theorem 2 as corrected in their 2023 corrigendum), fixed effects nested
in the clusters can be dropped from :math:`H` after absorbing them, for OLS
with the identity working model. Fixed effects *not* nested in the clusters
(year effects when clustering by state) cannot: their dummies, residualised on
the nested ones, are appended to :math:`\\ddot X` in :math:`H` (this is what
clubSandwich does for ``plm(effect = "twoways")``; its ``fixest``/``ignore_FE``
path that drops them gives different numbers). With weights, clusterimpact
computes CR2 as the OLS CR2 of the :math:`W^{1/2}`-scaled model (working model
:math:`\\Phi = W^{-1}`); clubSandwich's weighted CR2 takes the square root
in another metric and agrees only when weights are constant within clusters.

Everything is computed cluster block by cluster block through the eigen
decomposition of the :math:`p \\times p` matrix :math:`Z_g'Z_g` with
:math:`Z_g = U_g M_U^{1/2}`: :math:`(I - Z_gZ_g')^{-1/2} = I + \\tilde U_g
\\operatorname{diag}((1-\\lambda)^{-1/2} - 1)\\tilde U_g'`. Memory is
:math:`O(n p)`; no :math:`n_g \\times n_g` matrix is ever formed.

References
----------
Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for
linear regression with multi-stage samples. *Survey Methodology* 28, 169-181.

Pustejovsky, J. E. & Tipton, E. (2018). Small-sample methods for
cluster-robust variance estimation and hypothesis testing in fixed effects
models. *Journal of Business & Economic Statistics* 36(4), 672-683.

Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2011). Robust inference with
multiway clustering. *Journal of Business & Economic Statistics* 29(2), 238-249.

Bergé, L. (2018). fixest: ``ssc()`` documentation, "On standard errors".
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from clusterimpact.errors import EstimationError, FewClustersWarning, SpecificationError, suggest
from clusterimpact.kernels.demean import _dense_codes, demean, fe_redundancies, is_nested

__all__ = ["CR1", "CR2", "CR3", "HC1", "VCOV_ESTIMATORS", "VcovData", "VcovEstimate",
           "compute_vcov", "warn_few_clusters"]

_EIG_TOL = 1e-12
_MAX_EXTRA_COLUMNS = 5_000


@dataclass(frozen=True, eq=False)
class VcovData:
    """What every covariance estimator needs from a fitted least-squares model.

    Attributes
    ----------
    x
        Regressors after absorbing the fixed effects, shape ``(n, k)``.
    resid
        Residuals, shape ``(n,)``.
    weights
        Observation weights or ``None``.
    bread
        :math:`(\\ddot X' W \\ddot X)^{-1}`, shape ``(k, k)``; computed if ``None``.
    fe
        Integer codes of each set of absorbed fixed effects.
    """

    x: np.ndarray
    resid: np.ndarray
    weights: np.ndarray | None = None
    bread: np.ndarray | None = None
    fe: tuple[np.ndarray, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=float)
        x = x.reshape(x.shape[0], -1)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "resid", np.asarray(self.resid, dtype=float).ravel())
        object.__setattr__(self, "fe", tuple(np.asarray(f) for f in self.fe))
        if self.bread is None:
            xs = x if self.weights is None else x * np.sqrt(self.weights)[:, None]
            object.__setattr__(self, "bread", np.linalg.inv(xs.T @ xs))

    @property
    def n(self) -> int:
        """Number of observations."""
        return self.x.shape[0]

    @property
    def k(self) -> int:
        """Number of slope coefficients."""
        return self.x.shape[1]

    def fe_dof(self, exclude: Sequence[int] = ()) -> int:
        """Fixed-effect levels minus redundancies, leaving out the sets in ``exclude``."""
        kept = [f for j, f in enumerate(self.fe) if j not in set(exclude)]
        if not kept:
            return 0
        levels = sum(int(np.count_nonzero(np.bincount(f))) if f.dtype.kind in "iu" and f.min() >= 0
                     else int(np.unique(f).size) for f in kept)
        return levels - fe_redundancies(kept)


def _check_residual_dof(n: int, big_k: int) -> None:
    if n <= big_k:
        raise EstimationError(
            f"No residual degrees of freedom: {n} observation(s) for {big_k} parameters (coefficients "
            "and fixed-effect levels), so the regression fits the data exactly and has no standard "
            "error. More units or periods are needed.")


@dataclass(frozen=True, eq=False)
class VcovEstimate:
    """A covariance matrix with the degrees of freedom of each coefficient."""

    cov: np.ndarray
    df: np.ndarray
    name: str
    n_clusters: int | tuple[int, ...] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _codes(cluster: np.ndarray) -> tuple[np.ndarray, int]:
    cl = np.asarray(cluster).ravel()
    c = _dense_codes(cl) if cl.dtype.kind in "iu" else np.unique(cl, return_inverse=True)[1].ravel()
    c = c.astype(np.intp, copy=False)
    return c, int(c.max()) + 1


def _cluster_scores(xs: np.ndarray, es: np.ndarray, codes: np.ndarray, g: int) -> np.ndarray:
    """Per-cluster score sums :math:`\\sum_{i \\in g} x_i e_i`, shape ``(G, k)``.

    Rows already grouped by cluster (data sorted by cluster, or clustered by unit on a
    sorted panel) are summed segment by segment (``np.add.reduceat``, about twice as fast
    as a ``bincount`` per column); otherwise one ``bincount`` per column.
    """
    if codes.size > 1 and xs.shape[1] > 1 and (codes[1:] >= codes[:-1]).all():
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        out = np.zeros((g, xs.shape[1]))
        for j in range(xs.shape[1]):
            out[codes[starts], j] = np.add.reduceat(xs[:, j] * es, starts)
        return out
    return np.column_stack([np.bincount(codes, weights=xs[:, j] * es, minlength=g)
                            for j in range(xs.shape[1])])


def warn_few_clusters(g: int, stacklevel: int = 2) -> None:
    """Issue CR1's :class:`~clusterimpact.errors.FewClustersWarning` when ``g < 30``."""
    if g < 30:
        warnings.warn(
            f"CR1 with only {g} clusters: cluster-robust t tests over-reject with "
            "fewer than about 30 clusters. Use vcov='CR2' (Satterthwaite df) or "
            "res.wild_bootstrap().", FewClustersWarning, stacklevel=stacklevel + 1)


class VcovEstimator(ABC):
    """Base class: subclasses set ``name``, ``allowed_kwargs`` and ``_compute``."""

    name: ClassVar[str] = ""
    allowed_kwargs: ClassVar[tuple[str, ...]] = ()
    needs_cluster: ClassVar[bool] = True

    def __init__(self, data: VcovData, cluster: np.ndarray | None = None, **kwargs: Any):
        unknown = sorted(set(kwargs) - set(self.allowed_kwargs))
        if unknown:
            allowed = ", ".join(self.allowed_kwargs) or "none"
            raise SpecificationError(
                f"vcov {self.name!r} got unknown keyword argument(s) {', '.join(unknown)}; "
                f"allowed: {allowed}.{suggest(unknown[0], self.allowed_kwargs)}"
            )
        if self.needs_cluster and cluster is None:
            raise SpecificationError(f"vcov {self.name!r} needs cluster codes (cluster=...).")
        if cluster is not None:
            cluster = np.asarray(cluster)
            if cluster.shape[0] != data.n:
                raise SpecificationError(
                    f"cluster has {cluster.shape[0]} rows, the regression has {data.n}."
                )
        self.data = data
        self.cluster = cluster
        self.options = kwargs

    def _scaled(self) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        if d.weights is None:
            return d.x, d.resid
        s = np.sqrt(np.asarray(d.weights, dtype=float))
        return d.x * s[:, None], d.resid * s

    def _nested(self, cluster: np.ndarray) -> list[int]:
        return [j for j, f in enumerate(self.data.fe) if is_nested(f, cluster)]

    @abstractmethod
    def compute(self) -> VcovEstimate:
        """Return the covariance matrix and degrees of freedom."""


class HC1(VcovEstimator):
    """Heteroskedasticity-robust covariance with the :math:`n/(n-K)` correction.

    Notes
    -----
    :math:`V = \\frac{n}{n-K} M \\big(\\sum_i w_i^2 e_i^2 x_i x_i'\\big) M`, with
    :math:`K` the slopes plus all fixed-effect levels minus redundancies
    (fixest ``"hetero"``, Stata ``robust``); df :math:`= n - K`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.column_stack([np.ones(4), [0.0, 1, 2, 3]]); e = np.array([1.0, -1, -1, 1])
    >>> HC1(VcovData(x, e)).compute().cov.shape
    (2, 2)
    """

    name = "HC1"
    needs_cluster = False

    def compute(self) -> VcovEstimate:
        d = self.data
        xs, es = self._scaled()
        n, big_k = d.n, d.k + d.fe_dof()
        _check_residual_dof(n, big_k)
        meat = (xs * es[:, None] ** 2).T @ xs
        cov = n / (n - big_k) * d.bread @ meat @ d.bread
        return VcovEstimate(cov, np.full(d.k, float(n - big_k)), self.name, None,
                            {"K": big_k})


class CR1(VcovEstimator):
    """Cluster-robust covariance with fixest's small-sample correction (one- or two-way).

    Keyword arguments
    -----------------
    adj : bool, default True
        Multiply by :math:`(n-1)/(n-K)`.
    fixef_k : {"nested", "full", "none"}, default "nested"
        Which fixed-effect levels count in :math:`K`.
    cluster_adj : bool, default True
        Multiply by :math:`G/(G-1)`.
    cluster_df : {"min", "conventional"}, default "min"
        Two-way clustering: one :math:`G_{\\min}` for all terms (fixest) or
        each term its own :math:`G` (Cameron, Gelbach & Miller 2011; Stata
        ``cgmreg``; statsmodels).

    Notes
    -----
    One-way: :math:`V = \\frac{G}{G-1}\\frac{n-1}{n-K} M (\\sum_g s_g s_g') M` with
    :math:`s_g = \\sum_{i\\in g} w_i e_i \\ddot x_i`. Two-way (a ``(n, 2)``
    ``cluster``): :math:`V = V_1 + V_2 - V_{12}`, :math:`V_{12}` clustered on the
    intersection. A :class:`~clusterimpact.errors.FewClustersWarning` is issued
    with fewer than 30 clusters. Degrees of freedom :math:`G_{\\min} - 1`.
    ``adj=False, fixef_k="none"`` gives clubSandwich's ``"CR1"``
    (:math:`G/(G-1)` only).

    Examples
    --------
    >>> import numpy as np, warnings
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(40), rng.normal(size=40)]); e = rng.normal(size=40)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     est = CR1(VcovData(x, e), cluster=np.repeat(np.arange(10), 4)).compute()
    >>> est.df
    array([9., 9.])
    """

    name = "CR1"
    allowed_kwargs = ("adj", "fixef_k", "cluster_adj", "cluster_df")

    def compute(self) -> VcovEstimate:
        d = self.data
        adj = self.options.get("adj", True)
        fixef_k = self.options.get("fixef_k", "nested")
        cluster_adj = self.options.get("cluster_adj", True)
        cluster_df = self.options.get("cluster_df", "min")
        if fixef_k not in ("nested", "full", "none"):
            raise SpecificationError(f"fixef_k must be 'nested', 'full' or 'none', got {fixef_k!r}.")
        if cluster_df not in ("min", "conventional"):
            raise SpecificationError(f"cluster_df must be 'min' or 'conventional', got {cluster_df!r}.")
        cl = self.cluster if self.cluster.ndim == 2 else self.cluster[:, None]
        if cl.shape[1] > 2:
            raise SpecificationError("cluster may have at most two columns (two-way clustering).")
        xs, es = self._scaled()
        dims = [_codes(cl[:, j]) for j in range(cl.shape[1])]
        if cl.shape[1] == 2:
            inter = dims[0][0].astype(np.int64) * dims[1][1] + dims[1][0]
            dims.append(_codes(inter))
            signs = [1.0, 1.0, -1.0]
        else:
            signs = [1.0]
        g_list = [g for _, g in dims]
        g_min = min(g_list[:2]) if cl.shape[1] == 2 else g_list[0]
        warn_few_clusters(g_min, stacklevel=3)
        if fixef_k == "none":
            big_k = d.k
        else:
            exclude: list[int] = []
            if fixef_k == "nested":
                exclude = sorted({j for c in range(cl.shape[1]) for j in self._nested(cl[:, c])})
            big_k = d.k + d.fe_dof(exclude)
        if adj:
            _check_residual_dof(d.n, big_k)
        small = (d.n - 1) / (d.n - big_k) if adj else 1.0
        cov = np.zeros((d.k, d.k))
        details: dict[str, Any] = {"K": big_k, "adj": small}
        for (codes, g), sign in zip(dims, signs, strict=True):
            scores = _cluster_scores(xs, es, codes, g)
            gg = g_min if cluster_df == "min" else g
            c = small * (gg / (gg - 1) if cluster_adj else 1.0)
            cov += sign * c * (d.bread @ (scores.T @ scores) @ d.bread)
            if len(dims) == 1:  # per-cluster scores U (G x k) with U'U = cov
                details["scores"] = np.sqrt(c) * (scores @ d.bread)
        n_cl = g_list[0] if cl.shape[1] == 1 else tuple(g_list[:2])
        return VcovEstimate(cov, np.full(d.k, float(g_min - 1)), self.name, n_cl, details)


class _BlockAdjusted(VcovEstimator):
    """Shared machinery of CR2 and CR3: block-wise adjustment matrices and Satterthwaite df."""

    allowed_kwargs = ("absorbed",)
    power: ClassVar[float] = -0.5

    def _extra_columns(self, codes: np.ndarray) -> np.ndarray | None:
        """Dummies of fixed effects not nested in the clusters, residualised on nested ones."""
        mode = self.options.get("absorbed", "exact")
        if mode not in ("exact", "ignore"):
            raise SpecificationError(f"absorbed must be 'exact' or 'ignore', got {mode!r}.")
        d = self.data
        if not d.fe or mode == "ignore":
            return None
        nested = self._nested(codes)
        cross = [j for j in range(len(d.fe)) if j not in nested]
        if not cross:
            return None
        levels = [np.unique(d.fe[j], return_inverse=True)[1].ravel() for j in cross]
        total = sum(int(lv.max()) + 1 for lv in levels)
        if total > _MAX_EXTRA_COLUMNS:
            raise SpecificationError(
                f"{self.name} with {total} fixed-effect levels not nested in the clusters would "
                "need that many extra columns in the hat matrix; pass absorbed='ignore' to "
                "leave them out (clubSandwich's ignore_FE) or cluster at a coarser level.")
        dummies = np.zeros((d.n, total))
        start = 0
        for lv in levels:
            dummies[np.arange(d.n), start + lv] = 1.0
            start += int(lv.max()) + 1
        if nested:
            dummies = demean(dummies, [d.fe[j] for j in nested], d.weights).values
        if d.weights is not None:
            dummies *= np.sqrt(d.weights)[:, None]
        return dummies

    def _factor(self, lam: np.ndarray) -> np.ndarray:
        """Eigen-factor f(λ) with (I - ZZ')^power = I + Ũ diag(f) Ũ'; 0-eigenvalues pseudo-inverted."""
        one_minus = 1.0 - lam
        ok = one_minus > 1e-10
        out = np.full(lam.shape, -1.0)
        out[ok] = one_minus[ok] ** self.power - 1.0
        return out

    def compute(self) -> VcovEstimate:
        d = self.data
        if self.cluster.ndim == 2 and self.cluster.shape[1] > 1:
            raise SpecificationError(f"{self.name} supports one-way clustering only.")
        codes, g = _codes(self.cluster.reshape(-1))
        xs, es = self._scaled()
        extra = self._extra_columns(codes)
        bread = d.bread
        k = d.k
        if extra is None:
            u_all, m_u = xs, bread
        else:
            u_all = np.hstack([xs, extra])
            m_s = np.linalg.pinv(extra.T @ extra, rcond=1e-10, hermitian=True)
            m_u = np.zeros((u_all.shape[1],) * 2)
            m_u[:k, :k], m_u[k:, k:] = bread, m_s
        evals, evecs = np.linalg.eigh(m_u)
        root = (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T
        order = np.argsort(codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=g))])
        p = u_all.shape[1]
        scores = np.empty((g, k))
        vtv = np.empty((g, k, k))
        q = np.empty((g, p, k))
        xb = xs @ bread
        for j in range(g):
            idx = order[bounds[j]:bounds[j + 1]]
            ug = u_all[idx]
            z = ug @ root
            lam, vec = np.linalg.eigh(z.T @ z)
            keep = lam > _EIG_TOL
            ut = z @ (vec[:, keep] / np.sqrt(lam[keep]))
            f = self._factor(lam[keep])
            eg = es[idx]
            ae = eg + ut @ (f * (ut.T @ eg))
            scores[j] = xs[idx].T @ ae
            xbg = xb[idx]
            v = xbg + ut @ (f[:, None] * (ut.T @ xbg))
            vtv[j] = v.T @ v
            q[j] = ug.T @ v
        cov = bread @ (scores.T @ scores) @ bread
        df = np.array([_satterthwaite(vtv[:, i, i], q[:, :, i].T, m_u) for i in range(k)])
        return VcovEstimate(cov, df, self.name, g,
                            {"vtv": vtv, "q": q, "m_u": m_u, "scores": scores @ bread,
                             "extra_columns": 0 if extra is None else extra.shape[1]})


def _satterthwaite(diag: np.ndarray, q: np.ndarray, m_u: np.ndarray) -> float:
    """Satterthwaite df from :math:`P = \\operatorname{diag}(d) - Q' M_U Q` (G × G)."""
    p_mat = -(q.T @ m_u @ q)
    p_mat[np.diag_indices_from(p_mat)] += diag
    return float(np.trace(p_mat) ** 2 / np.sum(p_mat**2))


def satterthwaite_contrast(est: VcovEstimate, contrast: np.ndarray) -> float:
    """Satterthwaite degrees of freedom of a linear contrast ``c'β`` under CR2/CR3.

    Notes
    -----
    With :math:`v_g = A_g \\ddot X_g M c` and :math:`c' V c = \\sum_g (v_g' e_g)^2`,
    under the working model :math:`\\operatorname{E}(c'Vc) = \\operatorname{tr} P`
    and :math:`\\operatorname{Var}(c'Vc) = 2\\|P\\|_F^2` with
    :math:`P_{gh} = v_g'(I - H)_{gh} v_h`, so
    :math:`\\nu = (\\operatorname{tr}P)^2 / \\|P\\|_F^2` (Bell & McCaffrey 2002;
    Pustejovsky & Tipton 2018, eq. 11).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> x = np.column_stack([np.ones(30), rng.normal(size=30)])
    >>> est = CR2(VcovData(x, rng.normal(size=30)), cluster=np.repeat(np.arange(6), 5)).compute()
    >>> bool(np.isclose(satterthwaite_contrast(est, np.array([0.0, 1.0])), est.df[1]))
    True
    """
    c = np.asarray(contrast, dtype=float)
    det = est.details
    diag = np.einsum("i,gij,j->g", c, det["vtv"], c)
    return _satterthwaite(diag, (det["q"] @ c).T, det["m_u"])


class CR2(_BlockAdjusted):
    """Bias-reduced linearization (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018).

    Keyword arguments
    -----------------
    absorbed : {"exact", "ignore"}, default "exact"
        Whether absorbed fixed effects not nested in the clusters enter the
        hat matrix (exact, as the model with dummies) or are ignored.

    Notes
    -----
    :math:`A_g = (I - H_{gg})^{+1/2}` in the :math:`W^{1/2}`-scaled model, no
    further scaling; Satterthwaite degrees of freedom per coefficient (see
    :func:`satterthwaite_contrast`). With every cluster a single observation
    this is HC2.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(20), rng.normal(size=20)])
    >>> est = CR2(VcovData(x, rng.normal(size=20)), cluster=np.repeat(np.arange(5), 4)).compute()
    >>> est.cov.shape, est.df.shape
    ((2, 2), (2,))
    """

    name = "CR2"
    power = -0.5


class CR3(_BlockAdjusted):
    """Cluster jackknife as defined by clubSandwich (no :math:`(G-1)/G` factor).

    Notes
    -----
    :math:`A_g = (I - H_{gg})^{+1}`, so that
    :math:`M \\ddot X_g' W_g A_g e_g = \\hat\\beta - \\hat\\beta_{(-g)}` and
    :math:`V = \\sum_g (\\hat\\beta_{(-g)} - \\hat\\beta)(\\hat\\beta_{(-g)} -
    \\hat\\beta)'`, the leave-one-cluster-out jackknife around the full-sample
    estimate. With ``absorbed="exact"`` this equals refitting the model (with
    all its fixed effects) without each cluster; clubSandwich's ``plm`` method
    leaves the cross-cluster fixed effects out of :math:`H` for CR3.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.column_stack([np.ones(20), rng.normal(size=20)])
    >>> CR3(VcovData(x, rng.normal(size=20)), cluster=np.repeat(np.arange(5), 4)).compute().name
    'CR3'
    """

    name = "CR3"
    power = -1.0


VCOV_ESTIMATORS: dict[str, type[VcovEstimator]] = {
    "HC1": HC1,
    "CR1": CR1,
    "CR2": CR2,
    "CR3": CR3,
}


def compute_vcov(name: str, data: VcovData, cluster: np.ndarray | None = None,
                 **kwargs: Any) -> VcovEstimate:
    """Look ``name`` up in :data:`VCOV_ESTIMATORS` and compute it.

    Parameters
    ----------
    name
        ``"HC1"``, ``"CR1"``, ``"CR2"`` or ``"CR3"`` (case-insensitive).
    data
        The fitted regression.
    cluster
        Cluster codes, shape ``(n,)``, or ``(n, 2)`` for two-way CR1.
    **kwargs
        Estimator options (see each class).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((4, 1)); e = np.array([1.0, -1.0, 0.5, -0.5])
    >>> compute_vcov("HC1", VcovData(x, e)).cov.round(4)
    array([[0.2083]])
    >>> try:
    ...     compute_vcov("HC3", VcovData(x, e))
    ... except SpecificationError as err:
    ...     print(err)
    Unknown vcov 'HC3'; choose one of 'HC1', 'CR1', 'CR2', 'CR3'. Did you mean 'HC1' or 'CR3'?
    """
    key = str(name).upper()
    if key not in VCOV_ESTIMATORS:
        choices = ", ".join(repr(k) for k in VCOV_ESTIMATORS)
        raise SpecificationError(
            f"Unknown vcov {name!r}; choose one of {choices}.{suggest(key, VCOV_ESTIMATORS)}")
    if key != "HC1" and cluster is not None:
        codes = np.asarray(cluster).reshape(len(cluster), -1)
        if codes.shape[0] and any(not (codes[:, j] != codes[0, j]).any()
                                  for j in range(codes.shape[1])):  # one cluster in a column
            raise SpecificationError(
                f"{key} standard errors need at least two clusters; every observation here is in "
                "one cluster. Use vcov='HC1', or give the Panel a finer cluster= (e.g. the unit).")
    return VCOV_ESTIMATORS[key](data, cluster, **kwargs).compute()
