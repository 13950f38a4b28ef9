"""A catalogue of decent-work, environmental, economic and survey indicators, and their formulas.

Each entry is a frozen :class:`Indicator`: a name, a label, a unit, the level
at which it is measured (``worker``, ``firm`` or ``cluster``), whether a higher
value is better, the framework it comes from and a one-sentence definition.
Environmental entries carry the Indian discharge standards where they are
documented (Environment (Protection) Rules 1986, Schedule VI, "General
standards for discharge of environmental pollutants", Part A: effluents).

The functions below compute the indicators from raw worker and firm records.
They are vectorised, never modify their input and return a
:class:`pandas.Series` aligned to the input's index: 0/1 (as floats) for
binary indicators, NaN where an input is missing.

:func:`align_directions` flips "lower is better" columns so that every
column points the same way, and :func:`positive` returns the
``{column: higher_is_better}`` mapping that the summary indices
(:func:`~clusterimpact.indicators.klk_index`,
:func:`~clusterimpact.indicators.anderson_index`) take as ``positive=``.

Examples
--------
>>> import clusterimpact as ci
>>> ci.indicators.get("excessive_hours").direction
'lower_is_better'
>>> ci.indicators.get("bod").standard
30.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
import pandas as pd

from clusterimpact.design._frames import to_pandas
from clusterimpact.errors import SpecificationError, suggest

__all__ = [
    "Indicator",
    "align_directions",
    "below_minimum_wage",
    "catalogue",
    "child_labour",
    "effluent_exceedance",
    "excessive_hours",
    "forced_labour",
    "get",
    "injury_rate",
    "positive",
    "profit_margin",
]

Level = Literal["worker", "firm", "cluster"]
Direction = Literal["higher_is_better", "lower_is_better"]
Discharge = Literal["inland_surface_water", "public_sewers", "land_for_irrigation", "marine_coastal"]

ILO_DWI = ("ILO (2013). Decent Work Indicators: Guidelines for Producers and Users of Statistical and "
           "Legal Framework Indicators. ILO Manual, 2nd version. Geneva: International Labour Office.")
ICLS_CHILD = ("ILO (2008). Resolution concerning statistics of child labour, 18th International "
              "Conference of Labour Statisticians. Geneva.")
EPR_1986 = ("Environment (Protection) Rules 1986 (India), Schedule VI: General standards for discharge "
            "of environmental pollutants, Part A: effluents (as published by the Central Pollution "
            "Control Board).")


@dataclass(frozen=True)
class Indicator:
    """One indicator of the catalogue.

    Parameters
    ----------
    name
        Identifier (snake_case), also the default column name.
    label
        Human-readable label for tables and plots.
    unit
        Unit of measurement (``"share"`` for 0/1 indicators averaged over workers).
    level
        ``"worker"``, ``"firm"`` or ``"cluster"``: where it is measured.
    direction
        ``"higher_is_better"`` or ``"lower_is_better"``.
    framework
        Source framework (ILO decent-work dimension, CPCB standards, ...).
    definition
        A short definition (the formula of the matching function, if any).
    standard
        Documented reference value (for effluents: the discharge limit into
        inland surface water, mg/l); ``None`` where no standard is documented.
    standards
        Limits by receiving body (``inland_surface_water``, ``public_sewers``,
        ``land_for_irrigation``, ``marine_coastal``), where documented.
    aliases
        Other column names taken to mean this indicator (e.g. ``"log_bod"``:
        monotone transforms keep the direction).
    reference
        Citation of the framework or legal source.

    Examples
    --------
    >>> from clusterimpact.indicators.catalogue import get
    >>> ind = get("injury_rate")
    >>> ind.level, ind.higher_is_better
    ('firm', False)
    """

    name: str
    label: str
    unit: str
    level: Level
    direction: Direction
    framework: str
    definition: str
    standard: float | None = None
    standards: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    reference: str = ""

    def __post_init__(self) -> None:
        if self.level not in get_args(Level):
            raise SpecificationError(f"Indicator {self.name!r}: level must be one of {get_args(Level)}, "
                                     f"got {self.level!r}.")
        if self.direction not in get_args(Direction):
            raise SpecificationError(f"Indicator {self.name!r}: direction must be one of "
                                     f"{get_args(Direction)}, got {self.direction!r}.")
        object.__setattr__(self, "standards", MappingProxyType(dict(self.standards)))

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher value is better (the sign used to align indices).

        Examples
        --------
        >>> from clusterimpact.indicators.catalogue import get
        >>> get("earnings").higher_is_better
        True
        """
        return self.direction == "higher_is_better"


