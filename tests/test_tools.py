"""The project's own checks run with the suite: ruff, mypy (default settings) and the import contracts.

Each is a dev dependency (pyproject.toml), so none is skipped: a missing tool is a broken environment.
A failure shows the tool's own output.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
BIN = Path(sys.executable).parent

TOOLS = {
    "ruff": [str(BIN / "ruff"), "check", "kvmtui", "tests", "scripts", "benchmarks"],
    "mypy": [sys.executable, "-m", "mypy", "kvmtui"],
    "import-linter": [str(BIN / "lint-imports")],
}


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_is_clean(tool):
    r = subprocess.run(TOOLS[tool], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{tool} found problems:\n{r.stdout}\n{r.stderr}"
