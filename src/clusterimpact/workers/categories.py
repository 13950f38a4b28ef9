"""Worker categories from raw survey columns (``ci.workers``).

Every helper takes a column (a pandas Series or anything array-like), never
modifies it, and returns a :class:`pandas.Series` of dtype ``category`` with
the input's index, so that the result can be assigned straight back to the
DataFrame (``df.assign(gender=ci.workers.gender(df["sex"]))``) and used as a
``by=`` column. Missing inputs stay missing. Values that cannot be mapped
raise :class:`~clusterimpact.errors.SpecificationError` showing up to five
offending rows and suggesting close known labels; every free-text mapping can
be extended or overridden with ``mapping=``.

The categories follow international conventions where one exists: ILO age
bands (with children under 15 and adolescents aged 15-17 flagged because the
ILO minimum-age and worst-forms conventions, C138 and C182, treat them
separately), ISCED 2011 education levels, ISCO-08 major groups and their
skill levels.

Examples
--------
>>> import pandas as pd, clusterimpact as ci
>>> df = pd.DataFrame({"sex": ["F", "m", "woman"], "where": ["home", "Centre", "factory"]})
>>> both = ci.workers.intersect(ci.workers.gender(df["sex"]), ci.workers.work_site(df["where"]))
>>> both.tolist()
['female x home', 'male x centre', 'female x factory']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from itertools import pairwise, product
from typing import Any

import numpy as np
import pandas as pd

from clusterimpact.errors import SmallCellWarning, SpecificationError, show_rows, suggest

__all__ = [
    "AGE_BANDS",
    "CONTRACTS",
    "EDUCATION_LEVELS",
    "ISCO_MAJOR_GROUPS",
    "WORK_SITES",
    "age_band",
    "cell_sizes",
    "contract",
    "education_level",
    "gender",
    "intersect",
    "life_cycle",
    "migrant",
    "occupation_isco",
    "skill_level",
    "work_site",
]

#: ILO-style age bands; the first two flag child labour (under 15) and adolescents (15-17).
AGE_BANDS: tuple[str, ...] = ("child_under_15", "adolescent_15_17", "18_24", "25_34", "35_54",
                              "55_64", "65_plus")
_AGE_EDGES = (15, 18, 25, 35, 55, 65)
CONTRACTS: tuple[str, ...] = ("permanent", "casual", "contract_labour", "piece_rate", "unpaid_family")
WORK_SITES: tuple[str, ...] = ("factory", "centre", "home")
EDUCATION_LEVELS: tuple[str, ...] = ("none", "primary", "lower_secondary", "upper_secondary",
                                     "tertiary")
#: ISCO-08 major groups (first digit of the code).
ISCO_MAJOR_GROUPS: Mapping[int, str] = {
    1: "1 managers",
    2: "2 professionals",
    3: "3 technicians and associate professionals",
    4: "4 clerical support workers",
    5: "5 service and sales workers",
    6: "6 skilled agricultural, forestry and fishery workers",
    7: "7 craft and related trades workers",
    8: "8 plant and machine operators and assemblers",
    9: "9 elementary occupations",
    0: "0 armed forces occupations",
}
# ISCO-08 skill level of each major group (armed forces span levels; reported separately).
_ISCO_SKILL = {1: "skill_3_4", 2: "skill_4", 3: "skill_3", 4: "skill_2", 5: "skill_2", 6: "skill_2",
               7: "skill_2", 8: "skill_2", 9: "skill_1", 0: "armed_forces"}
_SKILLS = ("skill_1", "skill_2", "skill_3", "skill_3_4", "skill_4", "armed_forces")

_GENDER = {"f": "female", "female": "female", "woman": "female", "women": "female", "w": "female",
           "girl": "female", "m": "male", "male": "male", "man": "male", "men": "male",
           "boy": "male", "other": "other", "x": "other", "non binary": "other", "nonbinary": "other"}
_CONTRACT = {
    "permanent": "permanent", "regular": "permanent", "salaried": "permanent", "open ended": "permanent",
    "indefinite": "permanent", "formal": "permanent", "casual": "casual", "daily": "casual",
    "daily wage": "casual", "temporary": "casual", "seasonal": "casual", "day labourer": "casual",
    "contract labour": "contract_labour", "contract": "contract_labour", "agency": "contract_labour",
    "contractor": "contract_labour", "subcontracted": "contract_labour", "thekedar": "contract_labour",
    "labour contractor": "contract_labour", "piece rate": "piece_rate", "piece": "piece_rate",
    "piecework": "piece_rate", "per piece": "piece_rate", "unpaid family": "unpaid_family",
    "family": "unpaid_family", "unpaid": "unpaid_family", "family helper": "unpaid_family",
    "contributing family worker": "unpaid_family",
}
_SITE = {"factory": "factory", "plant": "factory", "workshop": "factory", "mill": "factory",
         "first tier": "factory", "centre": "centre", "center": "centre", "stitching centre": "centre",
         "stitching center": "centre", "unit": "centre", "home": "home", "home based": "home",
         "household": "home", "homeworker": "home", "home worker": "home", "house": "home"}
_MIGRANT = {"migrant": "migrant", "yes": "migrant", "y": "migrant", "true": "migrant", "1": "migrant",
            "internal migrant": "migrant", "international migrant": "migrant", "local": "local",
            "no": "local", "n": "local", "false": "local", "0": "local", "native": "local",
            "non migrant": "local"}
_EDUCATION = {"none": "none", "no schooling": "none", "illiterate": "none", "primary": "primary",
              "lower secondary": "lower_secondary", "middle": "lower_secondary",
              "upper secondary": "upper_secondary", "secondary": "upper_secondary",
              "matric": "upper_secondary", "high school": "upper_secondary",
              "post secondary": "tertiary", "tertiary": "tertiary", "university": "tertiary",
              "bachelor": "tertiary", "master": "tertiary", "doctorate": "tertiary"}


# ----------------------------------------------------------------------------- plumbing
def _series(values: Any, name: str) -> pd.Series:
    """A Series view of ``values`` (never a modified original)."""
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        raise SpecificationError(f"{name}() takes one column, got a DataFrame; pass df[<column>].")
    return pd.Series(np.asarray(values, dtype=object) if np.ndim(values) != 0 else [values],
                     name=name)


def _normalise(text: Any) -> str:
    """Lower-case, punctuation and separators as single spaces (``'Piece-Rate'`` -> ``'piece rate'``)."""
    return re.sub(r"[\s_\-/.,;:()]+", " ", str(text).strip().lower()).strip()


def _categorical(labels: Sequence[Any] | np.ndarray, index: pd.Index, categories: Sequence[str],
                 name: str | None) -> pd.Series:
    cat = pd.Categorical(labels, categories=list(categories))
    return pd.Series(cat, index=index, name=name)


def _unknown(series: pd.Series, bad: np.ndarray, what: str, known: Sequence[str]) -> SpecificationError:
    values = pd.unique(series[bad].astype(str))
    hints = "".join(f"\n  {v!r}:{suggest(_normalise(v), known) or ' no close label.'}" for v in values[:5])
    frame = series.to_frame(name=series.name or what)
    return SpecificationError(
        f"{int(bad.sum())} value(s) of {series.name or what!r} cannot be mapped to a {what} category "
        f"({len(values)} distinct).{hints}\nKnown labels: {', '.join(sorted(set(known))[:25])}"
        + (" ..." if len(set(known)) > 25 else "")
        + "\nPass mapping={'<raw value>': '<category>'} to add them.\n"
        + show_rows(frame, bad, [frame.columns[0]]))


def _map_text(values: Any, name: str, default: Mapping[str, str], categories: Sequence[str],
              mapping: Mapping[Any, str] | None, what: str, keywords: bool = False) -> pd.Series:
    """Map raw labels through ``mapping`` (exact raw values first), then the normalised defaults."""
    series = _series(values, name)
    user = dict(mapping or {})
    for target in user.values():
        if target not in categories and not pd.isna(target):
            raise SpecificationError(
                f"mapping sends a value to {target!r}, which is not a {what} category; use one of "
                f"{', '.join(categories)}.{suggest(str(target), categories)}")
    table = {_normalise(k): v for k, v in default.items()}
    table.update({_normalise(k): v for k, v in user.items()})
    raw = series.to_numpy(dtype=object)
    out = np.empty(raw.size, dtype=object)
    bad = np.zeros(raw.size, dtype=bool)
    cache: dict[Any, Any] = {}
    for i, v in enumerate(raw):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            out[i] = np.nan
            continue
        key = v if isinstance(v, str | int | float | bool | np.generic) else str(v)
        if key not in cache:
            if key in user:
                cache[key] = user[key]
            else:
                norm = _normalise(v)
                hit = table.get(norm)
                if hit is None and keywords:
                    hit = next((table[k] for k in sorted(table, key=len, reverse=True)
                                if len(k) > 3 and re.search(rf"\b{re.escape(k)}\b", norm)), None)
                cache[key] = hit
        out[i] = cache[key]
        bad[i] = cache[key] is None
    if bad.any():
        raise _unknown(series, bad, what, list(table))
    return _categorical(out, series.index, categories, series.name)


def _numeric(values: Any, name: str, what: str) -> tuple[pd.Series, np.ndarray]:
    series = _series(values, name)
    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(num) & series.notna().to_numpy()
    if bad.any():
        raise _unknown(series, bad, what, ["<numbers>"])
    return series, num


# ----------------------------------------------------------------------------- categories
def gender(values: Any, *, mapping: Mapping[Any, str] | None = None) -> pd.Series:
    """Gender as ``female`` / ``male`` / ``other`` from free text or codes.

    Parameters
    ----------
    values
        Raw column: ``"F"``, ``"female"``, ``"woman"``, ``"M"``, ... (case and
        punctuation are ignored). Numeric survey codes differ between surveys,
        so they need ``mapping`` (e.g. ``{1: "male", 2: "female"}``).
    mapping
        Raw value -> category, applied before the defaults.

    Returns
    -------
    pandas.Series
        Categorical with categories ``female, male, other``, aligned to ``values``.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> ci.workers.gender(pd.Series([1, 2, 2]), mapping={1: "male", 2: "female"}).tolist()
    ['male', 'female', 'female']
    """
    return _map_text(values, "gender", _GENDER, ("female", "male", "other"), mapping, "gender")


def age_band(age: Any, *, edges: Sequence[float] | None = None) -> pd.Series:
    """ILO-style age bands, flagging child labour (< 15) and adolescents (15-17).

    Parameters
    ----------
    age
        Age in completed years.
    edges
        Custom lower edges of the bands after the first (default ``15, 18, 25,
        35, 55, 65``); labels are then ``"<15"``, ``"15-17"`` ... .

    Returns
    -------
    pandas.Series
        Categorical, ordered by age: ``child_under_15, adolescent_15_17, 18_24,
        25_34, 35_54, 55_64, 65_plus``.

    Notes
    -----
    Under 15 is below the general minimum working age of ILO Convention 138
    (14 in some developing countries); 15-17-year-olds may work but not in
    hazardous work (Convention 182), so both are reported separately.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.age_band([12, 16, 30, 70]).tolist()
    ['child_under_15', 'adolescent_15_17', '25_34', '65_plus']
    """
    series, num = _numeric(age, "age", "age")
    if (num[np.isfinite(num)] < 0).any():
        raise _unknown(series, np.nan_to_num(num, nan=0) < 0, "age (non-negative years)", ["<ages>"])
    cuts = tuple(_AGE_EDGES if edges is None else edges)
    if list(cuts) != sorted(set(cuts)):
        raise SpecificationError(f"edges must be increasing, got {cuts}.")
    if edges is None:
        labels = AGE_BANDS
    else:
        labels = (f"<{cuts[0]:g}", *[f"{a:g}-{b - 1:g}" for a, b in pairwise(cuts)],
                  f"{cuts[-1]:g}+")
    pos = np.searchsorted(np.asarray(cuts, dtype=float), num, side="right")
    out = np.where(np.isnan(num), None, np.asarray(labels, dtype=object)[np.minimum(pos, len(cuts))])
    res = _categorical(out, series.index, labels, series.name)
    return res.cat.as_ordered()


def life_cycle(age: Any, married: Any, children: Any) -> pd.Series:
    """Life-cycle stage from age, marital status and number of children.

    Parameters
    ----------
    age
        Age in years.
    married
        Currently married or in union (bool, 0/1, or ``"married"``/``"single"``...).
    children
        Number of own children (0 for none).

    Returns
    -------
    pandas.Series
        Categorical: ``child`` (< 15), ``young_single`` (15-29, not married, no
        children), ``single_adult`` (30+, not married, no children),
        ``married_no_children``, ``parent``, ``older`` (55+ whatever the rest).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.life_cycle([13, 22, 30, 40, 60], [0, 0, 1, 1, 1], [0, 0, 0, 2, 3]).tolist()
    ['child', 'young_single', 'married_no_children', 'parent', 'older']
    """
    series, a = _numeric(age, "age", "age")
    m = _series(married, "married")
    kids_s, kids = _numeric(children, "children", "number of children")
    if not (len(m) == len(series) == len(kids_s)):
        raise SpecificationError("age, married and children must have the same length.")
    flag = {"married": 1.0, "in union": 1.0, "yes": 1.0, "true": 1.0, "1": 1.0, "single": 0.0,
            "never married": 0.0, "divorced": 0.0, "widowed": 0.0, "separated": 0.0, "no": 0.0,
            "false": 0.0, "0": 0.0}
    mv = np.array([np.nan if pd.isna(v) else flag.get(_normalise(v), np.nan) for v in m.to_numpy(object)])
    bad = np.isnan(mv) & m.notna().to_numpy()
    if bad.any():
        raise _unknown(m.rename(m.name or "married"), bad, "marital status", list(flag))
    cats = ("child", "young_single", "single_adult", "married_no_children", "parent", "older")
    out = np.select(
        [a < 15, a >= 55, kids > 0, mv == 1, a < 30, a >= 30],
        ["child", "older", "parent", "married_no_children", "young_single", "single_adult"],
        default="")
    missing = np.isnan(a) | ((a >= 15) & (a < 55) & (np.isnan(kids) | np.isnan(mv)))
    return _categorical(np.where(missing, None, out), series.index, cats, "life_cycle")


def education_level(values: Any, *, mapping: Mapping[Any, str] | None = None) -> pd.Series:
    """ISCED-like education level from years of schooling or labels.

    Numbers are read as completed years of schooling: 0 none, 1-5 primary,
    6-8 lower secondary, 9-12 upper secondary, 13+ tertiary (ISCED 0-1, 1,
    2, 3-4, 5-8 in a 5+3+4 system; pass ``mapping`` for other systems).

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.education_level([0, 5, 8, 10, 16, "university"]).tolist()
    ['none', 'primary', 'lower_secondary', 'upper_secondary', 'tertiary', 'tertiary']
    """
    series = _series(values, "education")
    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    is_num = np.isfinite(num) & ~series.isin(list(mapping or {})).to_numpy()
    text = series.where(~is_num, other="none")
    out = _map_text(text, "education", _EDUCATION, EDUCATION_LEVELS, mapping, "education level")
    levels = np.asarray(EDUCATION_LEVELS, dtype=object)[np.searchsorted([1, 6, 9, 13],
                                                                          np.nan_to_num(num), "right")]
    arr = np.where(is_num, levels, out.astype(object).to_numpy())
    return _categorical(arr, series.index, EDUCATION_LEVELS, series.name).cat.as_ordered()


def _isco_digit(values: Any) -> tuple[pd.Series, np.ndarray]:
    series = _series(values, "isco")
    text = series.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    ok = text.str.fullmatch(r"\d{1,4}").fillna(False).to_numpy(dtype=bool)
    bad = ~ok & series.notna().to_numpy()
    if bad.any():
        raise _unknown(series, bad, "ISCO-08 code (1 to 4 digits)",
                       [str(k) for k in ISCO_MAJOR_GROUPS])
    first = np.array([int(s[0]) if isinstance(s, str) else -1 for s in text.to_numpy(dtype=object)],
                     dtype=int).reshape(-1)
    return series, first


def occupation_isco(codes: Any) -> pd.Series:
    """ISCO-08 major group (1-digit) from 1- to 4-digit occupation codes.

    Codes may be integers or strings (``7533``, ``"7533"``, ``"75"``); the
    first digit is the major group. Numeric codes lose leading zeros, so armed
    forces codes (``0xxx``) must be given as strings.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.occupation_isco([7533, "9329", 1]).tolist()
    ['7 craft and related trades workers', '9 elementary occupations', '1 managers']
    """
    series, first = _isco_digit(codes)
    labels = np.array([ISCO_MAJOR_GROUPS.get(int(d)) if d >= 0 else None for d in first], dtype=object)
    cats = [ISCO_MAJOR_GROUPS[k] for k in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0)]
    return _categorical(labels, series.index, cats, series.name)


def skill_level(codes: Any) -> pd.Series:
    """ISCO-08 skill level (1 elementary ... 4 professional) of 1- to 4-digit occupation codes.

    Major group 9 is skill level 1; groups 4-8 level 2; group 3 level 3;
    group 2 level 4; managers (group 1) levels 3 and 4; armed forces span levels.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.skill_level([9329, 7533, 2141]).tolist()
    ['skill_1', 'skill_2', 'skill_4']
    """
    series, first = _isco_digit(codes)
    labels = np.array([_ISCO_SKILL.get(int(d)) if d >= 0 else None for d in first], dtype=object)
    return _categorical(labels, series.index, _SKILLS, series.name).cat.as_ordered()


def contract(values: Any, *, mapping: Mapping[Any, str] | None = None) -> pd.Series:
    """Employment relationship: permanent, casual, contract labour, piece rate, unpaid family.

    Free text is normalised (case, punctuation) and matched to known labels,
    then to known words inside longer text (``"paid per piece"`` ->
    ``piece_rate``). Survey codes need ``mapping``.

    Parameters
    ----------
    values
        Raw contract column.
    mapping
        Raw value -> category (one of :data:`CONTRACTS`), overriding the defaults.

    Raises
    ------
    SpecificationError
        For values that match nothing, with up to five offending rows and close labels.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.contract(["Piece-rate", "daily wage", "via thekedar", "helper"],
    ...                     mapping={"helper": "unpaid_family"}).tolist()
    ['piece_rate', 'casual', 'contract_labour', 'unpaid_family']
    """
    return _map_text(values, "contract", _CONTRACT, CONTRACTS, mapping, "contract", keywords=True)


def work_site(values: Any, *, mapping: Mapping[Any, str] | None = None) -> pd.Series:
    """Where the work is done: ``factory``, ``centre`` (stitching/collection centre) or ``home``.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.work_site(["Home-based", "stitching center", "FACTORY"]).tolist()
    ['home', 'centre', 'factory']
    """
    return _map_text(values, "work_site", _SITE, WORK_SITES, mapping, "work site", keywords=True)


def migrant(values: Any, *, mapping: Mapping[Any, str] | None = None) -> pd.Series:
    """Migrant status, ``migrant`` / ``local``, from booleans, 0/1 or labels.

    Examples
    --------
    >>> import clusterimpact as ci
    >>> ci.workers.migrant([True, 0, "internal migrant", "local"]).tolist()
    ['migrant', 'local', 'migrant', 'local']
    """
    series = _series(values, "migrant")
    as_text = series.map(lambda v: v if pd.isna(v) else str(int(v)) if isinstance(v, bool | np.bool_)
                         or (isinstance(v, int | float | np.number) and v in (0, 1)) else v)
    out = _map_text(as_text.rename(series.name), "migrant", _MIGRANT, ("migrant", "local"), mapping,
                    "migrant status")
    return out


def intersect(*columns: Any, sep: str = " x ") -> pd.Series:
    """Intersections of categories (e.g. woman x home-based), as one categorical column.

    Parameters
    ----------
    *columns
        Two or more aligned columns (categorical or not).
    sep
        Separator between the labels.

    Returns
    -------
    pandas.Series
        Categorical whose categories are all combinations, in the order of the
        inputs' categories; missing if any input is missing.

    Examples
    --------
    >>> import pandas as pd, clusterimpact as ci
    >>> g = pd.Series(pd.Categorical(["female", "male"]))
    >>> s = pd.Series(["home", "centre"])
    >>> ci.workers.intersect(g, s).cat.categories.tolist()
    ['female x centre', 'female x home', 'male x centre', 'male x home']
    """
    if len(columns) < 2:
        raise SpecificationError("intersect() needs at least two columns.")
    series = [_series(c, f"col{i}") for i, c in enumerate(columns)]
    n = len(series[0])
    if any(len(s) != n for s in series):
        raise SpecificationError("intersect(): columns have different lengths.")
    cats = []
    for s in series:
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats.append([str(c) for c in s.cat.categories])
        else:
            cats.append(sorted(map(str, pd.unique(s.dropna()))))
    arrays = [s.to_numpy(dtype=object) for s in series]
    missing = np.zeros(n, dtype=bool)
    for a in arrays:
        missing |= pd.isna(a)
    labels = [None if missing[i] else sep.join(str(a[i]) for a in arrays) for i in range(n)]
    combos = [sep.join(p) for p in product(*cats)]
    name = sep.join(str(s.name) for s in series) if all(s.name for s in series) else None
    return _categorical(labels, series[0].index, combos, name)


# ----------------------------------------------------------------------------- cell sizes
def cell_sizes(panel: Any, by: str | Sequence[str], *, min_size: int = 30, level: str = "unit",
               suppress: bool = False) -> pd.DataFrame:
    """Units, observations and clusters in each subgroup cell, by treatment arm.

    Parameters
    ----------
    panel
        A :class:`~clusterimpact.Panel`.
    by
        Subgroup column(s).
    min_size
        Smallest acceptable count (of ``level``) in either arm of a cell.
    level
        ``"unit"`` (default), ``"obs"`` or ``"cluster"``: what ``min_size`` counts.
    suppress
        Replace the counts of cells below ``min_size`` by NaN (statistical
        disclosure control), keeping the ``small`` flag.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``units_treated, units_comparison, obs, clusters_treated,
        clusters_comparison, small``.

    Warns
    -----
    SmallCellWarning
        Naming the cells with fewer than ``min_size`` in an arm.

    Examples
    --------
    >>> import warnings, clusterimpact as ci
    >>> sim = ci.simulate.scenario("football_stitching", seed=1, n_clusters=6, cohort_sizes=(2, 2))
    >>> with warnings.catch_warnings(record=True):
    ...     tab = ci.workers.cell_sizes(sim.panel, ["gender", "site"], min_size=20)
    >>> tab.columns.tolist()[:4]
    ['gender', 'site', 'units_treated', 'units_comparison']
    """
    allowed = ("unit", "obs", "cluster")
    if level not in allowed:
        raise SpecificationError(f"level must be one of {allowed}, got {level!r}.{suggest(level, allowed)}")
    names = [by] if isinstance(by, str) else list(by)
    codes, labels = panel.groups(names)
    ever = np.isfinite(panel.cohort_value)
    frame = pd.DataFrame({"g": codes, "arm": np.where(ever, "treated", "comparison"),
                          "unit": panel.unit_code, "cluster": panel.cluster_code})
    grouped = frame.groupby(["g", "arm"])
    units = grouped["unit"].nunique().unstack(fill_value=0)
    clus = grouped["cluster"].nunique().unstack(fill_value=0)
    obs = frame.groupby("g").size()
    out = labels.copy()
    for arm in ("treated", "comparison"):
        out[f"units_{arm}"] = units.get(arm, pd.Series(0, index=units.index)).reindex(out.index,
                                                                                     fill_value=0).to_numpy()
    out["obs"] = obs.reindex(out.index, fill_value=0).to_numpy()
    for arm in ("treated", "comparison"):
        out[f"clusters_{arm}"] = clus.get(arm, pd.Series(0, index=clus.index)).reindex(
            out.index, fill_value=0).to_numpy()
    measure = {"unit": ["units_treated", "units_comparison"], "obs": ["obs"],
               "cluster": ["clusters_treated", "clusters_comparison"]}[level]
    out["small"] = (out[measure] < min_size).any(axis=1)
    if out["small"].any():
        small = out.loc[out["small"], names]
        cells = "; ".join(" & ".join(f"{c}={v}" for c, v in zip(names, row, strict=True))
                          for row in small.head(8).itertuples(index=False))
        warnings.warn(f"{int(out['small'].sum())} subgroup cell(s) have fewer than {min_size} "
                      f"{level}s in an arm: {cells}" + (" ..." if len(small) > 8 else "")
                      + ". Their estimates are imprecise; merge categories or drop the cells.",
                      SmallCellWarning, stacklevel=2)
    if suppress:
        count_cols = [c for c in out.columns if c.startswith(("units_", "clusters_")) or c == "obs"]
        out[count_cols] = out[count_cols].astype(float)
        out.loc[out["small"], count_cols] = np.nan
    return out