def _effluent(name: str, label: str, limits: Mapping[str, float], aliases: tuple[str, ...],
              definition: str) -> Indicator:
    return Indicator(name, label, "mg/l", "firm", "lower_is_better",
                     "Environment: effluent quality (CPCB general discharge standards)", definition,
                     standard=limits.get("inland_surface_water"), standards=limits, aliases=aliases,
                     reference=EPR_1986)


_H, _L = "higher_is_better", "lower_is_better"
_ENTRIES: tuple[Indicator, ...] = (
    # ---- ILO decent work
    Indicator("employment", "Employed", "share", "worker", _H, "ILO decent work: employment opportunities",
              "1 if the person worked for pay or profit in the reference period (ILO 'employed'); "
              "averaged, the employment rate.", aliases=("employed", "employment_rate"), reference=ILO_DWI),
    Indicator("earnings", "Earnings", "currency per period", "worker", _H,
              "ILO decent work: adequate earnings and productive work",
              "Cash and in-kind pay from the main job in the reference period.",
              aliases=("wage", "income", "monthly_earnings"), reference=ILO_DWI),
    Indicator("below_minimum_wage", "Paid below the minimum wage", "share", "worker", _L,
              "ILO decent work: adequate earnings and productive work",
              "1 if the wage rate (earnings / hours when hours are given) is below the applicable "
              "statutory minimum wage.", aliases=("below_minimum",), reference=ILO_DWI),
    Indicator("excessive_hours", "Excessive hours (> 48 h/week)", "share", "worker", _L,
              "ILO decent work: decent working time",
              "1 if usual weekly hours exceed 48 (ILO Hours of Work Convention, C1 1919, C30 1930).",
              reference=ILO_DWI),
    Indicator("secure_contract", "Permanent or written contract", "share", "worker", _H,
              "ILO decent work: stability and security of work",
              "1 if employed on a permanent (open-ended) or written contract, 0 if casual, "
              "contract labour through an agent, or piece-rate without a contract.",
              aliases=("job_security",), reference=ILO_DWI),
    Indicator("injury_rate", "Occupational injury rate", "injuries per 100 workers", "firm", _L,
              "ILO decent work: safe work environment",
              "Occupational injuries in the reference period per 100 workers (or per 200,000 hours, "
              "i.e. 100 full-time workers, with hours as exposure).",
              aliases=("accident", "injuries", "accident_rate"), reference=ILO_DWI),
    Indicator("child_labour", "Child labour", "share", "worker", _L,
              "ILO decent work: work that should be abolished",
              "1 if the worker is below the minimum age for the work done (ILO C138: 15, light work "
              "from 12-13) or under 18 in hazardous work (C182), following the 18th ICLS definition.",
              aliases=("child_worker",), reference=ICLS_CHILD),
    Indicator("forced_labour", "Forced labour", "share", "worker", _L,
              "ILO decent work: work that should be abolished",
              "1 if work is both involuntary and exacted under the menace of a penalty (ILO C29, "
              "1930, and Protocol of 2014).", reference=ILO_DWI),
    Indicator("union_membership", "Trade union member", "share", "worker", _H,
              "ILO decent work: social dialogue, workers' and employers' representation",
              "1 if the worker belongs to a trade union or elected workers' committee (C87, C98).",
              aliases=("representation",), reference=ILO_DWI),
    Indicator("collective_agreement", "Covered by a collective agreement", "share", "worker", _H,
              "ILO decent work: social dialogue, workers' and employers' representation",
              "1 if pay or conditions are set by a collective bargaining agreement.", reference=ILO_DWI),
    Indicator("social_protection", "Social insurance coverage", "share", "worker", _H,
              "ILO decent work: social security",
              "1 if the worker contributes to or is covered by social insurance (in India e.g. ESI "
              "health insurance or EPF provident fund).", aliases=("social_security",),
              reference=ILO_DWI),
    # ---- environment
    _effluent("bod", "Biochemical oxygen demand (3 days, 27 C)",
              {"inland_surface_water": 30.0, "public_sewers": 350.0, "land_for_irrigation": 100.0,
               "marine_coastal": 100.0}, ("log_bod",),
              "BOD of the discharged effluent, mg/l."),
    _effluent("cod", "Chemical oxygen demand",
              {"inland_surface_water": 250.0, "marine_coastal": 250.0}, ("log_cod",),
              "COD of the discharged effluent, mg/l."),
    _effluent("tss", "Total suspended solids",
              {"inland_surface_water": 100.0, "public_sewers": 600.0, "land_for_irrigation": 200.0},
              ("suspended_solids", "log_tss"), "Suspended solids in the discharged effluent, mg/l."),
    _effluent("chromium", "Total chromium (as Cr)",
              {"inland_surface_water": 2.0, "public_sewers": 2.0, "marine_coastal": 2.0},
              ("log_chromium", "total_chromium"), "Total chromium in the discharged effluent, mg/l."),
    _effluent("chromium_vi", "Hexavalent chromium (as Cr+6)",
              {"inland_surface_water": 0.1, "public_sewers": 2.0, "marine_coastal": 1.0},
              ("hexavalent_chromium",), "Hexavalent chromium in the discharged effluent, mg/l."),
    Indicator("water_use", "Water use per unit of output", "m3 per tonne", "firm", _L,
              "Environment: resource use", "Fresh water drawn per tonne of output (e.g. raw hides); "
              "no general standard is documented here.", aliases=("log_water_use",)),
    # ---- economic
    Indicator("sales", "Sales", "currency per period", "firm", _H, "Economic: firm performance",
              "Revenue from sales in the reference period.", aliases=("revenue",)),
    Indicator("costs", "Costs", "currency per period", "firm", _L, "Economic: firm performance",
              "Operating costs in the reference period (compliance, treatment, labour, materials).",
              aliases=("treatment_cost", "cost")),
    Indicator("profit_margin", "Profit margin", "share of sales", "firm", _H, "Economic: firm performance",
              "(sales - costs) / sales."),
    # ---- survey scales
    Indicator("social_cohesion", "Social cohesion", "scale score", "worker", _H, "Survey scale",
              "Standardised score of agreement items on trust and cooperation among cluster members.",
              aliases=("cohesion",)),
    Indicator("confidence", "Self-confidence", "scale score", "worker", _H, "Survey scale",
              "Standardised score of self-efficacy / confidence items."),
)

