"""Where the rows live: pandas/polars in memory, DuckDB over files, Spark.

Each :class:`Source` knows its column names and types and runs a
:class:`~clusterimpact.engines._spec.Query` where the data are, returning the
(small) result as pandas. Nothing else differs between engines: the queries
themselves are generated once by :mod:`clusterimpact.engines._spec`.

duckdb and pyspark are optional (``pip install clusterimpact[big]`` /
``clusterimpact[spark]``) and imported only when a source needs them.
"""

from __future__ import annotations

import importlib.util
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd

from clusterimpact.engines._spec import Query, to_narwhals, to_spark, to_sql
from clusterimpact.errors import PanelError

__all__ = ["Source", "open_source"]

_SQL_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "INT",
                "LONG", "SHORT", "BYTE", "REAL")


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"This data source needs the optional dependency {module!r}: install it with "
            f"pip install 'clusterimpact[{extra}]' (or pip install {module})."
        ) from err


class Source(ABC):
    """A table that answers aggregate queries where it lives.

    Attributes
    ----------
    engine : str
        ``"narwhals"`` (pandas, polars, anything narwhals reads), ``"duckdb"``
        or ``"spark"``.
    columns : list of str
        Column names.
    """

    engine: str = ""

    def __init__(self, columns: list[str], types: dict[str, str]) -> None:
        self.columns = columns
        self._types = types

    def dtype(self, name: str) -> str:
        """The engine's type name of a column.

        Examples
        --------
        >>> import pandas as pd
        >>> open_source(pd.DataFrame({"a": [1.5]}), engine="narwhals").dtype("a")
        'Float64'
        """
        return self._types[name]

    def is_numeric(self, name: str) -> bool:
        """Whether a column is numeric or boolean.

        Examples
        --------
        >>> import pandas as pd
        >>> open_source(pd.DataFrame({"a": ["x"]})).is_numeric("a")
        False
        """
        t = self._types[name].upper()
        return t.startswith(_SQL_NUMERIC) or t.startswith(("UINT", "FLOAT")) or t == "BOOLEAN"

    def is_integer(self, name: str) -> bool:
        """Whether a column holds integers.

        Examples
        --------
        >>> import pandas as pd
        >>> open_source(pd.DataFrame({"a": [1]})).is_integer("a")
        True
        """
        t = self._types[name].upper()
        return "INT" in t or t in ("LONG", "SHORT", "BYTE")

    @abstractmethod
    def run(self, query: Query) -> pd.DataFrame:
        """Run a query where the data live and return its result as pandas."""


class NarwhalsSource(Source):
    """pandas, polars (eager or lazy), pyarrow and other narwhals-supported frames."""

    engine = "narwhals"

    def __init__(self, data: Any) -> None:
        import narwhals as nw

        try:
            frame = nw.from_native(data)
        except TypeError as err:
            raise PanelError(
                f"Expected a pandas/polars DataFrame or LazyFrame, a DuckDB relation, a Spark "
                f"DataFrame or a path to Parquet/CSV files, got {type(data).__name__}."
            ) from err
        self.frame = frame
        schema = frame.collect_schema() if hasattr(frame, "collect_schema") else frame.schema
        types = {str(k): str(v) for k, v in schema.items()}
        super().__init__(list(types), types)

    def run(self, query: Query) -> pd.DataFrame:
        out = to_narwhals(query, self.frame)
        if hasattr(out, "collect"):
            out = out.collect()
        return out.to_pandas()


