"""The :class:`Panel`: who is treated when, in which cluster, with what weight.

One validation pass turns a user's DataFrame into immutable integer codes and
float arrays that every estimator shares. Problems are reported with
:class:`~clusterimpact.errors.PanelError`, naming the column and the rule and
showing up to five offending rows; the input is never modified.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.design import _codes
from clusterimpact.design._frames import read_table, to_pandas
from clusterimpact.errors import PanelError, SpecificationError, TimingWarning, show_rows, suggest
from clusterimpact.inference.survey import LonelyPSU, SurveyDesign, check_lonely_option, design_from_frame

__all__ = ["Panel"]

_NEVER = np.inf


def _fail(rule: str, frame: pd.DataFrame, mask: Any, columns: list[str], hint: str = "") -> None:
    message = rule + (f" {hint}" if hint else "") + "\n" + show_rows(frame, mask, columns)
    raise PanelError(message)


class Panel(_codes.RowArrays):
    """A validated description of who is treated when.

    Parameters
    ----------
    data
        A pandas or polars DataFrame (anything narwhals understands), or a
        path to a CSV, Parquet or Stata file. Never modified.
    unit
        Column identifying the unit observed over time (worker, firm,
        village). ``None`` declares repeated cross-sections: each row is a
        different unit.
    time
        Period column: integers or floats (years, survey rounds), pandas
        Periods, or datetimes with a regular frequency (converted to Periods).
    cohort
        Column holding the first treated period of each unit, on the scale of
        ``time``; ``0``, NaN or ``+inf`` mean never treated.
    treatment
        0/1 column, absorbing (once treated, stays treated); cohorts are
        derived from it. Give exactly one of ``cohort`` and ``treatment``.
        With ``unit=None`` cohorts are derived per ``cluster``.
    cluster
        Sampling or assignment cluster used for standard errors (default:
        the unit). Units must be nested in clusters.
    weights
        Non-negative sampling weights.
    strata
        Sampling strata of a survey design (``svyset ..., strata()``, R
        ``svydesign(strata=)``); ``cluster`` is then the primary sampling unit
        (PSU), which must be nested in the strata. Declaring ``strata`` or
        ``fpc`` makes every estimator that produces influence functions report
        design-based (linearised) variances with t inference on #PSUs - #strata
        degrees of freedom; see :mod:`clusterimpact.inference.survey`.
    fpc
        Finite-population correction, one value per stratum: the population
        number of PSUs of the stratum (values > 1) or the sampling fraction
        (all values <= 1), as R ``survey``'s ``fpc``.
    nest
        PSU ids are only unique within strata (R ``svydesign(nest=TRUE)``):
        clusters become (stratum, cluster) pairs.
    lonely_psu
        Strata with a single PSU: ``"fail"`` (error naming them), ``"adjust"``,
        ``"average"``, ``"certainty"`` or ``"remove"``, as R's
        ``options(survey.lonely.psu=)`` (with a warning).

    Attributes
    ----------
    unit_code, time_code, cluster_code : numpy.ndarray
        Integer codes of each row (0-based), read-only.
    time_value, cohort_value, event_time : numpy.ndarray
        The time of each row, its unit's first treated period (``inf`` if
        never treated) and their difference (NaN if never treated), on the
        numeric time scale (Period ordinals for Periods).
    treated : numpy.ndarray
        Boolean treatment status of each row, ``time_value >= cohort_value``.
    periods : pandas.Index
        The sorted observed periods in their original type.
    weights : numpy.ndarray
        Row weights (ones when none were given).
    survey : SurveyDesign or None
        The survey design (strata and fpc of each PSU) when ``strata`` or
        ``fpc`` was given.

    Raises
    ------
    PanelError
        For every violated rule: missing or misspelt columns, empty data,
        missing ids or times, duplicate (unit, time) rows, cohorts that vary
        within a unit, a treatment that switches off, clusters that vary within
        a unit, non-numeric, infinite or negative weights, no treated units,
        no comparison units; PSUs not nested in strata, strata varying within a
        unit, an fpc that varies within a stratum or is below the sampled PSUs,
        strata with a single PSU (with ``lonely_psu="fail"``).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> df = ci.datasets.load("mpdta")
    >>> panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
    >>> panel.n_units, panel.n_periods, panel.cohorts.tolist()
    (500, 5, [2004.0, 2006.0, 2007.0])
    >>> panel.describe()[["cohort", "units"]].to_dict("list")
    {'cohort': ['2004', '2006', '2007', 'never treated'], 'units': [20, 40, 131, 309]}

    A stratified cluster sample (states as strata, counties as PSUs, 40% of
    each state's counties sampled):

    >>> df = df.assign(state=df["countyreal"] // 1000, f=0.4)
    >>> survey = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat",
    ...                   strata="state", fpc="f", lonely_psu="remove")
    >>> survey.survey.df
    471
    """

    def __init__(
        self,
        data: Any,
        *,
        unit: str | None,
        time: str,
        cohort: str | None = None,
        treatment: str | None = None,
        cluster: str | None = None,
        weights: str | None = None,
        strata: str | None = None,
        fpc: str | None = None,
        nest: bool = False,
        lonely_psu: LonelyPSU = "fail",
    ) -> None:
        frame = read_table(data) if isinstance(data, str | os.PathLike) else to_pandas(data)
        self._set("data", frame)
        self._set("unit", unit)
        self._set("time", time)
        self._set("cohort_column", cohort)
        self._set("treatment_column", treatment)
        self._set("cluster", cluster if cluster is not None else unit)
        self._set("weights_column", weights)
        self._set("strata_column", strata)
        self._set("fpc_column", fpc)
        self._set("nest", bool(nest))
        self._set("lonely_psu", lonely_psu)
        self._set("_cache", {})
        self._validate_roles()
        self._encode()

    # ---------------------------------------------------------------- plumbing
    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Panel is immutable; cannot set {name!r}. Build a new Panel instead.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Panel is immutable; cannot delete {name!r}.")

    # -------------------------------------------------------------- validation
    def _validate_roles(self) -> None:
        frame = self.data
        if (self.cohort_column is None) == (self.treatment_column is None):
            raise PanelError(
                "Give exactly one of cohort= (first treated period) and treatment= (0/1 absorbing "
                "treatment column)."
            )
        roles = {
            "unit": self.unit,
            "time": self.time,
            "cohort": self.cohort_column,
            "treatment": self.treatment_column,
            "cluster": self.cluster,
            "weights": self.weights_column,
            "strata": self.strata_column,
            "fpc": self.fpc_column,
        }
        duplicated = frame.columns[frame.columns.duplicated()].unique()
        if len(duplicated):
            raise PanelError(
                f"Duplicated column name(s) in the data: {', '.join(map(repr, duplicated[:5]))}"
                + (" ..." if len(duplicated) > 5 else "")
                + ". A column name must identify one column; rename or drop the duplicates, e.g. "
                "df.loc[:, ~df.columns.duplicated()]."
            )
        missing = [(role, col) for role, col in roles.items() if col is not None and col not in frame]
        if missing:
            parts = [f"{role}={col!r}{suggest(col, frame.columns)}" for role, col in missing]
            raise PanelError(
                "Column(s) not found in the data: " + "; ".join(parts)
                + f"\nAvailable columns: {', '.join(map(str, frame.columns[:30]))}"
                + (" ..." if frame.shape[1] > 30 else "")
            )
        if len(frame) == 0:
            raise PanelError("The data are empty: a Panel needs at least one row.")
        if self.unit is None and self.treatment_column is not None and self.cluster is None:
            raise PanelError(
                "Repeated cross-sections (unit=None) with treatment= need cluster= to derive "
                "cohorts: the 0/1 treatment is read per cluster and period. Or give cohort=."
            )
        for role in ("unit", "time", "cluster"):
            col = roles[role]
            if col is not None and not _codes.plain(frame[col].dtype, "iub"):
                bad = frame[col].isna().to_numpy()
                if bad.any():
                    _fail(f"Missing values in the {role} column {col!r}: {int(bad.sum())} row(s).",
                          frame, bad, [col], "Drop or fill them before building the Panel.")

    def _encode(self) -> None:
        frame = self.data
        n = len(frame)
        # integer ids and periods in sorted unit-by-period grid order: coded without hashing
        grid = None if self.unit is None else _codes.sorted_grid(frame[self.unit], frame[self.time])
        if grid is None:
            time_value, periods, period_values, time_code = self._encode_time(frame[self.time])
        else:
            unit_code, unit_labels, periods = grid  # time codes derived on first use
            time_value, period_values, periods = None, 1.0 * periods, pd.Index(periods, name=self.time)
        self._set("periods", periods)
        self._set("period_values", _codes.readonly(period_values))
        if grid is None:
            self._set("time_code", _codes.readonly(time_code.astype(np.int64, copy=False)))
        if time_value is not None:  # else derived from the codes on first use
            self._set("time_value", _codes.readonly(time_value))

        if self.unit is None:
            unit_code, unit_labels = np.arange(n, dtype=np.int64), pd.RangeIndex(n)
        elif grid is None:
            unit_code, unit_labels = _codes.factorize(frame[self.unit])
        self._set("unit_code", _codes.readonly(unit_code))
        self._set("unit_labels", unit_labels if self.unit is None else pd.Index(unit_labels, name=self.unit))
        self._set("_grid", grid is not None)  # rows ordered by (unit, time), balanced
        if self.unit is not None and grid is None:
            self._check_duplicates()

        by_unit = None
        if self.cluster is None or self.cluster == self.unit:
            cluster_code, cluster_labels = unit_code, unit_labels
            if self.unit is not None:
                self._set("unit_cluster", _codes.readonly(np.arange(len(unit_labels), dtype=np.int64)))
        elif grid is not None and _codes.plain(frame[self.cluster].dtype, "iu"):
            by_unit = _codes.unit_values(frame[self.cluster].to_numpy(), unit_code, len(unit_labels), True)
        if by_unit is not None:  # integer clusters constant within unit: row codes on first use
            by_unit, cluster_labels = _codes.factorize(by_unit)
            cluster_code = None
            self._set("unit_cluster", _codes.readonly(by_unit))
        elif self.cluster is not None and self.cluster != self.unit:
            cluster_code, cluster_labels = _codes.factorize(frame[self.cluster])
            if self.unit is not None:
                by_unit = _codes.unit_values(cluster_code, unit_code, len(unit_labels), self._grid)
                if by_unit is None:
                    self._check_constant_within_unit(cluster_code.astype(float), self.cluster,
                                                     "cluster", "Units must be nested in clusters.")
                self._set("unit_cluster", _codes.readonly(by_unit))
        if cluster_code is not None:
            self._set("cluster_code", _codes.readonly(cluster_code))
        self._set("cluster_labels", pd.Index(cluster_labels, name=self.cluster)
                  if self.cluster is not None and self.cluster != self.unit else self.unit_labels)

        if self.weights_column is not None:  # else ones on first use
            self._set("weights", _codes.readonly(self._encode_weights()))
        self._set("survey", self._encode_survey())
        # cohorts are validated and stored per unit (per row for repeated cross-sections);
        # the row arrays cohort_value, event_time and treated are derived on first use
        cohort, distinct = (self._cohort_from_column() if self.cohort_column is not None
                            else (self._cohort_from_treatment(), None))
        cohort = self._check_timing(cohort, distinct)
        self._set("unit_cohort", _codes.readonly(cohort))
        if self.unit is None:
            self._set("cohort_value", cohort)
        self._check_comparisons()

    def _encode_time(self, column: pd.Series) -> tuple[np.ndarray | None, pd.Index, np.ndarray, np.ndarray]:
        """Map the time column to a float scale: (row values, periods, period values, codes)."""
        dtype = column.dtype
        if isinstance(dtype, pd.PeriodDtype):
            values = column.array.asi8.astype(float)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            uniq = pd.DatetimeIndex(column.drop_duplicates().sort_values())
            freq = _codes.infer_freq(uniq)
            if freq is None:
                raise PanelError(
                    f"The time column {self.time!r} holds datetimes without a regular frequency, so "
                    "event time is undefined. Convert it to periods first, e.g. "
                    f"df[{self.time!r}].dt.to_period('M') (or 'Q', 'Y')."
                )
            as_period = column.dt.to_period(freq)
            values = as_period.array.asi8.astype(float)
            column = as_period
        elif _codes.plain(dtype, "iu"):
            values = None  # integers are finite; the float scale is derived on first use
        elif pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            bad = ~column.map(lambda v: isinstance(v, int | float | np.number)).to_numpy(dtype=bool)
            _fail(f"The time column {self.time!r} must be numeric (years, rounds), pandas Periods or "
                  f"datetimes; it has dtype {dtype}.", self.data, bad if bad.any() else slice(None),
                  [self.time], "Convert it, e.g. with pd.to_numeric or .dt.to_period.")
        else:
            values = column.to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if bad.any():
                _fail(f"Infinite values in the time column {self.time!r}.", self.data, bad, [self.time])
        raw = column.to_numpy()
        if raw.dtype.kind in "iu":
            codes, period_values = _codes.factorize(raw)
        else:
            codes, period_values = pd.factorize(values, sort=True)
        if values is None:  # the sorted distinct integers are the periods
            periods = pd.Index(np.asarray(period_values), name=self.time)
        else:
            first = np.empty(len(period_values), dtype=np.int64)
            first[codes[::-1]] = np.arange(len(values) - 1, -1, -1)
            periods = pd.Index(column.iloc[first].to_numpy(), name=self.time)
        return values, periods, np.asarray(period_values, dtype=float), codes

    def _check_duplicates(self) -> None:
        grid, n_pairs, mask = _codes.duplicate_rows(self.unit_code, self.time_code, self.n_units,
                                                    len(self.period_values))
        self._set("_grid", grid)
        if n_pairs:
            _fail(
                f"Duplicate (unit, time) rows: {n_pairs} unit-period pair(s) appear more than once "
                f"(columns {self.unit!r}, {self.time!r}).", self.data, mask, [self.unit, self.time],
                "Aggregate them, or declare repeated cross-sections with unit=None.",
            )

    def _check_constant_within_unit(self, values: np.ndarray, column: str, what: str,
                                    hint: str) -> np.ndarray:
        """Raise unless ``values`` is constant within unit (NaN equal to NaN); return it per unit."""
        first = np.empty(self.n_units)
        first[self.unit_code[::-1]] = values[::-1]
        same = (values == first[self.unit_code]) | (np.isnan(values) & np.isnan(first[self.unit_code]))
        if not same.all():
            bad_units = np.unique(self.unit_code[~same])
            mask = np.isin(self.unit_code, bad_units)
            _fail(f"The {what} column {column!r} varies within unit for {bad_units.size} unit(s).",
                  self.data, mask, [self.unit, self.time, column], hint)
        return first

    def _numeric(self, column: str, role: str) -> np.ndarray:
        series = self.data[column]
        if pd.api.types.is_bool_dtype(series.dtype) or _codes.plain(series.dtype, "iuf"):
            return series.to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(series.dtype):
            coerced = pd.to_numeric(series, errors="coerce")
            bad = (coerced.isna() & series.notna()).to_numpy()
            if not bad.any() and series.dtype == object:
                return coerced.to_numpy(dtype=float, na_value=np.nan)
            _fail(f"The {role} column {column!r} must be numeric; it has dtype {series.dtype}.",
                  self.data, bad if bad.any() else slice(None), [column])
        return series.to_numpy(dtype=float, na_value=np.nan)

    def _encode_weights(self) -> np.ndarray:
        if self.weights_column is None:
            return np.ones(len(self.data))
        w = self._numeric(self.weights_column, "weights")
        col = self.weights_column
        for bad, rule in (
            (np.isnan(w), "Missing values in the weights column"),
            (np.isinf(w), "Infinite values in the weights column"),
            (w < 0, "Negative values in the weights column"),
        ):
            if bad.any():
                _fail(f"{rule} {col!r}: {int(bad.sum())} row(s).", self.data, bad, [col])
        if not (w > 0).any():
            raise PanelError(f"Every weight in {col!r} is zero: nothing left to estimate from.")
        return w

    def _encode_survey(self) -> SurveyDesign | None:
        """Validate strata and fpc, relabel nested PSUs (``nest=True``), build the design."""
        check_lonely_option(self.lonely_psu)
        if self.strata_column is None and self.fpc_column is None:
            if self.nest:
                raise SpecificationError("nest=True needs strata=: PSU ids are nested in strata.")
            return None
        strata = None
        if self.strata_column is not None:
            strata = self.data[self.strata_column].to_numpy()
            missing = self.data[self.strata_column].isna().to_numpy()
            if missing.any():
                _fail(f"Missing values in the strata column {self.strata_column!r}: "
                      f"{int(missing.sum())} row(s).", self.data, missing, [self.strata_column],
                      "Every sampled unit belongs to a stratum.")
            if self.unit is not None and (self.nest or self.cluster == self.unit):
                codes, _ = pd.factorize(self.data[self.strata_column], sort=True)
                self._check_constant_within_unit(codes.astype(float), self.strata_column, "strata",
                                                 "A unit belongs to one stratum (its baseline one).")
            if self.nest:
                self._nest_clusters(strata)
        fpc = None if self.fpc_column is None else self._numeric(self.fpc_column, "fpc")
        return design_from_frame(self.data, self.cluster_code, self.n_clusters, self.cluster,
                                 strata, self.strata_column, fpc, self.fpc_column, self.lonely_psu)

    def _nest_clusters(self, strata: np.ndarray) -> None:
        """Clusters become (stratum, cluster) pairs (R ``svydesign(nest=TRUE)``)."""
        s_code, s_labels = pd.factorize(pd.Series(strata), sort=True)
        if (s_code < 0).any():
            return  # missing strata are reported by design_from_frame
        key = s_code.astype(np.int64) * np.int64(self.n_clusters) + self.cluster_code
        codes, uniq = _codes.factorize(key)
        labels = pd.MultiIndex.from_arrays(
            [np.asarray(s_labels)[uniq // self.n_clusters],
             np.asarray(self.cluster_labels)[uniq % self.n_clusters]],
            names=[self.strata_column, self.cluster or self.unit])
        self._set("cluster_code", _codes.readonly(codes))
        self._set("cluster_labels", labels)
        if self.unit is not None:
            by_unit = np.empty(self.n_units, dtype=np.int64)
            by_unit[self.unit_code] = codes
            self._set("unit_cluster", _codes.readonly(by_unit))

    def _cohort_from_column(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Cohorts (per unit, per row for cross-sections) and, when cheap, their sorted distinct values."""
        col = self.cohort_column
        series = self.data[col]
        if isinstance(series.dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(
            series.dtype
        ):
            if pd.api.types.is_datetime64_any_dtype(series.dtype):
                freq = self.periods.freq if isinstance(self.periods, pd.PeriodIndex) else None
                if freq is None:
                    raise PanelError(f"The cohort column {col!r} holds datetimes but time is not "
                                     "periodic; give both as Periods or both as numbers.")
                series = series.dt.to_period(freq)
            ordinals = series.array.asi8.astype(float)
            cohort = np.where(series.isna().to_numpy(), _NEVER, ordinals)
        else:
            if _codes.plain(series.dtype, "iu") and self.unit is not None:  # no NaN: check the integers
                by_unit = _codes.unit_values(series.to_numpy(), self.unit_code, self.n_units, self._grid)
                if by_unit is not None:  # distinct values from the integers (no hashing)
                    distinct = _codes.sorted_unique(by_unit).astype(float)
                    distinct = np.sort(np.where(distinct == 0, _NEVER, distinct))
                    cohort = by_unit.astype(float)
                    np.copyto(cohort, _NEVER, where=by_unit == 0)  # in place: one array less
                    return cohort, distinct
            cohort = self._numeric(col, "cohort")
            cohort = np.where(np.isnan(cohort) | (cohort == 0), _NEVER, cohort)
            if (cohort == -np.inf).any():
                bad = cohort == -np.inf
                _fail(f"The cohort column {col!r} holds -inf.", self.data, bad, [col],
                      "Use 0, NaN or +inf for never treated.")
        if self.unit is not None:
            by_unit = _codes.unit_values(cohort, self.unit_code, self.n_units, self._grid)
            return (by_unit if by_unit is not None else self._check_constant_within_unit(
                cohort, col, "cohort",
                "A unit has one first-treated period; for a treatment that varies by period "
                "pass treatment= instead.")), None
        return cohort, None

    def _cohort_from_treatment(self) -> np.ndarray:
        col = self.treatment_column
        d = self._numeric(col, "treatment")
        bad = np.isnan(d)
        if bad.any():
            _fail(f"Missing values in the treatment column {col!r}: {int(bad.sum())} row(s).",
                  self.data, bad, [col])
        bad = (d != 0) & (d != 1)
        if bad.any():
            _fail(f"The treatment column {col!r} must be 0/1.", self.data, bad, [col])
        holder = self.unit_code if self.unit is not None else self.cluster_code
        holder_name = self.unit if self.unit is not None else self.cluster
        n_holders = int(holder.max()) + 1
        t = self.time_value
        if self.unit is None:
            # every row of a (cluster, period) must share the treatment
            key = holder * np.int64(len(self.period_values)) + self.time_code
            lo = np.full(key.max() + 1, np.inf)
            hi = np.full(key.max() + 1, -np.inf)
            np.minimum.at(lo, key, d)
            np.maximum.at(hi, key, d)
            bad = lo[key] != hi[key]
            if bad.any():
                _fail(f"The treatment column {col!r} varies within (cluster, period).", self.data,
                      bad, [holder_name, self.time, col],
                      "With unit=None the programme is assigned to whole clusters.")
        first_treated = np.full(n_holders, np.inf)
        np.minimum.at(first_treated, holder[d == 1], t[d == 1])
        cohort = first_treated[holder]
        switched_off = (d == 0) & (t > cohort)
        if switched_off.any():
            bad_holders = np.unique(holder[switched_off])
            mask = np.isin(holder, bad_holders)
            _fail(
                f"The treatment column {col!r} switches off: {bad_holders.size} "
                f"{'unit' if self.unit is not None else 'cluster'}(s) go from 1 back to 0.",
                self.data, mask, [holder_name, self.time, col],
                "Treatment must be absorbing (once treated, stays treated).",
            )
        return first_treated if self.unit is not None else cohort

    def _check_timing(self, cohort: np.ndarray, distinct: np.ndarray | None = None) -> np.ndarray:
        """Warn about cohorts outside or between the observed periods; checked on distinct values.

        ``distinct`` are the sorted distinct values of ``cohort`` when the caller has them.
        """
        first, last, values = self.period_values[0], self.period_values[-1], self.period_values
        distinct = _codes.sorted_unique(cohort) if distinct is None else distinct
        if np.isfinite(distinct[distinct > last]).any():
            after = np.isfinite(cohort) & (cohort > last)
            warnings.warn(
                f"{int(np.count_nonzero(after))} unit(s) are first treated after the last "
                f"observed period ({self.periods[-1]}); they are never treated within the data and "
                "are used as never-treated comparisons.",
                TimingWarning, stacklevel=4,
            )
            cohort = np.where(after, _NEVER, cohort)
            distinct = _codes.sorted_unique(np.where(distinct > last, _NEVER, distinct))
        if distinct[0] <= first:
            warnings.warn(
                f"{int(np.count_nonzero(cohort <= first))} unit(s) are treated in or before the "
                f"first observed period ({self.periods[0]}): with no untreated period they "
                "identify no effect and estimators drop them.",
                TimingWarning, stacklevel=4,
            )
        finite = distinct[np.isfinite(distinct)]
        between = finite[values[np.clip(np.searchsorted(values, finite), 0, len(values) - 1)] != finite]
        if between.size:
            warnings.warn(
                f"{int(np.count_nonzero(np.isin(cohort, between)))} unit(s) have a cohort that is not "
                "an observed period (treated between survey rounds); their first treated observation "
                "is the next observed period.",
                TimingWarning, stacklevel=4,
            )
        self._set("_distinct_cohorts", distinct)  # sorted, inf last
        return cohort

    def _check_comparisons(self) -> None:
        cohorts = self._distinct_cohorts[self._distinct_cohorts > self.period_values[0]]
        treated = cohorts[np.isfinite(cohorts)]
        if treated.size == 0:
            raise PanelError(
                "No treated units: every unit is never treated (or treated before the data start). "
                f"Check the {'cohort' if self.cohort_column else 'treatment'} column "
                f"{self.cohort_column or self.treatment_column!r}."
            )
        if not np.isinf(cohorts).any() and treated.size < 2:
            raise PanelError(
                "No comparison units: every unit is treated at the same period and none is never "
                "treated, so no untreated or not-yet-treated unit can serve as a comparison."
            )

    # ------------------------------------------------------------- properties
    @property
    def n_obs(self) -> int:
        """Number of rows.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.n_obs
        2500
        """
        return len(self.data)

    @property
    def n_units(self) -> int:
        """Number of distinct units (rows, for repeated cross-sections).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.n_units
        500
        """
        return len(self.unit_labels)

    @property
    def n_periods(self) -> int:
        """Number of distinct observed periods.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.n_periods
        5
        """
        return len(self.periods)

    @property
    def n_clusters(self) -> int:
        """Number of distinct clusters.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.n_clusters
        500
        """
        return len(self.cluster_labels)

    @property
    def is_panel(self) -> bool:
        """``True`` for a panel of units, ``False`` for repeated cross-sections.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.is_panel
        True
        """
        return self.unit is not None

    @cached_property
    def is_balanced(self) -> bool:
        """Whether every unit is observed in every period.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.is_balanced
        True
        """
        return self.is_panel and self.n_obs == self.n_units * self.n_periods

    @cached_property
    def cohorts(self) -> np.ndarray:
        """Sorted first-treated periods present in the data (never treated excluded).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.cohorts.tolist()
        [2004.0, 2006.0, 2007.0]
        """
        c = _codes.sorted_unique(self.unit_cohort)
        return _codes.readonly(c[np.isfinite(c)])

    @cached_property
    def has_never_treated(self) -> bool:
        """Whether some unit is never treated within the data.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.has_never_treated
        True
        """
        return bool(np.isinf(self.unit_cohort).any())

    @cached_property
    def unit_cohort(self) -> np.ndarray:
        """First treated period of each unit (``inf`` for never treated), by unit code.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.unit_cohort[:3].tolist()
        [2007.0, 2007.0, 2007.0]
        """
        out = np.empty(self.n_units)
        out[self.unit_code] = self.cohort_value
        return _codes.readonly(out)

    @cached_property
    def unit_cluster(self) -> np.ndarray:
        """Cluster code of each unit, by unit code.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.unit_cluster[:3].tolist()
        [0, 1, 2]
        """
        out = np.empty(self.n_units, dtype=np.int64)
        out[self.unit_code] = self.cluster_code
        return _codes.readonly(out)

    @property
    def has_weights(self) -> bool:
        """Whether sampling weights were given.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.has_weights
        False
        """
        return self.weights_column is not None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "_cache", {})

    # -------------------------------------------------------------- columns
    def column(self, name: str, *, role: str = "outcome") -> np.ndarray:
        """A validated numeric column as a read-only float array (NaN where missing).

        A float64 column is returned as a read-only view of the frame's data,
        not a copy (the Panel assumes, as for ``data``, that the frame is not
        modified after it is built).

        Parameters
        ----------
        name
            Column name.
        role
            What the column is used as, for error messages.

        Raises
        ------
        SpecificationError
            If the column does not exist (with the closest names).
        PanelError
            If it is not numeric or holds infinite values.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.column("lemp")[:2].round(3)
        array([8.461, 8.337])
        """
        key = (name, "column")
        if key in self._cache:
            return self._cache[key]
        if name not in self.data:
            raise SpecificationError(
                f"The {role} column {name!r} is not in the data.{suggest(name, self.data.columns)}"
            )
        values = self._numeric(name, role)
        # a finite total rules out inf (and NaN) in one read-only pass; estimators reuse it
        total = float(np.add.reduce(values, axis=None))
        self._cache[(name, "total")] = total
        bad = None if np.isfinite(total) else np.isinf(values)
        if bad is not None and bad.any():
            _fail(f"Infinite values in the {role} column {name!r}: {int(bad.sum())} row(s).",
                  self.data, bad, [c for c in (self.unit, self.time) if c] + [name],
                  "Replace them (e.g. log of zero) before estimating.")
        # a read-only view where the frame holds contiguous floats (never writable through it)
        out = _codes.readonly(np.ascontiguousarray(values).view())
        self._cache[key] = out
        return out

    def _column_total(self, name: str) -> float:
        """The sum of :meth:`column` ``name`` (finite exactly when no value is NaN or inf)."""
        key = (name, "total")
        if key not in self._cache:
            self.column(name)
        return self._cache[key]

    def groups(self, by: str | Sequence[str] | None) -> tuple[np.ndarray, pd.DataFrame]:
        """Integer codes of the subgroups defined by ``by`` and a frame of their labels.

        Examples
        --------
        >>> import pandas as pd, clusterimpact as ci
        >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "t": [1, 2, 1, 2], "g": [2, 2, 0, 0],
        ...                    "sex": ["f", "f", "m", "m"]})
        >>> codes, labels = ci.Panel(df, unit="id", time="t", cohort="g").groups("sex")
        >>> codes.tolist(), labels["sex"].tolist()
        ([0, 0, 1, 1], ['f', 'm'])
        """
        names = [by] if isinstance(by, str) else list(by or [])
        if not names:
            return np.zeros(self.n_obs, dtype=np.int64), pd.DataFrame(index=[0])
        for name in names:
            if name not in self.data:
                raise SpecificationError(
                    f"The by= column {name!r} is not in the data.{suggest(name, self.data.columns)}"
                )
        sub = self.data[names]
        bad = sub.isna().any(axis=1).to_numpy()
        if bad.any():
            _fail(f"Missing values in the by= column(s) {names}: {int(bad.sum())} row(s).",
                  self.data, bad, names, "Give them a category (e.g. 'unknown') or drop them.")
        fast = self._unit_level_groups(sub, names)
        if fast is not None:
            return fast
        try:
            fast = _codes.group_codes(sub, names)
        except TypeError:  # unorderable mixed values: pandas names the problem
            fast = None
        if fast is not None:
            return fast
        grouped = sub.groupby(names, sort=True, observed=True)
        codes = grouped.ngroup().to_numpy(dtype=np.int64)
        labels = grouped.size().index.to_frame(index=False)[names]
        return codes, labels

    def _unit_level_groups(self, sub: pd.DataFrame, names: list[str]
                           ) -> tuple[np.ndarray, pd.DataFrame] | None:
        """:meth:`groups` coded on one row per unit when the columns are constant within unit.

        Only on sorted balanced grids (each unit's periods in consecutive rows), where
        constancy is one reshaped comparison per column; ``None`` otherwise.
        """
        n_per = len(self.periods)
        if self.unit is None or not self._grid or len(sub) != self.n_units * n_per or n_per < 2:
            return None
        for name in names:
            values = sub[name].to_numpy()
            if not (values.reshape(-1, n_per) == values[::n_per, None]).all():
                return None
        try:
            coded = _codes.group_codes(sub.iloc[::n_per].reset_index(drop=True), names)
        except TypeError:
            return None
        if coded is None:
            return None
        return np.repeat(coded[0], n_per), coded[1]

    # ------------------------------------------------------------- summaries
    def describe(self) -> pd.DataFrame:
        """Treatment-timing table: one row per cohort and one for the never treated.

        Columns: ``cohort``, ``units``, ``clusters``, ``observations``,
        ``first_period``, ``last_period`` (observed), ``share_units``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.describe()["units"].sum()
        np.int64(500)
        """
        cohort = self.unit_cohort
        frame = pd.DataFrame({
            "cohort_value": self.cohort_value,
            "unit": self.unit_code,
            "cluster": self.cluster_code,
            "time": self.time_value,
        })
        out = frame.groupby("cohort_value", sort=True).agg(
            units=("unit", "nunique"), clusters=("cluster", "nunique"),
            observations=("unit", "size"), first_period=("time", "min"),
            last_period=("time", "max"),
        ).reset_index()
        out["share_units"] = out["units"] / len(cohort)
        out["first_period"] = self._label_times(out["first_period"].to_numpy())
        out["last_period"] = self._label_times(out["last_period"].to_numpy())
        out.insert(0, "cohort", [
            "never treated" if np.isinf(c) else str(self._label_times(np.array([c]))[0])
            for c in out.pop("cohort_value")
        ])
        return out

    def _label_times(self, values: np.ndarray) -> list[Any]:
        """Translate numeric time values back to labels of the original type."""
        pos = np.searchsorted(self.period_values, values)
        pos = np.clip(pos, 0, self.n_periods - 1)
        exact = self.period_values[pos] == values
        labels = self.periods[pos]
        return [lab if ok else v for lab, ok, v in zip(labels, exact, values, strict=True)]

    def treatment_matrix(self) -> pd.DataFrame:
        """Unit-by-period treatment status (1, 0, NaN if unobserved), units sorted by cohort.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> p.treatment_matrix().shape
        (500, 5)
        """
        status = np.full((self.n_units, self.n_periods), np.nan)
        status[self.unit_code, self.time_code] = self.treated
        order = np.argsort(self.unit_cohort, kind="stable")
        return pd.DataFrame(status[order], index=self.unit_labels[order], columns=self.periods)

    def plot_timing(self, ax=None, max_units: int = 300):
        """Draw the roll-out as a unit-by-period heatmap (cohort-by-period for many units).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> p = ci.Panel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat")
        >>> ax = p.plot_timing()
        """
        from clusterimpact.plots import timing_plot

        if self.n_units <= max_units:
            return timing_plot(self.treatment_matrix(), ax=ax, title="Treatment roll-out")
        rows = np.r_[self.cohorts, np.inf]
        counts = np.bincount(np.searchsorted(rows, self.unit_cohort), minlength=rows.size)
        names = [f"cohort {lab}" for lab in self._label_times(self.cohorts)] + ["never treated"]
        index = [f"{name} ({n} units)" for name, n in zip(names, counts, strict=True)]
        status = (self.period_values[None, :] >= rows[:, None]).astype(float)
        frame = pd.DataFrame(status, index=index, columns=self.periods)
        return timing_plot(frame, ax=ax, title=f"Treatment roll-out ({self.n_units} units)")

    def __repr__(self) -> str:
        if "unit_labels" not in self.__dict__ or "unit_cohort" not in self.__dict__:
            return "<Panel (not validated)>"
        kind = "panel" if self.is_panel else "repeated cross-sections"
        return (
            f"<Panel ({kind}): {self.n_obs} rows, {self.n_units} units, {self.n_periods} periods, "
            f"{self.cohorts.size} cohort(s), {self.n_clusters} clusters"
            f"{', weighted' if self.has_weights else ''}>"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<p>{html.escape(repr(self))}</p>" + self.describe().to_html(index=False, border=0)
