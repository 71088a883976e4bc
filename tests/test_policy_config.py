"""tools/policy-config.sh: the policy config, with each existing identity's principal, from a fake `az`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy.access_fields import SIGN_IN_CONFIG
from policy.existing_identities import ADVISORY_POLICY, EXISTING_CONFIG
from policy.rules import GRAPH_SP_CONFIG, STACK_POLICY
from policy.stack_file import POLICY as STACK_FILE_POLICY
from policy.stack_file import STACK_FILE_CONFIG
from tools.offline.entra import DirectoryEntry

ROOT = Path(__file__).resolve().parent.parent
GRAPH = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
LOGIC = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"
OTHER = "1b2c3d4e-5f60-4172-8384-a5b6c7d8e9f0"
# The pipeline's sign-in (the ARM_* variables the workflows set).
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PIPELINE = "2c3d4e5f-6071-4283-9495-b6c7d8e9f0a1"
SUBSCRIPTION = "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2"
# Answers like the Azure CLI's (`--query ... -o tsv`); every call is logged.
FAKE_AZ = f"""#!/usr/bin/env bash
echo "$*" >> "$AZ_LOG"
case "$*" in
  *"--id 00000003-0000-0000-c000-000000000000"*) echo {GRAPH} ;;
  "ad sp list --filter displayName eq 'CSV2SCIMBulkUpload' "*) echo {LOGIC} ;;
  "ad sp list --filter displayName eq 'O''Brien' "*) echo {LOGIC} ;;
  "ad sp list --filter displayName eq 'hr-feed' "*) printf '%s\\n%s\\n' {LOGIC} {OTHER} ;;
  "ad sp list "*) ;;
  "ad sp show --id 9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f "*) echo {OTHER} ;;
  "account show "*) printf '%s\\n%s\\n' {TENANT} {SUBSCRIPTION} ;;
  *) echo "ERROR: Resource does not exist" >&2; exit 3 ;;
esac
"""


def stack_file(existing: dict[str, str]) -> str:
    return f"""config:
  inbound-provisioning-access:clients:
    logic:
      kind: managedIdentity
      existing: {json.dumps(existing)}
    uami:
      kind: managedIdentity
      userAssigned: {{name: id-hr, resourceGroupName: rg, location: westeurope}}
