"""A failed sign-in is one line from `make adopt` and `make verify --deployer`; the chain only with --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError

from tests.conftest import ROOT
from tools.tenant.sign_in import sign_in_failure

# The real DefaultAzureCredential with every method but the environment's left out: with no
# AZURE_* variables it fails at once, offline, and logs its chain as it does when nobody signed in.
DRIVER = """
import sys
from azure.identity import DefaultAzureCredential
from tools.{tool} import {tool}
left_out = ("cli", "developer_cli", "managed_identity", "powershell", "shared_token_cache",
            "visual_studio_code", "workload_identity", "broker", "interactive_browser")
nobody = DefaultAzureCredential(**{{f"exclude_{{name}}_credential": True for name in left_out}})
sys.exit({tool}.main(sys.argv[1:], credential=nobody))
"""
ONE_LINE = ("error: sign-in failed: no Azure sign-in found here; sign in as a deployer (`az login`, or the "
            "pipeline's OIDC login) and run again (ARGS=--debug shows what each sign-in method answered)\n")


def signed_out(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    return subprocess.run([sys.executable, "-c", DRIVER.format(tool=tool), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    path = tmp_path / "dev.outputs.json"
    path.write_text(json.dumps({"clients": {"hr-sync": {
        "kind": "servicePrincipal", "displayName": "hr-sync", "clientId": "22222222-2222-4222-8222-222222222222",
        "servicePrincipalObjectId": "11111111-1111-4111-8111-111111111111",
        "graphPermissions": ["SynchronizationData-User.Upload"]}}}))
    return path


@pytest.mark.parametrize("debug", [False, True])
def test_adopt_says_a_failed_sign_in_in_one_line(tmp_path: Path, debug: bool) -> None:
    never_deployed = tmp_path / "outputs.json"
    never_deployed.write_text("{}")
    result = signed_out("adopt", "--stack", "dev", "--outputs", str(never_deployed), *(["--debug"] if debug else []))
    assert result.returncode == 2
    assert result.stdout == ""
    if debug:
        assert "Attempted credentials" in result.stderr
        assert "EnvironmentCredential" in result.stderr
        assert result.stderr.endswith(ONE_LINE)
    else:
        assert result.stderr == ONE_LINE


def test_verify_as_the_deployer_says_a_failed_sign_in_in_one_line(outputs: Path) -> None:
    result = signed_out("verify", "--outputs", str(outputs), "--deployer")
    assert result.returncode == 2
    assert result.stdout == ONE_LINE  # make verify reports on stdout, with its table
    assert result.stderr == ""


def test_another_sign_in_failure_keeps_its_first_line() -> None:
    error = ClientAuthenticationError("AADSTS700016: Application not found in the directory.\nTrace ID: x")
    assert sign_in_failure(error) == (
        "sign-in failed (AADSTS700016: Application not found in the directory.); sign in as a deployer "
        "(`az login`, or the pipeline's OIDC login) and run again (ARGS=--debug shows what each sign-in "
        "method answered)")
