"""Integer coding of Panel columns: sorted factorisation, frequencies, dtype tests.

Helpers of :mod:`clusterimpact.design.panel`, kept apart so the Panel module
stays short. numpy and pandas in, numpy out.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RowArrays", "duplicate_rows", "factorize", "infer_freq", "plain", "readonly", "sorted_grid",
           "sorted_unique", "unit_values"]


def readonly(array: np.ndarray) -> np.ndarray:
    """Mark ``array`` read-only and return it."""
    array.flags.writeable = False
    return array


def infer_freq(index: pd.DatetimeIndex) -> str | None:
    """The regular frequency of sorted unique datetimes as a string, or ``None``."""
    if len(index) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3 announces an offset return type
        freq = pd.infer_freq(index)
    if freq is None:
        return None
    return freq if isinstance(freq, str) else freq.freqstr


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values by hashing (faster than ``np.unique``'s full sort on long arrays).

    Integers spanning a short range are counted instead (one ``np.bincount``).

    Examples
    --------
    >>> sorted_unique(np.array([2007, 0, 2004, 2007])).tolist()
    [0, 2004, 2007]
    >>> sorted_unique(np.array([2.5, np.inf, 2.5])).tolist()
    [2.5, inf]
    """
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        span = 4 * values.size + 1024
        if high - low < span:
            # small non-negative values are counted as they are, others after shifting to 0
            direct = low >= 0 and high < span and (values.dtype.kind == "i" or values.itemsize < 8)
            if direct:
                return np.flatnonzero(np.bincount(values)).astype(values.dtype)
            base = values.dtype.type(low)  # (the differences fit: the span is short)
            shifted = values.astype(np.intp) - low if values.itemsize < 8 else values - base
            found = np.flatnonzero(np.bincount(shifted.astype(np.intp, copy=False)))
            return found.astype(values.dtype) + base
    return np.sort(pd.unique(values))


def factorize(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    """Sorted factorisation: (int64 codes, sorted distinct values).

    Integer ids spanning a range not much wider than their count are coded
    through a presence table (one pass, no hashing or sorting); anything else
    goes through :func:`pandas.factorize`.

    Examples
    --------
    >>> codes, uniques = factorize(np.array([7, 3, 7, 5]))
    >>> codes.tolist(), uniques.tolist()
    ([2, 0, 2, 1], [3, 5, 7])
    """
    array = np.asarray(values)
    if array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if high - low < 4 * array.size + 1024:
            shifted = (array - low).astype(np.intp, copy=False)
            present = np.zeros(high - low + 1, dtype=bool)
            present[shifted] = True
            uniques = np.flatnonzero(present).astype(array.dtype) + low
            if uniques.size == present.size:  # every value in the range occurs: codes = shifts
                return shifted.astype(np.int64, copy=False), uniques
            rank = np.cumsum(present, dtype=np.int64) - 1
            return rank[shifted], uniques
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), uniques


def group_codes(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, pd.DataFrame] | None:
    """Codes of the distinct combinations of ``names`` in sorted order, and their labels.

    The same codes and label frame as ``frame.groupby(names, sort=True,
    observed=True).ngroup()`` and its group keys, from one sorted factorisation
    per column (:meth:`pandas.Series.factorize`; categoricals in category
    order) and a mixed-radix key coded through a presence table: no
    multi-column hashing. ``None`` when the key space is too large for the
    table (the caller then groups with pandas).

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["m", "f", "m", "f"], "band": [2, 1, 1, 1]})
    >>> codes, labels = group_codes(df, ["sex", "band"])
    >>> codes.tolist(), labels.to_dict("list")
    ([2, 0, 1, 0], {'sex': ['f', 'm', 'm'], 'band': [1, 1, 2]})
    """
    key = np.zeros(len(frame), dtype=np.int64)
    uniques, radix = [], []
    size = 1
    for name in names:
        column = frame[name]
        if plain(column.dtype, "iu"):  # small integer codes: a presence table, no hashing
            codes, levels = factorize(column.to_numpy())
            levels = pd.Index(levels)
        else:
            codes, levels = column.factorize(sort=True)
        size *= max(len(levels), 1)
        if size > max(4 * len(frame), 1 << 16):
            return None
        key *= len(levels)
        key += codes
        uniques.append(levels)
        radix.append(len(levels))
    present = np.zeros(size, dtype=bool)
    present[key] = True
    observed = np.flatnonzero(present)
    rank = np.cumsum(present, dtype=np.int64) - 1
    labels = {}
    rest = observed
    for name, levels, r in reversed(list(zip(names, uniques, radix, strict=True))):
        labels[name] = levels.take(rest % r)
        rest = rest // r
    frame_labels = pd.DataFrame({name: _label_column(labels[name]) for name in names})
    return rank[key], frame_labels


def _label_column(values: pd.Index) -> pd.Series:
    """Labels as the group keys of a groupby hold them (object columns re-inferred, e.g. as str)."""
    if values.dtype == object:
        return pd.Series(list(values))
    return pd.Series(values).reset_index(drop=True)


