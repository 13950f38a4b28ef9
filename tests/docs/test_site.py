"""The documentation site builds with ``mkdocs build --strict`` (no warnings)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("mkdocs_jupyter")
    pytest.importorskip("material")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    site = tmp_path / "site"
    for page in ["index.html", "errors/index.html", "api/estimators/index.html",
                 "guide/report/index.html", "notebooks/mpdta/index.html"]:
        assert (site / page).exists(), page
    assert not (ROOT / ".cache").exists(), "mkdocs-jupyter wrote a cache into the repository"
