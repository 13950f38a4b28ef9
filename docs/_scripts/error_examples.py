"""Trigger every clusterimpact error and warning class and print the real messages.

Run from the repository root: ``python3 docs/_scripts/error_examples.py``. The output
(Markdown) was pasted into ``docs/errors.md``; re-run it when messages change.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import clusterimpact as ci
from clusterimpact.report.spec import parse_spec

MPDTA = ci.datasets.load("mpdta")
PANEL = ci.Panel(MPDTA, unit="countyreal", time="year", cohort="first.treat")
CASES: list[tuple[str, str, object]] = []


def case(cls_name: str, code: str):
    def register(func):
        CASES.append((cls_name, code, func))
        return func
    return register


@case("PanelError", 'ci.Panel(df, unit="countyreal", time="yaer", cohort="first.treat")')
def _misspelt():
    ci.Panel(MPDTA, unit="countyreal", time="yaer", cohort="first.treat")


@case("PanelError", 'ci.Panel(pd.concat([df, df.head(3)]), unit="countyreal", time="year", '
                    'cohort="first.treat")')
def _duplicates():
    ci.Panel(pd.concat([MPDTA, MPDTA.head(3)]), unit="countyreal", time="year", cohort="first.treat")


@case("PanelError", '# a 0/1 treatment that switches off for unit 1 in period 3\n'
                    'ci.Panel(df, unit="id", time="t", treatment="d")')
def _switch_off():
    df = pd.DataFrame({"id": np.repeat([1, 2], 3), "t": np.tile([1, 2, 3], 2),
                       "d": [0, 1, 0, 0, 0, 0], "y": 1.0})
    ci.Panel(df, unit="id", time="t", treatment="d")


@case("PanelError", '# every unit has cohort 1: treated from the first period, so nobody is\n'
                    '# treated within the data\n'
                    'ci.Panel(df, unit="id", time="t", cohort="g")')
def _no_comparison():
    df = pd.DataFrame({"id": np.repeat([1, 2], 2), "t": np.tile([1, 2], 2), "g": 1, "y": 1.0})
    ci.Panel(df, unit="id", time="t", cohort="g")


@case("SpecificationError", 'ci.att_gt(panel, "lemp", control="never")')
def _bad_option():
    ci.att_gt(PANEL, "lemp", control="never")


@case("SpecificationError", 'every = df[df["first.treat"] > 0]  # every county is eventually treated\n'
      'ci.att_gt(ci.Panel(every, unit="countyreal", time="year", cohort="first.treat"), "lemp")')
def _no_never_treated():
    every = MPDTA[MPDTA["first.treat"] > 0]
    ci.att_gt(ci.Panel(every, unit="countyreal", time="year", cohort="first.treat"), "lemp")


@case("SpecificationError", 'ci.att_gt(panel, "lmep")')
def _bad_column():
    ci.att_gt(PANEL, "lmep")


@case("SpecificationError", "parse_spec(text)  # clusterimpact report reads specs this way")
def _bad_spec():
    parse_spec('[data]\ndataset = "mpdta"\n[panel]\nunit = "countyreal"\ntime = "year"\n'
               'cohort = "first.treat"\n[outcomes]\nnames = ["lemp"]\n[[estimators]]\n'
               'name = "att_gt"\ncontrl = "not_yet_treated"\n[output]\nformats = ["htm"]\n')


@case("EstimationError", '# baseline (2003) rows of mpdta; a caliper no pair can meet\n'
                         'ci.match(base, treatment="treat", covariates=["lpop"], caliper=1e-12)')
def _estimation_error():
    base = MPDTA[MPDTA["year"] == 2003]
    ci.match(base, treatment="treat", covariates=["lpop"], caliper=1e-12)


@case("DroppedRowsWarning", 'df.loc[:4, "lemp"] = np.nan\n'
                            'ci.att_gt(ci.Panel(df, unit="countyreal", time="year", '
                            'cohort="first.treat"), "lemp")')
def _dropped():
    df = MPDTA.copy()
    df.loc[:4, "lemp"] = np.nan
    ci.att_gt(ci.Panel(df, unit="countyreal", time="year", cohort="first.treat"), "lemp")


@case("SmallCellWarning", 'sim = ci.simulate.scenario("football_stitching", seed=1, n_clusters=6, '
                          'cohort_sizes=(2, 2))\n'
                          'ci.workers.cell_sizes(sim.panel, ["gender", "site"], min_size=20)')
def _small_cell():
    sim = ci.simulate.scenario("football_stitching", seed=1, n_clusters=6, cohort_sizes=(2, 2))
    ci.workers.cell_sizes(sim.panel, ["gender", "site"], min_size=20)


@case("FewClustersWarning", '# mpdta clustered on 29 states\n'
                            'df["state"] = df["countyreal"] // 1000\n'
                            'ci.twfe(ci.Panel(df, unit="countyreal", time="year", '
                            'cohort="first.treat", cluster="state"), "lemp")')
def _few_clusters():
    df = MPDTA.assign(state=MPDTA["countyreal"] // 1000)
    ci.twfe(ci.Panel(df, unit="countyreal", time="year", cohort="first.treat", cluster="state"), "lemp")


@case("TimingWarning", '# the first county: first treated in 2010, after the last observed year (2007)\n'
                       'ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")')
def _timing():
    df = MPDTA.copy()
    df.loc[df["countyreal"] == df["countyreal"].iloc[0], "first.treat"] = 2010
    ci.Panel(df, unit="countyreal", time="year", cohort="first.treat")


@case("EstimationWarning", '# mpdta without its never-treated counties: with every event time in the '
                           'model,\n# one indicator is collinear with the unit and year effects\n'
                           'ci.event_study(panel_treated_only, "lemp", method="twfe", bin_endpoints=False)')
def _estimation_warning():
    df = MPDTA[MPDTA["first.treat"] != 0]
    ci.event_study(ci.Panel(df, unit="countyreal", time="year", cohort="first.treat"), "lemp",
                   method="twfe", bin_endpoints=False)


@case("ClusterImpactWarning", '# x is 1 for every treated county (constant within the treated arm)\n'
                              'ci.balance(base, treatment="treat", covariates=["lpop", "x"])')
def _base_warning():
    base = MPDTA[MPDTA["year"] == 2003]
    base = base.assign(x=np.where(base["treat"] == 1, 1.0, base["lpop"]))
    ci.balance(base, treatment="treat", covariates=["lpop", "x"])


@case("ConvexHullWarning", '# prop99: California scaled up beyond every donor state\n'
                           'ci.synthetic_control(panel, "cigsale", placebo=False)')
def _hull():
    df = ci.datasets.load("prop99")
    df.loc[df["state"] == "California", "cigsale"] *= 3
    panel = ci.Panel(df, unit="state", time="year", treatment="treated")
    ci.synthetic_control(panel, "cigsale", placebo=False)


def main() -> None:
    print(f"<!-- generated by docs/_scripts/error_examples.py with clusterimpact {ci.__version__} -->")
    for name, code, func in CASES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                func()
                err = None
            except Exception as exc:
                err = exc
        lines = []
        if err is not None:
            lines.append(f"{type(err).__name__}: {err}")
        for w in caught:
            ours = issubclass(w.category, ci.ClusterImpactWarning)
            if w.category.__name__ == name or (err is None and ours):
                lines.append(f"{w.category.__name__}: {w.message}")
        print(f"\n### {name}\n\n```python\n{code}\n```\n\n```text\n" + "\n".join(lines) + "\n```")


if __name__ == "__main__":
    main()
