"""mypy still checks our calls into pulumi-azure-native, though pyproject.toml skips its package root."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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


def test_calls_into_managedidentity_are_type_checked(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    # The project's own settings; the cache `make test`'s mypy run just filled (MYPY_CACHE_DIR or .mypy_cache).
    result = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(probe)],
                            cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert re.search(r'probe\.py:7: note: Revealed type is "pulumi\.output\.Output\[(builtins\.)?str\]"', out), out
    assert 'probe.py:8: error: Unexpected keyword argument "resource_group_nme"' in out, out
    assert {int(line) for line in re.findall(r"probe\.py:(\d+): error:", out)} == {8, 9}, out
