"""Absorb fixed effects from the columns of a matrix (weighted within transformation).

The kernel takes integer code arrays (one per set of fixed effects) and a
matrix of columns and returns the columns residualised on all the fixed
effects, as in ``fixest::demean`` or ``pyfixest``'s ``demean``. A single set
of fixed effects is absorbed exactly in one pass (subtracting weighted group
means); several sets are absorbed by the method of alternating projections
(Gaure 2013), each sweep computing every group mean with one
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
from scipy import sparse
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
        _, c = np.unique(c, return_inverse=True)
        out.append(c.astype(np.intp, copy=False))
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
    a, b = codes[0], codes[1]
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    graph = sparse.coo_matrix(
        (np.ones(a.size, dtype=np.int8), (a, b + na)), shape=(na + nb, na + nb)
    ).tocsr()
    n_comp, _ = csgraph.connected_components(graph, directed=False)
    return int(n_comp) + (len(codes) - 2)


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
    _, f = np.unique(np.asarray(fe), return_inverse=True)
    _, c = np.unique(np.asarray(cluster), return_inverse=True)
    pairs = np.unique(f.astype(np.int64) * (int(c.max()) + 1) + c)
    return pairs.size == int(f.max()) + 1


def _group_sweep(x: np.ndarray, codes: np.ndarray, w: np.ndarray | None,
                 wsum: np.ndarray) -> None:
    """Subtract weighted group means from every column of ``x`` in place."""
    n_levels = wsum.size
    for j in range(x.shape[1]):
        col = x[:, j]
        s = np.bincount(codes, weights=col if w is None else col * w, minlength=n_levels)
        col -= (s / wsum)[codes]


def demean(
    x: np.ndarray,
    fe: np.ndarray | Sequence[np.ndarray] | None,
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    maxiter: int = 10_000,
) -> Absorbed:
    """Residualise the columns of ``x`` on one or more sets of fixed effects.

    Parameters
    ----------
    x
        Array of shape ``(n,)`` or ``(n, k)``; it is not modified.
    fe
        One integer code array of length ``n`` or a sequence of them (or an
        ``(n, m)`` integer array); ``None`` or ``[]`` returns ``x`` unchanged.
    weights
        Optional positive observation weights (WLS).
    tol
        Alternating projections stop when the largest absolute change of a
        sweep, relative to the largest absolute value of the column (at least
        1), is below ``tol``.
    maxiter
        Maximum number of sweeps.

    Returns
    -------
    Absorbed
        ``values`` has the shape of ``x`` made 2-D.

    Notes
    -----
    With one set of fixed effects with codes :math:`g(i)` the within
    transformation is exact:

    .. math:: \\ddot x_i = x_i - \\frac{\\sum_{j: g(j) = g(i)} w_j x_j}{\\sum_{j: g(j)=g(i)} w_j}.

    With several sets, the projections :math:`M_1, \\dots, M_m` onto the
    orthogonal complements of the dummy spaces are applied in turn until
    :math:`\\|x^{(s)} - x^{(s-1)}\\|_\\infty` is below tolerance; by the
    von Neumann–Halperin theorem the iterates converge to the projection onto
    the complement of the sum of the dummy spaces (Gaure 2013). A column that
    has converged is no longer swept. Balanced two-way panels converge in
    one sweep.

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
    out = x.reshape(x.shape[0], -1).copy()
    n = out.shape[0]
    codes = _as_codes(fe, n)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is not None and (w.shape != (n,) or not np.all(w > 0)):
        raise ValueError("weights must be a positive array of length n.")
    if not codes:
        return Absorbed(out, (), 0, np.zeros(n, dtype=bool), 0, True)
    wsums = [np.bincount(c, weights=w) if w is not None else np.bincount(c).astype(float)
             for c in codes]
    n_levels = tuple(int(s.size) for s in wsums)
    fe_dof = int(sum(n_levels)) - fe_redundancies(codes)
    single = np.zeros(n, dtype=bool)
    for c in codes:
        single |= np.bincount(c)[c] == 1
    if len(codes) == 1:
        _group_sweep(out, codes[0], w, wsums[0])
        return Absorbed(out, n_levels, fe_dof, single, 1, True)

    active = np.arange(out.shape[1])
    scale = np.maximum(np.abs(out).max(axis=0), 1.0)
    it = 0
    while active.size and it < maxiter:
        it += 1
        block = out[:, active]
        before = block.copy()
        for c, ws in zip(codes, wsums, strict=True):
            _group_sweep(block, c, w, ws)
        out[:, active] = block
        change = np.abs(block - before).max(axis=0) / scale[active]
        active = active[change >= tol]
    return Absorbed(out, n_levels, fe_dof, single, it, active.size == 0)
