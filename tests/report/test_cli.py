"""The clusterimpact command: version, datasets, validate (exit codes), demo report."""

import re
import subprocess
import sys

import pandas as pd
import pytest

import clusterimpact as ci
from clusterimpact.report.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"clusterimpact {ci.__version__}"


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "datasets", "validate"):
        assert command in out


def test_datasets(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ci.datasets.names():
        assert name in out


def test_validate_ok_and_bad(tmp_path, capsys):
    df = ci.datasets.load("mpdta")
    good = tmp_path / "good.csv"
    df.to_csv(good, index=False)
    assert main(["validate", str(good), "--unit", "countyreal", "--time", "year",
                 "--cohort", "first.treat"]) == 0
    assert "OK: <Panel" in capsys.readouterr().out
    bad = tmp_path / "bad.parquet"
    pd.concat([df, df.iloc[[3]]]).to_parquet(bad)
    assert main(["validate", str(bad), "--unit", "countyreal", "--time", "year",
                 "--cohort", "first.treat"]) == 1
    err = capsys.readouterr().err
    assert "Duplicate (unit, time) rows" in err and "countyreal" in err


def test_validate_reports_warnings(tmp_path, capsys):
    df = ci.datasets.load("mpdta")
    df.loc[df["countyreal"] == df["countyreal"].iloc[0], "first.treat"] = 2003
    f = tmp_path / "w.csv"
    df.to_csv(f, index=False)
    assert main(["validate", str(f), "--unit", "countyreal", "--time", "year",
                 "--cohort", "first.treat"]) == 0
    assert "WARNING (TimingWarning)" in capsys.readouterr().out


def test_demo_writes_self_contained_report(tmp_path):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    html = (tmp_path / "demo" / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "Treatment timing" in html and "Baseline comparison" in html
    assert len(re.findall(r"data:image/png;base64,", html)) >= 1
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened
    assert (tmp_path / "demo" / "report.md").exists()


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "clusterimpact", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("clusterimpact ")
