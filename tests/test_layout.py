"""The house rules every module keeps: a first docstring line that says what it holds, and a size one can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
MODULES = sorted(p for folder in ("components", "tools", "policy", "package", "bootstrap")
                 for p in (ROOT / folder).rglob("*.py"))
# Parsed once, when the module is collected: CPython 3.11's ast.parse can fail with "AST constructor
# recursion depth mismatch" after another test in the same worker ran deep recursion.
PARSED = {module: ast.parse(module.read_text()) for module in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_says_what_it_holds_and_stays_small(module: Path) -> None:
    text = module.read_text()
    docstring = ast.get_docstring(PARSED[module])
    assert docstring, f"{module.relative_to(ROOT)}: no module docstring saying what it holds"
    assert docstring.splitlines()[0].strip(), f"{module.relative_to(ROOT)}: the docstring's first line is empty"
    lines = len(text.splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES}): split it by concern"


def test_the_rule_sees_every_folder() -> None:
    folders = {p.relative_to(ROOT).parts[0] for p in MODULES}
    assert folders == {"components", "tools", "policy", "package", "bootstrap"}


MAX_SIDE_BY_SIDE = 12
TOOLS = ROOT / "tools"
# What each command family may import from the repository (its own package is always allowed), as
# its __init__ docstring says: the offline engine and the stack readers stand alone, the commands
# that read the tenant never run the program, the plan never reads the tenant.
MAY_IMPORT: dict[str, set[str]] = {
    "offline": {"components", "tools.cli"},
    "stack": {"components", "tools.cli"},
    "tenant": {"components", "tools.cli"},
    "plan": {"components", "tools.cli", "tools.offline", "tools.stack", "tools.mermaid", "tools.markdown"},
    "audit": {"components", "tools.cli", "tools.tenant", "tools.stack", "tools.mermaid", "tools.markdown"},
    "verify": {"components", "tools.cli", "tools.tenant", "tools.stack"},
    "adopt": {"components", "tools.cli", "tools.tenant", "tools.stack", "tools.audit"},
}


def test_no_folder_under_tools_has_more_than_twelve_modules_side_by_side() -> None:
    for folder in [TOOLS, *(p for p in TOOLS.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= MAX_SIDE_BY_SIDE, f"{folder.relative_to(ROOT)}: {len(modules)} modules: split it"


def repository_imports(module: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(PARSED[module]):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        found |= {n for n in names if n.split(".")[0] in {"components", "tools", "policy", "package", "benchmarks"}}
    return found


@pytest.mark.parametrize("family", sorted(MAY_IMPORT))
def test_each_command_family_imports_only_what_its_init_allows(family: str) -> None:
    allowed = MAY_IMPORT[family] | {f"tools.{family}"}
    for module in sorted((TOOLS / family).glob("*.py")):
        for name in repository_imports(module):
            assert any(name == a or name.startswith(a + ".") for a in allowed), (
                f"{module.relative_to(ROOT)} imports {name}: tools/{family}/ may import {sorted(allowed)}")
    init = (TOOLS / family / "__init__.py").read_text()
    for allowed_name in MAY_IMPORT[family] | {f"tools.{family}"}:
        assert f"``{allowed_name}``" in init, f"tools/{family}/__init__.py should say it may import {allowed_name}"


def test_every_tools_folder_is_a_family_with_rules() -> None:
    folders = {p.name for p in TOOLS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(MAY_IMPORT)
