"""Declarative evaluation specs (TOML) for ``clusterimpact report SPEC.toml``.

A spec names the data, the panel columns, the outcomes, the estimators, the
worker subgroups, the inference choices and the output folder. It is checked
in one pass, and every problem is reported at once with the key and the line
of the spec file it concerns.

Examples
--------
>>> spec = parse_spec('''
... [data]
... dataset = "mpdta"
... [panel]
... unit = "countyreal"
... time = "year"
... cohort = "first.treat"
... [outcomes]
... names = ["lemp"]
... ''')
>>> spec.outcomes, [e.name for e in spec.estimators]
(('lemp',), ['att_gt'])
"""

from __future__ import annotations

import inspect
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterimpact.errors import SpecificationError, suggest

__all__ = ["EstimatorSpec", "EvaluationSpec", "load_spec", "parse_spec"]

_SECTIONS = {"title", "description", "data", "panel", "outcomes", "covariates", "estimators",
             "subgroups", "inference", "output"}
_DATA_KEYS = {"path", "dataset", "scenario", "seed", "query"}
_PANEL_KEYS = {"unit", "time", "cohort", "treatment", "cluster", "weights"}
_OUTPUT_KEYS = {"folder", "formats"}
_FORMATS = {"html", "markdown", "latex", "json"}
_INFERENCE_KEYS = {"alpha", "wild_bootstrap", "randomization", "honest", "multiplicity"}


def _estimators() -> dict[str, Any]:
    import clusterimpact as ci

    names = ["att_gt", "did", "twfe", "event_study", "synthetic_did", "synthetic_control",
             "bacon", "ddd"]
    return {n: getattr(ci, n) for n in names if hasattr(ci, n)}


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator to run on every outcome: its name and keyword options.

    Examples
    --------
    >>> EstimatorSpec("twfe", {"vcov": "CR2"}).options
    {'vcov': 'CR2'}
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationSpec:
    """A validated evaluation spec; see :func:`parse_spec` for the file format.

    Examples
    --------
    >>> EvaluationSpec(title="x", data={"dataset": "mpdta"}, panel={"unit": "countyreal",
    ...     "time": "year", "cohort": "first.treat"}, outcomes=("lemp",)).title
    'x'
    """

    title: str
    data: dict[str, Any]
    panel: dict[str, Any]
    outcomes: tuple[str, ...]
    covariates: tuple[str, ...] = ()
    estimators: tuple[EstimatorSpec, ...] = (EstimatorSpec("att_gt"),)
    subgroups: tuple[str, ...] = ()
    inference: dict[str, Any] = field(default_factory=dict)
    output_folder: Path = Path("clusterimpact-report")
    formats: tuple[str, ...] = ("html", "markdown", "json")
    description: str = ""
    base_dir: Path = Path(".")


