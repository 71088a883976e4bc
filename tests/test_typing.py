"""mypy --strict over the whole project, and it still checks our calls into pulumi-azure-native.

``make test`` runs mypy here, as the first test, so its few seconds on one core overlap the rest of
the suite on the other instead of running before it. pyproject.toml skips pulumi-azure-native's
package root (analysing its ~260 services was most of a cold run); the probe proves the services we
import are still followed and checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Written as components/managed_identity.py calls it, plus one misspelt argument and one wrong type.
PROBE = """\
import pulumi
from pulumi_azure_native import managedidentity

identity = managedidentity.UserAssignedIdentity(
    "id", resource_name_="id-hr", resource_group_name="rg", location="westeurope",
    opts=pulumi.ResourceOptions(protect=True))
reveal_type(identity.principal_id)
managedidentity.UserAssignedIdentity("misspelt", resource_name_="id-hr", resource_group_nme="rg")
managedidentity.UserAssignedIdentity("wrong-type", resource_name_="id-hr", tags=["not", "a", "mapping"])
"""


PROJECT_FILES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]


@pytest.mark.first
def test_the_project_is_strictly_typed_and_calls_into_managedidentity_are_checked(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    # One mypy run, with the project's own settings, over the project's files and the probe.
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                             *PROJECT_FILES, str(probe)],
                            cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)
    out = result.stdout
    project_errors = [line for line in out.splitlines() if ": error:" in line and "probe.py:" not in line]
    assert not project_errors, "mypy --strict:\n" + "\n".join(project_errors)
    assert result.returncode == 1, out + result.stderr
    assert re.search(r'probe\.py:7: note: Revealed type is "pulumi\.output\.Output\[(builtins\.)?str\]"', out), out
    assert 'probe.py:8: error: Unexpected keyword argument "resource_group_nme"' in out, out
    assert {int(line) for line in re.findall(r"probe\.py:(\d+): error:", out)} == {8, 9}, out
