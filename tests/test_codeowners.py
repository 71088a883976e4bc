"""`.github/CODEOWNERS` covers everything the policy pack trusts: the pack, every repository module it imports
(computed here, transitively), tools/policy-config.sh and what it runs, the locks, the Makefile and .github/."""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
PLACEHOLDER = "@your-org/identity-platform-owners"
PACKAGES = ("components", "policy", "tools", "package")
# What tools/policy-config.sh runs: `python -m tools.stack.existing_identities` (and `az`, outside the repository).
POLICY_CONFIG_RUNS = "tools.stack.existing_identities"
ALWAYS = ("policy/PulumiPolicy.yaml", "tools/policy-config.sh", "tools/pulumi-stack.sh", "requirements.lock",
          "requirements-dev.lock", "Makefile", ".github/workflows/deploy.yml", ".github/CODEOWNERS")


def module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """The repository modules ``path`` imports (``from a import b`` counts ``a.b`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in found if n.split(".")[0] in PACKAGES and module_file(n) is not None}


def closure(*roots: str) -> set[Path]:
    """The files of ``roots`` and of every repository module they import, transitively, with the packages'
    ``__init__.py`` that importing them runs."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            enclosing = ".".join(parts[:depth])
            if enclosing in seen or module_file(enclosing) is None:
                continue
            seen.add(enclosing)
            todo += sorted(imported(module_file(enclosing)))  # type: ignore[arg-type]
    return {path for path in (module_file(n) for n in seen) if path is not None}


def trusted() -> set[str]:
    """Everything the pack trusts, as repository paths."""
    pack = [f"policy.{p.stem}" for p in (ROOT / "policy").glob("*.py")]
    files = closure(*pack, POLICY_CONFIG_RUNS)
    return {str(p.relative_to(ROOT)) for p in files} | set(ALWAYS)


# Computed once, when the module is collected: CPython 3.11's ast.parse can fail with "AST constructor
# recursion depth mismatch" after another test in the same worker ran deep recursion, so no test parses.
TRUSTED = frozenset(trusted())


def patterns() -> list[tuple[str, list[str]]]:
    rules = []
    for line in CODEOWNERS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pattern, *owners = line.split()
            rules.append((pattern, owners))
    return rules


def covered(path: str, rules: list[tuple[str, list[str]]]) -> bool:
    """GitHub's CODEOWNERS matching for the anchored patterns used here (the last match wins)."""
    owners: list[str] = []
    for pattern, who in rules:
        anchored = pattern.lstrip("/")
        if path.startswith(anchored) if pattern.endswith("/") else fnmatch.fnmatchcase(path, anchored):
            owners = who
    return bool(owners)


def test_the_pack_imports_what_this_test_expects_it_to() -> None:
    # A guard on the computation itself: these are imported today, through policy/rules.py and the stack readers.
    found = TRUSTED
    assert {"policy/rules.py", "components/microsoft.py", "components/settings/parse.py",
            "components/settings/model.py", "tools/stack/existing_identities.py", "tools/stack/declared.py",
            "tools/__init__.py"} <= found


@pytest.mark.parametrize("path", sorted(TRUSTED))
def test_everything_the_pack_trusts_has_a_code_owner(path: str) -> None:
    assert (ROOT / path).exists(), path
    assert covered(path, patterns()), f"{path}: the policy pack trusts it; add it to .github/CODEOWNERS"


def test_the_coverage_check_can_fail() -> None:
    rules = [r for r in patterns() if r[0] != "/components/"]
    assert not covered("components/microsoft.py", rules)


def test_every_rule_is_anchored_and_owned_by_the_placeholder_team_the_readme_names() -> None:
    rules = patterns()
    assert rules
    for pattern, owners in rules:
        assert pattern.startswith("/"), f"{pattern}: anchor it at the repository root"
        assert owners == [PLACEHOLDER], pattern
    readme = (ROOT / "README.md").read_text()
    assert PLACEHOLDER in readme, "the README tells the user to replace the placeholder team"
    assert re.search(r"CODEOWNERS", readme)
