"""The README's quick start runs as written, and its set-up commands are what CI runs."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_quick_start_runs():
    block = re.search(r"## Quick start\s+```python\n(.*?)```", README, re.S)
    assert block, "README has no Quick start python block"
    exec(compile(block.group(1), "README quick start", "exec"), {})


def test_setup_commands_are_first_and_ci_reads_the_test_one():
    blocks = re.findall(r"<!-- setup:(\w+) -->\s*```bash\n(.*?)```", README, re.S)
    assert [name for name, _ in blocks[:2]] == ["demo", "test"]
    assert "clusterimpact demo" in blocks[0][1]
    assert "pytest" in blocks[1][1]
    first_bash = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    assert first_bash == blocks[0][1]
    ci_script = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "<!-- setup:test -->" in ci_script
