"""Evaluation specs: validation (one message per problem, with lines) and full runs."""

import json
import textwrap

import pytest

import clusterimpact as ci
from clusterimpact.report.cli import main
from clusterimpact.report.evaluation import run_evaluation
from clusterimpact.report.spec import load_spec, parse_spec

GOOD = textwrap.dedent("""\
    title = "mpdta"
    [data]
    dataset = "mpdta"
    [panel]
    unit = "countyreal"
    time = "year"
    cohort = "first.treat"
    [outcomes]
    names = ["lemp"]
    [[estimators]]
    name = "att_gt"
    [[estimators]]
    name = "twfe"
    vcov = "CR2"
    [output]
    formats = ["html", "markdown", "latex", "json"]
    """)


def test_good_spec_parses(tmp_path):
    spec = parse_spec(GOOD, base_dir=tmp_path)
    assert [e.name for e in spec.estimators] == ["att_gt", "twfe"]
    assert spec.estimators[1].options == {"vcov": "CR2"}
    assert spec.output_folder == tmp_path / "clusterimpact-report"


def test_every_problem_reported_with_its_line():
    bad = textwrap.dedent("""\
        titel = "typo"
        [data]
        dataset = "mpdta"
        path = "x.csv"
        [panel]
        unit = "countyreal"
        cohrt = "first.treat"
        [outcomes]
        names = ["lemp"]
        [[estimators]]
        name = "att_gt"
        controll = "never_treated"
        [[estimators]]
        name = "twfee"
        [output]
        formats = ["htm"]
        """)
    with pytest.raises(ci.SpecificationError) as err:
        parse_spec(bad)
    lines = str(err.value).splitlines()
    assert lines[0].startswith("The evaluation spec has")
    text = "\n".join(lines)
    assert "line 1: [titel]: unknown section or key. Did you mean 'title'?" in text
    assert "line 2: [data]: give exactly one of path, dataset or scenario." in text
    assert "line 7: [panel] cohrt: unknown key 'cohrt'. Did you mean 'cohort'?" in text
    assert "[panel]: needs time" in text
    assert "line 12: [estimators] controll: att_gt has no option 'controll'." in text
    assert "line 14: [estimators] name: unknown estimator 'twfee'. Did you mean 'twfe'" in text
    assert "line 16: [output] formats: unknown format 'htm'" in text
    assert "line 5: [panel]: give exactly one of cohort or treatment." in text
    assert len(lines) == 1 + 8


def test_invalid_toml():
    with pytest.raises(ci.SpecificationError, match="not valid TOML"):
        parse_spec("[data\n")


def test_run_writes_all_formats(tmp_path):
    spec = parse_spec(GOOD, base_dir=tmp_path)
    out = run_evaluation(spec)
    names = sorted(p.name for p in out.files)
    assert names == ["report.html", "report.md", "results.json", "tables.tex"]
    payload = json.loads((tmp_path / "clusterimpact-report" / "results.json").read_text())
    simple = payload["tables"]["effects/att_gt/lemp"][0]
    assert simple["estimate"] == pytest.approx(-0.0399512751551763, rel=1e-8)  # R did 2.5.0
    assert not out.failed


def test_cli_report_exit_codes(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(GOOD)
    assert main(["report", str(spec), "--quiet", "--json"]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.err
    assert "effects/att_gt/lemp" in json.loads(captured.out)  # stdout is pure JSON
    spec.write_text(GOOD.replace('unit = "countyreal"', 'unit = "county"'))
    assert main(["report", str(spec), "--quiet"]) == 1
    assert "Did you mean 'countyreal'" in capsys.readouterr().err
    spec.write_text(GOOD.replace('vcov = "CR2"', 'vcov = "CR9"'))  # a bad option value
    assert main(["report", str(spec), "--quiet"]) == 1
    assert "CR9" in capsys.readouterr().err
    # lpop is constant within county: collinear with the unit fixed effects -> estimation fails
    spec.write_text(GOOD.replace('vcov = "CR2"', 'covariates = ["lpop"]'))
    assert main(["report", str(spec), "--quiet"]) == 2
    assert "twfe on lemp" in capsys.readouterr().err


def test_data_path_relative_to_spec(tmp_path):
    ci.datasets.load("mpdta").to_csv(tmp_path / "mp.csv", index=False)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(GOOD.replace('dataset = "mpdta"', 'path = "mp.csv"'))
    spec = load_spec(spec_file)
    assert spec.data["path"] == str((tmp_path / "mp.csv").resolve())


def test_simulated_scenario_with_subgroups(tmp_path):
    text = textwrap.dedent("""\
        [data]
        scenario = "football_stitching"
        seed = 7
        [panel]
        unit = "worker_id"
        time = "period"
        cohort = "cohort"
        cluster = "cluster_id"
        [outcomes]
        names = ["earnings"]
        [subgroups]
        by = ["gender"]
        """)
    out = run_evaluation(parse_spec(text, base_dir=tmp_path))
    wl = out.tables["subgroups/winners_losers"].set_index("gender")
    # the scenario's women lose and men gain (opposite signs that roughly cancel on average)
    assert wl.loc["female", "verdict"] == "loses"
    assert wl.loc["male", "verdict"] == "gains"
    html = (tmp_path / "clusterimpact-report" / "report.html").read_text()
    assert "SIMULATED" in html and "Who gains, who loses" in html


def test_repeated_estimators_query_and_multiplicity(tmp_path):
    text = GOOD.replace('vcov = "CR2"', 'vcov = "CR2"\n[[estimators]]\nname = "att_gt"\n'
                        'control = "not_yet_treated"')
    text = text.replace('dataset = "mpdta"', 'dataset = "mpdta"\nquery = "year <= 2006"')
    out = run_evaluation(parse_spec(text, base_dir=tmp_path))
    assert {"effects/att_gt-1/lemp", "effects/att_gt-2/lemp"} <= set(out.tables)
    assert out.tables["design/timing"]["observations"].sum() == 2000  # 2007 dropped


def test_shipped_examples_run_cleanly(tmp_path):
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml")):
        spec = load_spec(path)
        import dataclasses

        spec = dataclasses.replace(spec, output_folder=tmp_path / path.stem)
        outcome = run_evaluation(spec)
        assert not outcome.failed, (path.name, outcome.failures)
