"""``clusterimpact demo``: a complete evaluation of a shipped dataset, written as a report."""

from __future__ import annotations

import warnings
from pathlib import Path

import clusterimpact as ci
from clusterimpact.report.builder import Report

__all__ = ["run_demo"]


def _design_section(rep: Report, panel: ci.Panel) -> None:
    rep.section(
        "Design: who is treated when",
        f"{panel.n_units} units observed over {panel.n_periods} periods; "
        f"{panel.cohorts.size} treatment cohorts and "
        f"{'a never-treated comparison group' if panel.has_never_treated else 'no never-treated units'}.",
    )
    rep.table(panel.describe(), caption="Treatment timing: units and clusters per cohort")
    rep.figure(panel.plot_timing(), caption="Roll-out: treatment status by unit and period")


def _baseline_section(rep: Report, panel: ci.Panel, variables: list[str]) -> None:
    res = ci.baseline(panel, variables)
    periods = ", ".join(res.info["baseline_periods"])
    rep.section(
        "Baseline: conditions before the programme",
        f"Treated versus comparison units in the baseline period(s) {periods}; differences with "
        "cluster-robust standard errors and normalised differences (above 0.25 signals imbalance).",
    )
    cols = ["variable", "mean_treated", "sd_treated", "n_treated", "mean_comparison",
            "sd_comparison", "n_comparison", "estimate", "std_error", "p_value",
            "normalized_difference"]
    rep.table(res.tidy()[cols], caption="Baseline comparison")


def _effects_section(rep: Report, panel: ci.Panel, outcome: str) -> None:
    """Main effects with whatever staggered estimators the package provides."""
    if not hasattr(ci, "att_gt"):
        return
    gt = ci.att_gt(panel, outcome, control="never_treated")
    rep.section(
        "Main effects: Callaway & Sant'Anna group-time ATTs",
        "Each cohort is compared with never-treated units, period by period, with a varying base "
        "period; standard errors from influence functions clustered on the unit.",
    )
    simple = gt.aggregate("simple")
    rep.table(simple.tidy(), caption="Overall ATT (simple aggregation)")
    dyn = gt.aggregate("dynamic")
    rep.table(dyn.tidy(), caption="Event-study aggregation")
    rep.figure(dyn.plot(), caption="Effects by periods since treatment")
    rep.table(gt.tidy(), caption="Group-time ATT(g, t)")


def run_demo(out: str | Path = "clusterimpact-demo") -> Path:
    """Write the demonstration report of the ``mpdta`` evaluation to ``out``.

    Parameters
    ----------
    out
        Output folder (created if needed).

    Returns
    -------
    pathlib.Path
        The path of ``report.html``.

    Examples
    --------
    >>> import tempfile
    >>> path = run_demo(tempfile.mkdtemp())
    >>> path.name
    'report.html'
    """
    df = ci.datasets.load("mpdta")
    rep = Report(
        "clusterimpact demo: minimum wages and teen employment (mpdta)",
        "Real data: 500 US counties, 2003-2007, staggered state minimum-wage rises "
        "(Callaway & Sant'Anna 2021). Outcome: log teen employment.",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")
        _design_section(rep, panel)
        _baseline_section(rep, panel, ["lemp", "lpop"])
        _effects_section(rep, panel, "lemp")
    if caught:
        rep.section("Data-quality and estimation warnings")
        for w in caught:
            rep.note(f"{w.category.__name__}: {w.message}")
    rep.section(
        "About the data",
        ci.datasets.describe("mpdta").split("\n## Columns")[0].replace("#", "").strip(),
    )
    return rep.write(out)
