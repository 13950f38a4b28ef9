"""Absorb fixed effects from the columns of a matrix (weighted within transformation).

The kernel takes integer code arrays (one per set of fixed effects) and a
matrix of columns and returns the columns residualised on all the fixed
effects, as in ``fixest::demean`` or ``pyfixest``'s ``demean``. A single set
of fixed effects is absorbed exactly in one pass (subtracting weighted group
means); two sets of which one has few levels (unit and period) are absorbed
exactly in one pass by eliminating the many-level set and solving a small
system for the other; any other design by the method of alternating
projections (Gaure 2013), each sweep computing every group mean with one
:func:`numpy.bincount` per column, so there is no Python loop over groups or
rows.

The kernel also reports what the small-sample corrections need: singleton
observations and the fixed-effect degrees of freedom (number of levels minus
redundant levels), and which sets are nested in a cluster variable.

Notes
-----
**Small-sample conventions (fixest defaults).** clusterimpact follows
``fixest``'s default ``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE,
cluster.df = "min")``:

* ``adj``: multiply by :math:`(n - 1)/(n - K)`;
* ``fixef.K = "nested"``: :math:`K` counts the slope coefficients plus the
  fixed-effect levels minus redundancies, *excluding* any set of fixed
  effects nested in the cluster variable (their levels are already paid for
  by the :math:`G/(G-1)` cluster adjustment);
* ``cluster.adj``: multiply by :math:`G/(G-1)`;
* ``cluster.df = "min"``: with multi-way clustering every term uses the
  smallest :math:`G`.

Redundancies are counted as ``fixest`` does: none for the first set, and for
the second set the number of connected components of the bipartite graph
linking the levels of the first two sets (exact for two sets). Every further
set is taken to have exactly one redundant level (``fixest`` does the same:
it does not search for redundancies beyond the first two sets).

References
----------
Gaure, S. (2013). OLS with multiple high dimensional category variables.
*Computational Statistics & Data Analysis* 66, 8-18.

Bergé, L. (2018). Efficient estimation of maximum likelihood models with
multiple fixed-effects: the R package FENmlm. CREA Discussion Papers 13.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.sparse import csgraph

__all__ = ["Absorbed", "demean", "fe_redundancies", "is_nested", "singletons"]


@dataclass(frozen=True, eq=False)
class Absorbed:
    """Columns after absorbing fixed effects, with what inference needs.

    Attributes
    ----------
    values
        The demeaned columns, shape ``(n, k)``.
    n_levels
        Number of levels of each set of fixed effects.
    fe_dof
        Fixed-effect degrees of freedom: total levels minus redundancies.
    singletons
        Boolean mask of observations alone in a level of some set.
    iterations
        Sweeps of alternating projections used (1 for a single set).
    converged
        Whether the tolerance was reached.
    """

    values: np.ndarray
    n_levels: tuple[int, ...]
    fe_dof: int
    singletons: np.ndarray
    iterations: int
    converged: bool


def _dense_codes(c: np.ndarray) -> np.ndarray:
    """Re-code integer codes to 0..L-1 in sorted order (``np.unique``'s inverse), O(n) when small."""
    n = c.size
    if n and c.min() >= 0 and c.max() < 2 * n + 16:
        present = np.bincount(c) > 0
        if present.all():
            return c.astype(np.intp, copy=False)
        return (np.cumsum(present) - 1).astype(np.intp)[c]
    _, inv = np.unique(c, return_inverse=True)
    return inv.ravel().astype(np.intp, copy=False)


def _as_codes(fe: np.ndarray | Sequence[np.ndarray] | None, n: int) -> list[np.ndarray]:
    if fe is None:
        return []
    if isinstance(fe, np.ndarray) and fe.ndim == 1:
        fe = [fe]
    elif isinstance(fe, np.ndarray):
        fe = [fe[:, j] for j in range(fe.shape[1])]
    out = []
    for j, codes in enumerate(fe):
        c = np.asarray(codes)
        if c.shape != (n,):
            raise ValueError(f"fixed effect {j} has shape {c.shape}, expected ({n},).")
        if not np.issubdtype(c.dtype, np.integer):
            raise ValueError(f"fixed effect {j} must hold integer codes, got dtype {c.dtype}.")
        # re-code to 0..L-1 so that bincount lengths are the number of levels
        out.append(_dense_codes(c))
    return out


def singletons(fe: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Mask of observations that are alone in a level of some set of fixed effects.

    Parameters
    ----------
    fe
        One integer code array or a sequence of them.

    Returns
    -------
    numpy.ndarray
        Boolean mask, ``True`` for a singleton observation.

    Examples
    --------
    >>> import numpy as np
    >>> singletons([np.array([0, 0, 1]), np.array([0, 1, 1])])
    array([ True, False,  True])
    """
    first = fe if isinstance(fe, np.ndarray) and fe.ndim == 1 else np.asarray(fe[0])
    codes = _as_codes(fe, first.shape[0])
    mask = np.zeros(first.shape[0], dtype=bool)
    for c in codes:
        mask |= np.bincount(c)[c] == 1
    return mask


def fe_redundancies(fe: Sequence[np.ndarray]) -> int:
    """Number of redundant fixed-effect levels, counted as ``fixest`` does.

    Zero for one set; for two sets the number of connected components of the
    bipartite graph of their levels; one more for every further set.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.repeat(np.arange(3), 2); time = np.tile(np.arange(2), 3)
    >>> fe_redundancies([unit, time])
    1
    """
    codes = _as_codes(list(fe), np.asarray(fe[0]).shape[0]) if len(fe) else []
    if len(codes) <= 1:
        return 0
    n_comp, _ = _components(codes[0], codes[1])
    return n_comp + (len(codes) - 2)


def _components(a: np.ndarray, b: np.ndarray, pair_counts: np.ndarray | None = None
                ) -> tuple[int, np.ndarray]:
    """Connected components of the bipartite graph linking levels of ``a`` and ``b`` (dense codes).

    Returns the number of components and the label of every node (``a``
    levels first, then ``b`` levels). ``pair_counts`` is the optional
    ``(levels of a, levels of b)`` table of row counts.
    """
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    if pair_counts is None and na * nb <= 2 * a.size + 1024:
        pair_counts = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb)
    if pair_counts is not None:
        # a level of one set linked to every level of the other connects the whole graph
        linked = pair_counts > 0
        if linked.all(axis=0).any() or linked.all(axis=1).any():
            return 1, np.zeros(na + nb, dtype=np.int32)
    graph = sparse.coo_matrix(
        (np.ones(a.size, dtype=np.int8), (a, b + na)), shape=(na + nb, na + nb)
    ).tocsr()
    n_comp, labels = csgraph.connected_components(graph, directed=False)
    return int(n_comp), labels


def is_nested(fe: np.ndarray, cluster: np.ndarray) -> bool:
    """Whether every level of ``fe`` lies within a single cluster.

    Examples
    --------
    >>> import numpy as np
    >>> is_nested(np.array([0, 0, 1, 2]), np.array([5, 5, 5, 6]))
    True
    >>> is_nested(np.array([0, 1, 0, 1]), np.array([5, 5, 6, 6]))
    False
    """
    f = np.asarray(fe).ravel()
    c = np.asarray(cluster).ravel()
    if f.size == 0:
        return True
    if f.dtype.kind not in "iu" or f.min() < 0 or f.max() >= 2 * f.size + 16:
        f = np.unique(f, return_inverse=True)[1].ravel()
    # every row's cluster must equal the cluster recorded for its level (O(n), no sorting;
    # entries of absent levels are never read)
    first = np.empty(int(f.max()) + 1, dtype=c.dtype)
    first[f] = c
    return bool(np.array_equal(first[f], c))


_MAX_DIRECT_LEVELS = 1_000
_MAX_DIRECT_COND = 1e12


def _group_sweep(col: np.ndarray, codes: np.ndarray, w: np.ndarray | None,
                 wsum: np.ndarray) -> None:
    """Subtract weighted group means from the column ``col`` in place."""
    s = np.bincount(codes, weights=col if w is None else col * w, minlength=wsum.size)
    col -= (s / wsum)[codes]


def _two_way_direct(out: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray | None,
                    wa: np.ndarray, wb: np.ndarray, labels: np.ndarray,
                    cmat: np.ndarray | None) -> bool:
    """Absorb two sets exactly by eliminating the many-level set ``a``; ``False`` if ill-posed.

    Solves :math:`(D_b - C'D_a^{-1}C)\\beta = S_b - C'D_a^{-1}S_a` for the
    few-level effects (one level per connected component fixed at zero), then
    :math:`\\alpha = D_a^{-1}(S_a - C\\beta)`, with :math:`C` the
    level-by-level weight sums (dense ``cmat`` if given, else built sparse) and
    :math:`S` the weighted level sums of a column.
    """
    n = a.size
    na, nb = wa.size, wb.size
    if cmat is not None:
        cross = (cmat / wa[:, None]).T @ cmat
    else:
        cmat = sparse.csr_matrix((np.ones(n) if w is None else w, (a, b)), shape=(na, nb))
        cross = (cmat.T @ sparse.diags(1.0 / wa) @ cmat).toarray()
    m = np.diag(wb) - cross
    keep = np.ones(nb, dtype=bool)
    keep[np.unique(labels[na:], return_index=True)[1]] = False
    factor = None
    if keep.any():
        mr = m[np.ix_(keep, keep)]
        ev = np.linalg.eigvalsh(mr)
        if ev[0] <= 0 or ev[-1] > _MAX_DIRECT_COND * ev[0]:
            return False
        factor = linalg.cho_factor(mr)
    beta = np.zeros(nb)
    for j in range(out.shape[1]):
        # C'x and Cx as bincounts over the rows: O(n), no (na x nb) products per column
        col = out[:, j]
        xw = col if w is None else col * w
        sa = np.bincount(a, weights=xw, minlength=na)
        if factor is not None:
            mean_a = (sa / wa)[a]
            rhs = np.bincount(b, weights=xw - (mean_a if w is None else mean_a * w), minlength=nb)
            beta[keep] = linalg.cho_solve(factor, rhs[keep])
            beta_b = beta[b]
            sa -= np.bincount(a, weights=beta_b if w is None else beta_b * w, minlength=na)
            col -= beta_b
        col -= (sa / wa)[a]
    return True


def demean(
    x: np.ndarray,
    fe: np.ndarray | Sequence[np.ndarray] | None,
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    maxiter: int = 10_000,
    overwrite: bool = False,
) -> Absorbed:
    """Residualise the columns of ``x`` on one or more sets of fixed effects.

    Parameters
    ----------
    x
        Array of shape ``(n,)`` or ``(n, k)``; it is not modified unless ``overwrite``.
    fe
        One integer code array of length ``n`` or a sequence of them (or an
        ``(n, m)`` integer array); ``None`` or ``[]`` returns ``x`` unchanged.
    weights
        Optional positive observation weights (WLS).
    tol
        Alternating projections stop when the largest absolute change of a
        sweep, relative to the largest absolute value of the column (at least
        1), is below ``tol`` (not used by the exact one- and two-set paths).
    maxiter
        Maximum number of sweeps.
    overwrite
        Allow the result to be written into ``x`` when it is a 2-D
        Fortran-ordered float64 array (saves one copy of the matrix);
        otherwise ``x`` is never modified.

    Returns
    -------
    Absorbed
        ``values`` has the shape of ``x`` made 2-D.

    Notes
    -----
    With one set of fixed effects with codes :math:`g(i)` the within
    transformation is exact:

    .. math:: \\ddot x_i = x_i - \\frac{\\sum_{j: g(j) = g(i)} w_j x_j}{\\sum_{j: g(j)=g(i)} w_j}.

    With two sets, one of which has at most 1,000 levels (periods, say), the
    projection is also computed exactly in one pass: with :math:`C` the
    level-by-level weight sums, :math:`D_a, D_b` the level weight sums and
    :math:`S_a, S_b` the weighted level sums of a column, the few-level
    effects solve
    :math:`(D_b - C'D_a^{-1}C)\\beta = S_b - C'D_a^{-1}S_a` (one level per
    connected component fixed at zero; a Cholesky solve), the many-level
    ones are :math:`\\alpha = D_a^{-1}(S_a - C\\beta)`, and
    :math:`\\ddot x = x - \\alpha_{a(i)} - \\beta_{b(i)}`. For a balanced panel
    this is :math:`x_{it} - \\bar x_{i\\cdot} - \\bar x_{\\cdot t} + \\bar x`.
    (An ill-conditioned reduced system, condition number above
    :math:`10^{12}`, falls back to alternating projections.)

    Otherwise the projections :math:`M_1, \\dots, M_m` onto the
    orthogonal complements of the dummy spaces are applied in turn until
    :math:`\\|x^{(s)} - x^{(s-1)}\\|_\\infty` is below tolerance; by the
    von Neumann–Halperin theorem the iterates converge to the projection onto
    the complement of the sum of the dummy spaces (Gaure 2013). Each column
    is swept until it has converged.

    References
    ----------
    Gaure, S. (2013). OLS with multiple high dimensional category variables.
    *Computational Statistics & Data Analysis* 66, 8-18.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.array([0, 0, 1, 1]); time = np.array([0, 1, 0, 1])
    >>> y = np.array([1.0, 2.0, 3.0, 5.0])
    >>> res = demean(y, [unit, time])
    >>> np.round(res.values[:, 0], 6)
    array([ 0.25, -0.25, -0.25,  0.25])
    >>> res.fe_dof
    3
    """
    x = np.asarray(x, dtype=float)
    # column-major: every kernel below works on one contiguous column at a time
    if overwrite and x.ndim == 2 and x.flags.f_contiguous and x.flags.writeable:
        out = x
    else:
        out = np.array(x.reshape(x.shape[0], -1), order="F", copy=True)
    n = out.shape[0]
    codes = _as_codes(fe, n)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is not None and (w.shape != (n,) or not np.all(w > 0)):
        raise ValueError("weights must be a positive array of length n.")
    if not codes:
        return Absorbed(out, (), 0, np.zeros(n, dtype=bool), 0, True)
    counts = [np.bincount(c) for c in codes]
    wsums = [np.bincount(c, weights=w) if w is not None else cnt.astype(float)
             for c, cnt in zip(codes, counts, strict=True)]
    n_levels = tuple(int(s.size) for s in wsums)
    labels, pair, pair_counts = None, None, None
    if len(codes) == 2 and n_levels[0] * n_levels[1] <= 2 * n + 1024:
        pair = codes[0] * n_levels[1] + codes[1]
        pair_counts = np.bincount(pair, minlength=n_levels[0] * n_levels[1]).reshape(n_levels)
    if len(codes) >= 2:
        n_comp, labels = _components(codes[0], codes[1], pair_counts)
        redundant = n_comp + len(codes) - 2
    else:
        redundant = 0
    fe_dof = int(sum(n_levels)) - redundant
    single = np.zeros(n, dtype=bool)
    for c, cnt in zip(codes, counts, strict=True):
        single |= cnt[c] == 1
    if len(codes) == 1:
        for j in range(out.shape[1]):
            _group_sweep(out[:, j], codes[0], w, wsums[0])
        return Absorbed(out, n_levels, fe_dof, single, 1, True)
    if len(codes) == 2 and min(n_levels) <= _MAX_DIRECT_LEVELS:
        # exact: eliminate the many-level set, solve for the few-level one
        many, few = (0, 1) if n_levels[0] >= n_levels[1] else (1, 0)
        lab = labels if many == 0 else np.r_[labels[n_levels[0]:], labels[:n_levels[0]]]
        cmat = None
        if pair is not None:
            cmat = (pair_counts.astype(float) if w is None else
                    np.bincount(pair, weights=w, minlength=pair_counts.size).reshape(n_levels))
            cmat = cmat if many == 0 else cmat.T
        del pair, pair_counts
        if _two_way_direct(out, codes[many], codes[few], w, wsums[many], wsums[few], lab, cmat):
            return Absorbed(out, n_levels, fe_dof, single, 1, True)

    iterations, converged = 0, True
    before = np.empty(n)
    for j in range(out.shape[1]):
        col = out[:, j]
        scale = max(float(np.abs(col).max()) if n else 0.0, 1.0)
        it, change = 0, np.inf
        while it < maxiter:
            it += 1
            np.copyto(before, col)
            for c, ws in zip(codes, wsums, strict=True):
                _group_sweep(col, c, w, ws)
            np.subtract(before, col, out=before)
            change = float(np.abs(before).max()) / scale
            if change < tol:
                break
        iterations = max(iterations, it)
        converged &= change < tol
    return Absorbed(out, n_levels, fe_dof, single, iterations, bool(converged))