_BY_NAME: Mapping[str, Indicator] = MappingProxyType({ind.name: ind for ind in _ENTRIES})
_ALIAS: Mapping[str, str] = MappingProxyType(
    {alias: ind.name for ind in _ENTRIES for alias in ind.aliases} | {n: n for n in _BY_NAME})


def catalogue(level: Level | None = None) -> pd.DataFrame:
    """The indicator catalogue as a DataFrame, one row per indicator.

    Parameters
    ----------
    level
        Keep only ``"worker"``, ``"firm"`` or ``"cluster"`` indicators.

    Returns
    -------
    pandas.DataFrame
        ``name, label, unit, level, direction, framework, definition, standard,
        aliases, reference`` (``standard``: inland-surface-water limit, NaN if none).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> cat = ci.indicators.catalogue()
    >>> cat.set_index("name").loc[["excessive_hours", "cod"], ["level", "direction", "standard"]]
                    level        direction  standard
    name
    excessive_hours  worker  lower_is_better       NaN
    cod                firm  lower_is_better     250.0
    """
    if level is not None and level not in get_args(Level):
        raise SpecificationError(f"level must be one of {get_args(Level)}, got {level!r}."
                                 + suggest(str(level), get_args(Level)))
    cols = [f.name for f in fields(Indicator) if f.name != "standards"]
    rows = [{c: getattr(ind, c) for c in cols} for ind in _ENTRIES if level in (None, ind.level)]
    out = pd.DataFrame(rows, columns=cols)
    out["standard"] = out["standard"].astype(float)
    out["aliases"] = out["aliases"].map(", ".join)
    return out


