"""tools/policy-config.sh: the policy config, with each existing identity's principal, from a fake `az`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy.existing_identities import ADVISORY_POLICY, EXISTING_CONFIG
from policy.rules import GRAPH_SP_CONFIG, STACK_POLICY

ROOT = Path(__file__).resolve().parent.parent
GRAPH = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
LOGIC = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"
OTHER = "1b2c3d4e-5f60-4172-8384-a5b6c7d8e9f0"
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


def config(tmp_path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((tmp_path / "out.json").read_text())
    return loaded


def test_a_display_name_is_resolved_to_its_one_principal(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"displayName": "CSV2SCIMBulkUpload"}, "dev")
    assert done.returncode == 0, done.stderr
    assert config(tmp_path) == {
        "graph-roles-allowlist": {GRAPH_SP_CONFIG: GRAPH},
        STACK_POLICY: {GRAPH_SP_CONFIG: GRAPH, EXISTING_CONFIG: {"logic": LOGIC}},
        ADVISORY_POLICY: {EXISTING_CONFIG: {"logic": LOGIC}},
    }
    assert any("displayName eq 'CSV2SCIMBulkUpload'" in c for c in calls)


def test_the_stack_comes_from_make_as_well(tmp_path: Path) -> None:
    done, _ = run(tmp_path, {"objectId": LOGIC}, env={"STACK": "dev", "GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {"logic": LOGIC}


def test_an_object_id_is_taken_as_it_is_without_az(tmp_path: Path) -> None:
    done, calls = run(tmp_path, {"objectId": LOGIC}, "dev", env={"GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
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
                                STACK_POLICY: {GRAPH_SP_CONFIG: GRAPH}}
    assert "checked only as advisory" in done.stderr


def test_a_new_stack_without_a_stack_file_has_an_empty_map(tmp_path: Path) -> None:
    done, _ = run(tmp_path, None, "new", env={"GRAPH_SERVICE_PRINCIPAL_OBJECT_ID": GRAPH})
    assert done.returncode == 0, done.stderr
    assert config(tmp_path)[STACK_POLICY][EXISTING_CONFIG] == {}