class DuckDBSource(Source):
    """Parquet/CSV files (paths or globs) or a DuckDB relation, aggregated by DuckDB out of core."""

    engine = "duckdb"

    def __init__(self, data: Any, config: dict[str, Any] | None = None) -> None:
        duckdb = _require("duckdb", "big")
        self.relation = None
        if isinstance(data, str | os.PathLike):
            text = str(data)
            if not any(ch in text for ch in "*?[") and not Path(text).exists():
                raise PanelError(f"No such data file: {text}")
            low = text.lower()
            literal = "'" + text.replace("'", "''") + "'"
            if low.endswith((".parquet", ".pq")) or Path(text).is_dir():
                pattern = literal if not Path(text).is_dir() else \
                    "'" + str(Path(text) / "**" / "*.parquet").replace("'", "''") + "'"
                self.table = f"read_parquet({pattern})"
            elif low.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
                self.table = f"read_csv_auto({literal})"
            else:
                raise PanelError(f"Cannot read {Path(text).name} lazily: use Parquet or CSV files "
                                 "(or a DuckDB relation).")
            self.con = duckdb.connect(config=dict(config or {}))
            rel = self.con.sql(f"SELECT * FROM {self.table}")
        else:
            self.relation = rel = data
            self.table = "ci_src"
        types = {c: str(t) for c, t in zip(rel.columns, rel.types, strict=True)}
        super().__init__(list(rel.columns), types)

    def sql(self, query: Query) -> str:
        """The DuckDB SQL text of a query (for logs and benchmarks)."""
        return to_sql(query, "duckdb", self.table)

    def run(self, query: Query) -> pd.DataFrame:
        text = self.sql(query)
        if self.relation is not None:
            return self.relation.query(self.table, text).df()
        return self.con.sql(text).df()


class SparkSource(Source):
    """A PySpark DataFrame; queries become ``selectExpr``/``groupBy``/``agg`` chains."""

    engine = "spark"

    def __init__(self, data: Any) -> None:
        _require("pyspark", "spark")
        self.frame = data
        types = dict(data.dtypes)
        super().__init__(list(types), types)

    def run(self, query: Query) -> pd.DataFrame:
        rows = to_spark(query, self.frame).collect()
        names = list(query.keys) + list(query.aggs) if query.aggs else list(query.derive)
        return pd.DataFrame([tuple(r) for r in rows], columns=names)


def _is_spark(data: Any) -> bool:
    return any(k.__module__.startswith("pyspark.") and k.__name__ == "DataFrame"
               for k in type(data).__mro__)


def open_source(data: Any, *, engine: str = "auto",
                duckdb_config: dict[str, Any] | None = None) -> Source:
    """Wrap data in the :class:`Source` that aggregates it where it lives.

    Parameters
    ----------
    data
        A pandas/polars DataFrame or LazyFrame (narwhals); a path or glob of
        Parquet/CSV files, or a directory of Parquet files (DuckDB); a DuckDB
        relation; or a PySpark DataFrame.
    engine
        For in-memory pandas/polars frames: ``"narwhals"`` (pandas or polars
        run the queries), ``"duckdb"`` (DuckDB scans the frame in place,
        multi-threaded) or ``"auto"`` (DuckDB for pandas frames when it is
        installed, else narwhals). Files always use DuckDB, Spark frames Spark.
    duckdb_config
        DuckDB settings for file sources, e.g. ``{"memory_limit": "2GB",
        "threads": 4, "temp_directory": "/scratch"}``.

    Examples
    --------
    >>> import polars as pl
    >>> open_source(pl.DataFrame({"a": [1]}).lazy()).engine
    'narwhals'
    """
    if engine not in ("auto", "narwhals", "duckdb"):
        raise ValueError(f"engine={engine!r} is not allowed; use 'auto', 'narwhals' or 'duckdb'.")
    if isinstance(data, str | os.PathLike):
        return DuckDBSource(data, duckdb_config)
    module = type(data).__module__
    if module.startswith("duckdb"):
        return DuckDBSource(data)
    if _is_spark(data):
        return SparkSource(data)
    if isinstance(data, pd.DataFrame) and (
            engine == "duckdb" or (engine == "auto" and importlib.util.find_spec("duckdb") is not None)):
        duckdb = _require("duckdb", "big")
        con = duckdb.connect(config=dict(duckdb_config or {}))
        return DuckDBSource(con.from_df(data))
    if engine == "duckdb":
        duckdb = _require("duckdb", "big")
        con = duckdb.connect(config=dict(duckdb_config or {}))
        frame = NarwhalsSource(data).frame
        native = frame.collect() if hasattr(frame, "collect") else frame
        return DuckDBSource(con.from_arrow(native.to_arrow()))
    return NarwhalsSource(data)
