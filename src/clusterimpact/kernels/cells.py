"""Cohort x period cell statistics for group-time ATTs (Callaway & Sant'Anna).

Without covariates every ATT(g,t) is a difference of weighted cell means and
its influence function is, unit by unit, a centred long difference. Both are
linear in the weighted outcome sums of *blocks* -- the units sharing a
(subgroup, cohort, cluster) -- so one ``np.bincount`` pass over the rows gives
a ``(blocks x periods)`` table from which all cells, their cluster-summed
influence functions and hence every variance, aggregation and bootstrap
follow. With one unit per cluster a block is a unit and the table is the
unit-by-period outcome matrix.

With covariates each cell calls a 2x2 kernel of
:mod:`clusterimpact.kernels.drdid` on the cell's units.

Everything here is numpy in, numpy out; no pandas and no Python loop over units
(the loops are over cells or over (subgroup, cohort) segments).

Notes
-----
Influence functions are kept on the *sum scale*: ``U[r, k]`` is the sum over
the units of row ``r`` (a cluster) of :math:`\\psi_{ik}/n`, where :math:`\\psi` is
R ``did``'s influence function (:math:`\\hat\\theta_k - \\theta_k \\approx n^{-1}\\sum_i
\\psi_{ik}`). Then :math:`\\widehat{\\mathrm{Var}} = U'U`, which is R ``did``'s
analytic variance when clusters are units.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse

__all__ = [
    "BlockInfluence",
    "BlockLayout",
    "CellPlan",
    "CellStats",
    "GridRows",
    "block_layout",
    "cluster_rows",
    "code_counts",
    "grid_table",
    "panel_cell_factors",
    "panel_cells",
    "rc_cells",
    "segment_sums",
]

# reason codes for cells that cannot be estimated
OK, NO_TREATED, NO_CONTROL, REFERENCE = 0, 1, 2, 3
REASONS = {
    OK: "",
    NO_TREATED: "no treated units",
    NO_CONTROL: "no comparison units",
    REFERENCE: "reference period",
}


class BlockLayout(NamedTuple):
    """Units grouped into blocks sorted by (subgroup-cohort code, cluster).

    Attributes
    ----------
    unit_block
        Block of each unit (row, for repeated cross-sections).
    block_cluster
        Cluster code of each block.
    block_cg
        Subgroup-cohort code of each block (``group * n_cohorts + cohort``).
    cg_start
        Offsets: the blocks of code ``j`` are ``cg_start[j]:cg_start[j+1]``.
    order
        With one unit per block, the unit of each block (the inverse of
        ``unit_block``), else ``None``.
    """

    unit_block: np.ndarray
    block_cluster: np.ndarray
    block_cg: np.ndarray
    cg_start: np.ndarray
    order: np.ndarray | None = None

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return self.block_cluster.size


class CellPlan(NamedTuple):
    """The (subgroup, cohort, time) cells to estimate.

    Attributes
    ----------
    group, cohort, time, base
        Per cell: subgroup index, cohort index, period index of the cell and
        of its base period.
    control
        Boolean ``(k, n_cohorts)``: which cohort indices are comparisons.
    reference
        Cells that are the universal base period itself (ATT 0 by construction).
    """

    group: np.ndarray
    cohort: np.ndarray
    time: np.ndarray
    base: np.ndarray
    control: np.ndarray
    reference: np.ndarray


class CellStats(NamedTuple):
    """Estimates and sum-scale influence functions of the cells.

    Attributes
    ----------
    att
        ATT of each cell (NaN where not estimable, 0 for reference cells).
    influence
        Sum-scale influence functions, one row per block (or unit).
    n_treated, n_control
        Units (observations for repeated cross-sections) in each cell.
    reason
        Reason code per cell (see ``REASONS``).
    """

    att: np.ndarray
    influence: np.ndarray
    n_treated: np.ndarray
    n_control: np.ndarray
    reason: np.ndarray


class BlockInfluence:
    """Block influence functions kept as factors: ``U[lo_j:hi_j] = S[lo_j:hi_j] @ M_j``.

    ``S`` is the C-ordered ``(blocks, periods + 1)`` table whose columns are the
    block sums of :math:`w Y_t` and, last, of :math:`w`, with blocks sorted by
    subgroup-cohort code ``j`` (``start`` holds the offsets), and ``M_j`` the
    ``(periods + 1, cells)`` map of code ``j``. Products, the Gram matrix
    :math:`U'U` and column zeroing never build the dense ``(blocks, cells)``
    matrix; :meth:`toarray` does.

    Notes
    -----
    The Gram matrix is :math:`\\sum_j N_j'(D_j'D_j)N_j` with :math:`D_j` the
    block rows in the basis :math:`[Y_0, Y_1 - Y_0, \\ldots, Y_{T-1} - Y_{T-2}, w]`
    centred at the weighted means of the code's first rows (``_CHUNK`` of them;
    any centre is exact, a near one keeps the sums of squares small), and
    :math:`N_j` the matching re-expression of :math:`M_j` (exact, since
    :math:`S_j M_j = D_j N_j`), so unit levels and cohort means do not cancel in
    the sums of squares.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, 2.0, 1.0], [3.0, 5.0, 1.0], [0.0, 1.0, 1.0]])
    >>> m = np.array([[[-1.0], [1.0], [-1.5]], [[1.0], [-1.0], [0.0]]])
    >>> u = BlockInfluence(s, np.array([0, 2, 3]), m)
    >>> u.toarray().ravel().tolist(), u.gram().round(12).tolist()
    ([-0.5, 0.5, -1.0], [[1.5]])
    """

    def __init__(self, table: np.ndarray | GridRows, start: np.ndarray, mats: np.ndarray, *,
                 equal_weights: bool | None = None) -> None:
        self.table = table  # a C-ordered array, or GridRows gathering its rows on demand
        self.start = start
        self.mats = mats
        self.equal_weights = equal_weights  # True: every block weight is the same (known)

    @property
    def shape(self) -> tuple[int, int]:
        """``(blocks, cells)`` of the dense matrix."""
        return self.table.shape[0], self.mats.shape[2]

    def _segments(self):
        for j in range(self.start.size - 1):
            lo, hi = int(self.start[j]), int(self.start[j + 1])
            if hi > lo:
                yield j, lo, hi

    def _chunks(self, lo: int, hi: int):
        """``(start, rows)`` of the table rows ``lo:hi`` in ``_CHUNK``-row pieces (views of an array)."""
        for start in range(lo, hi, _CHUNK):
            stop = min(hi, start + _CHUNK)
            yield start, _rows(self.table, start, stop)

    def toarray(self) -> np.ndarray:
        """The dense ``(blocks, cells)`` influence matrix."""
        out = np.empty(self.shape)
        for j, lo, hi in self._segments():
            for start, rows in self._chunks(lo, hi):
                np.matmul(rows, self.mats[j], out=out[start:start + rows.shape[0]])
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        dense = self.toarray()
        return dense if dtype is None else dense.astype(dtype, copy=False)

    def __matmul__(self, weights: np.ndarray) -> np.ndarray:
        """``U @ weights`` for a vector or matrix of cell weights, segment by segment."""
        weights = np.asarray(weights, dtype=float)
        out = np.zeros((self.shape[0], *weights.shape[1:]))
        for j, lo, hi in self._segments():
            vec = self.mats[j] @ weights
            if isinstance(self.table, GridRows):  # no weight column to copy in
                for start in range(lo, hi, _CHUNK):
                    stop = min(hi, start + _CHUNK)
                    self.table.product(start, stop, vec, out[start:stop])
                continue
            for start, rows in self._chunks(lo, hi):
                out[start:start + rows.shape[0]] = rows @ vec
        return out

    def row_sums(self, block_row: np.ndarray, n_rows: int) -> np.ndarray:
        """Dense ``(n_rows, cells)`` sums of the block influence functions within rows.

        Each code contributes ``S_j @ M_j`` restricted to the cells its map
        touches (with ``by=`` a code only enters its own subgroup's cells), so
        the dense ``(blocks, cells)`` matrix is never built. Blocks of one
        code lie in distinct rows (a block is a (code, cluster) pair), so each
        code's contribution is added with one fancy-indexed update (``np.add.at``
        otherwise).

        Examples
        --------
        >>> import numpy as np
        >>> s = np.array([[1.0, 2.0, 1.0], [3.0, 5.0, 1.0], [0.0, 1.0, 1.0]])
        >>> m = np.array([[[-1.0], [1.0], [-1.5]], [[1.0], [-1.0], [0.0]]])
        >>> BlockInfluence(s, np.array([0, 2, 3]), m).row_sums(np.array([0, 1, 0]), 2).ravel().tolist()
        [-1.5, 0.5]
        """
        out = np.zeros((n_rows, self.shape[1]))
        for j, lo, hi in self._segments():
            cols = np.flatnonzero(np.any(self.mats[j] != 0.0, axis=0))
            if cols.size == 0:
                continue
            rows = block_row[lo:hi]
            part = _rows(self.table, lo, hi) @ self.mats[j][:, cols]
            if (rows[1:] > rows[:-1]).all():  # distinct rows (sorted by cluster within a code)
                out[np.ix_(rows, cols)] += part
            else:  # several blocks of one code in a row: accumulate
                np.add.at(out, (rows[:, None], cols[None, :]), part)
        return out

    def with_zero_columns(self, columns: np.ndarray) -> BlockInfluence:
        """The same factors with the influence of ``columns`` set to zero."""
        mats = self.mats.copy()
        mats[:, :, columns] = 0.0
        return BlockInfluence(self.table, self.start, mats, equal_weights=self.equal_weights)

    def gram(self) -> np.ndarray:
        """:math:`U'U` from per-code moment matrices of centred outcome changes.

        Each code's rows are differenced, centred and accumulated in chunks of
        ``_CHUNK`` rows (:func:`_code_moments`): no copy of the table, and
        cache-sized products that BLAS runs on one thread.
        """
        k = self.shape[1]
        out = np.zeros((k, k))
        for j, lo, hi in self._segments():
            m = self.mats[j]
            n_mat = np.empty_like(m)  # the same map in the basis of D: reverse cumulative sums
            n_mat[:-1] = np.cumsum(m[-2::-1], axis=0)[::-1]
            n_mat[-1] = m[-1]
            if isinstance(self.table, GridRows):
                moments, shift = self.table.moments(lo, hi, self.equal_weights)
            else:
                moments, shift = _code_moments(self.table, lo, hi, self.equal_weights)
            if shift.size:  # centred at c: D = D_c + w c', so N's weight row gains c'N
                n_mat[-1] += shift[:-1] @ n_mat[:-1]
            out += n_mat.T @ moments @ n_mat
        return out


def _rows(table: np.ndarray | GridRows, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` of a factor table: a view of an array, gathered for :class:`GridRows`."""
    return table.rows(lo, hi) if isinstance(table, GridRows) else table[lo:hi]


