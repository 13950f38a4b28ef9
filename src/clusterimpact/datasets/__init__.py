"""Real public datasets shipped inside the package (no network at run time).

Each dataset comes with its provenance (source, licence, citation) from the
README beside its file; :func:`describe` prints it.

Examples
--------
>>> import clusterimpact as ci
>>> ci.datasets.names()
['card_krueger', 'castle', 'mpdta', 'nsw_lalonde', 'prop99']
>>> ci.datasets.load("mpdta").shape
(2500, 6)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pandas as pd

from clusterimpact.errors import SpecificationError, suggest

__all__ = ["describe", "load", "names"]


@dataclass(frozen=True)
class _Entry:
    file: str
    summary: str
    unit: str | None
    time: str | None
    cohort: str | None = None
    treatment: str | None = None
    licence: str = "not stated; distributed by the authors for replication"
    citation: str = ""


_REGISTRY: dict[str, _Entry] = {
    "mpdta": _Entry(
        "mpdta/mpdta.csv",
        "County teen employment and state minimum-wage rises, 2003-2007 (500 counties; "
        "staggered adoption 2004/2006/2007). Callaway & Sant'Anna (2021).",
        unit="countyreal", time="year", cohort="first.treat",
        licence="distributed inside the R package did (GPL-3); no separate data licence",
        citation="Callaway, B. and Sant'Anna, P. H. C. (2021), Difference-in-Differences with "
        "multiple time periods, Journal of Econometrics 225(2), 200-230.",
    ),
    "card_krueger": _Entry(
        "card_krueger/card_krueger_public.csv",
        "New Jersey / Pennsylvania fast-food restaurants before and after NJ's 1992 minimum-wage "
        "rise (410 stores, wide: wave-2 columns end in 2). Card & Krueger (1994).",
        unit="sheet", time=None,
        citation="Card, D. and Krueger, A. B. (1994), Minimum wages and employment: a case study "
        "of the fast-food industry in New Jersey and Pennsylvania, AER 84(4), 772-793.",
    ),
    "prop99": _Entry(
        "prop99/prop99.csv",
        "California Proposition 99 and per-capita cigarette sales, 39 states 1970-2000 "
        "(one treated unit from 1989). Abadie, Diamond & Hainmueller (2010).",
        unit="state", time="year", treatment="treated",
        licence="synthdid data: GPL (>= 2) | BSD-3-Clause; predictors: MIT",
        citation="Abadie, A., Diamond, A. and Hainmueller, J. (2010), Synthetic control methods "
        "for comparative case studies, JASA 105(490), 493-505.",
    ),
    "castle": _Entry(
        "castle/castle.csv",
        "Castle-doctrine laws and crime, 50 US states 2000-2010 (21 adopt 2005-2009; cohort "
        "column effyear). Cheng & Hoekstra (2013).",
        unit="sid", time="year", cohort="effyear",
        licence="MIT (scunning1975/mixtape repository)",
        citation="Cheng, C. and Hoekstra, M. (2013), Does strengthening self-defense law deter "
        "crime or escalate violence?, Journal of Human Resources 48(3), 821-854.",
    ),
    "nsw_lalonde": _Entry(
        "nsw_lalonde/nsw_smith_todd.csv.gz",
        "National Supported Work demonstration with CPS and PSID comparison samples (wide; "
        "earnings 1974, 1975, 1978). LaLonde (1986); Smith & Todd (2005).",
        unit="id", time=None,
        licence="distributed inside the R package DRDID (GPL-3); Harvard Dataverse",
        citation="LaLonde, R. (1986), AER 76(4), 604-620; Smith, J. and Todd, P. (2005), "
        "Journal of Econometrics 125, 305-353.",
    ),
}


def names() -> list[str]:
    """Names of the shipped datasets.

    Examples
    --------
    >>> "prop99" in names()
    True
    """
    return sorted(_REGISTRY)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise SpecificationError(
            f"Unknown dataset {name!r}.{suggest(name, _REGISTRY)} Available: {', '.join(names())}."
        )
    return _REGISTRY[name]


def load(name: str) -> pd.DataFrame:
    """Load a shipped dataset as a new pandas DataFrame.

    Parameters
    ----------
    name
        One of :func:`names`.

    Examples
    --------
    >>> df = load("castle")
    >>> int(df["sid"].nunique()), int(df["year"].min()), int(df["year"].max())
    (50, 2000, 2010)
    """
    entry = _entry(name)
    path = resources.files("clusterimpact.datasets").joinpath("data", *entry.file.split("/"))
    with resources.as_file(path) as file:
        return pd.read_csv(file)


def describe(name: str) -> str:
    """Source, licence, citation and column meanings of a shipped dataset (its README).

    Examples
    --------
    >>> print(describe("mpdta").splitlines()[0])
    # mpdta — county teen employment and state minimum-wage increases
    """
    entry = _entry(name)
    folder = entry.file.split("/")[0]
    readme = (
        resources.files("clusterimpact.datasets")
        .joinpath("data", folder, "README.md")
        .read_text(encoding="utf-8")
    )
    head = f"Licence: {entry.licence}\nCitation: {entry.citation}\n\n"
    first, _, rest = readme.partition("\n")
    return f"{first}\n\n{entry.summary}\n{head}{rest.lstrip()}"


def panel_columns(name: str) -> dict[str, str | None]:
    """The Panel roles (unit, time, cohort or treatment) of a long-format dataset.

    Examples
    --------
    >>> panel_columns("mpdta")
    {'unit': 'countyreal', 'time': 'year', 'cohort': 'first.treat'}
    """
    entry = _entry(name)
    if entry.time is None:
        raise SpecificationError(f"Dataset {name!r} is wide (one row per unit); reshape it first.")
    roles = {"unit": entry.unit, "time": entry.time}
    if entry.cohort:
        roles["cohort"] = entry.cohort
    else:
        roles["treatment"] = entry.treatment
    return roles


def summary() -> pd.DataFrame:
    """A table of the shipped datasets with their shape and a one-line description.

    Examples
    --------
    >>> list(summary().columns)
    ['name', 'rows', 'columns', 'description']
    """
    rows = []
    for name in names():
        frame = load(name)
        rows.append({"name": name, "rows": frame.shape[0], "columns": frame.shape[1],
                     "description": _REGISTRY[name].summary})
    return pd.DataFrame(rows)
