"""The ``clusterimpact`` command.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
clusterimpact ...
0
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from clusterimpact._version import __version__

EXIT_OK, EXIT_BAD_INPUT, EXIT_ESTIMATION = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clusterimpact",
        description="Impact evaluation of joint-action CSR initiatives in industrial clusters.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="write an HTML evaluation report of a shipped dataset")
    demo.add_argument("--out", default="clusterimpact-demo", help="output folder")

    sub.add_parser("datasets", help="list the shipped datasets")

    rep = sub.add_parser("report", help="run a whole evaluation from a TOML spec file")
    rep.add_argument("spec", help="evaluation spec (TOML); see clusterimpact.report.spec")
    rep.add_argument("--out", help="output folder (overrides [output] folder)")
    rep.add_argument("--json", action="store_true", help="also print the results as JSON")
    rep.add_argument("--quiet", action="store_true", help="no progress lines")

    val = sub.add_parser("validate", help="check a data file against the Panel rules")
    val.add_argument("data", help="CSV, Parquet, Stata, Excel or Feather file")
    val.add_argument("--unit", help="unit id column (omit for repeated cross-sections)")
    val.add_argument("--time", required=True, help="period column")
    group = val.add_mutually_exclusive_group(required=True)
    group.add_argument("--cohort", help="first-treated-period column")
    group.add_argument("--treatment", help="0/1 absorbing treatment column")
    val.add_argument("--cluster", help="cluster column")
    val.add_argument("--weights", help="sampling-weight column")
    return parser


def _validate(args: argparse.Namespace) -> int:
    from clusterimpact.design.panel import Panel
    from clusterimpact.errors import ClusterImpactError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            panel = Panel(args.data, unit=args.unit, time=args.time, cohort=args.cohort,
                          treatment=args.treatment, cluster=args.cluster, weights=args.weights)
        except ClusterImpactError as err:
            print(f"INVALID: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
    for w in caught:
        print(f"WARNING ({w.category.__name__}): {w.message}")
    print(f"OK: {panel!r}")
    print(panel.describe().to_string(index=False))
    return EXIT_OK


def _datasets() -> int:
    from clusterimpact import datasets

    print(datasets.summary().to_string(index=False, max_colwidth=80))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from clusterimpact.report.evaluation import run_evaluation
    from clusterimpact.report.spec import load_spec

    spec = load_spec(args.spec)
    if args.out:
        spec = dataclasses.replace(spec, output_folder=Path(args.out))
    outcome = run_evaluation(spec, progress=not args.quiet)
    for path in outcome.files:  # stdout stays pure JSON with --json
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps({k: json.loads(t.to_json(orient="records"))
                          for k, t in outcome.tables.items()}))
    if outcome.failed:
        print(f"ESTIMATION FAILED in {len(outcome.failures)} step(s):", file=sys.stderr)
        for failure in outcome.failures:
            print(f"  - {failure}", file=sys.stderr)
        return EXIT_ESTIMATION
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from clusterimpact.report.demo import run_demo

    path = run_demo(args.out, progress=True)
    print(f"Report written to {path}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 bad input, 2 estimation failed).

    Examples
    --------
    >>> main(["datasets"]) == 0  # doctest: +ELLIPSIS
    name ...
    True
    """
    args = _parser().parse_args(argv)
    if args.version:
        print(f"clusterimpact {__version__}")
        return EXIT_OK
    if args.command is None:
        _parser().print_help()
        return EXIT_OK
    from clusterimpact.errors import ClusterImpactError, EstimationError

    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "datasets":
            return _datasets()
        if args.command == "report":
            return _report(args)
        return _demo(args)
    except EstimationError as err:
        print(f"ESTIMATION FAILED: {err}", file=sys.stderr)
        return EXIT_ESTIMATION
    except ClusterImpactError as err:
        print(f"INVALID INPUT: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