def _code_moments(table: np.ndarray, lo: int, hi: int, equal_weights: bool | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Moment matrix :math:`D_c'D_c` of one code's rows and its centre :math:`c` (see BlockInfluence).

    ``D = [Y_0, Y_1 - Y_0, ..., Y_{T-1} - Y_{T-2}, w]`` is differenced on the
    flat rows of each ``_CHUNK``-row piece and centred at the weighted means of
    the first piece (``shift``, empty when its weights sum to zero).
    """
    width = table.shape[1]
    buf = np.empty(min(_CHUNK, hi - lo) * width)
    moments = np.zeros((width, width))
    shift = tiled = None
    for start in range(lo, hi, _CHUNK):
        stop = min(hi, start + _CHUNK)
        chunk = table[start:stop]
        flat = chunk.reshape(-1)
        seg = buf[: (stop - start) * width]
        np.subtract(flat[1:], flat[:-1], out=seg[1:])
        rows = seg.reshape(-1, width)
        rows[:, 0] = chunk[:, 0]
        rows[:, -1] = chunk[:, -1]
        if shift is None:  # centre near the code's weighted means (D = D_c + w c', exact)
            weight = chunk[:, -1]
            equal = equal_weights or bool((table[lo:hi, -1] == weight[0]).all())
            col = rows.sum(axis=0)
            shift = np.append(col[:-1] / col[-1], 0.0) if col[-1] != 0 else np.zeros(0)
            tiled = np.tile(shift * weight[0], _CHUNK) if shift.size and equal else None
        if tiled is not None:  # equal weights: D_c = D - w c' is one flat pass
            seg -= tiled[: seg.size]
        elif shift.size:
            rows -= np.multiply.outer(rows[:, -1], shift)
        moments += rows.T @ rows
    return moments, shift


def _grid_moments(table: GridRows, lo: int, hi: int, equal_weights: bool | None,
                  sums: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_code_moments` of :class:`GridRows`, on the gathered outcome rows only.

    The outcome block of :math:`D` (differenced on the flat rows, centred in
    one flat pass) goes through the cross product; its products with the
    weight column are one matrix-vector product and :math:`w'w`. With
    ``sums`` (zero ``(64, periods)`` and ``(64, 1)`` arrays) the outcome and
    weight columns are accumulated as :func:`segment_sums` adds them.
    """
    n_per = table.shape[1] - 1
    buf = np.empty(min(_CHUNK, hi - lo) * n_per)
    ones = np.ones(min(_CHUNK, hi - lo))
    outer = np.zeros((n_per, n_per))
    cross = np.zeros(n_per)
    ww = 0.0
    shift = tiled = None
    fold = None if sums is None else np.empty((_CHUNK + 64) * n_per)
    for start in range(lo, hi, _CHUNK):
        stop = min(hi, start + _CHUNK)
        wy, w = table.narrow(start, stop)
        n = stop - start
        if fold is not None:
            _fold_sums(wy, sums[0], fold)
            if w is not None:
                _fold_sums(w[:, None], sums[1], fold)
        flat = wy.reshape(-1)
        seg = buf[: n * n_per]
        np.subtract(flat[1:], flat[:-1], out=seg[1:])
        rows = seg.reshape(n, n_per)
        rows[:, 0] = wy[:, 0]
        wv = ones[:n] if w is None else w
        if shift is None:  # centre near the code's weighted means (D = D_c + w c', exact)
            w0 = float(wv[0])
            equal = w is None or equal_weights or bool((table.weights(lo, hi) == w0).all())
            total_w = float(wv.sum())
            shift = (ones[:n] @ rows) / total_w if total_w != 0 else np.zeros(0)
            tiled = np.tile(shift * w0, _CHUNK) if shift.size and equal else None
        if tiled is not None:
            seg -= tiled[: seg.size]
        elif shift.size:
            rows -= np.multiply.outer(wv, shift)
        outer += rows.T @ rows
        cross += wv @ rows
        ww += float(wv @ wv)
    moments = np.empty((n_per + 1, n_per + 1))
    moments[:n_per, :n_per] = outer
    moments[:n_per, n_per] = moments[n_per, :n_per] = cross
    moments[n_per, n_per] = ww
    return moments, (np.append(shift, 0.0) if shift.size else shift)


def _fold_sums(chunk: np.ndarray, sums: np.ndarray, fold: np.ndarray) -> None:
    """Add ``chunk``'s whole 64-row groups to ``sums`` (64 rows laid end to end), in row order."""
    width = chunk.shape[1]
    n = chunk.shape[0] // 64 * 64
    if n == 0:
        return
    buf = fold[: (64 + n) * width].reshape(-1, 64 * width)
    buf[0] = sums.reshape(-1)
    buf[1:] = chunk[:n].reshape(-1, 64 * width)
    np.sum(buf, axis=0, out=sums.reshape(-1))


class GridRows:
    """The factor table of one-unit blocks, gathered from the unit-by-period outcomes on demand.

    Row ``b`` is ``[w_u Y_u0, ..., w_u Y_u,T-1, w_u]`` for the unit ``u =
    order[b]`` of block ``b`` (``w = 1`` without ``weight``): the table
    :func:`grid_table` builds, without the ``(blocks, periods + 1)`` copy.
    Rows are gathered in cache-sized pieces when read; :meth:`segment_sums`
    also computes every code's moment matrix for :meth:`BlockInfluence.gram`
    in the same pass.

    Examples
    --------
    >>> import numpy as np
    >>> rows = GridRows(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([1, 0, 2]))
    >>> rows.rows(0, 2).tolist()
    [[3.0, 4.0, 1.0], [1.0, 2.0, 1.0]]
    >>> segment_sums(rows, np.array([0, 1, 3])).tolist()
    [[3.0, 4.0, 1.0], [6.0, 8.0, 2.0]]
    """

    def __init__(self, ywide: np.ndarray, order: np.ndarray, weight: np.ndarray | None = None
                 ) -> None:
        self.ywide, self.order, self.weight = ywide, order, weight
        self.shape = (order.size, ywide.shape[1] + 1)
        self._moments: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """A C-ordered copy of rows ``lo:hi`` (same values as :func:`grid_table`'s)."""
        idx = self.order[lo:hi]
        n_per = self.shape[1] - 1
        part = np.empty((idx.size, n_per + 1))
        if self.weight is None:
            part[:, :n_per] = np.take(self.ywide, idx, axis=0)  # (take beats fancy indexing)
            part[:, n_per] = 1.0
        else:
            w = self.weight[idx]
            np.multiply(np.take(self.ywide, idx, axis=0), w[:, None], out=part[:, :n_per])
            part[:, n_per] = w
        return part

    def product(self, lo: int, hi: int, vec: np.ndarray, out: np.ndarray) -> None:
        """``out = rows(lo, hi) @ vec``, as ``w (Y @ vec[:-1] + vec[-1])`` (no wide copy of the rows).

        The same sums as the product with the gathered rows, added in another order.

        Examples
        --------
        >>> import numpy as np
        >>> rows = GridRows(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0]))
        >>> out = np.empty(2)
        >>> rows.product(0, 2, np.array([1.0, 0.0, 10.0]), out)
        >>> out.tolist()
        [13.0, 11.0]
        """
        idx = self.order[lo:hi]
        np.matmul(np.take(self.ywide, idx, axis=0), vec[:-1], out=out)
        out += vec[-1]
        if self.weight is not None:
            out *= self.weight[idx].reshape(-1, *([1] * (out.ndim - 1)))

    def narrow(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows ``lo:hi`` without the weight column: ``(w Y, w)``, ``w`` ``None`` for all ones."""
        idx = self.order[lo:hi]
        wy = np.take(self.ywide, idx, axis=0)
        if self.weight is None:
            return wy, None
        w = self.weight[idx]
        wy *= w[:, None]
        return wy, w

    def weights(self, lo: int, hi: int) -> np.ndarray:
        """The weight column of rows ``lo:hi``."""
        return np.ones(hi - lo) if self.weight is None else self.weight[self.order[lo:hi]]

    def moments(self, lo: int, hi: int, equal_weights: bool | None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_code_moments` of rows ``lo:hi``, kept from :meth:`segment_sums` when it ran."""
        key = (lo, hi)
        if key not in self._moments:
            self._moments[key] = _grid_moments(self, lo, hi, equal_weights)
        return self._moments[key]

    def segment_sums(self, start: np.ndarray, equal_weights: bool | None = None) -> np.ndarray:
        """:func:`segment_sums` of the rows, and each segment's moments, in one gathering pass."""
        width = self.shape[1]
        nonempty = int(np.count_nonzero(start[1:] > start[:-1]))
        if self.shape[0] < 64 * 64 * nonempty:  # small: the array's own (reduceat) sums
            return segment_sums(self.rows(0, self.shape[0]), start)
        out = np.zeros((start.size - 1, width))
        for j in range(start.size - 1):
            lo, hi = int(start[j]), int(start[j + 1])
            if hi <= lo:
                continue
            sums = (np.zeros((64, width - 1)), np.zeros((64, 1)))
            self._moments[(lo, hi)] = _grid_moments(self, lo, hi, equal_weights, sums)
            tail = self.rows((hi - lo) // 64 * 64 + lo, hi).sum(axis=0)
            out[j, :-1] = sums[0].sum(axis=0) + tail[:-1]
            if self.weight is None:  # a sum of ones: the count, exactly
                out[j, -1] = float(hi - lo)
                continue
            total = 0.0  # row by row, as a (64, width) fold's column is summed (not pairwise)
            for value in sums[1][:, 0].tolist():
                total += value
            out[j, -1] = total + tail[-1]
        return out


_CHUNK = 2048  # rows per chunk of BlockInfluence.gram (11 x 11 x 2048 products stay single-threaded)
_GATHER = 1 << 16  # values per chunk of grid_table's gather (a cache-sized temporary)


def _reason_text(codes: np.ndarray) -> np.ndarray:
    return np.array([REASONS[int(c)] for c in codes], dtype=object)


def code_counts(codes: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(codes, minlength=n)``; few small-integer codes are counted one by one.

    ``np.bincount`` first converts narrow integer codes to a full-length
    ``intp`` array; with up to 16 codes counting each is cheaper.

    Examples
    --------
    >>> import numpy as np
    >>> code_counts(np.array([2, 0, 2], dtype=np.int8), 4).tolist()
    [1, 0, 2, 0]
    """
    if n > 16 or codes.dtype.itemsize > 2 or codes.size == 0:
        return np.bincount(codes, minlength=n)
    counts = np.array([np.count_nonzero(codes == k) for k in range(n)], dtype=np.int64)
    if counts.sum() != codes.size:  # codes outside 0..n-1: bincount's answer (or its error)
        return np.bincount(codes, minlength=n)
    return counts


def _sort_codes(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort order of small codes ``0..n-1`` and their counts.

    With up to 16 codes the positions of each code are listed in turn
    (``np.flatnonzero``; faster than numpy's radix sort); the same order as
    ``np.argsort(codes, kind="stable")``.
    """
    if n > 16:
        return np.argsort(codes, kind="stable"), code_counts(codes, n)
    order = np.empty(codes.size, dtype=np.intp)
    counts = np.zeros(n, dtype=np.int64)
    pos = 0
    for k in range(n):
        where = np.flatnonzero(codes == k)
        order[pos:pos + where.size] = where
        counts[k] = where.size
        pos += where.size
    if pos != codes.size:  # codes outside 0..n-1 (not expected): numpy's sort and counts
        return np.argsort(codes, kind="stable"), np.bincount(codes, minlength=n)
    return order, counts


def block_layout(unit_cluster: np.ndarray, unit_cg: np.ndarray, n_cg: int,
                 n_clusters: int, *, unit_block: bool = True) -> BlockLayout:
    """Group units into (subgroup-cohort, cluster) blocks, sorted by code then cluster.

    With one unit per cluster, ``unit_block=False`` leaves ``unit_block`` out
    (``None``) for callers that only read ``order``.

    Examples
    --------
    >>> import numpy as np
    >>> lay = block_layout(np.array([0, 0, 1, 1]), np.array([1, 0, 1, 1]), 2, 2)
    >>> lay.unit_block.tolist(), lay.block_cg.tolist(), lay.cg_start.tolist()
    ([1, 0, 2, 2], [0, 1, 1], [0, 1, 3])
    """
    if unit_cluster.size > 1 and n_cg < (1 << 15) and (unit_cluster[1:] > unit_cluster[:-1]).all():
        # one unit per cluster, in cluster order (clusters are units): every unit is a block and
        # sorting by code is a stable (radix) sort of the small codes
        small = unit_cg.astype(np.int8 if n_cg <= 128 else np.int16, copy=False)
        order, counts = _sort_codes(small, n_cg)
        if unit_block:
            unit_block = np.empty(order.size, dtype=np.int64)
            unit_block[order] = np.arange(order.size)
        else:
            unit_block = None
        block_cg = np.repeat(np.arange(n_cg, dtype=np.int64), counts)
        cg_start = np.zeros(n_cg + 1, dtype=np.int64)
        np.cumsum(counts, out=cg_start[1:])
        if unit_cluster[0] == 0 and unit_cluster[-1] == unit_cluster.size - 1:  # clusters 0..n-1
            block_cluster = order.astype(np.int64, copy=False)
        else:
            block_cluster = unit_cluster.astype(np.int64)[order]
        return BlockLayout(unit_block, block_cluster, block_cg, cg_start, order)
    key = unit_cg.astype(np.int64) * np.int64(n_clusters) + unit_cluster
    size = n_cg * n_clusters
    if size <= max(8 * key.size, 1 << 20):
        present = np.bincount(key, minlength=size) > 0
        block_key = np.flatnonzero(present)
        index = np.cumsum(present) - 1
        unit_block = index[key]
    else:
        block_key, unit_block = np.unique(key, return_inverse=True)
    block_cg = block_key // n_clusters
    block_cluster = block_key - block_cg * n_clusters
    cg_start = np.searchsorted(block_cg, np.arange(n_cg + 1))
    return BlockLayout(unit_block.astype(np.int64), block_cluster, block_cg, cg_start)


def grid_table(ywide: np.ndarray, unit_weight: np.ndarray | None, layout: BlockLayout,
               n_blocks: int, *, fill_weights: bool = False) -> np.ndarray:
    """The first ``n_blocks`` rows of the block sums of :math:`wY_t` from a unit-by-period matrix.

    Returns a C-ordered ``(n_blocks, periods + 1)`` table whose last column is
    left for the block weights (see :func:`panel_cell_factors`), or holds them
    with ``fill_weights`` when every block is one unit. With one unit per block
    the rows are gathered in cache-sized chunks straight into the table (no
    ``np.bincount``, no full-size temporary); otherwise summed by one
    ``np.bincount`` with keys built per unit. Same values as the row-level
    ``np.bincount`` (same additions in the same order).

    Examples
    --------
    >>> import numpy as np
    >>> lay = block_layout(np.array([0, 1, 2]), np.array([1, 0, 1]), 2, 3)
    >>> grid_table(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), None, lay, 3)[:, :2].tolist()
    [[3.0, 4.0], [1.0, 2.0], [5.0, 6.0]]
    """
    n_units, n_per = ywide.shape
    if layout.n_blocks == n_units:  # every block is one unit: the table is a row permutation
        table = np.empty((n_blocks, n_per + 1))
        order = layout.order
        if order is None:
            order = np.empty(n_units, dtype=np.intp)
            order[layout.unit_block] = np.arange(n_units)
        step = max(1, _GATHER // (n_per + 1))
        for lo in range(0, n_blocks, step):  # gather, weight and write one chunk at a time
            idx = order[lo:min(lo + step, n_blocks)]
            part = table[lo:lo + idx.size]
            if unit_weight is None:
                part[:, :n_per] = np.take(ywide, idx, axis=0)  # (take beats fancy indexing)
                if fill_weights:
                    part[:, n_per] = 1.0
            else:
                w = unit_weight[idx]
                np.multiply(np.take(ywide, idx, axis=0), w[:, None], out=part[:, :n_per])
                if fill_weights:
                    part[:, n_per] = w
        return table
    key = (layout.unit_block * np.int64(n_per + 1))[:, None] + np.arange(n_per)
    wy = ywide if unit_weight is None else ywide * unit_weight[:, None]
    sums = np.bincount(key.reshape(-1), weights=wy.reshape(-1), minlength=layout.n_blocks * (n_per + 1))
    return sums.reshape(-1, n_per + 1)[:n_blocks]


def segment_sums(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sums of consecutive row segments ``values[start[j]:start[j+1]]`` (exact, no cumsum).

    Examples
    --------
    >>> import numpy as np
    >>> segment_sums(np.arange(5.0), np.array([0, 2, 2, 5])).tolist()
    [1.0, 0.0, 9.0]
    """
    if isinstance(values, GridRows):
        return values.segment_sums(start)
    n_seg = start.size - 1
    out = np.zeros((n_seg, *values.shape[1:]))
    nonempty = np.flatnonzero(start[1:] > start[:-1])
    if values.ndim == 2 and nonempty.size and values.shape[0] >= 64 * 64 * nonempty.size:
        for j in nonempty:  # few long segments of short rows: fold rows for long inner loops
            out[j] = _column_sums(values[start[j]:start[j + 1]])
    elif nonempty.size:
        out[nonempty] = np.add.reduceat(values, start[nonempty], axis=0)
    return out


def _column_sums(values: np.ndarray, fold: int = 64) -> np.ndarray:
    """``values.sum(axis=0)`` of a C-ordered 2-D array, summing ``fold`` rows at a time as one row."""
    n = values.shape[0] // fold * fold
    head = np.ascontiguousarray(values[:n]).reshape(-1, fold * values.shape[1]).sum(axis=0)
    return head.reshape(fold, -1).sum(axis=0) + values[n:].sum(axis=0)


def cluster_rows(influence: np.ndarray, block_cluster: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum block influence functions within clusters.

    Returns ``(rows, row_cluster, block_row)``: one row per cluster present,
    its cluster code, and the row of each block. When every block is its own
    cluster the rows are the blocks (no copy; a :class:`BlockInfluence` stays
    factored).

    Examples
    --------
    >>> import numpy as np
    >>> rows, rc, br = cluster_rows(np.array([[1.0], [2.0], [4.0]]), np.array([5, 3, 5]))
    >>> rows.ravel().tolist(), rc.tolist(), br.tolist()
    ([2.0, 5.0], [3, 5], [1, 0, 1])
    """
    n_blocks = block_cluster.size
    counts = np.bincount(block_cluster)
    if counts.size and counts.max() <= 1:
        return influence, block_cluster, np.arange(n_blocks)
    row_cluster, block_row = np.unique(block_cluster, return_inverse=True)
    if isinstance(influence, BlockInfluence):
        return influence.row_sums(block_row, row_cluster.size), row_cluster, block_row
    agg = sparse.csr_matrix((np.ones(n_blocks), (block_row, np.arange(n_blocks))),
                            shape=(row_cluster.size, n_blocks))
    return np.asarray(agg @ np.asarray(influence)), row_cluster, block_row


def _cell_sets(plan: CellPlan, n_cohorts: int, n_cg: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (k, n_cg) masks of the treated and comparison subgroup-cohort codes.

    ``n_cg`` is the number of subgroup-cohort codes in the data: the last
    subgroups may have no cell (no treated unit) and still hold codes.
    """
    k = plan.cohort.size
    n_groups = int(plan.group.max()) + 1 if k else 1
    treated = np.zeros((k, max(n_groups * n_cohorts, n_cg)), dtype=bool)
    treated[np.arange(k), plan.group * n_cohorts + plan.cohort] = True
    control = np.zeros_like(treated)
    for grp in np.unique(plan.group):
        sel = plan.group == grp
        control[np.ix_(sel, np.arange(grp * n_cohorts, (grp + 1) * n_cohorts))] = plan.control[sel]
    return treated, control


def panel_cells(ysum: np.ndarray, wsum: np.ndarray, layout: BlockLayout, plan: CellPlan,
                n_cohorts: int, cg_units: np.ndarray, scale: float = 1.0) -> CellStats:
    """All no-covariate ATT(g,t) of a balanced panel from the block-by-period sums.

    Parameters
    ----------
    ysum
        ``(blocks, periods)`` sums of :math:`w_i Y_{it}` over the units of each block.
    wsum
        ``(blocks,)`` sums of unit weights.
    layout
        The block layout (blocks sorted by subgroup-cohort code).
    plan
        Cells to estimate.
    n_cohorts
        Number of cohort indices (treated cohorts plus never treated).
    cg_units
        Units per subgroup-cohort code.
    scale
        Multiplies the influence functions (1: the sum scale).

    Returns
    -------
    CellStats
        ``influence`` has one row per block.

    Notes
    -----
    For cell :math:`(g, t)` with base period :math:`b`, treated set :math:`G` and
    comparison set :math:`C`, with :math:`\\Delta_i = Y_{it} - Y_{ib}`,
    :math:`S_A = \\sum_{i\\in A} w_i` and :math:`m_A = S_A^{-1}\\sum_{i\\in A} w_i\\Delta_i`:

    .. math:: \\widehat{ATT}(g,t) = m_G - m_C, \\qquad
              U_{i} = \\frac{w_i(\\Delta_i - m_G)}{S_G}1\\{i\\in G\\}
                    - \\frac{w_i(\\Delta_i - m_C)}{S_C}1\\{i\\in C\\},

    which is the influence function of R ``did``'s ``drdid_panel``/``reg_did_panel``/
    ``std_ipw_did_panel`` with an intercept-only design, rescaled by
    :math:`n/n_1` and divided by :math:`n`. Summed over a block it only needs
    the block's sums of :math:`w_iY_{it}` and :math:`w_i`.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 3.0], [1.0, 5.0], [0.0, 1.0], [0.0, 2.0]])   # 4 units x 2 periods
    >>> lay = block_layout(np.arange(4), np.array([0, 0, 1, 1]), 2, 4)
    >>> plan = CellPlan(np.array([0]), np.array([0]), np.array([1]), np.array([0]),
    ...                 np.array([[False, True]]), np.array([False]))
    >>> st = panel_cells(y, np.ones(4), lay, plan, 2, np.array([2, 2]))
    >>> float(st.att[0]), st.influence.ravel().tolist()
    (1.5, [-0.5, 0.5, 0.25, -0.25])
    """
    stats = panel_cell_factors(ysum, wsum, layout, plan, n_cohorts, cg_units, scale)
    return stats._replace(influence=stats.influence.toarray())


def panel_cell_factors(ysum: np.ndarray, wsum: np.ndarray, layout: BlockLayout, plan: CellPlan,
                       n_cohorts: int, cg_units: np.ndarray, scale: float = 1.0, *,
                       table: np.ndarray | None = None, weights_in_table: bool = False,
                       equal_weights: bool | None = None) -> CellStats:
    """:func:`panel_cells` with the influence functions as a :class:`BlockInfluence`.

    The dense ``(blocks, cells)`` matrix is never formed: variances come from
    :meth:`BlockInfluence.gram` and aggregations from products with it.
    ``table`` optionally is a C-ordered ``(blocks, periods + 1)`` buffer whose
    first columns are ``ysum`` (a view of it); its last column is set to
    ``wsum`` (unless ``weights_in_table`` says it holds them already) and it
    becomes the factor table, saving a copy. A :class:`GridRows` table holds
    its weights and is never copied (``ysum`` is then not read). ``equal_weights=True`` declares
    every block weight equal (it spares :meth:`BlockInfluence.gram` a check).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 3.0], [1.0, 5.0], [0.0, 1.0], [0.0, 2.0]])
    >>> lay = block_layout(np.arange(4), np.array([0, 0, 1, 1]), 2, 4)
    >>> plan = CellPlan(np.array([0]), np.array([0]), np.array([1]), np.array([0]),
    ...                 np.array([[False, True]]), np.array([False]))
    >>> st = panel_cell_factors(y, np.ones(4), lay, plan, 2, np.array([2, 2]))
    >>> float(st.att[0]), st.influence.gram().round(12).tolist()
    (1.5, [[0.625]])
    """
    k = plan.cohort.size
    n_per = ysum.shape[1] if table is None else table.shape[1] - 1
    if table is None:
        table = np.empty((ysum.shape[0], n_per + 1))
        table[:, :n_per] = ysum
    if isinstance(table, GridRows):  # one gathering pass: sums, and the moments for gram()
        sums = table.segment_sums(layout.cg_start, equal_weights)
    else:
        if not weights_in_table:
            table[:, n_per] = wsum
        sums = segment_sums(table, layout.cg_start)  # one pass over the contiguous table
    ycg, wcg = sums[:, :n_per], sums[:, n_per]
    n_cg = layout.cg_start.size - 1
    treated, control = _cell_sets(plan, n_cohorts, n_cg)
    treated, control = treated[:, :n_cg], control[:, :n_cg]
    dcg = ycg[:, plan.time] - ycg[:, plan.base]  # (n_cg, k) sums of w * long difference
    s_t = treated.astype(float) @ wcg
    s_c = control.astype(float) @ wcg
    with np.errstate(invalid="ignore", divide="ignore"):
        m_t = np.einsum("kj,jk->k", treated, dcg) / s_t
        m_c = np.einsum("kj,jk->k", control, dcg) / s_c
    reason = np.full(k, OK)
    reason[~(s_c > 0)] = NO_CONTROL
    reason[~(s_t > 0)] = NO_TREATED
    reason[plan.reference] = REFERENCE
    ok = reason == OK
    att = np.where(ok, m_t - m_c, np.nan)
    att[plan.reference] = 0.0
    if k == 0:
        return CellStats(att, BlockInfluence(table, layout.cg_start, np.zeros((n_cg, n_per + 1, 0)),
                                             equal_weights=equal_weights),
                         np.zeros(0, np.int64), np.zeros(0, np.int64), _reason_text(reason))

    # per code j, U_block = [ysum_block, w_block] @ M_j with
    # M_j[p, k] = coef_jk (1{p = t_k} - 1{p = b_k}) and M_j[T, k] = -coef_jk * mean_jk
    coef = np.zeros((n_cg, k))
    coef += np.where(treated & ok[:, None], 1.0 / np.where(ok, s_t, 1.0)[:, None], 0.0).T
    coef -= np.where(control & ok[:, None], 1.0 / np.where(ok, s_c, 1.0)[:, None], 0.0).T
    coef *= scale
    mean = np.where(treated, np.where(ok, m_t, 0.0)[:, None],
                    np.where(ok, m_c, 0.0)[:, None]).T
    diff = np.zeros((n_per + 1, k))
    diff[plan.time, np.arange(k)] += 1.0
    diff[plan.base, np.arange(k)] -= 1.0
    mats = diff[None, :, :] * coef[:, None, :]
    mats[:, n_per] = -coef * mean
    infl = BlockInfluence(table, layout.cg_start, mats, equal_weights=equal_weights)
    n_treated = treated.astype(np.int64) @ cg_units[:n_cg]
    n_control = control.astype(np.int64) @ cg_units[:n_cg]
    return CellStats(att, infl, n_treated, n_control, _reason_text(reason))


def rc_cells(ysum: np.ndarray, wsum: np.ndarray, layout: BlockLayout, n_periods: int,
             plan: CellPlan, n_cohorts: int, cgp_rows: np.ndarray) -> CellStats:
    """All no-covariate ATT(g,t) of repeated cross-sections from block sums.

    Blocks are (subgroup-cohort, period, cluster): ``layout.block_cg`` holds
    ``cg * n_periods + period``.

    Notes
    -----
    With :math:`m_{A,s}` the weighted mean of :math:`Y` among observations of set
    :math:`A` in period :math:`s` and :math:`S_{A,s}` their weight,

    .. math:: \\widehat{ATT}(g,t) = (m_{G,t} - m_{G,b}) - (m_{C,t} - m_{C,b}),

    and each observation contributes :math:`\\pm w_i(Y_i - m_{A,s})/S_{A,s}` to the
    sum-scale influence function (R ``did``'s RC kernels with an intercept-only
    design, rescaled by :math:`n/n_1`, divided by :math:`n`).

    Examples
    --------
    >>> import numpy as np
    >>> cg = np.array([0, 0, 1, 1, 2, 2, 3, 3])       # (cohort, period) codes, 2 rows each
    >>> y = np.array([1.0, 1.0, 3.0, 5.0, 0.0, 0.0, 1.0, 2.0])
    >>> lay = block_layout(np.arange(8), cg, 4, 8)
    >>> plan = CellPlan(np.array([0]), np.array([0]), np.array([1]), np.array([0]),
    ...                 np.array([[False, True]]), np.array([False]))
    >>> float(rc_cells(y, np.ones(8), lay, 2, plan, 2, np.full(4, 2)).att[0])
    1.5
    """
    k = plan.cohort.size
    n_cgp = layout.cg_start.size - 1
    yc = segment_sums(ysum, layout.cg_start).reshape(-1, n_periods)
    wc = segment_sums(wsum, layout.cg_start).reshape(-1, n_periods)
    n_cg = n_cgp // n_periods
    treated, control = _cell_sets(plan, n_cohorts, n_cg)
    treated, control = treated[:, :n_cg], control[:, :n_cg]
    tf, cf = treated.astype(float), control.astype(float)
    s = {}
    m = {}
    for name, mask in (("t", tf), ("c", cf)):
        for per_name, per in (("post", plan.time), ("pre", plan.base)):
            sw = np.einsum("kj,jk->k", mask, wc[:, per])
            sy = np.einsum("kj,jk->k", mask, yc[:, per])
            s[name + per_name] = sw
            with np.errstate(invalid="ignore", divide="ignore"):
                m[name + per_name] = sy / sw
    reason = np.full(k, OK)
    reason[~((s["cpost"] > 0) & (s["cpre"] > 0))] = NO_CONTROL
    reason[~((s["tpost"] > 0) & (s["tpre"] > 0))] = NO_TREATED
    reason[plan.reference] = REFERENCE
    ok = reason == OK
    att = np.where(ok, (m["tpost"] - m["tpre"]) - (m["cpost"] - m["cpre"]), np.nan)
    att[plan.reference] = 0.0

    block_code = layout.block_cg // n_periods
    block_period = layout.block_cg - block_code * n_periods
    infl = np.zeros((layout.n_blocks, k))
    for j in range(k):
        if not ok[j]:
            continue
        for mask, sign, key in ((treated, 1.0, "t"), (control, -1.0, "c")):
            member = mask[j][block_code]
            for per, psign, pname in ((plan.time[j], 1.0, "post"), (plan.base[j], -1.0, "pre")):
                sel = member & (block_period == per)
                mean, tot = m[key + pname][j], s[key + pname][j]
                infl[sel, j] = sign * psign * (ysum[sel] - mean * wsum[sel]) / tot
    rows = cgp_rows.reshape(-1, n_periods)
    n_treated = np.array([rows[treated[j], [plan.time[j]]].sum() + rows[treated[j], [plan.base[j]]].sum()
                          for j in range(k)], dtype=np.int64)
    n_control = np.array([rows[control[j], [plan.time[j]]].sum() + rows[control[j], [plan.base[j]]].sum()
                          for j in range(k)], dtype=np.int64)
    return CellStats(att, infl, n_treated, n_control, _reason_text(reason))


# ------------------------------------------------------------------ with covariates
def _kernels(method: str, panel: bool):
    from clusterimpact.kernels import drdid

    if panel:
        return {"dr": drdid.drdid_panel, "reg": drdid.reg_did_panel,
                "ipw": drdid.std_ipw_did_panel}[method]
    return {"dr": drdid.drdid_rc, "reg": drdid.reg_did_rc, "ipw": drdid.std_ipw_did_rc}[method]


def _guard(x: np.ndarray, d: np.ndarray, method: str, start: np.ndarray | None = None,
           rank: str | None = None) -> tuple[str, object]:
    """R ``did``'s per-cell checks: overlap of an unweighted logit, rank among comparisons.

    Returns the reason a cell cannot be estimated (``""`` if it can) and the
    unweighted logit fit (``None`` without one). ``start`` is a starting value
    for the logit's Newton iterations (e.g. a neighbouring cell's coefficients);
    ``rank`` is :func:`_rank_reason` when the caller has it already.
    """
    from clusterimpact.errors import EstimationError
    from clusterimpact.kernels.propensity import fit_logit

    fit = None
    if method in ("dr", "ipw"):
        try:
            fit = fit_logit(x, d, np.ones(d.size), start=start)
        except EstimationError as err:  # e.g. collinear or constant covariates: say so
            return f"propensity score not estimable: {str(err).splitlines()[0]}", None
        except np.linalg.LinAlgError:
            return "overlap violated (propensity score not estimable)", None
        if fit.fitted.max() >= 0.999:
            return "overlap violated (propensity score >= 0.999)", None
    if method in ("dr", "reg"):
        rank = _rank_reason(x, d) if rank is None else rank
        if rank:
            return rank, None
    return "", fit


def _rank_reason(x: np.ndarray, d: np.ndarray) -> str:
    """R ``did``'s rank check of the comparison units' (unweighted) covariate Gram matrix."""
    xc = x[d == 0]
    gram = xc.T @ xc
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(gram, 1) if xc.shape[0] else np.inf
    if not np.isfinite(cond) or 1.0 / cond < np.finfo(float).eps:
        return "singular covariate design among comparison units"
    return ""


def _takes_pscore(fn) -> bool:
    from clusterimpact.kernels import drdid

    return fn in (drdid.drdid_panel, drdid.std_ipw_did_panel)



def _caught() -> tuple[type[BaseException], ...]:
    from clusterimpact.errors import EstimationError

    return (EstimationError, np.linalg.LinAlgError, FloatingPointError)


def _run_kernel(fn, args: tuple, x: np.ndarray, d: np.ndarray, w: np.ndarray, method: str
                ) -> tuple[float, np.ndarray | None, str]:
    reason, fit = _guard(x, d, method)
    if reason:
        return np.nan, None, reason
    # with unit weights the kernel's weighted logit is the check's unweighted one: reuse it
    kw = {"pscore": fit.fitted} if fit is not None and _takes_pscore(fn) and (w == 1.0).all() \
        else {}
    try:
        with np.errstate(all="ignore"):
            res = fn(*args, d, x, w, **kw)
    except _caught() as err:
        return np.nan, None, f"2x2 estimation failed: {str(err).splitlines()[0]}"
    return _checked(res)


def _checked(res) -> tuple[float, np.ndarray | None, str]:
    if not np.isfinite(res.att) or not np.all(np.isfinite(res.influence)):
        return np.nan, None, "2x2 estimation returned NaN"
    return float(res.att), res.influence, ""


def _period_classes(xwide: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Period -> the first period of its run of identical covariate matrices.

    Time-invariant covariates (the usual case: sex, baseline characteristics)
    make every period one class, so the cells of a cohort share one design.
    ``xwide`` is a ``(units, periods, columns)`` array (compared in one pass)
    or a list of ``(units, columns)`` arrays; NaN equals NaN here.
    """
    n_per = len(xwide) if isinstance(xwide, list) else xwide.shape[1]
    if isinstance(xwide, list):
        same = np.array([_same_values(xwide[p], xwide[p - 1]) for p in range(1, n_per)], bool)
    else:  # flat comparison of each value with the one a period earlier (contiguous passes)
        n_u, _, k = xwide.shape
        flat = xwide.reshape(-1)
        ne = np.zeros(flat.size, bool)
        np.not_equal(flat[k:], flat[:-k], out=ne[k:])
        ne = ne.reshape(n_u, n_per, k)
        ne[:, 0] = False  # the first period is compared with the previous unit's last
        if ne.any() and np.isnan(flat).any():
            nan = np.isnan(xwide)
            ne[:, 1:] &= ~(nan[:, 1:] & nan[:, :-1])
        same = ne.reshape(n_u, -1).any(axis=0).reshape(n_per, k).any(axis=1)[1:] == 0
    cls = np.arange(n_per)
    for p in range(1, n_per):
        if same[p - 1]:
            cls[p] = cls[p - 1]
    return cls


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    ne = a != b
    if not ne.any():
        return True
    first = np.unravel_index(int(np.argmax(ne)), ne.shape)
    if not (np.isnan(a[first]) and np.isnan(b[first])):  # a real difference: stop here
        return False
    return bool(np.array_equal(a, b, equal_nan=True))


class _Design(NamedTuple):
    """One 2x2 design shared by cells: units, counts, and the kernel's outcome-free part."""

    idx: np.ndarray | None
    n_t: int
    n_c: int
    kernel: object  # drdid.PanelDesign, or None when ``reason`` says why not
    reason: str
    coef: np.ndarray | None  # the unweighted logit's coefficients (a warm start)
    y: np.ndarray | None = None  # the units' (units, periods) outcomes, once gathered


def _panel_design(x: np.ndarray, d: np.ndarray, w: np.ndarray, method: str,
                  start: np.ndarray | None, shared: dict | None = None
                  ) -> tuple[object, str, np.ndarray | None]:
    """Checks and :class:`~clusterimpact.kernels.drdid.PanelDesign` of one 2x2 design.

    ``shared`` holds what depends only on the comparison units (same units,
    covariates and unit weights of one): R ``did``'s rank check and the
    comparison-group regression's factor, reused by designs that differ in
    their treated units only.
    """
    from clusterimpact.kernels.drdid import PanelDesign

    rank = None
    if shared is not None and method in ("dr", "reg"):
        if "rank" not in shared:
            shared["rank"] = _rank_reason(x, d)
        rank = shared["rank"]
    reason, fit = _guard(x, d, method, start, rank)
    if reason:
        return None, reason, None
    unit_w = (w == 1.0).all()
    # with unit weights the kernel's weighted logit is the check's unweighted one: reuse it
    pscore = fit.fitted if fit is not None and unit_w else None
    # the comparison-group factor depends on the weights normalised over the whole design:
    # shared only when every weight is one
    wls = shared.get("wls") if shared is not None and unit_w else None
    try:
        with np.errstate(all="ignore"):
            kernel = PanelDesign(d, x, w, method=method, pscore=pscore, comparison_wls=wls)
    except _caught() as err:
        return None, f"2x2 estimation failed: {str(err).splitlines()[0]}", None
    if shared is not None and unit_w and kernel.comparison_wls is not None:
        shared["wls"] = kernel.comparison_wls
    return kernel, "", None if fit is None else fit.coef


def kernel_panel_cells(ywide: np.ndarray, xwide: np.ndarray | list[np.ndarray],
                       unit_weight: np.ndarray,
                       unit_cg: np.ndarray, plan: CellPlan, n_cohorts: int, method: str
                       ) -> CellStats:
    """ATT(g,t) with covariates on a balanced panel, one 2x2 kernel call per cell.

    Covariates are those of the earlier of the cell's two periods (R ``did``'s
    convention); ``xwide[p]`` (a list) or ``xwide[:, p]`` (a
    ``(units, periods, columns)`` array) is the ``(units, columns)`` design of
    period ``p`` including the intercept. Units with a negative ``unit_cg`` are
    not in the sample.

    Cells with the same treated and comparison units whose covariate matrices
    are equal (time-invariant covariates) share one
    :class:`~clusterimpact.kernels.drdid.PanelDesign`: the propensity score,
    R ``did``'s checks and the comparison-group QR factor are computed once and
    only the outcome regression's right-hand side changes per cell (the numbers
    are those of separate kernel calls). Designs with the same comparison units
    and covariates (e.g. every cohort against the never treated) share R ``did``'s
    rank check and, with unit weights of one, the comparison-group QR factor.
    Each design's logit starts from the coefficients of the previous design of
    the same cohort when that start is better than the intercept-only one.

    Notes
    -----
    The kernel's influence function :math:`\\phi_i` over the :math:`n_1` units of
    the cell becomes the sum-scale :math:`U_i = \\phi_i / n_1` (R ``did`` scales it
    by :math:`n/n_1`; dividing by :math:`n` gives the sum scale).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([[1.0, 3.0], [1.0, 5.0], [0.0, 1.0], [0.0, 2.0], [0.0, 1.5]])
    >>> x = [np.ones((5, 1))] * 2
    >>> plan = CellPlan(np.array([0]), np.array([0]), np.array([1]), np.array([0]),
    ...                 np.array([[False, True]]), np.array([False]))
    >>> st = kernel_panel_cells(y, x, np.ones(5), np.array([0, 0, 1, 1, 1]), plan, 2, "reg")
    >>> round(float(st.att[0]), 6)
    1.5
    """
    k = plan.cohort.size
    n_units = ywide.shape[0]
    treated, control = _cell_sets(plan, n_cohorts, int(unit_cg.max()) + 1 if unit_cg.size else 0)
    att = np.full(k, np.nan)
    infl_t = np.zeros((k, n_units))  # row j: cell j's influence (contiguous writes)
    reason = np.full(k, "", dtype=object)
    n_t = np.zeros(k, np.int64)
    n_c = np.zeros(k, np.int64)
    safe_cg = np.where(unit_cg >= 0, unit_cg, 0)
    in_sample = unit_cg >= 0
    x_class = _period_classes(xwide)
    designs: dict[tuple, _Design] = {}
    last_coef: dict[bytes, np.ndarray] = {}  # warm starts per treated set
    comparison: dict[tuple, dict] = {}  # per comparison set and covariate class (_panel_design)
    for j in range(k):
        if plan.reference[j]:
            att[j], reason[j] = 0.0, REASONS[REFERENCE]
            continue
        t, b = plan.time[j], plan.base[j]
        p = x_class[min(t, b)]
        tkey = treated[j].tobytes()
        key = (tkey, control[j].tobytes(), p)
        des = designs.get(key)
        if des is None:
            x_p = xwide[p] if isinstance(xwide, list) else xwide[:, p]
            shared = comparison.setdefault((key[1], p), {})
            des = designs[key] = _cell_design(treated[j], control[j], safe_cg, in_sample, x_p,
                                              unit_weight, method, last_coef.get(tkey), shared)
            if des.coef is not None:
                last_coef[tkey] = des.coef
        n_t[j], n_c[j] = des.n_t, des.n_c
        if des.kernel is None:
            reason[j] = des.reason
            continue
        idx = des.idx
        if des.y is None:  # the design's outcome rows, gathered once for its cells
            des = designs[key] = des._replace(y=ywide[idx])
        dy = des.y[:, t] - des.y[:, b]
        try:
            with np.errstate(all="ignore"):
                att[j], phi, reason[j] = _checked(des.kernel.estimate(dy))
        except _caught() as err:
            att[j], phi, reason[j] = np.nan, None, f"2x2 estimation failed: {str(err).splitlines()[0]}"
        if phi is not None:
            infl_t[j, idx] = phi / idx.size
    return CellStats(att, infl_t.T, n_t, n_c, reason)


def _cell_design(treated: np.ndarray, control: np.ndarray, safe_cg: np.ndarray,
                 in_sample: np.ndarray, x_all: np.ndarray, unit_weight: np.ndarray, method: str,
                 start: np.ndarray | None, shared: dict | None = None) -> _Design:
    is_t = treated[safe_cg] & in_sample
    is_c = control[safe_cg] & in_sample
    n_t, n_c = int(is_t.sum()), int(is_c.sum())
    if n_t == 0 or n_c == 0:
        return _Design(None, n_t, n_c, None, REASONS[NO_TREATED if n_t == 0 else NO_CONTROL], None)
    idx = np.flatnonzero(is_t | is_c)
    kernel, why, coef = _panel_design(x_all[idx], is_t[idx].astype(float), unit_weight[idx],
                                      method, start, shared)
    return _Design(idx, n_t, n_c, kernel, why, coef)


def kernel_rc_cells(y: np.ndarray, x: np.ndarray, weight: np.ndarray, row_cg: np.ndarray,
                    row_period: np.ndarray, plan: CellPlan, n_cohorts: int, method: str
                    ) -> CellStats:
    """ATT(g,t) with covariates on repeated cross-sections (R ``did``'s ``*_rc`` kernels).

    Each cell uses the observations of its two periods in the treated and
    comparison cohorts; rows with a negative ``row_cg`` are not in the sample.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1.0, 1.0, 3.0, 5.0, 0.0, 0.0, 1.0, 2.0, 0.5, 1.5])
    >>> cg = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> per = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 1])
    >>> plan = CellPlan(np.array([0]), np.array([0]), np.array([1]), np.array([0]),
    ...                 np.array([[False, True]]), np.array([False]))
    >>> st = kernel_rc_cells(y, np.ones((10, 1)), np.ones(10), cg, per, plan, 2, "reg")
    >>> round(float(st.att[0]), 6)
    1.666667
    """
    k = plan.cohort.size
    fn = _kernels(method, False)
    treated, control = _cell_sets(plan, n_cohorts, int(row_cg.max()) + 1 if row_cg.size else 0)
    att = np.full(k, np.nan)
    infl = np.zeros((y.size, k))
    reason = np.full(k, "", dtype=object)
    n_t = np.zeros(k, np.int64)
    n_c = np.zeros(k, np.int64)
    safe_cg = np.where(row_cg >= 0, row_cg, 0)
    for j in range(k):
        if plan.reference[j]:
            att[j], reason[j] = 0.0, REASONS[REFERENCE]
            continue
        t, b = plan.time[j], plan.base[j]
        in_per = (row_period == t) | (row_period == b)
        is_t = treated[j][safe_cg] & (row_cg >= 0) & in_per
        is_c = control[j][safe_cg] & (row_cg >= 0) & in_per
        post = row_period == t
        n_t[j], n_c[j] = is_t.sum(), is_c.sum()
        empty = [np.any(m & p) for m in (is_t, is_c) for p in (post, ~post)]
        if not (empty[0] and empty[1]):
            reason[j] = REASONS[NO_TREATED]
            continue
        if not (empty[2] and empty[3]):
            reason[j] = REASONS[NO_CONTROL]
            continue
        idx = np.flatnonzero(is_t | is_c)
        d = is_t[idx].astype(float)
        att[j], phi, reason[j] = _run_kernel(fn, (y[idx], post[idx].astype(float)), x[idx], d,
                                             weight[idx], method)
        if phi is not None:
            infl[idx, j] = phi / idx.size
    return CellStats(att, infl, n_t, n_c, reason)
