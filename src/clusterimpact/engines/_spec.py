"""One group-by specification, rendered for every engine.

A :class:`Query` says *what* to aggregate -- derived row-level columns, a row
filter, grouping keys and simple aggregates (``sum``, ``min``, ``max``,
``n_unique``) -- with a tiny expression tree :class:`Expr`. Renderers turn the
same query into DuckDB SQL, a chain of PySpark DataFrame calls (``selectExpr``
/ ``groupBy`` / ``agg``, whose expressions are the same SQL text) and narwhals
expressions for pandas/polars. The validation queries and the cell-statistic
aggregation of :mod:`clusterimpact.engines.lazy` are written once, here, and
never by hand per engine.

Queries nest (``source=`` another query): the per-unit pass of an unbalanced
panel is the source of the per-block pass, and each engine pushes both down
(a nested ``SELECT`` for SQL, chained lazy frames for Spark and polars).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Expr", "Query", "col", "lit", "missing", "to_narwhals", "to_sql", "when"]

Dialect = Literal["duckdb", "spark"]
AggFn = Literal["sum", "min", "max", "n_unique"]


@dataclass(frozen=True, eq=False)
class Expr:
    """A node of a row-level expression: ``op`` and its arguments.

    Build expressions with :func:`col`, :func:`lit`, :func:`when`, :func:`missing`
    and the Python operators (``+ - * /``, comparisons, ``& | ~``).

    Examples
    --------
    >>> e = (col("y") * col("w")) > lit(0)
    >>> to_sql(e, "duckdb")
    '(("y" * "w") > 0)'
    """

    op: str
    args: tuple[Any, ...]

    __hash__ = object.__hash__

    def _bin(self, op: str, other: Any) -> Expr:
        return Expr(op, (self, other if isinstance(other, Expr) else lit(other)))

    def __add__(self, other: Any) -> Expr:
        return self._bin("+", other)

    def __sub__(self, other: Any) -> Expr:
        return self._bin("-", other)

    def __mul__(self, other: Any) -> Expr:
        return self._bin("*", other)

    def __truediv__(self, other: Any) -> Expr:
        return self._bin("/", other)

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin("=", other)

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin("<>", other)

    def __lt__(self, other: Any) -> Expr:
        return self._bin("<", other)

    def __le__(self, other: Any) -> Expr:
        return self._bin("<=", other)

    def __gt__(self, other: Any) -> Expr:
        return self._bin(">", other)

    def __ge__(self, other: Any) -> Expr:
        return self._bin(">=", other)

    def __and__(self, other: Any) -> Expr:
        return self._bin("AND", other)

    def __or__(self, other: Any) -> Expr:
        return self._bin("OR", other)

    def __invert__(self) -> Expr:
        return Expr("not", (self,))

    def to_float(self) -> Expr:
        """Cast to double precision."""
        return Expr("float", (self,))

    def isin(self, values: Sequence[Any]) -> Expr:
        """Membership in a short list of literal values."""
        return Expr("isin", (self, tuple(values)))

    def is_inf(self) -> Expr:
        """``+inf`` or ``-inf`` (False for missing values)."""
        return Expr("isinf", (self,))


def col(name: str) -> Expr:
    """A source (or derived) column.

    Examples
    --------
    >>> to_sql(col("first.treat"), "spark")
    '`first.treat`'
    """
    return Expr("col", (name,))


def lit(value: Any) -> Expr:
    """A literal number, string, boolean or ``None``.

    Examples
    --------
    >>> to_sql(lit(float("inf")), "duckdb")
    "CAST('Infinity' AS DOUBLE)"
    """
    return Expr("lit", (value,))


def when(condition: Expr, then: Any, otherwise: Any) -> Expr:
    """``CASE WHEN condition THEN then ELSE otherwise END``.

    Examples
    --------
    >>> to_sql(when(col("t") == 2, col("y"), 0.0), "duckdb")
    '(CASE WHEN ("t" = 2) THEN "y" ELSE 0.0 END)'
    """
    wrap = [v if isinstance(v, Expr) else lit(v) for v in (then, otherwise)]
    return Expr("when", (condition, *wrap))


def missing(name: str, numeric: bool = True) -> Expr:
    """Whether a column is missing: NULL, or NaN for a numeric column.

    Examples
    --------
    >>> to_sql(missing("y"), "duckdb")
    '("y" IS NULL OR isnan(CAST("y" AS DOUBLE)))'
    """
    return Expr("missing", (name, numeric))


@dataclass(frozen=True)
class Query:
    """One aggregation (or selection) pass over a source or another query.

    Parameters
    ----------
    derive
        Row-level columns computed first: ``{name: Expr}``. Keys, filters and
        aggregates refer to these names only (internal identifiers).
    aggs
        ``{out_name: (fn, derived_name)}`` with ``fn`` one of ``sum``, ``min``,
        ``max``, ``n_unique``. Empty: a plain selection of the derived columns.
    keys
        Grouping keys (derived names); ``()`` with aggregates is one global row.
    where
        Row filter on derived columns, applied before grouping.
    source
        ``None`` for the data itself, or an inner query whose output columns
        are the ``col()`` names of ``derive``.
    limit
        At most this many output rows (``None``: all).

    Examples
    --------
    >>> q = Query(derive={"t": col("year"), "one": lit(1)}, keys=("t",),
    ...           aggs={"n": ("sum", "one")})
    >>> print(to_sql(q, "duckdb", "tbl"))
    SELECT "t", sum("one") AS "n" FROM (SELECT "year" AS "t", 1 AS "one" FROM tbl) AS q0 GROUP BY "t"
    """

    derive: dict[str, Expr]
    aggs: dict[str, tuple[AggFn, str]] = field(default_factory=dict)
    keys: tuple[str, ...] = ()
    where: Expr | None = None
    source: Query | None = None
    limit: int | None = None


# ------------------------------------------------------------------------ SQL
def _quote(name: str, dialect: Dialect) -> str:
    if dialect == "spark":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "CAST('Infinity' AS DOUBLE)" if value > 0 else "CAST('-Infinity' AS DOUBLE)"
        if math.isnan(value):
            return "CAST('NaN' AS DOUBLE)"
        return repr(value)
    if hasattr(value, "item"):  # numpy scalar
        return _literal(value.item())
    return "'" + str(value).replace("'", "''") + "'"


def to_sql(node: Expr | Query, dialect: Dialect, table: str = "src", depth: int = 0) -> str:
    """Render an expression or a query as SQL text for DuckDB or Spark SQL.

    Examples
    --------
    >>> to_sql(missing("g") | (col("g") == 0), "spark")
    '((`g` IS NULL OR isnan(CAST(`g` AS DOUBLE))) OR (`g` = 0))'
    """
    if isinstance(node, Query):
        return _query_sql(node, dialect, table, depth)
    op, args = node.op, node.args
    r = (lambda e: to_sql(e, dialect, table, depth))  # noqa: E731
    if op == "col":
        return _quote(args[0], dialect)
    if op == "lit":
        return _literal(args[0])
    if op == "missing":
        name = _quote(args[0], dialect)
        return f"({name} IS NULL OR isnan(CAST({name} AS DOUBLE)))" if args[1] else f"({name} IS NULL)"
    if op == "isinf":
        return f"(abs(CAST({r(args[0])} AS DOUBLE)) = CAST('Infinity' AS DOUBLE))"
    if op == "not":
        return f"(NOT {r(args[0])})"
    if op == "float":
        return f"CAST({r(args[0])} AS DOUBLE)"
    if op == "when":
        return f"(CASE WHEN {r(args[0])} THEN {r(args[1])} ELSE {r(args[2])} END)"
    if op == "isin":
        return f"({r(args[0])} IN ({', '.join(_literal(v) for v in args[1])}))"
    return f"({r(args[0])} {op} {r(args[1])})"


def _query_sql(q: Query, dialect: Dialect, table: str, depth: int) -> str:
    source = table if q.source is None else f"({_query_sql(q.source, dialect, table, depth + 1)}) AS s{depth}"
    inner = ", ".join(f"{to_sql(e, dialect)} AS {_quote(n, dialect)}" for n, e in q.derive.items())
    sql = f"SELECT {inner} FROM {source}"
    if q.where is not None:
        sql += f" WHERE {to_sql(q.where, dialect)}"
    if not q.aggs:
        return sql + (f" LIMIT {q.limit}" if q.limit is not None else "")
    outs = [_quote(k, dialect) for k in q.keys]
    outs += [_agg_sql(fn, name, dialect) + f" AS {_quote(out, dialect)}"
             for out, (fn, name) in q.aggs.items()]
    sql = f"SELECT {', '.join(outs)} FROM ({sql}) AS q{depth}"
    if q.keys:
        sql += " GROUP BY " + ", ".join(_quote(k, dialect) for k in q.keys)
    return sql + (f" LIMIT {q.limit}" if q.limit is not None else "")


def _agg_sql(fn: str, name: str, dialect: Dialect) -> str:
    quoted = _quote(name, dialect)
    return f"count(DISTINCT {quoted})" if fn == "n_unique" else f"{fn}({quoted})"


# ------------------------------------------------------------------ narwhals
def _nw_expr(node: Expr) -> Any:
    import narwhals as nw

    op, args = node.op, node.args
    if op == "col":
        return nw.col(args[0])
    if op == "lit":
        return nw.lit(args[0].item() if hasattr(args[0], "item") else args[0])
    if op == "missing":
        c = nw.col(args[0])
        return (c.is_null() | c.cast(nw.Float64).is_nan()) if args[1] else c.is_null()
    if op == "isinf":
        return _nw_expr(args[0]).cast(nw.Float64).abs() == float("inf")
    if op == "not":
        return ~_nw_expr(args[0])
    if op == "float":
        return _nw_expr(args[0]).cast(nw.Float64)
    if op == "when":
        return nw.when(_nw_expr(args[0])).then(_nw_expr(args[1])).otherwise(_nw_expr(args[2]))
    if op == "isin":
        return _nw_expr(args[0]).is_in(list(args[1]))
    a, b = _nw_expr(args[0]), _nw_expr(args[1])
    ops = {"+": a.__add__, "-": a.__sub__, "*": a.__mul__, "/": a.__truediv__, "=": a.__eq__,
           "<>": a.__ne__, "<": a.__lt__, "<=": a.__le__, ">": a.__gt__, ">=": a.__ge__,
           "AND": a.__and__, "OR": a.__or__}
    return ops[op](b)


def to_narwhals(q: Query, frame: Any) -> Any:
    """Apply a query to a narwhals DataFrame or LazyFrame (returns the same kind).

    Examples
    --------
    >>> import narwhals as nw, pandas as pd
    >>> f = nw.from_native(pd.DataFrame({"year": [1, 1, 2]}))
    >>> q = Query(derive={"t": col("year"), "one": lit(1)}, keys=("t",),
    ...           aggs={"n": ("sum", "one")})
    >>> to_narwhals(q, f).sort("t").to_native()["n"].tolist()
    [2, 1]
    """
    import narwhals as nw

    if q.source is not None:
        frame = to_narwhals(q.source, frame)
    frame = frame.select(**{name: _nw_expr(e) for name, e in q.derive.items()})
    if q.where is not None:
        frame = frame.filter(_nw_expr(q.where))
    if q.aggs:
        aggs = [getattr(nw.col(name), fn)().alias(out) for out, (fn, name) in q.aggs.items()]
        frame = frame.group_by(*q.keys).agg(*aggs) if q.keys else frame.select(*aggs)
    if q.limit is not None:
        frame = frame.head(q.limit)
    return frame


# --------------------------------------------------------------------- Spark
def to_spark(q: Query, frame: Any) -> Any:
    """Apply a query to a PySpark DataFrame with ``selectExpr``/``groupBy``/``agg``.

    The expressions are the Spark SQL text of :func:`to_sql`, so DuckDB and
    Spark run the same specification.
    """
    from pyspark.sql import functions as F

    if q.source is not None:
        frame = to_spark(q.source, frame)
    frame = frame.selectExpr(*[f"{to_sql(e, 'spark')} AS {_quote(n, 'spark')}"
                               for n, e in q.derive.items()])
    if q.where is not None:
        frame = frame.where(to_sql(q.where, "spark"))
    if q.aggs:
        aggs = [F.expr(_agg_sql(fn, name, "spark")).alias(out) for out, (fn, name) in q.aggs.items()]
        frame = frame.groupBy(*q.keys).agg(*aggs) if q.keys else frame.agg(*aggs)
    if q.limit is not None:
        frame = frame.limit(q.limit)
    return frame
