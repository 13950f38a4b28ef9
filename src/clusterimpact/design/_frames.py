"""Bring any supported dataframe or file into pandas, without touching the original."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd

from clusterimpact.errors import PanelError


def to_pandas(data: Any) -> pd.DataFrame:
    """Return a pandas view of ``data`` that is safe to read (pandas is copied lazily).

    pandas input is shallow-copied (copy-on-write), so the caller's frame is
    never modified; polars, pyarrow and other narwhals-supported frames are
    converted.

    Examples
    --------
    >>> import pandas as pd
    >>> to_pandas(pd.DataFrame({"a": [1]})).shape
    (1, 1)
    """
    if isinstance(data, pd.DataFrame):
        return data.copy(deep=False)
    try:
        frame = nw.from_native(data, eager_only=True)
    except TypeError as err:
        raise PanelError(
            f"Expected a pandas or polars DataFrame (or a path to a CSV/Parquet/Stata file), got "
            f"{type(data).__name__}."
        ) from err
    return frame.to_pandas()


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV, Parquet, Stata, Excel or Feather file into pandas.

    Examples
    --------
    >>> import tempfile, os, pandas as pd
    >>> f = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> pd.DataFrame({"a": [1, 2]}).to_csv(f, index=False)
    >>> read_table(f)["a"].tolist()
    [1, 2]
    """
    path = Path(path)
    if not path.exists():
        raise PanelError(f"No such data file: {path}")
    suffix = path.suffix.lower()
    readers = {
        ".csv": pd.read_csv,
        ".txt": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".pq": pd.read_parquet,
        ".dta": pd.read_stata,
        ".feather": pd.read_feather,
        ".xlsx": pd.read_excel,
        ".xls": pd.read_excel,
    }
    if suffix == ".gz" and path.name.lower().endswith(".csv.gz"):
        return pd.read_csv(path)
    if suffix not in readers:
        raise PanelError(
            f"Cannot read {path.name}: unknown file type {suffix!r}. Use one of "
            f"{', '.join(sorted(readers))}."
        )
    return readers[suffix](path)
