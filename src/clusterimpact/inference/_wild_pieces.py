"""The one pass over the rows behind the wild cluster bootstrap: cluster-level cross products.

Everything :mod:`clusterimpact.inference.wild` needs from the data is collected here
once per call, whatever the number of hypotheses: per-cluster :math:`X_g'WX_g` and
:math:`X_g'W\\hat u_g`, and, when fixed effects are not nested in the clusters, the
per-cluster products with their dummies (:math:`X_g'WD_{m,g}`, :math:`D_{m,g}'W\\hat u_g`)
and the Gram matrix of the dummies partialled on the nested effects. After this
every bootstrap quantity is :math:`O(G)` arithmetic (Roodman, MacKinnon, Nielsen &
Webb 2019). The leave-one-cluster-out (CR3) studentisation also needs the per-cluster
Gram blocks :math:`\\ddot D_{m,g}'W\\ddot D_{m,g}`, built only when asked for.

Examples
--------
>>> import numpy as np
>>> from clusterimpact.inference.vcov import VcovData
>>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 1)); cl = np.repeat(np.arange(4), 10)
>>> p = cluster_pieces(VcovData(x, rng.normal(size=40)), *dense_codes(cl))
>>> p.xx.shape, p.xu.shape, p.fe is None
((4, 1, 1), (4, 1), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from clusterimpact.errors import SpecificationError
from clusterimpact.kernels.demean import demean

__all__ = ["ClusterPieces", "FixedEffectTerm", "cluster_pieces", "dense_codes"]

_MAX_CROSS_LEVELS = 2000
_NESTED_PREFIX = 1 << 16
_MAX_CR3_WORK = 5e8


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Re-code to 0..L-1 in O(n) for small non-negative integers (else by sorting).

    Codes that are already dense are returned as they are (as ``intp``, no copy
    when they already are).

    Examples
    --------
    >>> dense_codes(np.array([3, 5, 3]))
    (array([0, 1, 0]), 2)
    """
    v = np.asarray(values).ravel()
    if v.dtype.kind in "iub" and v.size and v.min() >= 0 and v.max() < 2 * v.size + 16:
        present = np.bincount(v) > 0
        n_levels = int(np.count_nonzero(present))
        if n_levels == present.size:
            return v.astype(np.intp, copy=False), n_levels
        lookup = np.cumsum(present) - 1
        return lookup[v], n_levels
    _, c = np.unique(v, return_inverse=True)
    c = c.ravel().astype(np.intp)
    return c, int(c.max()) + 1


def _nested(f: np.ndarray, n_levels: int, codes: np.ndarray) -> bool:
    """Whether every level of the dense codes ``f`` lies in one cluster: O(n), no sorting.

    A violation among the first rows proves non-nesting without touching the rest.
    """
    first = np.empty(n_levels, dtype=np.intp)
    m = min(f.size, _NESTED_PREFIX)
    if m < f.size:
        first[f[:m]] = codes[:m]
        if not np.array_equal(first[f[:m]], codes[:m]):
            return False
    first[f] = codes
    return bool(np.array_equal(first[f], codes))


@dataclass(frozen=True, eq=False)
class FixedEffectTerm:
    """Per-cluster pieces of the fixed effects not nested in the clusters.

    Attributes
    ----------
    xd
        ``(G, k, L)``: :math:`X_g'WD_{m,g}` (equal to :math:`X_g'W\\ddot D_{m,g}`).
    ud
        ``(G, L)``: :math:`D_{m,g}'W\\hat u_g`.
    gram
        ``(L, L)``: :math:`\\ddot D_m'W\\ddot D_m`, the dummies partialled on the nested effects.
    pinv
        Its pseudo-inverse (null eigenvalues, rounding noise, cut at :math:`10^{-10}` relative).
    dd
        ``(G, L, L)``: :math:`\\ddot D_{m,g}'W\\ddot D_{m,g}` (only for CR3, else ``None``).
    """

    xd: np.ndarray
    ud: np.ndarray
    gram: np.ndarray
    pinv: np.ndarray
    dd: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ClusterPieces:
    """Cluster-level cross products of one fitted regression (the only pass over the rows).

    Attributes
    ----------
    g, codes
        Number of clusters and the dense cluster code of each row.
    xx, xu
        ``(G, k, k)`` :math:`X_g'WX_g` and ``(G, k)`` :math:`X_g'W\\hat u_g` (demeaned regressors).
    bread
        :math:`(X'WX)^{-1}`.
    kappa
        CR1's small-sample factor (fixest ``ssc()`` defaults).
    fe, note
        The non-nested fixed-effect term (``None`` if every set is nested or there are
        too many levels, which ``note`` then explains).
    """

    g: int
    codes: np.ndarray
    xx: np.ndarray
    xu: np.ndarray
    bread: np.ndarray
    kappa: float
    fe: FixedEffectTerm | None
    note: str