def sorted_grid(unit: pd.Series | np.ndarray, time: pd.Series | np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Codes of integer ids whose rows form a sorted unit-by-period grid with the periods, else ``None``.

    The grid: rows sorted by unit, each unit observed once in every period of
    the full integer range ``min(time)..max(time)``, in period order (row
    ``i * T + t`` is unit ``i`` in period ``t``), so there are no duplicates and
    the panel is balanced. Recognised with a few vectorised passes and
    coded without hashing; ids already numbered ``0..n-1`` (int64) are their
    own codes (a read-only view, no copy).

    Returns ``(unit_code, unit_labels, periods)``; the period code of row
    ``i * T + t`` is ``t`` (see :attr:`RowArrays.time_code`).

    Examples
    --------
    >>> uc, labels, periods = sorted_grid(np.array([4, 4, 9, 9]), np.array([1, 2, 1, 2]))
    >>> uc.tolist(), labels.tolist(), periods.tolist()
    ([0, 0, 1, 1], [4, 9], [1, 2])
    >>> sorted_grid(np.array([4, 4, 9, 9]), np.array([1, 2, 2, 1])) is None
    True
    """
    if not (plain(unit.dtype, "iu") and plain(time.dtype, "iu")):
        return None
    unit, time = np.asarray(unit), np.asarray(time)
    n = unit.size
    if n < 2 or unit.ndim != 1 or time.shape != (n,):
        return None
    width = _period_run(time)
    if width is None or n % width or not _one_id_per_run(unit, width):
        return None
    first = unit[::width]
    periods = time[:width].copy()
    n_units = first.size
    low, high = int(unit[0]), int(unit[-1])
    if unit.dtype == np.int64 and high - low == n_units - 1:
        first = pd.RangeIndex(low, high + 1)  # ids low..high: a range, not a copy
    if unit.dtype == np.int64 and low == 0 and high == n_units - 1:
        unit_code = unit.view()  # distinct sorted 0..n-1: the ids are the codes
    elif high - low == n_units - 1:
        unit_code = (unit - unit[0]).astype(np.int64, copy=False)
    else:
        unit_code = np.repeat(np.arange(n_units, dtype=np.int64), width)
    return unit_code, first, periods


_PIECE = 1 << 16  # rows per piece of the chunked row checks (cache-sized boolean temporaries)


def _one_id_per_run(unit: np.ndarray, width: int) -> bool:
    """Whether ``unit`` is sorted, constant over each run of ``width`` rows and distinct between runs.

    Checked in pieces of whole runs, so the boolean temporaries stay
    cache-sized (a full-length one is fresh memory: page faults on first use).
    """
    step = max(width, _PIECE // width * width)
    prev = None
    for lo in range(0, unit.size, step):
        piece = unit[lo:lo + step]
        if not (piece[1:] >= piece[:-1]).all():
            return False
        first, last = piece[::width], piece[width - 1::width]
        if not (np.array_equal(first, last) and (first[1:] > first[:-1]).all()):
            return False
        if prev is not None and not piece[0] > prev:
            return False
        prev = piece[-1]
    return True


def _period_run(time: np.ndarray) -> int | None:
    """``T`` if ``time`` repeats ``low, low + 1, ..., low + T - 1`` over and over, else ``None``.

    The run length comes from a short prefix (where the periods first stop
    increasing); one flat comparison of the column with itself shifted by
    ``T`` rows then checks every run (no min/max or reshaped 2-D pass).
    """
    n = time.size
    for size in (1024, n):  # almost always found in the first 1,024 rows
        head = time[:size]
        brk = np.flatnonzero(head[1:] <= head[:-1])
        if brk.size or size >= n:
            break
    width = int(brk[0]) + 1 if brk.size else n
    low = int(time[0])
    if int(time[width - 1]) - low != width - 1 or not (np.diff(time[:width]) == 1).all():
        return None
    if n % width:
        return None
    step = max(width, _PIECE // width * width)
    for lo in range(0, n - width, step):  # every row equals the row `width` before it, in pieces
        piece = time[lo:min(n, lo + step + width)]
        if not (piece[width:] == piece[:-width]).all():
            return None
    return width


def plain(dtype: Any, kinds: str) -> bool:
    """Whether ``dtype`` is a numpy dtype of one of ``kinds`` (NaN is then its only missing value).

    Examples
    --------
    >>> plain(np.dtype("int64"), "iu"), plain(pd.Int64Dtype(), "iu")
    (True, False)
    """
    return isinstance(dtype, np.dtype) and dtype.kind in kinds


def duplicate_rows(unit_code: np.ndarray, time_code: np.ndarray, n_units: int, n_periods: int
                   ) -> tuple[bool, int, np.ndarray | None]:
    """Duplicate (unit, time) rows: ``(grid, n_pairs, mask)``.

    ``grid`` says the rows are sorted by (unit, time) with every unit in every
    period (row ``i * n_periods + t`` is unit ``i`` in period ``t``);
    ``n_pairs`` counts the unit-period pairs that occur more than once and
    ``mask`` marks their rows (``None`` without duplicates). Sorted keys are
    recognised in one comparison pass, without counting.

    Examples
    --------
    >>> duplicate_rows(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), 2, 2)[:2]
    (True, 0)
    >>> duplicate_rows(np.array([0, 1, 0]), np.array([1, 0, 1]), 2, 2)[1:]
    (1, array([ True, False,  True]))
    """
    key = unit_code * np.int64(n_periods)
    key += time_code
    if (key[1:] > key[:-1]).all():
        return key.size == n_units * n_periods, 0, None
    counts = np.bincount(key)
    dup = counts[key] > 1
    if not dup.any():
        return False, 0, None
    order = np.lexsort((time_code, unit_code))
    mask = np.zeros(len(key), dtype=bool)
    mask[order[dup[order]]] = True
    return False, int((counts > 1).sum()), mask


def unit_values(values: np.ndarray, unit_code: np.ndarray, n_units: int, grid: bool
                ) -> np.ndarray | None:
    """Each unit's value of a row array, or ``None`` if it varies within a unit (or is NaN).

    With ``grid`` rows (see :func:`duplicate_rows`) every period is compared
    with the unit's first row of the reshaped array; otherwise through a
    scatter and a gather of the unit codes.

    Examples
    --------
    >>> unit_values(np.array([5, 5, 6, 6]), np.array([0, 0, 1, 1]), 2, True).tolist()
    [5, 6]
    >>> unit_values(np.array([5, 4, 6]), np.array([0, 0, 1]), 2, False) is None
    True
    """
    if grid:  # flat comparison with the next row; the unit boundaries are masked out
        width = values.size // max(n_units, 1)
        if width > 1:
            step = max(width, _PIECE // width * width)  # whole units per piece (cache-sized)
            ne = np.empty(step, dtype=bool)
            first = np.empty(values.size // width, dtype=values.dtype)
            for lo in range(0, values.size, step):
                piece = values[lo:lo + step]
                out = ne[:piece.size]
                out[-1] = False
                np.not_equal(piece[1:], piece[:-1], out=out[:-1])
                out[width - 1::width] = False  # each unit's last row (the next is another unit)
                if out.any():  # (NaN differs from its neighbours, so it lands here too)
                    return None
                first[lo // width:(lo + piece.size) // width] = piece[::width]
            return first
        if values.dtype.kind == "f" and np.isnan(values).any():
            return None
        return values.copy()
    first = np.empty(n_units, dtype=values.dtype)
    first[unit_code] = values
    return first if np.array_equal(first[unit_code], values) else None


class RowArrays:
    """Row arrays of a :class:`~clusterimpact.Panel` derived on first use.

    The Panel validates and stores integer codes and per-unit cohorts; these
    read-only row arrays follow from them and are only built when an
    estimator asks (a Panel sets them eagerly when they come from the data,
    e.g. float periods or repeated cross-sections).
    """

    @cached_property
    def cluster_code(self) -> np.ndarray:
        """Cluster code of each row (a Panel of sorted grid rows derives it from the units').

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.cluster_code[:6].tolist()
        [0, 0, 0, 0, 0, 1]
        """
        return readonly(self.unit_cluster[self.unit_code])

    @cached_property
    def time_code(self) -> np.ndarray:
        """Period code of each row; derived here (on first use) only for sorted grid rows.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.time_code[:6].tolist()
        [0, 1, 2, 3, 4, 0]
        """
        if not self._grid:  # other Panels set the codes when they are built
            raise AttributeError("time_code")
        return readonly(np.tile(np.arange(self.n_periods, dtype=np.int64), self.n_units))

    @cached_property
    def time_value(self) -> np.ndarray:
        """Numeric time of each row (integer periods as floats, Period ordinals for Periods).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.time_value[:3].tolist()
        [2003.0, 2004.0, 2005.0]
        """
        return readonly(self.period_values[self.time_code])

    @cached_property
    def cohort_value(self) -> np.ndarray:
        """First treated period of each row's unit (``inf`` if never treated).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.cohort_value[:2].tolist()
        [2007.0, 2007.0]
        """
        return readonly(self.unit_cohort[self.unit_code])

    @cached_property
    def event_time(self) -> np.ndarray:
        """Time relative to the first treated period, ``time_value - cohort_value`` (NaN if never).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.event_time[:3].tolist()
        [-4.0, -3.0, -2.0]
        """
        cohort = self.cohort_value
        with np.errstate(invalid="ignore"):
            return readonly(np.where(np.isfinite(cohort), self.time_value - cohort, np.nan))

    @cached_property
    def treated(self) -> np.ndarray:
        """Boolean treatment status of each row, ``time_value >= cohort_value``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> int(p.treated.sum())
        291
        """
        return readonly(self.time_value >= self.cohort_value)

    @cached_property
    def weights(self) -> np.ndarray:
        """Row weights (ones when no weights column was given).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> float(p.weights.sum())
        2500.0
        """
        return readonly(np.ones(self.n_obs))
