"""``ci.LazyPanel``: a panel that stays where it is (files, DuckDB, Spark, polars).

It checks the :class:`~clusterimpact.Panel` rules with aggregate queries run
by the engine (no row is brought into Python unless a rule fails, and then only
five), and feeds the compressed estimators of
:mod:`clusterimpact.engines.compress`. Every query is built once from
:mod:`clusterimpact.engines._spec` and rendered for the engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusterimpact.engines._spec import Expr, Query, col, lit, missing, when
from clusterimpact.engines.compress import CellStats, att_gt_from_stats
from clusterimpact.engines.covariates import cross_stats, event_study_from_cross, twfe_from_cross
from clusterimpact.engines.moments import MomentStats, att_gt_from_moments
from clusterimpact.engines.regression import event_study_from_stats, twfe_from_stats
from clusterimpact.engines.sources import Source, open_source
from clusterimpact.engines.unbalanced import (
    event_study_from_patterns,
    pattern_stats,
    twfe_from_patterns,
)
from clusterimpact.errors import PanelError, SpecificationError, TimingWarning, suggest
from clusterimpact.estimators.att_gt import check_choice
from clusterimpact.results.event_study import EventStudyResult
from clusterimpact.results.group_time import GroupTimeResult
from clusterimpact.results.regression import RegressionResult

Route = Literal["auto", "moments", "blocks"]

__all__ = ["LazyPanel"]

_INF = float("inf")
_WEIGHT_ATOL = float(np.sqrt(np.finfo(float).eps))  # as att_gt's weight check


def _flag(condition: Expr) -> Expr:
    return when(condition, 1, 0)


def _any(conds: Sequence[Expr]) -> Expr:
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


def _fmt(value: float, integer: bool) -> str:
    return str(int(value)) if integer and np.isfinite(value) else f"{value:g}"


class LazyPanel:
    """A :class:`~clusterimpact.Panel` over data too large for memory, validated by queries.

    Parameters
    ----------
    source
        A path or glob of Parquet or CSV files, or a directory of Parquet
        files (read by DuckDB, out of core); a DuckDB relation; a PySpark
        DataFrame; or a pandas/polars DataFrame or polars LazyFrame (narwhals).
    unit, time, cohort, treatment, cluster, weights
        As in :class:`~clusterimpact.Panel`. ``unit`` is required (repeated
        cross-sections are not supported lazily) and ``time`` must be numeric
        (code months as e.g. ``12 * year + month``).
    engine
        For an in-memory pandas/polars frame: ``"auto"`` (DuckDB scans a
        pandas frame in place when duckdb is installed, else pandas/polars
        through narwhals), ``"narwhals"`` or ``"duckdb"``.
    duckdb_config
        DuckDB settings for file sources, e.g. ``{"memory_limit": "4GB",
        "threads": 8, "temp_directory": "/scratch"}``.

    Raises
    ------
    PanelError
        For the rules and with the messages of :class:`~clusterimpact.Panel`:
        missing columns, empty data, missing ids or times, duplicate (unit,
        time) rows, clusters or cohorts that vary within a unit, a treatment
        that is not 0/1 or switches off, bad weights, no treated or no
        comparison units.

    See Also
    --------
    clusterimpact.Panel : the in-memory panel with every estimator.
    clusterimpact.att_gt_from_stats : ``att_gt`` from compressed statistics.

    Notes
    -----
    Construction runs two aggregate queries: one ``GROUP BY time`` with the
    row-level counts (missing, infinite, negative, not 0/1) and one per-unit
    ``GROUP BY unit`` folded into a per-cohort table (duplicates, within-unit
    variation, switching off, units per cohort). :meth:`cell_stats` runs one
    more ``GROUP BY time`` for the outcome and one aggregation to blocks
    (see :mod:`clusterimpact.engines.compress`).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
    ...                   cohort="first.treat")
    >>> lp.n_units, lp.n_periods, lp.cohorts.tolist()
    (500, 5, [2004.0, 2006.0, 2007.0])
    >>> res = lp.att_gt("lemp")
    >>> round(float(res.aggregate("dynamic").overall.estimate[0]), 4)
    -0.0772
    """

    def __init__(self, source: Any, *, unit: str, time: str, cohort: str | None = None,
                 treatment: str | None = None, cluster: str | None = None,
                 weights: str | None = None, engine: str = "auto",
                 duckdb_config: dict[str, Any] | None = None) -> None:
        self.source: Source = open_source(source, engine=engine, duckdb_config=duckdb_config)
        self.unit, self.time = unit, time
        self.cohort_column, self.treatment_column = cohort, treatment
        self.cluster = cluster if cluster is not None else unit
        self.weights_column = weights
        self._validate_roles()
        self._validate_rows()
        self._validate_units()

    # -------------------------------------------------------------- helpers
    @property
    def engine(self) -> str:
        """The engine that runs the queries: ``"narwhals"``, ``"duckdb"`` or ``"spark"``.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat", engine="narwhals").engine
        'narwhals'
        """
        return self.source.engine

    def _num(self, name: str) -> Expr:
        return col(name).to_float()

    def _missing(self, name: str) -> Expr:
        return missing(name, self.source.is_numeric(name))

    def _fail(self, rule: str, where: Expr | None, columns: list[str], hint: str = "",
              total: int | None = None, units: list[Any] | None = None,
              duplicated: bool = False) -> None:
        """Raise a :class:`PanelError` with up to five offending rows fetched from the source."""
        cols = list(dict.fromkeys(c for c in columns if c is not None))
        derive = {c: col(c) for c in dict.fromkeys([*cols, self.unit, self.time])}
        cond = where
        if units is not None:
            cond = col(self.unit).isin(units)
        rows = self.source.run(Query(derive=derive, where=cond, limit=200 if units else 5))
        if units is not None:
            rows = rows.sort_values([self.unit, self.time], kind="stable")
            if duplicated:
                rows = rows[rows.duplicated([self.unit, self.time], keep=False)]
        rows = rows[cols].reset_index(drop=True)
        head = (f"Offending rows ({total} in total, up to 5 shown):" if total is not None
                else "Offending rows (up to 5 shown):")
        raise PanelError(rule + (f" {hint}" if hint else "") + "\n" + head + "\n"
                         + rows.head(5).to_string())

    def _bad_units(self, flag: Expr, inner: Query) -> list[Any]:
        """Up to five unit ids whose per-unit statistics raise ``flag``."""
        outer = Query(derive={"u": col("u"), "bad": flag}, where=col("bad") == 1, source=inner,
                      limit=5)
        return self.source.run(outer)["u"].tolist()

    # ----------------------------------------------------------- validation
    def _validate_roles(self) -> None:
        if (self.cohort_column is None) == (self.treatment_column is None):
            raise PanelError("Give exactly one of cohort= (first treated period) and treatment= "
                             "(0/1 absorbing treatment column).")
        if self.unit is None:
            raise PanelError("LazyPanel needs unit=: repeated cross-sections (unit=None) are only "
                             "supported by the in-memory ci.Panel.")
        roles = {"unit": self.unit, "time": self.time, "cohort": self.cohort_column,
                 "treatment": self.treatment_column, "cluster": self.cluster,
                 "weights": self.weights_column}
        columns = self.source.columns
        missing_ = [(r, c) for r, c in roles.items() if c is not None and c not in columns]
        if missing_:
            parts = [f"{role}={c!r}{suggest(c, columns)}" for role, c in missing_]
            raise PanelError("Column(s) not found in the data: " + "; ".join(parts)
                             + f"\nAvailable columns: {', '.join(map(str, columns[:30]))}"
                             + (" ..." if len(columns) > 30 else ""))
        for role in ("time", "cohort", "treatment", "weights"):
            name = roles[role]
            if name is not None and not self.source.is_numeric(name):
                raise PanelError(f"The {role} column {name!r} must be numeric; it has type "
                                 f"{self.source.dtype(name)} (LazyPanel needs numeric periods, "
                                 "e.g. 12 * year + month).")

    def _validate_rows(self) -> None:
        t = self._num(self.time)
        derive: dict[str, Expr] = {"t": when(self._missing(self.time), lit(None), t),
                                   "one": lit(1)}
        checks: dict[str, Expr] = {
            "unit_na": self._missing(self.unit), "time_na": self._missing(self.time),
            "time_inf": t.is_inf(), "cluster_na": self._missing(self.cluster)}
        if self.weights_column is not None:
            w, wna = self._num(self.weights_column), self._missing(self.weights_column)
            checks |= {"w_na": wna, "w_inf": w.is_inf(), "w_neg": ~wna & (w < 0), "w_pos": ~wna & (w > 0)}
        if self.cohort_column is not None:
            checks["g_neginf"] = self._num(self.cohort_column) == -_INF
        else:
            d, dna = self._num(self.treatment_column), self._missing(self.treatment_column)
            checks |= {"d_na": dna, "d_bad": ~dna & (d != 0) & (d != 1)}
        derive |= {k: _flag(v) for k, v in checks.items()}
        table = self.source.run(Query(derive=derive, keys=("t",),
                                      aggs={k: ("sum", k) for k in ["one", *checks]}))
        tot = table.drop(columns="t").sum()
        self.n_obs = int(tot["one"])
        if self.n_obs == 0:
            raise PanelError("The data are empty: a Panel needs at least one row.")
        for role, name in (("unit", self.unit), ("time", self.time), ("cluster", self.cluster)):
            n = int(tot[f"{role}_na"])
            if n:
                self._fail(f"Missing values in the {role} column {name!r}: {n} row(s).",
                           self._missing(name), [name], "Drop or fill them before building the Panel.", n)
        if tot["time_inf"]:
            self._fail(f"Infinite values in the time column {self.time!r}.",
                       self._num(self.time).is_inf(), [self.time], total=int(tot["time_inf"]))
        periods = pd.to_numeric(table["t"], errors="coerce").dropna().to_numpy(dtype=float)
        self.period_values = np.sort(periods)
        self.time_integer = self.source.is_integer(self.time)
        if self.weights_column is not None:
            name = self.weights_column
            w = self._num(name)
            for key, rule, cond in (("w_na", "Missing values in the weights column", self._missing(name)),
                                    ("w_inf", "Infinite values in the weights column", w.is_inf()),
                                    ("w_neg", "Negative values in the weights column", w < 0)):
                if tot[key]:
                    self._fail(f"{rule} {name!r}: {int(tot[key])} row(s).", cond, [name],
                               total=int(tot[key]))
            if not tot["w_pos"]:
                raise PanelError(f"Every weight in {name!r} is zero: nothing left to estimate from.")
        if self.cohort_column is not None and tot["g_neginf"]:
            self._fail(f"The cohort column {self.cohort_column!r} holds -inf.",
                       self._num(self.cohort_column) == -_INF, [self.cohort_column],
                       "Use 0, NaN or +inf for never treated.", int(tot["g_neginf"]))
        if self.treatment_column is not None:
            name = self.treatment_column
            d = self._num(name)
            if tot["d_na"]:
                self._fail(f"Missing values in the treatment column {name!r}: {int(tot['d_na'])} "
                           "row(s).", self._missing(name), [name], total=int(tot["d_na"]))
            if tot["d_bad"]:
                self._fail(f"The treatment column {name!r} must be 0/1.",
                           ~self._missing(name) & (d != 0) & (d != 1), [name], total=int(tot["d_bad"]))

    def _cohort_expr(self) -> Expr:
        """A unit's cohort from the cohort column: 0, NaN and NULL mean never (``inf``)."""
        name = self.cohort_column
        return when(self._missing(name) | (self._num(name) == 0), _INF, self._num(name))

    def _unit_query(self) -> tuple[Query, dict[str, Expr], Expr]:
        derive: dict[str, Expr] = {"u": col(self.unit), "t": self._num(self.time), "one": lit(1)}
        aggs: dict[str, tuple[str, str]] = {"n": ("sum", "one"), "nt": ("n_unique", "t")}
        post: dict[str, Expr] = {"dup": _flag(col("n") > col("nt"))}
        if self.cluster != self.unit:
            derive["c"] = col(self.cluster)
            aggs |= {"cmin": ("min", "c"), "cmax": ("max", "c")}
            post["cvar"] = _flag(col("cmin") != col("cmax"))
        if self.cohort_column is not None:
            derive["g"] = self._cohort_expr()
            aggs |= {"gmin": ("min", "g"), "gmax": ("max", "g")}
            post["gvar"] = _flag(col("gmin") != col("gmax"))
            cohort = col("gmin")
        else:
            d = self._num(self.treatment_column)
            t = self._num(self.time)
            derive["f1"] = when(d == 1, t, _INF)
            derive["l0"] = when(d == 0, t, -_INF)
            aggs |= {"f1": ("min", "f1"), "l0": ("max", "l0")}
            post["switch"] = _flag(col("l0") > col("f1"))
            cohort = col("f1")
        return Query(derive=derive, keys=("u",), aggs=aggs), post, cohort

    def _validate_units(self) -> None:
        inner, post, cohort = self._unit_query()
        derive = {"g": cohort, "one": lit(1), **post}
        table = self.source.run(Query(derive=derive, keys=("g",), source=inner,
                                      aggs={k: ("sum", k) for k in ["one", *post]}))
        tot = table.drop(columns="g").sum()
        unit, time = self.unit, self.time
        if tot["dup"]:
            pairs = Query(derive={"u": col(unit), "t": self._num(time), "one": lit(1)},
                          keys=("u", "t"), aggs={"n": ("sum", "one")})
            n_pairs = int(self.source.run(Query(derive={"d": _flag(col("n") > 1)}, source=pairs,
                                                aggs={"d": ("sum", "d")}))["d"].iloc[0])
            self._fail(f"Duplicate (unit, time) rows: {n_pairs} unit-period pair(s) appear more "
                       f"than once (columns {unit!r}, {time!r}).", None, [unit, time],
                       "Aggregate them, or declare repeated cross-sections with unit=None.",
                       units=self._bad_units(post["dup"], inner), duplicated=True)
        checks = [("cvar", self.cluster, "cluster", "Units must be nested in clusters.")]
        if self.cohort_column is not None:
            checks.append(("gvar", self.cohort_column, "cohort",
                           "A unit has one first-treated period; for a treatment that varies by "
                           "period pass treatment= instead."))
        for key, name, what, hint in checks:
            if tot.get(key):
                self._fail(f"The {what} column {name!r} varies within unit for {int(tot[key])} "
                           "unit(s).", None, [unit, time, name], hint,
                           units=self._bad_units(post[key], inner))
        if tot.get("switch"):
            self._fail(f"The treatment column {self.treatment_column!r} switches off: "
                       f"{int(tot['switch'])} unit(s) go from 1 back to 0.", None,
                       [unit, time, self.treatment_column],
                       "Treatment must be absorbing (once treated, stays treated).",
                       units=self._bad_units(post["switch"], inner))
        cohorts = pd.to_numeric(table["g"]).to_numpy(dtype=float)
        counts = table["one"].to_numpy(dtype=np.int64)
        self._cohort_table = self._check_timing(cohorts, counts)
        self._check_comparisons()

    def _check_timing(self, cohort: np.ndarray, units: np.ndarray) -> pd.DataFrame:
        per = self.period_values
        first, last = per[0], per[-1]
        integer = self.time_integer
        after = np.isfinite(cohort) & (cohort > last)
        if after.any():
            warnings.warn(f"{int(units[after].sum())} unit(s) are first treated after the last "
                          f"observed period ({_fmt(last, integer)}); they are never treated within the "
                          "data and are used as never-treated comparisons.", TimingWarning, stacklevel=3)
            cohort = np.where(after, _INF, cohort)
        before = cohort <= first
        if before.any():
            warnings.warn(f"{int(units[before].sum())} unit(s) are treated in or before the first "
                          f"observed period ({_fmt(first, integer)}): with no untreated period they "
                          "identify no effect and estimators drop them.", TimingWarning, stacklevel=3)
        finite = np.isfinite(cohort)
        pos = np.clip(np.searchsorted(per, cohort), 0, per.size - 1)
        between = finite & (per[pos] != cohort)
        if between.any():
            warnings.warn(f"{int(units[between].sum())} unit(s) have a cohort that is not an "
                          "observed period (treated between survey rounds); their first treated "
                          "observation is the next observed period.", TimingWarning, stacklevel=3)
        table = pd.DataFrame({"cohort": cohort, "units": units})
        return table.groupby("cohort", as_index=False)["units"].sum()

    def _check_comparisons(self) -> None:
        tab = self._cohort_table
        usable = tab["cohort"].to_numpy() > self.period_values[0]
        cohorts = tab["cohort"].to_numpy()[usable]
        treated = cohorts[np.isfinite(cohorts)]
        if treated.size == 0:
            raise PanelError(
                "No treated units: every unit is never treated (or treated before the data start). "
                f"Check the {'cohort' if self.cohort_column else 'treatment'} column "
                f"{self.cohort_column or self.treatment_column!r}.")
        if not np.isinf(cohorts).any() and treated.size < 2:
            raise PanelError(
                "No comparison units: every unit is treated at the same period and none is never "
                "treated, so no untreated or not-yet-treated unit can serve as a comparison.")

    # ----------------------------------------------------------- properties
    @property
    def n_units(self) -> int:
        """Number of distinct units.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").n_units
        500
        """
        return int(self._cohort_table["units"].sum())

    @property
    def n_periods(self) -> int:
        """Number of distinct observed periods.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").n_periods
        5
        """
        return int(self.period_values.size)

    @property
    def cohorts(self) -> np.ndarray:
        """Sorted first-treated periods present in the data (never treated excluded).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").cohorts.tolist()
        [2004.0, 2006.0, 2007.0]
        """
        c = self._cohort_table["cohort"].to_numpy(dtype=float)
        return np.sort(c[np.isfinite(c)])

    @property
    def is_balanced(self) -> bool:
        """Whether every unit is observed in every period.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").is_balanced
        True
        """
        return self.n_obs == self.n_units * self.n_periods

    @cached_property
    def n_clusters(self) -> int:
        """Number of distinct clusters (one more aggregate query, cached).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> ci.LazyPanel(mpdta, unit="countyreal", time="year",
        ...              cohort="first.treat", cluster="state").n_clusters
        29
        """
        q = Query(derive={"c": col(self.cluster)}, aggs={"n": ("n_unique", "c")})
        return int(self.source.run(q)["n"].iloc[0])

    def describe(self) -> pd.DataFrame:
        """Units per cohort (``cohort`` is ``"never treated"`` for the never treated).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...              cohort="first.treat").describe()["units"].tolist()
        [20, 40, 131, 309]
        """
        tab = self._cohort_table.sort_values("cohort").reset_index(drop=True)
        labels = ["never treated" if np.isinf(c) else _fmt(c, self.time_integer) for c in tab["cohort"]]
        out = pd.DataFrame({"cohort": labels, "units": tab["units"].to_numpy()})
        out["share_units"] = out["units"] / out["units"].sum()
        return out

    def __repr__(self) -> str:
        return (f"<LazyPanel ({self.engine}): {self.n_obs} rows, {self.n_units} units, "
                f"{self.n_periods} periods, {self.cohorts.size} cohort(s), clustered by "
                f"{self.cluster!r}>")

    # ---------------------------------------------------------- compression
    def _outcome_periods(self, y: str) -> tuple[np.ndarray, int, int]:
        """Periods with an observed outcome, rows with it, rows without (checks the outcome).

        The mean outcome of each of those periods is kept in ``self._period_means``.
        """
        if y not in self.source.columns:
            raise SpecificationError(f"The outcome column {y!r} is not in the data."
                                     f"{suggest(y, self.source.columns)}")
        if not self.source.is_numeric(y):
            self._fail(f"The outcome column {y!r} must be numeric; it has dtype "
                       f"{self.source.dtype(y)}.", None, [y])
        yv = self._num(y)
        q = Query(derive={"t": self._num(self.time), "one": lit(1),
                          "ok": _flag(~self._missing(y) & ~yv.is_inf()), "inf": _flag(yv.is_inf()),
                          "ys": when(~self._missing(y) & ~yv.is_inf(), yv, 0.0)},
                  keys=("t",), aggs={"rows": ("sum", "one"), "ok": ("sum", "ok"), "inf": ("sum", "inf"),
                                     "ys": ("sum", "ys")})
        tab = self.source.run(q)
        n_inf = int(tab["inf"].sum())
        if n_inf:
            self._fail(f"Infinite values in the outcome column {y!r}: {n_inf} row(s).", yv.is_inf(),
                       [self.unit, self.time, y], "Replace them (e.g. log of zero) before estimating.",
                       n_inf)
        tab = tab.loc[tab["ok"] > 0].sort_values("t")
        periods = tab["t"].to_numpy(dtype=float)
        self._period_means = tab["ys"].to_numpy(dtype=float) / tab["ok"].to_numpy(dtype=float)
        n_ok = int(tab["ok"].sum())
        return periods, n_ok, int(tab["rows"].sum()) - n_ok

    def stats_query(self, y: str, by: str | Sequence[str] | None = None) -> Query:
        """The aggregation query behind :meth:`cell_stats` (render it with the engine's SQL).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> from clusterimpact.engines._spec import to_sql
        >>> lp = ci.LazyPanel(mpdta, unit="countyreal", time="year",
        ...                   cohort="first.treat", cluster="state")
        >>> to_sql(lp.stats_query("lemp"), "duckdb", "mpdta")[:25]
        'SELECT "c", "g", sum("n")'
        """
        return self._plan_stats(y, by)[0]

    def _plan_stats(self, y: str, by: str | Sequence[str] | None, moments: bool = False
                    ) -> tuple[Query, np.ndarray, bool, int]:
        names = [by] if isinstance(by, str) else list(by or [])
        for name in names:
            if name not in self.source.columns:
                raise SpecificationError(f"The by= column {name!r} is not in the data."
                                         f"{suggest(name, self.source.columns)}")
        periods, n_ok, n_bad = self._outcome_periods(y)
        k = periods.size
        yv, t = self._num(y), self._num(self.time)
        ok = ~self._missing(y)
        pieces = {f"y{j}": when(ok & (t == float(p)), yv, 0.0) for j, p in enumerate(periods)}
        single = (self.cohort_column is not None and not names and self.weights_column is None
                  and n_ok == self.n_units * k and not moments)
        last = float(self.period_values[-1])
        if single:
            g = self._cohort_expr()
            derive = {"c": col(self.cluster), "g": when(g > last, _INF, g), "n": _flag(ok), **pieces}
            aggs = {"n": ("sum", "n"), **{p: ("sum", p) for p in pieces}}
            return Query(derive=derive, keys=("c", "g"), aggs=aggs), periods, True, n_bad
        # per-unit pass (balancing, cohorts from treatment, within-unit checks), then blocks
        derive = {"u": col(self.unit), "c": col(self.cluster), "ok": _flag(ok), "one": lit(1), **pieces}
        aggs = {"c": ("min", "c"), "n": ("sum", "ok"), **{p: ("sum", p) for p in pieces}}
        if self.cohort_column is not None:
            derive["g"] = self._cohort_expr()
        else:
            derive["g"] = when(self._num(self.treatment_column) == 1, t, _INF)
        aggs["g"] = ("min", "g")
        if self.weights_column is not None:
            derive["w"] = self._num(self.weights_column)
            aggs |= {"w": ("min", "w"), "wmax": ("max", "w")}
        if names:
            derive["bna"] = _flag(_any([self._missing(b) for b in names]))
            aggs["bna"] = ("sum", "bna")
        for j, b in enumerate(names):
            derive[f"b{j}"] = col(b)
            aggs |= {f"b{j}": ("min", f"b{j}"), f"bmax{j}": ("max", f"b{j}")}
        inner = Query(derive=derive, keys=("u",), aggs=aggs)
        w = col("w") if self.weights_column is not None else lit(1.0)
        outer: dict[str, Expr] = {
            "c": col("c"), "g": when(col("g") > last, _INF, col("g")),
            "full": _flag(col("n") == k), "one": lit(1), "w": w,
            "part": _flag((col("n") > 0) & (col("n") < k)),
            **{p: col(p) * w for p in pieces}}
        oaggs = {"units": ("sum", "one"), "w": ("sum", "w"), "part": ("sum", "part"),
                 **{p: ("sum", p) for p in pieces}}
        if names:
            outer["bna"] = col("bna")
            outer["bvar"] = _flag(_any([col(f"b{j}") != col(f"bmax{j}") for j in range(len(names))]))
            oaggs |= {"bna": ("sum", "bna"), "bvar": ("sum", "bvar")}
            outer |= {f"b{j}": col(f"b{j}") for j in range(len(names))}
        if self.weights_column is not None:
            outer["wvar"] = _flag((col("wmax") - col("w")) > _WEIGHT_ATOL)
            oaggs["wvar"] = ("sum", "wvar")
        keys = ("c", "g", *[f"b{j}" for j in range(len(names))], "full")
        if moments:  # cluster = unit: per-cohort second moments of q = (w (d_t - c_t), w)
            shift = np.diff(self._period_means)
            q = [(col(f"y{j}") - col(f"y{j - 1}") - float(shift[j - 1])) * w for j in range(1, k)]
            q.append(w)
            for a in range(k):
                for b in range(a, k):
                    outer[f"q{a}_{b}"] = q[a] * q[b]
                    oaggs[f"q{a}_{b}"] = ("sum", f"q{a}_{b}")
            keys = keys[1:]
        return Query(derive=outer, keys=keys, aggs=oaggs, source=inner), periods, False, n_bad

    def cell_stats(self, y: str, by: str | Sequence[str] | None = None) -> CellStats:
        """Compress the panel to block sums for ``att_gt`` of outcome ``y`` (one engine query).

        Parameters
        ----------
        y
            Outcome column.
        by
            Subgroup column(s), constant within unit.

        Returns
        -------
        CellStats
            Sums by (subgroup, cohort, cluster) over the units observed with
            an outcome in every period.

        Raises
        ------
        SpecificationError
            Unknown outcome or ``by`` column, subgroups or weights that vary
            within unit.
        PanelError
            Non-numeric or infinite outcomes, missing ``by`` values.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> mpdta = ci.datasets.load("mpdta").assign(state=lambda d: d["countyreal"] // 1000)
        >>> lp = ci.LazyPanel(mpdta, unit="countyreal", time="year",
        ...                   cohort="first.treat", cluster="state")
        >>> st = lp.cell_stats("lemp")
        >>> st.n_blocks, st.n_rows
        (29, 2500)
        """
        names = [by] if isinstance(by, str) else list(by or [])
        query, periods, single, n_bad = self._plan_stats(y, names)
        out = self.source.run(query)
        k = periods.size
        ycols = [f"y{j}" for j in range(k)]
        if single:
            units = out["n"].to_numpy(dtype=np.int64) // max(k, 1)
            weight, mean_w, part, full = units.astype(float), 1.0, 0, np.ones(len(out), dtype=bool)
            labels = None
        else:
            mean_w, part, full, units, weight, labels = self._unit_pass_result(out, names)
        groups = out.loc[full, [f"b{j}" for j in range(len(names))]].reset_index(drop=True)
        groups.columns = names
        return CellStats(
            y=y, by=tuple(names), periods=periods,
            cohort=pd.to_numeric(out.loc[full, "g"]).to_numpy(dtype=float),
            cluster=out.loc[full, "c"].to_numpy(), groups=groups, units=units[full],
            weight=weight[full], ysum=out.loc[full, ycols].to_numpy(dtype=float).reshape(-1, k),
            cluster_name=self.cluster, time_integer=self.time_integer, mean_weight=mean_w,
            dropped_rows=n_bad, dropped_units=part, n_rows=self.n_obs, engine=self.engine,
            group_labels=labels)

    def _unit_pass_result(self, out: pd.DataFrame, names: list[str]) -> tuple:
        """Checks of the per-unit pass (subgroups, weights) and its counts."""
        if names and out["bna"].sum():
            n = int(out["bna"].sum())
            self._fail(f"Missing values in the by= column(s) {names}: {n} row(s).",
                       _any([self._missing(b) for b in names]), names,
                       "Give them a category (e.g. 'unknown') or drop them.", n)
        if names and out["bvar"].sum():
            raise SpecificationError(
                f"The by= column(s) {names} vary within unit for {int(out['bvar'].sum())} unit(s); "
                "subgroups of att_gt must be fixed unit characteristics (e.g. measured at baseline).")
        if "wvar" in out and out["wvar"].sum():
            raise SpecificationError(
                f"The weights column {self.weights_column!r} varies within unit; att_gt needs one "
                "weight per unit (e.g. the baseline sampling weight).")
        mean_w = float(out["w"].sum() / out["units"].sum())
        labels = out[[f"b{j}" for j in range(len(names))]].drop_duplicates()
        labels.columns = names
        return (mean_w, int(out["part"].sum()), out["full"].to_numpy() == 1,
                out["units"].to_numpy(dtype=np.int64), out["w"].to_numpy(dtype=float), labels)

    def moment_stats(self, y: str, by: str | Sequence[str] | None = None) -> MomentStats:
        """Sums and second moments by (subgroup, cohort) for unit-clustered ``att_gt`` (cluster = unit).

        Two nested aggregations run in the engine (per unit, then per subgroup and cohort):
        only :math:`O(\\text{cohorts} \\times T^2)` numbers come back, however many units
        (see :mod:`clusterimpact.engines.moments`).

        Raises
        ------
        SpecificationError
            The panel is clustered on something other than the unit, or as :meth:`cell_stats`.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...                   cohort="first.treat")
        >>> lp.moment_stats("lemp").cohort.tolist()
        [2004.0, 2006.0, 2007.0, inf]
        """
        if self.cluster != self.unit:
            raise SpecificationError(
                f"moment_stats needs cluster = unit (the panel is clustered by {self.cluster!r}); "
                "use cell_stats, whose block sums are already small with coarser clusters.")
        names = [by] if isinstance(by, str) else list(by or [])
        query, periods, _, n_bad = self._plan_stats(y, names, moments=True)
        out = self.source.run(query)
        k = periods.size
        mean_w, part, full, units, weight, labels = self._unit_pass_result(out, names)
        order = [*(f"b{j}" for j in range(len(names))), "g"]
        out = out.loc[full].sort_values(order, kind="stable").reset_index(drop=True)
        units, weight = out["units"].to_numpy(dtype=np.int64), out["w"].to_numpy(dtype=float)
        q = np.zeros((len(out), k, k))
        for a in range(k):
            for b in range(a, k):
                q[:, a, b] = q[:, b, a] = out[f"q{a}_{b}"].to_numpy(dtype=float)
        groups = out[[f"b{j}" for j in range(len(names))]]
        groups.columns = names
        return MomentStats(
            y=y, by=tuple(names), periods=periods, cohort=pd.to_numeric(out["g"]).to_numpy(dtype=float),
            groups=groups, units=units, weight=weight,
            ysum=out[[f"y{j}" for j in range(k)]].to_numpy(dtype=float).reshape(-1, k),
            moments=q, shift=np.diff(self._period_means), cluster_name=self.cluster,
            time_integer=self.time_integer, mean_weight=mean_w, dropped_rows=n_bad,
            dropped_units=part, n_rows=self.n_obs, engine=self.engine, group_labels=labels)

    def att_gt(self, y: str, *, covariates: Any = None, control: str = "never_treated",
               method: str = "dr", anticipation: int = 0, base_period: str = "varying",
               bootstrap: int | None = None, alpha: float = 0.05,
               seed: int | np.random.Generator | None = None,
               by: str | Sequence[str] | None = None,
               last_cohort_as_control: bool = False,
               allow_unbalanced_panel: bool = False,
               route: Route = "auto") -> GroupTimeResult:
        """``ci.att_gt`` on the lazy panel through the compressed statistics.

        Parameters are those of :func:`clusterimpact.att_gt`; ``covariates``
        must be ``None`` (covariate-adjusted cells need unit-level rows: build
        a :class:`~clusterimpact.Panel` on a sample or an extract). Clustered by
        unit without ``bootstrap``, the engine reduces the units to
        (subgroup, cohort) second moments (:meth:`moment_stats`); otherwise to
        (subgroup, cohort, cluster) block sums (:meth:`cell_stats`). ``route``
        forces one of them (``"moments"`` or ``"blocks"``; default ``"auto"``).
        The moments route's influence rows are *pseudo-units* that carry every
        variance and covariance exactly but are not the units: resampling them
        (``wild_bootstrap()``) is refused; use ``route="blocks"`` for that (one
        row per unit comes back, so memory grows with the number of units).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...                   cohort="first.treat")
        >>> lp.att_gt("lemp").tidy()["estimate"].round(4).tolist()[:2]
        [-0.0105, -0.0704]
        """
        if covariates is not None:
            raise SpecificationError(
                "att_gt with covariates is not exactly compressible (each cell fits a model on "
                "unit-level covariates); use ci.Panel on the rows, or drop covariates=.")
        if allow_unbalanced_panel:
            raise SpecificationError(
                "allow_unbalanced_panel=True is not available on the compressed path (each cell "
                "uses the rows of its two periods); use ci.att_gt on a ci.Panel of the rows.")
        check_choice("route", route, Route)
        moments = route == "moments" or (route == "auto" and self.cluster == self.unit
                                                 and bootstrap is None)
        if moments and (self.cluster != self.unit or bootstrap is not None):
            raise SpecificationError(
                "route='moments' needs clustering by unit and no bootstrap (the multiplier "
                "bootstrap draws per cluster); use route='blocks'.")
        if moments:  # O(cohorts x T^2) numbers come back
            return att_gt_from_moments(self.moment_stats(y, by), control=control, method=method,
                                       anticipation=anticipation, base_period=base_period,
                                       alpha=alpha, last_cohort_as_control=last_cohort_as_control)
        return att_gt_from_stats(self.cell_stats(y, by), control=control, method=method,
                                 anticipation=anticipation, base_period=base_period,
                                 bootstrap=bootstrap, alpha=alpha, seed=seed,
                                 last_cohort_as_control=last_cohort_as_control)

    def twfe(self, y: str, *, covariates: Any = None, vcov: str = "CR1", fe: Any = None,
             by: str | Sequence[str] | None = None, alpha: float = 0.05) -> RegressionResult:
        """``ci.twfe`` (unit and period fixed effects, CR1) through the compressed statistics.

        Exact on balanced panels (see :mod:`clusterimpact.engines.regression`)
        and, from per-block observation patterns, on unbalanced ones
        (:mod:`clusterimpact.engines.unbalanced`); the panel's weights, if any,
        must be constant within unit. With
        ``covariates`` (numeric columns, and categorical ones -- string,
        categorical or boolean columns, or ``"C(column)"`` -- as the indicators
        of their levels but the first, named ``column::level``) the engine
        returns per-block cross-products instead
        (:mod:`clusterimpact.engines.covariates`).

        Examples
        --------
        >>> import clusterimpact as ci
        >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...                   cohort="first.treat")
        >>> lp.twfe("lemp").tidy()[["term", "estimate"]].round(4)
              term  estimate
        0  treated   -0.0365
        """
        category = _category_trend(fe)
        if category is not None:
            if covariates is not None or by is not None:
                raise SpecificationError(
                    "LazyPanel.twfe with a '<column>^time' fixed effect takes no covariates= or "
                    "by= (not yet compressed); use ci.twfe on a ci.Panel for those.")
            stats = self._regression_stats(y, category, vcov)
            return twfe_from_stats(stats, vcov=vcov, alpha=alpha, pool=True)
        _refuse(None, fe)
        if covariates is not None:  # per-block cross-products (engines.covariates)
            self._regression_stats(None, None, vcov)
            return twfe_from_cross(cross_stats(self, y, covariates, by), alpha=alpha)
        if self._unbalanced(y, vcov):  # observation patterns (engines.unbalanced)
            return twfe_from_patterns(pattern_stats(self, y, by), alpha=alpha)
        return twfe_from_stats(self._regression_stats(y, by, vcov), vcov=vcov, alpha=alpha)

    def event_study(self, y: str, *, method: str = "twfe", leads: int | None = None,
                    lags: int | None = None, reference: int | None = -1, vcov: str = "CR1",
                    covariates: Any = None, bin_endpoints: bool = True, alpha: float = 0.05,
                    by: str | Sequence[str] | None = None, fe: Any = None) -> EventStudyResult:
        """``ci.event_study(method="twfe")`` (dynamic TWFE, CR1) through the compressed statistics.

        Exact on balanced and unbalanced panels (as :meth:`twfe`); only
        ``method="twfe"`` is implemented lazily.
        ``covariates`` as in :meth:`twfe`.

        Examples
        --------
        >>> import clusterimpact as ci
        >>> lp = ci.LazyPanel(ci.datasets.load("mpdta"), unit="countyreal", time="year",
        ...                   cohort="first.treat")
        >>> lp.event_study("lemp").tidy()["event_time"].tolist()
        [-4, -3, -2, 0, 1, 2, 3]
        """
        if method != "twfe":
            raise SpecificationError(
                f"LazyPanel.event_study supports method='twfe' only (got {method!r}); the other "
                "estimators need row-level first stages: use ci.event_study on a ci.Panel.")
        category = _category_trend(fe)
        if category is not None:
            if covariates is not None or by is not None:
                raise SpecificationError(
                    "LazyPanel.event_study with a '<column>^time' fixed effect takes no "
                    "covariates= or by= (not yet compressed); use ci.event_study on a ci.Panel.")
            return event_study_from_stats(self._regression_stats(y, category, vcov), leads=leads,
                                          lags=lags, reference=reference, vcov=vcov,
                                          bin_endpoints=bin_endpoints, alpha=alpha, pool=True)
        _refuse(None, fe)
        if covariates is not None:  # per-block cross-products (engines.covariates)
            self._regression_stats(None, None, vcov)
            return event_study_from_cross(cross_stats(self, y, covariates, by), leads=leads,
                                          lags=lags, reference=reference,
                                          bin_endpoints=bin_endpoints, alpha=alpha)
        if self._unbalanced(y, vcov):  # observation patterns (engines.unbalanced)
            return event_study_from_patterns(pattern_stats(self, y, by), leads=leads, lags=lags,
                                             reference=reference, bin_endpoints=bin_endpoints,
                                             alpha=alpha)
        return event_study_from_stats(self._regression_stats(y, by, vcov), leads=leads, lags=lags,
                                      reference=reference, vcov=vcov, bin_endpoints=bin_endpoints,
                                      alpha=alpha)


    def _unbalanced(self, y: str, vcov: str) -> bool:
        """Whether some unit lacks a period or an outcome (one ``GROUP BY time`` query)."""
        self._regression_stats(None, None, vcov)
        periods, n_ok, _ = self._outcome_periods(y)
        return n_ok != self.n_units * periods.size

    def _regression_stats(self, y: str | None, by: Any, vcov: str) -> CellStats | MomentStats | None:
        """Moment tables when clustered by unit (few numbers return), block sums otherwise."""
        if str(vcov).upper() != "CR1":  # refused by the estimator before any query
            raise SpecificationError(
                f"Regressions from cell statistics support vcov='CR1' only (got {vcov!r}): CR2/CR3 "
                "need each cluster's hat matrix and HC1 the squared residuals of every row. Use the "
                "in-memory estimator on the rows for those.")
        if y is None:
            return None
        return self.moment_stats(y, by) if self.cluster == self.unit else self.cell_stats(y, by)


def _category_trend(fe: Any) -> str | None:
    """The column of ``fe=["unit", "<column>^time"]`` (category-specific period effects), else None.

    Examples
    --------
    >>> _category_trend(["unit", "region^time"]), _category_trend(None)
    ('region', None)
    """
    names = [] if fe is None else [fe] if isinstance(fe, str) else list(fe)
    if len(names) != 2 or names[0] != "unit" or "^" not in str(names[1]):
        return None
    parts = [p.strip() for p in str(names[1]).split("^")]
    if len(parts) != 2 or parts.count("time") != 1:
        return None
    return parts[0] if parts[1] == "time" else parts[1]


def _refuse(covariates: Any, fe: Any) -> None:
    if covariates is not None:
        raise SpecificationError(
            "Regressions with covariates are not exactly compressible to (cohort, cluster) sums; "
            "use ci.Panel on the rows, or drop covariates=.")
    if fe is not None and list([fe] if isinstance(fe, str) else fe) != ["unit", "time"]:
        raise SpecificationError(f"LazyPanel regressions absorb unit and time fixed effects, or "
                                 f"unit and '<column>^time' ones, only (got fe={fe!r}).")
