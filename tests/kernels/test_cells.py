"""GridRows (the factor table gathered on demand) against the materialised grid_table.

GridRows must give exactly the numbers of the copied table (same segment sums and
dense influence matrix; Gram matrix and products up to the order of additions),
with and without weights, for segments shorter and longer than the 64-row folds
and 2,048-row chunks.
"""

import numpy as np
import pytest

from clusterimpact.kernels import cells as K


def _factors(n_units: int, n_per: int, weighted: bool, seed: int):
    rng = np.random.default_rng(seed)
    ywide = rng.normal(5.0, 2.0, (n_units, n_per))
    n_cg = 4
    unit_cg = rng.integers(0, n_cg, n_units)
    unit_cg[: n_units // 3] = 1  # one long segment, the others shorter
    layout = K.block_layout(np.arange(n_units), unit_cg, n_cg + 1, n_units)  # code 4 empty
    weight = rng.uniform(0.5, 2.0, n_units) if weighted else None
    table = K.grid_table(ywide, weight, layout, n_units, fill_weights=True)
    rows = K.GridRows(ywide, layout.order, weight)
    mats = rng.normal(size=(n_cg + 1, n_per + 1, 6))
    return table, rows, layout, mats


@pytest.mark.parametrize("n_units", [37, 5000, 70001])
@pytest.mark.parametrize("weighted", [False, True])
def test_grid_rows_equal_the_copied_table(n_units, weighted):
    table, rows, layout, mats = _factors(n_units, 7, weighted, n_units)
    start = layout.cg_start
    np.testing.assert_array_equal(rows.rows(0, n_units), table)
    np.testing.assert_array_equal(K.segment_sums(rows, start), K.segment_sums(table, start))
    dense = K.BlockInfluence(table, start, mats)
    lazy = K.BlockInfluence(rows, start, mats, equal_weights=not weighted or None)
    # the Gram moments skip the weight column: the same sums, added in another order
    np.testing.assert_allclose(lazy.gram(), dense.gram(), rtol=1e-13, atol=1e-12)
    np.testing.assert_array_equal(lazy.toarray(), dense.toarray())
    w = np.linspace(-1.0, 2.0, 6)
    # products skip the weight column: the same sums, added in another order
    np.testing.assert_allclose(lazy @ w, dense @ w, rtol=1e-13, atol=1e-10)
    w2 = np.column_stack([w, -w[::-1]])
    np.testing.assert_allclose(lazy @ w2, dense @ w2, rtol=1e-13, atol=1e-10)
    block_row = np.arange(n_units) // 2  # two blocks per row
    np.testing.assert_array_equal(lazy.row_sums(block_row, block_row[-1] + 1),
                                  dense.row_sums(block_row, block_row[-1] + 1))
    zero = lazy.with_zero_columns(np.array([1, 4]))
    np.testing.assert_allclose(zero.gram(), dense.with_zero_columns(np.array([1, 4])).gram(),
                               rtol=1e-13, atol=1e-12)


def test_gram_is_the_dense_cross_product():
    _, rows, layout, mats = _factors(9000, 5, True, 1)
    lazy = K.BlockInfluence(rows, layout.cg_start, mats)
    dense = lazy.toarray()
    np.testing.assert_allclose(lazy.gram(), dense.T @ dense, rtol=1e-12, atol=1e-9)


def test_moments_kept_by_segment_sums_match_fresh_ones():
    _, rows, layout, mats = _factors(20000, 6, False, 2)
    fresh = K.BlockInfluence(K.GridRows(rows.ywide, rows.order), layout.cg_start, mats).gram()
    K.segment_sums(rows, layout.cg_start)  # fills the moment cache in the same pass
    assert rows._moments
    np.testing.assert_array_equal(K.BlockInfluence(rows, layout.cg_start, mats).gram(), fresh)


def test_grid_rows_with_dropped_units():
    rng = np.random.default_rng(5)
    n_units, n_per = 30000, 4
    ywide = rng.normal(size=(n_units, n_per))
    unit_cg = rng.integers(0, 4, n_units)  # code 3 marks dropped units (sorted last)
    layout = K.block_layout(np.arange(n_units), unit_cg, 4, n_units)
    n_real = int(layout.cg_start[3])
    weight = rng.uniform(0.5, 2.0, n_units)
    table = K.grid_table(ywide, weight, layout, n_real, fill_weights=True)
    rows = K.GridRows(ywide, layout.order[:n_real], weight)
    start = layout.cg_start[:4]
    mats = rng.normal(size=(3, n_per + 1, 2))
    np.testing.assert_array_equal(K.segment_sums(rows, start), K.segment_sums(table, start))
    lazy, dense = K.BlockInfluence(rows, start, mats), K.BlockInfluence(table, start, mats)
    np.testing.assert_allclose(lazy.gram(), dense.gram(), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(lazy @ np.array([1.0, -2.0]), dense @ np.array([1.0, -2.0]),
                               rtol=1e-13, atol=1e-10)


@pytest.mark.parametrize("n_cg", [1, 5, 16, 40])
def test_block_layout_sorts_units_stably_by_code(n_cg):
    rng = np.random.default_rng(n_cg)
    unit_cg = rng.integers(0, n_cg, 50000)
    lay = K.block_layout(np.arange(unit_cg.size), unit_cg, n_cg, unit_cg.size)
    order = np.argsort(unit_cg, kind="stable")
    np.testing.assert_array_equal(lay.order, order)
    np.testing.assert_array_equal(lay.block_cg, unit_cg[order])
    np.testing.assert_array_equal(lay.cg_start, np.r_[0, np.cumsum(np.bincount(unit_cg, minlength=n_cg))])
    np.testing.assert_array_equal(lay.unit_block[order], np.arange(unit_cg.size))
    assert K.block_layout(np.arange(unit_cg.size), unit_cg, n_cg, unit_cg.size,
                          unit_block=False).unit_block is None
