"""Errors and warnings raised by clusterimpact.

Every error subclasses :class:`ClusterImpactError`; the ones caused by bad
input also subclass :class:`ValueError` so that generic ``except ValueError``
handlers keep working.

Examples
--------
>>> import clusterimpact as ci
>>> issubclass(ci.PanelError, ValueError)
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import pandas as pd

__all__ = [
    "ClusterImpactError",
    "ClusterImpactWarning",
    "DroppedRowsWarning",
    "EstimationError",
    "EstimationWarning",
    "FewClustersWarning",
    "PanelError",
    "SmallCellWarning",
    "SpecificationError",
    "TimingWarning",
]


class ClusterImpactError(Exception):
    """Base class of every error raised by clusterimpact.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.PanelError, ci.ClusterImpactError)
    True
    """


class PanelError(ClusterImpactError, ValueError):
    """The data do not describe a valid panel (raised by :class:`clusterimpact.Panel`).

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"id": [1, 1], "t": [1, 1], "g": [0, 0]})
    >>> try:
    ...     ci.Panel(df, unit="id", time="t", cohort="g")
    ... except ci.PanelError as err:
    ...     print(str(err).splitlines()[0][:28])
    Duplicate (unit, time) rows:
    """


class SpecificationError(ClusterImpactError, ValueError):
    """An estimator was asked for something it cannot do (bad option, unknown column).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.SpecificationError, ValueError)
    True
    """


class EstimationError(ClusterImpactError, RuntimeError):
    """Estimation failed on valid input (e.g. a singular design with no way round it).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.EstimationError, RuntimeError)
    True
    """


class ClusterImpactWarning(UserWarning):
    """Base class of every warning issued by clusterimpact.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.FewClustersWarning, ci.ClusterImpactWarning)
    True
    """


class DroppedRowsWarning(ClusterImpactWarning):
    """Rows were dropped (missing values, singletons, units outside the design).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.DroppedRowsWarning, UserWarning)
    True
    """


class SmallCellWarning(ClusterImpactWarning):
    """A cohort, period or worker subgroup cell has too few observations to trust.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.SmallCellWarning, UserWarning)
    True
    """


class FewClustersWarning(ClusterImpactWarning):
    """Too few clusters for the requested large-sample approximation (e.g. CR1 with < 30).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.FewClustersWarning, UserWarning)
    True
    """


class TimingWarning(ClusterImpactWarning):
    """Treatment timing that the design cannot use (cohorts outside the observed periods).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.TimingWarning, UserWarning)
    True
    """


class EstimationWarning(ClusterImpactWarning):
    """A part of the estimate could not be computed (e.g. a (cohort, time) cell) and is reported as such.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> issubclass(ci.EstimationWarning, UserWarning)
    True
    """


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return a ``" Did you mean ...?"`` hint for a misspelt name, or ``""``.

    Examples
    --------
    >>> suggest("lemp ", ["lemp", "lpop"])
    " Did you mean 'lemp'?"
    """
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


def show_rows(frame: pd.DataFrame, mask, columns: list[str], limit: int = 5) -> str:
    """Format up to ``limit`` offending rows of ``frame`` (selected by ``mask``) for a message.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1, 2, 3]})
    >>> print(show_rows(df, df["a"] > 1, ["a"]))
    Offending rows (2 in total, up to 5 shown):
       a
    1  2
    2  3
    """
    rows = frame.loc[mask, columns]
    total = len(rows)
    return f"Offending rows ({total} in total, up to {limit} shown):\n{rows.head(limit).to_string()}"
