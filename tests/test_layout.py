"""The house rules every module keeps: a first docstring line that says what it holds, and a size one can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
MODULES = sorted(p for folder in ("components", "tools", "policy", "package", "bootstrap")
                 for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_says_what_it_holds_and_stays_small(module: Path) -> None:
    text = module.read_text()
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring, f"{module.relative_to(ROOT)}: no module docstring saying what it holds"
    assert docstring.splitlines()[0].strip(), f"{module.relative_to(ROOT)}: the docstring's first line is empty"
    lines = len(text.splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES}): split it by concern"


def test_the_rule_sees_every_folder() -> None:
    folders = {p.relative_to(ROOT).parts[0] for p in MODULES}
    assert folders == {"components", "tools", "policy", "package", "bootstrap"}
