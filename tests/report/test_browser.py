"""The HTML reports render in a real browser (headless Chromium): no errors, every figure drawn.

CI installs Debian's ``chromium`` (see .ci/run); where no Chromium is on the machine the test
is skipped with that reason.
"""

import re
import shutil
import subprocess

import pytest

from clusterimpact.report.demo import run_demo

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


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine (CI installs it)")
def test_demo_report_renders_in_chromium(tmp_path):
    path = run_demo(tmp_path / "demo")
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