"""


def run(tmp_path: Path, existing: dict[str, str] | None, *args: str,
        env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "az").write_text(FAKE_AZ)
    (bin_dir / "az").chmod(0o755)
    if existing is not None:
        (tmp_path / "Pulumi.dev.yaml").write_text(stack_file(existing))
    log = tmp_path / "az.log"
    log.write_text("")
    environment = {k: v for k, v in os.environ.items() if k not in ("STACK", "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID")}
    environment |= {"PATH": f"{bin_dir}:{environment['PATH']}", "AZ_LOG": str(log), **(env or {})}
    done = subprocess.run([str(ROOT / "tools" / "policy-config.sh"), str(tmp_path / "out.json"), *args],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False)
    return done, log.read_text().splitlines()


def written_config(tmp_path: Path, stack: str, config: dict[str, Any], graph: str,
                   names: dict[str, DirectoryEntry]) -> dict[str, Any]:
    """What tools/policy-config.sh writes for a stack file holding ``config``; ``az`` resolves ``names``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    answers = "".join(f"  \"ad sp list --filter displayName eq '{name}' \"*) echo {entry.object_id} ;;\n"
                      for name, entry in names.items())
    (bin_dir / "az").write_text(f'#!/usr/bin/env bash\ncase "$*" in\n{answers}  *) exit 3 ;;\nesac\n')
    (bin_dir / "az").chmod(0o755)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(
        {"config": {f"inbound-provisioning-access:{key}": value for key, value in config.items()}}))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ARM_", "STACK"))}
    environment |= {"PATH": f"{bin_dir}:{environment['PATH']}", "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": graph,
                    "ARM_TENANT_ID": TENANT, "ARM_CLIENT_ID": PIPELINE, "ARM_SUBSCRIPTION_ID": SUBSCRIPTION}
    done = subprocess.run([str(ROOT / "tools" / "policy-config.sh"), str(tmp_path / "out.json"), stack],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    written: dict[str, Any] = json.loads((tmp_path / "out.json").read_text())
    return written


def config(tmp_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((tmp_path / "out.json").read_text())
    return loaded


# What stack_file() declares (tools/stack/declared.py), as the pack receives it.
DECLARED = {"stack": "dev", "provisioningApp": None, "clients": {
    "logic": {"kind": "managedIdentity", "identity": "existing",
              "permissions": ["AuditLog.Read.All", "SynchronizationData-User.Upload"]},
    "uami": {"kind": "managedIdentity", "identity": "userAssigned", "userAssigned": {"name": "id-hr",
                                                                                     "resourceGroupName": "rg"},
             "permissions": ["AuditLog.Read.All", "SynchronizationData-User.Upload"]}}}
# signIn from `az account show` (a person's `make up`: no ARM_* variables).
AS_SIGNED_IN = {"tenantId": TENANT, "clientId": "", "subscriptionId": SUBSCRIPTION}


def test_a_display_name_is_resolved_to_its_one_principal(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"displayName": "CSV2SCIMBulkUpload"}, "dev")
    assert done.returncode == 0, done.stderr
    assert config(tmp_path) == {
        "graph-roles-allowlist": {GRAPH_SP_CONFIG: GRAPH},
        "access-fields": {SIGN_IN_CONFIG: AS_SIGNED_IN},
        STACK_POLICY: {GRAPH_SP_CONFIG: GRAPH, SIGN_IN_CONFIG: AS_SIGNED_IN, EXISTING_CONFIG: {"logic": LOGIC},
                       STACK_FILE_CONFIG: DECLARED},
        STACK_FILE_POLICY: {EXISTING_CONFIG: {"logic": LOGIC}, STACK_FILE_CONFIG: DECLARED},
        ADVISORY_POLICY: {EXISTING_CONFIG: {"logic": LOGIC}},
    }
    assert any("displayName eq 'CSV2SCIMBulkUpload'" in c for c in calls)


def test_the_pipelines_sign_in_comes_from_its_arm_variables(tmp_path: Path) -> None:
    arm = {"ARM_TENANT_ID": TENANT, "ARM_CLIENT_ID": PIPELINE, "ARM_SUBSCRIPTION_ID": SUBSCRIPTION}
    done, calls = run(tmp_path, {"objectId": LOGIC}, "dev", env={**arm, "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)["access-fields"][SIGN_IN_CONFIG] == {"tenantId": TENANT, "clientId": PIPELINE,
                                                                 "subscriptionId": SUBSCRIPTION}
    assert calls == [], "no `az account show` when the pipeline says how it signs in"
    done, _ = run(tmp_path, {"objectId": LOGIC}, "dev", env={**arm, "ARM_TENANT_ID": "contoso.onmicrosoft.com",
                                                              "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 2
    assert "not a GUID in the pipeline's sign-in" in done.stderr


def test_the_stack_comes_from_make_as_well(tmp_path: Path) -> None:
    done, _ = run(tmp_path, {"objectId": LOGIC}, env={"STACK": "dev", "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {"logic": LOGIC}


def test_an_object_id_is_taken_as_it_is_without_az(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"objectId": LOGIC}, "dev", env={"GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH,
                                                                  "ARM_TENANT_ID": TENANT})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {"logic": LOGIC}
    assert calls == []


def test_a_client_id_is_resolved_with_sp_show(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"clientId": "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "dev")
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {"logic": OTHER}
    assert any(c.startswith("ad sp show --id 9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f") for c in calls)


def test_a_quote_in_a_display_name_is_escaped_for_the_filter(tmp_path: Path) -> None:
    done, _ = run(tmp_path, {"displayName": "O'Brien"}, "dev")
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {"logic": LOGIC}


@pytest.mark.parametrize(("existing", "error"), [
    ({"displayName": "hr-feed"}, "clients.logic.existing.displayName 'hr-feed' names 2 service principals"),
    ({"displayName": "nobody"}, "clients.logic.existing.displayName 'nobody' names 0 service principals"),
    ({"clientId": "2b3c4d5e-6f70-4182-8394-b5c6d7e8f901"}, "az found no service principal with that client id"),
])
def test_anything_but_exactly_one_principal_fails_with_one_clear_line(tmp_path: Path, existing: dict[str, str],
                                                                      error: str) -> None:
    done, _ = run(tmp_path, existing, "dev")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: clients.logic.existing.")
    assert error in last
    assert not (tmp_path / "out.json").exists()


def test_an_invalid_stack_file_fails(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  inbound-provisioning-access:clients: {Bad: {}}\n")
    done, _ = run(tmp_path, None, "dev", env={"GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 2
    assert "cannot read the existing identities" in done.stderr


def test_without_a_stack_the_map_is_left_out_and_said(tmp_path: Path) -> None:
    done, _ = run(tmp_path, {"objectId": LOGIC})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path) == {"graph-roles-allowlist": {GRAPH_SP_CONFIG: GRAPH},
                                "access-fields": {SIGN_IN_CONFIG: AS_SIGNED_IN},
                                STACK_POLICY: {GRAPH_SP_CONFIG: GRAPH, SIGN_IN_CONFIG: AS_SIGNED_IN}}
    assert "the whole-stack policy will refuse the stack" in done.stderr


def test_a_new_stack_without_a_stack_file_has_an_empty_map(tmp_path: Path) -> None:
    done, _ = run(tmp_path, None, "new", env={"GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {}
    assert config(tmp_path)[STACK_POLICY][STACK_FILE_CONFIG] == {"stack": "new", "clients": {},
                                                                 "provisioningApp": None}