def get(name: str) -> Indicator:
    """Look an indicator up by name or alias (e.g. ``"log_bod"`` -> ``bod``).

    Raises
    ------
    SpecificationError
        For an unknown name, with the closest names.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.indicators.get("log_chromium").name
    'chromium'
    """
    if name not in _ALIAS:
        raise SpecificationError(f"No indicator {name!r} in the catalogue.{suggest(name, _ALIAS)} "
                                 f"Indicators: {', '.join(_BY_NAME)}.")
    return _BY_NAME[_ALIAS[name]]


def _mapping(indicators: Sequence[str] | Mapping[str, str]) -> dict[str, Indicator]:
    if isinstance(indicators, str):
        indicators = [indicators]
    pairs = indicators.items() if isinstance(indicators, Mapping) else ((c, c) for c in indicators)
    return {col: get(name) for col, name in pairs}


def positive(indicators: Sequence[str] | Mapping[str, str]) -> dict[str, bool]:
    """``{column: higher_is_better}`` from the catalogue: the ``positive=`` argument of the indices.

    Parameters
    ----------
    indicators
        Column names that are catalogue names or aliases, or a mapping
        ``{column: catalogue name}``.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"wage": [1.0, 2.0, 3.0, 4.0], "accident": [2.0, 1.0, 1.0, 0.0]})
    >>> ci.indicators.positive(["wage", "accident"])
    {'wage': True, 'accident': False}
    >>> ci.klk_index(df, ["wage", "accident"],
    ...              positive=ci.indicators.positive(["wage", "accident"])).round(3).tolist()
    [-1.193, -0.194, 0.194, 1.193]
    """
    return {col: ind.higher_is_better for col, ind in _mapping(indicators).items()}


def align_directions(data, indicators: Sequence[str] | Mapping[str, str]) -> pd.DataFrame:
    """Return a copy in which every listed column points the same way (higher is better).

    Parameters
    ----------
    data
        pandas or polars DataFrame (not modified).
    indicators
        Columns to align: catalogue names or aliases, or ``{column: catalogue name}``.

    Returns
    -------
    pandas.DataFrame
        ``data`` with the "lower is better" columns multiplied by :math:`-1`
        (:math:`\\tilde y_j = s_j y_j`, :math:`s_j = +1` if higher is better,
        else :math:`-1`); other columns unchanged.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"earnings": [3.0, 4.0], "excessive_hours": [1.0, 0.0]})
    >>> ci.indicators.align_directions(df, ["earnings", "excessive_hours"])
       earnings  excessive_hours
    0       3.0             -1.0
    1       4.0             -0.0
    """
    frame = to_pandas(data)
    signs = positive(indicators)
    _need(frame, list(signs))
    flips = [c for c, up in signs.items() if not up]
    out = frame.copy()
    for col in flips:
        out[col] = -out[col].astype(float)
    return out


