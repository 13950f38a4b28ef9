"""The HTML reports render in a real browser (headless Chromium): no errors, every figure drawn.

CI installs Debian's ``chromium`` (see .ci/run); where no Chromium is on the machine the test
is skipped with that reason.
"""

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clusterimpact.report.demo import run_demo
from clusterimpact.report.evaluation import run_evaluation
from clusterimpact.report.spec import load_spec

PROBE = """
<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target.src)), true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const drawn = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-figures', imgs.length);
  document.body.setAttribute('data-drawn', drawn);
  document.body.setAttribute('data-errors', window.__errors.length);
});
</script>
"""


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                 if p), None)


def _render(browser: str, page) -> tuple[str, str]:
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={page.parent / 'chrome-profile'}",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
            page.as_uri()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def _check_renders(path) -> None:
    html = path.read_text(encoding="utf-8")
    probe = path.with_name("probe.html")
    probe.write_text(html.replace("</head>", PROBE + "</head>", 1), encoding="utf-8")
    dom, log = _render(_chromium(), probe)
    body = re.search(r"<body([^>]*)>", dom)
    assert body, f"Chromium returned no DOM; log tail:\n{log[-2000:]}"
    attrs = dict(re.findall(r'data-(\w+)="(\d+)"', body.group(1)))
    expected = html.count("<img ")
    assert int(attrs["figures"]) == expected > 0
    assert int(attrs["drawn"]) == expected, "some figures did not render"
    assert int(attrs["errors"]) == 0
    console_errors = [line for line in log.splitlines()
                      if "CONSOLE" in line and ("Uncaught" in line or "ERROR" in line)]
    assert not console_errors, console_errors


needs_chromium = pytest.mark.skipif(_chromium() is None,
                                    reason="no Chromium on this machine (CI installs it)")


@needs_chromium
def test_demo_report_renders_in_chromium(tmp_path):
    _check_renders(run_demo(tmp_path / "demo"))


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))


@needs_chromium
@pytest.mark.parametrize("spec_path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_reports_render_in_chromium(tmp_path, spec_path):
    spec = dataclasses.replace(load_spec(spec_path), output_folder=tmp_path / "out",
                               formats=("html",))
    outcome = run_evaluation(spec)
    assert not outcome.failed, outcome.failures
    _check_renders(tmp_path / "out" / "report.html")
