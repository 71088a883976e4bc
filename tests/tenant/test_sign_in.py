"""A failed sign-in is one line from make adopt, make audit and make verify --deployer; the chain only with --debug."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from azure.core.exceptions import ClientAuthenticationError

from tests.conftest import ROOT
from tools.tenant.sign_in import sign_in_failure

# The real DefaultAzureCredential with every method but the environment's left out: with no
# AZURE_* variables it fails at once, offline, and logs its chain as it does when nobody signed in.
# Every case runs in one process (one interpreter start, not one per case), each between markers.
DRIVER = """
import sys
from azure.identity import DefaultAzureCredential
from tools.adopt import adopt
from tools.audit import audit
from tools.verify import verify
left_out = ("cli", "developer_cli", "managed_identity", "powershell", "shared_token_cache",
            "visual_studio_code", "workload_identity", "broker", "interactive_browser")
for case in sys.argv[1:]:
    tool, *args = case.split(" ")
    nobody = DefaultAzureCredential(**{f"exclude_{name}_credential": True for name in left_out})
    code = {"adopt": adopt, "audit": audit, "verify": verify}[tool].main(args, credential=nobody)
    for stream in (sys.stdout, sys.stderr):
        stream.write(f"<<{code}>>\\n")
        stream.flush()
"""
ONE_LINE = ("error: sign-in failed: no Azure sign-in found here; sign in as a deployer (`az login`, or the "
            "pipeline's OIDC login) and run again (ARGS=--debug shows what each sign-in method answered)\n")


@pytest.fixture(scope="module")
def signed_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Each tool, signed out: by case, its exit status, what it printed and what it logged."""
    folder = tmp_path_factory.mktemp("signed-out")
    never_deployed, outputs = folder / "never.json", folder / "dev.outputs.json"
    never_deployed.write_text("{}")
    outputs.write_text(json.dumps({"clients": {"hr-sync": {
        "kind": "servicePrincipal", "displayName": "hr-sync", "clientId": "22222222-2222-4222-8222-222222222222",
        "servicePrincipalObjectId": "11111111-1111-4111-8111-111111111111",
        "graphPermissions": ["SynchronizationData-User.Upload"]}}}))
    cases = {"adopt": f"adopt --stack dev --outputs {never_deployed}",
             "adopt --debug": f"adopt --stack dev --outputs {never_deployed} --debug",
             "verify --deployer": f"verify --outputs {outputs} --deployer",
             "audit": f"audit --stack dev --outputs {outputs} --config-file {folder / 'none.yaml'}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    result = subprocess.run([sys.executable, "-c", DRIVER, *cases.values()], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False, timeout=60)
    outs, errs = re.split(r"<<(\d+)>>\n", result.stdout), re.split(r"<<\d+>>\n", result.stderr)
    return {name: (int(outs[2 * i + 1]), outs[2 * i], errs[i]) for i, name in enumerate(cases)}


@pytest.mark.parametrize("debug", [False, True])
def test_adopt_says_a_failed_sign_in_in_one_line(signed_out: dict[str, tuple[int, str, str]], debug: bool) -> None:
    code, stdout, stderr = signed_out["adopt --debug" if debug else "adopt"]
    assert code == 2
    assert stdout == ""
    if debug:
        assert "Attempted credentials" in stderr
        assert "EnvironmentCredential" in stderr
        assert stderr.endswith(ONE_LINE)
    else:
        assert stderr == ONE_LINE


def test_verify_as_the_deployer_says_a_failed_sign_in_in_one_line(signed_out: dict[str, tuple[int, str, str]]) -> None:
    code, stdout, stderr = signed_out["verify --deployer"]
    assert code == 2
    assert stdout == ONE_LINE  # make verify reports on stdout, with its table
    assert stderr == ""


def test_audit_says_a_failed_sign_in_in_one_line(signed_out: dict[str, tuple[int, str, str]]) -> None:
    assert signed_out["audit"] == (2, "", ONE_LINE)


def test_another_sign_in_failure_keeps_its_first_line() -> None:
    error = ClientAuthenticationError("AADSTS700016: Application not found in the directory.\nTrace ID: x")
    assert sign_in_failure(error) == (
        "sign-in failed (AADSTS700016: Application not found in the directory.); sign in as a deployer "
        "(`az login`, or the pipeline's OIDC login) and run again (ARGS=--debug shows what each sign-in "
        "method answered)")