class _Problems:
    """Collects spec problems with the line they refer to."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.items: list[str] = []

    def line_of(self, section: str, key: str | None = None, index: int = 0) -> int | None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}\s*\]\]?\s*(#.*)?$")
        starts = [i for i, line in enumerate(self.lines) if header.match(line)]
        if not starts:
            inline = re.compile(rf"^\s*{re.escape(section)}\s*=")
            starts = [i for i, line in enumerate(self.lines) if inline.match(line)]
            return starts[0] + 1 if starts else None
        start = starts[min(index, len(starts) - 1)]
        if key is None:
            return start + 1
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start + 1, len(self.lines)):
            if re.match(r"^\s*\[", self.lines[i]):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1

    def add(self, message: str, section: str, key: str | None = None, index: int = 0) -> None:
        line = self.line_of(section, key, index)
        where = f"[{section}]" + (f" {key}" if key else "")
        self.items.append(f"line {line}: {where}: {message}" if line else f"{where}: {message}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _check_unknown(raw: dict[str, Any], allowed: set[str], section: str, problems: _Problems,
                   index: int = 0) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(f"unknown key {key!r}.{suggest(key, allowed)} Allowed: "
                         f"{', '.join(sorted(allowed))}.", section, key, index)


def _parse_estimators(raw: Any, problems: _Problems) -> tuple[EstimatorSpec, ...]:
    registry = _estimators()
    if raw is None:
        return (EstimatorSpec("att_gt"),)
    if not isinstance(raw, list):
        problems.add("must be an array of tables: [[estimators]] name = \"att_gt\" ...",
                     "estimators")
        return ()
    specs = []
    for i, entry in enumerate(raw):
        opts = dict(entry)
        name = opts.pop("name", None)
        if name is None:
            problems.add("each [[estimators]] entry needs name = ...", "estimators", None, i)
            continue
        if name not in registry:
            problems.add(f"unknown estimator {name!r}.{suggest(name, registry)} Available: "
                         f"{', '.join(sorted(registry))}.", "estimators", "name", i)
            continue
        params = inspect.signature(registry[name]).parameters
        allowed = {p for p, v in params.items() if v.kind == v.KEYWORD_ONLY}
        for key in opts:
            if key not in allowed:
                problems.add(f"{name} has no option {key!r}.{suggest(key, allowed)} Options: "
                             f"{', '.join(sorted(allowed))}.", "estimators", key, i)
        specs.append(EstimatorSpec(name, opts))
    return tuple(specs)


def parse_spec(text: str, base_dir: str | Path = ".") -> EvaluationSpec:
    """Parse and validate the TOML text of an evaluation spec.

    The format::

        title = "Child-labour monitoring in the football cluster"
        [data]              # exactly one of: path (CSV, Parquet, Stata, Excel),
        path = "data.csv"   #   dataset (shipped), scenario (simulated, with seed);
        query = "round <= 4"       # optional pandas query selecting rows
        [panel]             # the ci.Panel columns
        unit = "worker"; time = "round"; cohort = "first_treated"; cluster = "cluster"
        [outcomes]
        names = ["wage", "hours"]
        [covariates]
        names = ["age"]            # added to the baseline table (estimators take their own
        [[estimators]]             #   covariates = [...] option); repeatable; options are the
        name = "att_gt"; control = "not_yet_treated"   # estimator's keyword arguments
        [subgroups]
        by = ["gender"]
        [inference]
        alpha = 0.05; wild_bootstrap = 999; honest = true
        multiplicity = "holm"      # adjustment of the who-gains table (statsmodels methods)
        [output]
        folder = "report"; formats = ["html", "markdown", "latex", "json"]

    Parameters
    ----------
    text
        The TOML text.
    base_dir
        Folder that relative data and output paths are resolved against.

    Raises
    ------
    SpecificationError
        Listing every problem, one per line, with the key and the spec line.

    Examples
    --------
    >>> try:
    ...     parse_spec('[data]\\ndataset = "mpdta"\\n[panel]\\nunit = "countyreal"\\n')
    ... except SpecificationError as err:
    ...     print(str(err).splitlines()[1])
    line 3: [panel]: needs time = "<period column>".
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecificationError(f"The spec is not valid TOML: {err}") from err
    problems = _Problems(text)
    for key in raw:
        if key not in _SECTIONS:
            problems.add(f"unknown section or key.{suggest(key, _SECTIONS)}", key)
    data = dict(raw.get("data", {}))
    _check_unknown(data, _DATA_KEYS, "data", problems)
    sources = [k for k in ("path", "dataset", "scenario") if k in data]
    if len(sources) != 1:
        problems.add("give exactly one of path, dataset or scenario.", "data")
    panel = dict(raw.get("panel", {}))
    _check_unknown(panel, _PANEL_KEYS, "panel", problems)
    if "time" not in panel:
        problems.add('needs time = "<period column>".', "panel")
    if "unit" not in panel:
        problems.add('needs unit = "<unit id column>" (or unit = "" for repeated '
                     "cross-sections).", "panel")
    if ("cohort" in panel) == ("treatment" in panel):
        problems.add("give exactly one of cohort or treatment.", "panel")
    outcomes_raw = raw.get("outcomes", {})
    outcomes = _as_list(outcomes_raw.get("names") if isinstance(outcomes_raw, dict) else outcomes_raw)
    if not outcomes:
        problems.add('needs names = ["<outcome column>", ...].', "outcomes")
    cov_raw = raw.get("covariates", {})
    covariates = _as_list(cov_raw.get("names") if isinstance(cov_raw, dict) else cov_raw)
    estimators = _parse_estimators(raw.get("estimators"), problems)
    subgroups_raw = raw.get("subgroups", {})
    by = _as_list(subgroups_raw.get("by") if isinstance(subgroups_raw, dict) else subgroups_raw)
    inference = dict(raw.get("inference", {}))
    _check_unknown(inference, _INFERENCE_KEYS, "inference", problems)
    alpha = inference.get("alpha", 0.05)
    if not isinstance(alpha, float | int) or not 0 < alpha < 1:
        problems.add(f"alpha must be a number in (0, 1), got {alpha!r}.", "inference", "alpha")
    methods = {"bonferroni", "sidak", "holm-sidak", "holm", "simes-hochberg", "hommel", "fdr_bh",
               "fdr_by", "fdr_tsbh", "fdr_tsbky"}
    multiplicity = inference.get("multiplicity", "holm")
    if multiplicity not in methods:
        problems.add(f"unknown multiplicity method {multiplicity!r}.{suggest(str(multiplicity), methods)}",
                     "inference", "multiplicity")
    output = dict(raw.get("output", {}))
    _check_unknown(output, _OUTPUT_KEYS, "output", problems)
    formats = _as_list(output.get("formats", ["html", "markdown", "json"]))
    for fmt in formats:
        if fmt not in _FORMATS:
            problems.add(f"unknown format {fmt!r}.{suggest(str(fmt), _FORMATS)} Choose from "
                         f"{', '.join(sorted(_FORMATS))}.", "output", "formats")
    if problems.items:
        raise SpecificationError(
            f"The evaluation spec has {len(problems.items)} problem(s):\n"
            + "\n".join(problems.items)
        )
    base = Path(base_dir)
    if "path" in data:
        data["path"] = str((base / data["path"]).resolve())
    if panel.get("unit") == "":
        panel["unit"] = None
    return EvaluationSpec(
        title=str(raw.get("title", "Impact evaluation")),
        description=str(raw.get("description", "")),
        data=data,
        panel=panel,
        outcomes=tuple(outcomes),
        covariates=tuple(covariates),
        estimators=estimators,
        subgroups=tuple(by),
        inference=inference,
        output_folder=(base / output.get("folder", "clusterimpact-report")),
        formats=tuple(formats),
        base_dir=base,
    )


def load_spec(path: str | Path) -> EvaluationSpec:
    """Read and validate a spec file; relative paths resolve against its folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "spec.toml"
    >>> _ = f.write_text('[data]\\ndataset="mpdta"\\n[panel]\\nunit="countyreal"\\ntime="year"\\n'
    ...                  'cohort="first.treat"\\n[outcomes]\\nnames=["lemp"]\\n')
    >>> load_spec(f).data
    {'dataset': 'mpdta'}
    """
    path = Path(path)
    if not path.exists():
        raise SpecificationError(f"No such spec file: {path}")
    return parse_spec(path.read_text(encoding="utf-8"), base_dir=path.parent)