# ---------------------------------------------------------------------------------- computations
def _need(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SpecificationError(f"Column(s) {missing} not found in the data."
                                 f"{suggest(missing[0], frame.columns)}")


def _col(frame: pd.DataFrame, spec: str | float | None, role: str) -> np.ndarray:
    """A float array: the column named ``spec`` or the constant ``spec``."""
    if isinstance(spec, str):
        if spec not in frame.columns:
            raise SpecificationError(f"{role}={spec!r} is not a column of the data."
                                     f"{suggest(spec, frame.columns)}")
        values = pd.to_numeric(frame[spec], errors="coerce")
        bad = values.isna() & frame[spec].notna()
        if bad.any():
            raise SpecificationError(f"{role}={spec!r} has non-numeric values, e.g. "
                                     f"{frame.loc[bad, spec].head(5).tolist()}.")
        return values.to_numpy(dtype=float)
    if spec is None:
        raise SpecificationError(f"{role} is required.")
    return np.full(len(frame), float(spec))


def _flag(condition: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    """0/1 floats, NaN where any input is missing."""
    out = condition.astype(float)
    missing = np.zeros(condition.shape, dtype=bool)
    for x in inputs:
        missing |= np.isnan(x)
    out[missing] = np.nan
    return out


def _series(frame: pd.DataFrame, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=frame.index, name=name)


def below_minimum_wage(data, *, wage: str = "wage", minimum: str | float = "minimum_wage",
                       hours: str | None = None) -> pd.Series:
    """1 if a worker is paid below the statutory minimum wage.

    Parameters
    ----------
    data
        Worker records (pandas or polars; not modified).
    wage
        Column of pay: a wage rate, or earnings over the period if ``hours`` is given.
    minimum
        Column (e.g. the state and skill-specific minimum) or a number, in the
        same unit as the wage rate.
    hours
        Optional column of hours worked in the period; the wage rate is then
        ``wage / hours`` (rows with zero hours are missing).

    Returns
    -------
    pandas.Series
        :math:`1\\{w_i < m_i\\}` with :math:`w_i` = ``wage`` or ``wage / hours``;
        NaN where an input is missing.

    References
    ----------
    ILO (2013). Decent Work Indicators, chapter 2 (adequate earnings): "employees
    with below-minimum wages".

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"pay": [4000.0, 6000.0, None], "hours": [200.0, 200.0, 100.0]})
    >>> ci.indicators.below_minimum_wage(df, wage="pay", minimum=25.0, hours="hours").tolist()
    [1.0, 0.0, nan]
    """
    frame = to_pandas(data)
    w = _col(frame, wage, "wage")
    m = _col(frame, minimum, "minimum")
    if hours is not None:
        h = _col(frame, hours, "hours")
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(h > 0, w / h, np.nan)
    return _series(frame, _flag(w < m, w, m), "below_minimum_wage")


def excessive_hours(data, *, hours: str = "hours", threshold: float = 48.0) -> pd.Series:
    """1 if usual weekly hours exceed ``threshold`` (ILO: 48 hours).

    Returns
    -------
    pandas.Series
        :math:`1\\{h_i > 48\\}`, NaN where hours are missing.

    References
    ----------
    ILO Hours of Work (Industry) Convention, 1919 (No. 1); ILO (2013), Decent Work
    Indicators, chapter 3 (decent working time): "excessive hours".

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> ci.indicators.excessive_hours(pd.DataFrame({"hours": [40, 48, 60]})).tolist()
    [0.0, 0.0, 1.0]
    """
    frame = to_pandas(data)
    h = _col(frame, hours, "hours")
    return _series(frame, _flag(h > threshold, h), "excessive_hours")


def child_labour(data, *, age: str = "age", hazardous: str | None = None, hours: str | None = None,
                 minimum_age: float = 15, light_work_age: float = 12, light_work_hours: float = 14,
                 hazardous_hours: float | None = 43) -> pd.Series:
    """1 if a working person is in child labour (ILO C138/C182, 18th ICLS statistical definition).

    Parameters
    ----------
    data
        Records of working people (not modified).
    age
        Age in completed years.
    hazardous
        Optional 0/1 column: hazardous work (occupation or conditions listed as
        hazardous, C182 art. 3(d)); missing is treated as not hazardous.
    hours
        Optional weekly hours, used for the light-work and long-hours rules.
    minimum_age
        General minimum age (C138: 15; 14 where a developing country has declared it).
    light_work_age
        Lower age bound of permissible light work (C138 art. 7: 13, or 12 with the 14 minimum).
    light_work_hours
        Weekly hours above which work of ``light_work_age <= age < minimum_age`` is not light.
    hazardous_hours
        Weekly hours from which work of a 15-17 year old counts as hazardous
        (the 18th ICLS uses 43); ``None`` to ignore.

    Returns
    -------
    pandas.Series
        :math:`1` if :math:`a < a_{light}`; or :math:`a_{light} \\le a < a_{min}` and
        (hours :math:`> h_{light}` or hazardous; every such case if hours are not
        given); or :math:`a < 18` and (hazardous or hours :math:`\\ge h_{haz}`).
        NaN where age is missing.

    References
    ----------
    ILO Minimum Age Convention, 1973 (No. 138); Worst Forms of Child Labour Convention,
    1999 (No. 182); ILO (2008), Resolution concerning statistics of child labour, 18th ICLS.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"age": [10, 13, 13, 16, 16, 30],
    ...                    "hours": [5, 10, 20, 40, 45, 60], "hazardous": [0, 0, 0, 1, 0, 1]})
    >>> ci.indicators.child_labour(df, hazardous="hazardous", hours="hours").tolist()
    [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    """
    frame = to_pandas(data)
    a = _col(frame, age, "age")
    n = len(frame)
    haz = np.zeros(n, dtype=bool) if hazardous is None else np.nan_to_num(_col(frame, hazardous,
                                                                              "hazardous")) > 0
    if hours is None:
        not_light = np.ones(n, dtype=bool)
        long_hours = np.zeros(n, dtype=bool)
    else:
        h = _col(frame, hours, "hours")
        not_light = ~(h <= light_work_hours)  # missing hours: not shown to be light
        long_hours = np.zeros(n, dtype=bool) if hazardous_hours is None else h >= hazardous_hours
    with np.errstate(invalid="ignore"):
        young = a < light_work_age
        light_band = (a >= light_work_age) & (a < minimum_age) & (not_light | haz)
        minor_hazard = (a < 18) & (haz | long_hours)
    return _series(frame, _flag(young | light_band | minor_hazard, a), "child_labour")


def forced_labour(data, *, involuntary: str = "involuntary", penalty: str = "penalty") -> pd.Series:
    """1 if work is both involuntary and exacted under the menace of a penalty (ILO C29).

    Parameters
    ----------
    involuntary
        0/1 column: work not freely entered or not free to leave (e.g. debt bondage,
        withheld wages or documents).
    penalty
        0/1 column: threat or use of a penalty (violence, wage withholding, denunciation).

    Returns
    -------
    pandas.Series
        :math:`1\\{\\text{involuntary}_i = 1 \\wedge \\text{penalty}_i = 1\\}`; NaN where either is missing.

    References
    ----------
    ILO Forced Labour Convention, 1930 (No. 29), art. 2(1); ILO (2012), Hard to see, harder
    to count: survey guidelines to estimate forced labour of adults and children.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"involuntary": [1, 1, 0, None], "penalty": [1, 0, 1, 1]})
    >>> ci.indicators.forced_labour(df).tolist()
    [1.0, 0.0, 0.0, nan]
    """
    frame = to_pandas(data)
    inv = _col(frame, involuntary, "involuntary")
    pen = _col(frame, penalty, "penalty")
    return _series(frame, _flag((inv > 0) & (pen > 0), inv, pen), "forced_labour")


def injury_rate(data, *, injuries: str = "injuries", exposure: str = "workers",
                per: float = 100.0) -> pd.Series:
    """Occupational injuries per ``per`` units of exposure, for each record.

    Parameters
    ----------
    data
        Firm (or firm-period) records.
    injuries
        Column counting recordable injuries in the period.
    exposure
        Column of exposure: workers (default, rate per 100 workers) or hours
        worked (then use ``per=200_000``: 100 full-time workers x 40 h x 50 weeks).
    per
        Scale of the rate.

    Returns
    -------
    pandas.Series
        :math:`r_i = \\text{per}\\cdot \\text{injuries}_i / \\text{exposure}_i`; NaN where
        exposure is missing or not positive. A pooled rate over records is
        :math:`\\text{per}\\sum_i \\text{injuries}_i / \\sum_i \\text{exposure}_i` (sum first,
        then call this on the sums).

    References
    ----------
    ILO (2013). Decent Work Indicators, chapter 6 (safe work environment); SDG 8.8.1.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"injuries": [3, 0, 2], "workers": [50, 20, 0]})
    >>> ci.indicators.injury_rate(df).tolist()
    [6.0, 0.0, nan]
    """
    frame = to_pandas(data)
    k = _col(frame, injuries, "injuries")
    e = _col(frame, exposure, "exposure")
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(e > 0, per * k / e, np.nan)
    return _series(frame, rate, "injury_rate")


def effluent_exceedance(data, *, pollutant: str, column: str | None = None, standard: float | None = None,
                        discharge: Discharge = "inland_surface_water", log: bool = False) -> pd.Series:
    """1 if a measured effluent concentration exceeds its discharge standard.

    Parameters
    ----------
    data
        Firm (or CETP outlet) sample records.
    pollutant
        Catalogue name or alias (``"bod"``, ``"cod"``, ``"tss"``, ``"chromium"``, ``"chromium_vi"``).
    column
        Column holding the concentration (mg/l); default ``pollutant``.
    standard
        Limit to apply; default the catalogue's limit for ``discharge``.
    discharge
        Receiving body whose limit applies (``"inland_surface_water"``, ``"public_sewers"``,
        ``"land_for_irrigation"``, ``"marine_coastal"``).
    log
        The column holds natural logs of the concentration (as in the simulated tannery data).

    Returns
    -------
    pandas.Series
        :math:`1\\{c_i > \\bar c\\}`; NaN where the concentration is missing.

    Raises
    ------
    SpecificationError
        If no standard is documented for this pollutant and receiving body and none is given.

    References
    ----------
    Environment (Protection) Rules 1986, Schedule VI (general standards, Part A: effluents).

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"bod": [12.0, 30.0, 45.0, None]})
    >>> ci.indicators.effluent_exceedance(df, pollutant="bod").tolist()
    [0.0, 0.0, 1.0, nan]
    >>> ci.indicators.effluent_exceedance(df, pollutant="bod", discharge="public_sewers").tolist()
    [0.0, 0.0, 0.0, nan]
    """
    ind = get(pollutant)
    if ind.unit != "mg/l":
        raise SpecificationError(f"{pollutant!r} is not an effluent concentration; use one of "
                                 f"{[i.name for i in _ENTRIES if i.unit == 'mg/l']}.")
    if discharge not in get_args(Discharge):
        raise SpecificationError(f"discharge must be one of {get_args(Discharge)}, got {discharge!r}."
                                 + suggest(str(discharge), get_args(Discharge)))
    limit = standard if standard is not None else ind.standards.get(discharge)
    if limit is None:
        raise SpecificationError(f"No documented {discharge} standard for {ind.name!r} in the "
                                 "catalogue; pass standard=.")
    frame = to_pandas(data)
    c = _col(frame, column or pollutant, "column")
    if log:
        c = np.exp(c)
    return _series(frame, _flag(c > float(limit), c), f"{ind.name}_exceeds")


def profit_margin(data, *, sales: str = "sales", costs: str = "costs") -> pd.Series:
    """Profit margin, (sales - costs) / sales.

    Returns
    -------
    pandas.Series
        :math:`(S_i - C_i)/S_i`; NaN where sales are missing or not positive.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> df = pd.DataFrame({"sales": [100.0, 50.0, 0.0], "costs": [80.0, 60.0, 10.0]})
    >>> ci.indicators.profit_margin(df).tolist()
    [0.2, -0.2, nan]
    """
    frame = to_pandas(data)
    s = _col(frame, sales, "sales")
    c = _col(frame, costs, "costs")
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(s > 0, (s - c) / s, np.nan)
    return _series(frame, margin, "profit_margin")
