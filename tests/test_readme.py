"""The README starts with the two commands a new user runs, and .ci/run runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", text, flags=re.S)
    lines = (line.split("#", 1)[0].strip() for line in blocks[0].splitlines())
    return [line for line in lines if line]


def test_readme_opens_with_run_and_test_commands():
    commands = _first_commands()
    assert commands[0].startswith("make run")
    assert commands[1] == "make test"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^make test\b", ci, flags=re.M)