def _pinv(gram: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a partialled dummy Gram matrix.

    It is singular (one null direction per connected component of the fixed
    effects), and its null eigenvalues come out as rounding noise of order
    :math:`10^{-16}` times the largest one; they are cut at :math:`10^{-10}`
    relative, so the noise is not inverted into a spurious huge component.
    """
    return np.linalg.pinv(gram, rcond=1e-10, hermitian=True)


def _bincount(codes: np.ndarray, weights: np.ndarray | None, size: int) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=size).astype(float, copy=False)


def _scaled(col: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return col if w is None else col * w


def cluster_pieces(fit, codes: np.ndarray, g: int, *, cr3: bool = False) -> ClusterPieces:
    """One pass over the rows of ``fit`` (a :class:`~clusterimpact.inference.vcov.VcovData`).

    Parameters
    ----------
    fit
        Demeaned regressors, residuals, weights, bread and fixed-effect codes.
    codes, g
        Dense cluster codes and their number (:func:`dense_codes`).
    cr3
        Also build the per-cluster partialled dummy Gram blocks the CR3 studentisation needs.

    Returns
    -------
    ClusterPieces

    Examples
    --------
    >>> import numpy as np
    >>> from clusterimpact.inference.vcov import VcovData
    >>> x = np.ones((6, 1)); u = np.array([1., -1, 2, -2, 0, 0])
    >>> cluster_pieces(VcovData(x, u), np.array([0, 0, 1, 1, 2, 2]), 3).xx[:, 0, 0]
    array([2., 2., 2.])
    """
    w = None if fit.weights is None else np.asarray(fit.weights, dtype=float)
    x, u = fit.x, fit.resid
    k = x.shape[1]
    sets = [(*dense_codes(f), j) for j, f in enumerate(fit.fe)]
    flags = [_nested(c, n_f, codes) for c, n_f, _ in sets]
    xx = np.empty((g, k, k))
    xw = [_scaled(x[:, j], w) for j in range(k)]
    for j in range(k):
        for m in range(j, k):
            xx[:, j, m] = xx[:, m, j] = _bincount(codes, xw[j] * x[:, m], g)
    uw = _scaled(u, w)
    xu = np.column_stack([_bincount(codes, xw[j] * u, g) for j in range(k)])
    kappa = _crv1_factor(fit, g, sets, flags)
    nested = [(c, n_f) for (c, n_f, _), nest in zip(sets, flags, strict=True) if nest]
    cross = [(c, n_f) for (c, n_f, _), nest in zip(sets, flags, strict=True) if not nest]
    fe, note = None, ""
    if cross:
        fe, note = _fe_term(xw, uw, w, codes, g, nested, cross, cr3)
    return ClusterPieces(g, codes, xx, xu, np.asarray(fit.bread, dtype=float), kappa, fe, note)


def _crv1_factor(fit, g: int, sets, flags) -> float:
    """CR1's factor as in :class:`~clusterimpact.inference.vcov.CR1`."""
    cross = [n_f for (_, n_f, _), nest in zip(sets, flags, strict=True) if not nest]
    if len(cross) == 1:
        fe_dof = cross[0]
    elif cross:
        fe_dof = fit.fe_dof(exclude=[j for (_, _, j), nest in zip(sets, flags, strict=True) if nest])
    else:
        fe_dof = 0
    return g / (g - 1) * (fit.n - 1) / max(fit.n - fit.k - fe_dof, 1)


def _fe_term(xw, uw, w, codes, g, nested, cross, cr3) -> tuple[FixedEffectTerm | None, str]:
    levels, offset = [], 0
    for c, n_f in cross:
        levels.append(c + offset if offset else c)
        offset += n_f
    n_levels = offset
    if n_levels > _MAX_CROSS_LEVELS:
        return None, (f"{n_levels} fixed-effect levels are not nested in the clusters; the "
                      "bootstrap residuals ignore their projection (as when bootstrapping the "
                      "demeaned data), an O(1/G) approximation in the studentisation.")
    n, k = codes.size, len(xw)
    size = g * n_levels
    xd = np.zeros((g, k, n_levels))
    ud = np.zeros((g, n_levels))
    for lev in levels:
        pair = codes * n_levels + lev
        for j in range(k):
            xd[:, j, :] += _bincount(pair, xw[j], size).reshape(g, n_levels)
        ud += _bincount(pair, uw, size).reshape(g, n_levels)
    # per-cluster D_m'W D_m: diagonal for one set, by bincounts over pairs of levels otherwise
    if len(levels) == 1:
        dd_raw = None
        wpair = _bincount(codes * n_levels + levels[0], w, size).reshape(g, n_levels)
        gram = np.diag(wpair.sum(axis=0))
    else:
        wpair = None
        dd_raw = np.zeros((g, n_levels, n_levels)) if cr3 else None
        gram = np.zeros((n_levels, n_levels))
        for la in levels:
            for lb in levels:
                if cr3:
                    dd_raw += _bincount((codes * n_levels + la) * n_levels + lb, w,
                                        g * n_levels ** 2).reshape(g, n_levels, n_levels)
                else:
                    gram += _bincount(la * n_levels + lb, w, n_levels ** 2).reshape(n_levels, n_levels)
        if cr3:
            gram = dd_raw.sum(axis=0)
    dd = None
    if cr3:
        dd = np.zeros((g, n_levels, n_levels))
        if wpair is not None:
            dd[:, np.arange(n_levels), np.arange(n_levels)] = wpair
        else:
            dd += dd_raw
    if len(nested) == 1:
        c, n_c = nested[0]
        if n_c * n_levels <= 2 * n + 1024:
            # (nested level x cross level) weight sums; the nested level's cluster
            cmat = sum(_bincount(c * n_levels + lev, w, n_c * n_levels)
                       for lev in levels).reshape(n_c, n_levels)
        else:
            dense = sparse.csr_matrix((np.ones(n * len(levels)),
                                       (np.tile(np.arange(n), len(levels)), np.concatenate(levels))),
                                      shape=(n, n_levels))
            rows = sparse.csr_matrix((np.ones(n) if w is None else w, (c, np.arange(n))), shape=(n_c, n))
            cmat = (rows @ dense).tocsr()
        wsum = np.asarray(cmat.sum(axis=1)).ravel() / len(levels)
        if sparse.issparse(cmat):
            gram -= (cmat.T @ sparse.diags(1.0 / wsum) @ cmat).toarray()
        else:
            gram -= (cmat / wsum[:, None]).T @ cmat
        if cr3:
            first = np.empty(n_c, dtype=np.intp)
            first[c] = codes
            dd -= _per_cluster_gram(first, sparse.diags(1.0 / np.sqrt(wsum)) @ cmat, g)
    elif nested:
        gram, dd_n = _partialled_grams(levels, n_levels, w, codes, g, nested, cr3)
        if cr3:
            dd = dd_n
    return FixedEffectTerm(xd, ud, gram, _pinv(gram), dd), ""


def _per_cluster_gram(cluster_of_row: np.ndarray, mat, g: int) -> np.ndarray:
    """``(G, L, L)``: :math:`\\sum_{i \\in g} m_i m_i'` for the rows ``m_i`` of ``mat`` (dense or sparse)."""
    n_rows, n_levels = mat.shape
    out = np.zeros((g, n_levels, n_levels))
    if n_rows * n_levels * n_levels > _MAX_CR3_WORK:
        raise SpecificationError(
            f"CR3 studentisation with {n_levels} fixed-effect levels not nested in the clusters "
            f"and {n_rows} rows is too large to build exactly; use vcov='CR1'.")
    agg = sparse.csr_matrix((np.ones(n_rows), (cluster_of_row, np.arange(n_rows))), shape=(g, n_rows))
    dense = mat.toarray() if sparse.issparse(mat) else mat
    for lev in range(n_levels):
        out[:, lev, :] = agg @ (dense * dense[:, lev, None])
    return out


def _partialled_grams(levels: Sequence[np.ndarray], n_levels: int, w, codes, g, nested,
                      cr3: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Several nested sets: the cross dummies partialled on them by alternating projections."""
    n = codes.size
    dense = sparse.csr_matrix((np.ones(n * len(levels)),
                               (np.tile(np.arange(n), len(levels)), np.concatenate(levels))),
                              shape=(n, n_levels))
    nested_codes = [c for c, _ in nested]
    resid = np.empty((n, n_levels))
    for start in range(0, n_levels, 16):
        block = dense[:, start:start + 16].toarray()
        resid[:, start:start + 16] = demean(block, nested_codes, w).values
    ws = np.ones(n) if w is None else w
    gram = np.asarray(dense.T @ (resid * ws[:, None]))
    dd = _per_cluster_gram(codes, resid * np.sqrt(ws)[:, None], g) if cr3 else None
    return gram, dd
