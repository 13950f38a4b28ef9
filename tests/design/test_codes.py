"""Row checks of sorted unit-by-period grids on panels longer than one checking piece.

``sorted_grid`` and ``unit_values`` check long columns in pieces of whole units;
a violation anywhere (inside a piece, on a piece boundary, in the last partial
piece) must still be found.
"""

import numpy as np
import pytest

from clusterimpact.design import _codes

N_UNITS, T = 20_011, 7  # 140,077 rows: three pieces of 65,534 rows, the last one partial
STEP = _codes._PIECE // T * T


def _grid():
    unit = np.repeat(np.arange(N_UNITS, dtype=np.int64), T)
    time = np.tile(np.arange(2001, 2001 + T, dtype=np.int64), N_UNITS)
    return unit, time


def test_long_grid_is_recognised():
    unit, time = _grid()
    code, labels, periods = _codes.sorted_grid(unit, time)
    assert np.shares_memory(code, unit)  # ids 0..n-1 are their own codes (no copy)
    np.testing.assert_array_equal(labels, np.arange(N_UNITS))
    np.testing.assert_array_equal(periods, np.arange(2001, 2001 + T))
    code, labels, _ = _codes.sorted_grid(unit * 3 + 5, time)
    np.testing.assert_array_equal(code, unit)
    np.testing.assert_array_equal(labels, np.arange(N_UNITS) * 3 + 5)


@pytest.mark.parametrize("row", [5, STEP - 1, STEP, STEP + 1, 2 * STEP, N_UNITS * T - 1])
def test_long_grid_violations_are_found(row):
    unit, time = _grid()
    bad_time = time.copy()
    bad_time[row] += 1 if row % T != T - 1 else -1
    assert _codes.sorted_grid(unit, bad_time) is None
    u = row // T
    merged = unit.copy()  # two units share an id (the runs are no longer distinct)
    merged[merged == u] = u + 1 if u + 1 < N_UNITS else u - 1
    assert _codes.sorted_grid(np.sort(merged), time) is None
    swapped = unit.copy()  # a row of the next unit inside this one: not constant over the run
    swapped[row] = u + 1
    assert _codes.sorted_grid(swapped, time) is None


@pytest.mark.parametrize("row", [3, STEP - 1, STEP, 2 * STEP + 6, N_UNITS * T - 2])
def test_unit_values_long_grid(row):
    unit, _ = _grid()
    values = (unit % 5).astype(float) * 2.0
    np.testing.assert_array_equal(_codes.unit_values(values, unit, N_UNITS, True),
                                  np.arange(N_UNITS) % 5 * 2.0)
    varies = values.copy()
    varies[row] += 1.0
    assert _codes.unit_values(varies, unit, N_UNITS, True) is None
    varies[row] = np.nan
    assert _codes.unit_values(varies, unit, N_UNITS, True) is None
    ints = unit % 3
    np.testing.assert_array_equal(_codes.unit_values(ints, unit, N_UNITS, True), np.arange(N_UNITS) % 3)


@pytest.mark.parametrize("values", [
    np.array([5, -3, 5, 2]), np.array([3, 1, 3], dtype=np.uint8), np.array([2**40, 2**40 + 3]),
    np.array([0, 2007, 2004, 2007, 0]), np.array([-5, -2, 127], dtype=np.int8),
    np.array([2**63 + 5, 2**63 + 1], dtype=np.uint64), np.array([1, 10**9]),
    np.array([2**62, -2**62]), np.array([-2**63, -2**63 + 2]), np.array([200, 255], dtype=np.uint8),
    np.array([2.5, np.inf, 2.5, -1.0]),
])
def test_sorted_unique_matches_np_unique(values):
    out = _codes.sorted_unique(values)
    assert out.dtype == values.dtype
    np.testing.assert_array_equal(out, np.unique(values))
