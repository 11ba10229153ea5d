"""The README's two set-up commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r"TEST_CMD='([^']+)'", ci)
    assert m, ".ci/run must define TEST_CMD"
    readme = (ROOT / "README.md").read_text()
    assert m.group(1) in readme, "README must show the exact test command CI runs"
