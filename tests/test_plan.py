"""make plan: the offline access plan, on every shipped stack file and on a broken one."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.microsoft import ALLOWED_PERMISSIONS
from tests.conftest import ROLE_ID, ROOT
from tools import plan

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))


def write_stack_file(tmp_path: Path, stack: str, config: dict[str, Any]) -> Path:
    """A Pulumi.<stack>.yaml with these keys in this project's namespace."""
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"inbound-provisioning-access:{k}": v for k, v in config.items()}}))
    return path


def run_plan(stack: str, path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(["--stack", stack, "--config-file", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_plan_of_every_shipped_stack(stack_file: Path) -> None:
    stack = stack_file.name.split(".")[1]
    code, text, err = run_plan(stack, stack_file)
    assert code == 0, err
    assert text.startswith(f"# Access plan: stack `{stack}`")
    assert "role id (planned)" in text
    assert "Nothing was read from or written to a tenant" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line and "grant" not in line]
    grant_rows = [r for r in rows if any(p in r for p in ALLOWED_PERMISSIONS) and r.count("|") == 8]
    assert grant_rows
    for row in grant_rows:
        permission = row.split(" | ")[3]
        assert f"`{ROLE_ID[permission]}`" in row
    assert "## Resources the stack manages" in text
    assert "mock-secret" not in text
    assert "looked-up-on-deploy" not in text, "placeholder ids are never shown as real"


def test_prod_plan_has_no_plain_secret_and_is_protected() -> None:
    code, text, _ = run_plan("prod", ROOT / "Pulumi.prod.yaml")
    assert code == 0
    assert "`protect` is **on**" in text
    assert "applicationPassword" not in text
    assert "ProvisioningLog.Read.All" in text
    assert "AuditLog.Read.All" not in text


def test_dev_plan_shows_expiry(tmp_path: Path) -> None:
    code, text, _ = run_plan("dev", ROOT / "Pulumi.dev.yaml")
    assert code == 0
    assert "| hr-sync | servicePrincipal | inbound-provisioning-access-dev-hr-sync (created on deploy) |" in text
    assert "secret, renewed every 28 days (picked from the 90-day lifetime)" in text
    assert "(newest); next renewal " in text
    passwords = [line for line in text.splitlines()
                 if "`azuread:index/applicationPassword:ApplicationPassword` | `hr-sync-secret-" in line]
    assert len(passwords) == 2, "the current and the previous renewal period's secrets"


def test_broken_stack_file_fails_with_the_error_list(tmp_path: Path) -> None:
    broken = write_stack_file(tmp_path, "broken", {
        "graphPermissions": ["Directory.ReadWrite.All"],
        "clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "secret", "lifetimeDays": 1000}}},
    })
    code, text, err = run_plan("broken", broken)
    assert code == 1
    assert text == ""
    assert "graphPermissions[0]" in err
    assert "clients.hr.credential.lifetimeDays" in err
    assert "2 problems" in err


def test_missing_stack_file(tmp_path: Path) -> None:
    code, _, err = run_plan("nope", tmp_path / "Pulumi.nope.yaml")
    assert code == 2
    assert "does not exist" in err


def test_plan_with_a_provisioning_app_and_lookups(tmp_path: Path) -> None:
    stack_file = write_stack_file(tmp_path, "test", {
        "provisioningApp": {
            "displayName": "API-driven provisioning to Microsoft Entra ID",
            "jobId": "API2AAD.0123456789abcdef0123456789abcdef.72f988bf-0000-4000-8000-00000000e1d0",
        },
        "clients": {
            "by-id": {"kind": "managedIdentity", "existing": {"objectId": "5dbc3f7a-c629-5faa-86dc-6f1351751cef"}},
            "uami": {"kind": "managedIdentity", "userAssigned": {
                "name": "id-hr", "resourceGroupName": "rg-identity", "location": "westeurope"}},
        },
    })
    code, text, err = run_plan("test", stack_file)
    assert code == 0, err
    assert "5dbc3f7a-c629-5faa-86dc-6f1351751cef (existing; looked up by objectId on deploy)" in text
    assert "id-hr (user-assigned identity, created on deploy)" in text
    assert "Provisioning app: API-driven provisioning to Microsoft Entra ID, job `API2AAD." in text
    assert "`azure-native:managedidentity:UserAssignedIdentity` | `uami-identity` | no |" in text
    assert "looked-up-on-deploy" not in text


def test_encrypted_config_is_never_shown(tmp_path: Path) -> None:
    # What `pulumi config set --secret` writes: an encrypted value the plan cannot read.
    stack_file = write_stack_file(tmp_path, "test", {"clients": {"secure": "v1:Q2lwaGVydGV4dE5ldmVyU2hvd24="}})
    code, text, err = run_plan("test", stack_file)
    assert code == 1
    assert "clients: got <secret, not shown>" in err
    assert "Q2lwaGVydGV4dE5ldmVyU2hvd24" not in err + text


def test_plan_lists_adopted_objects_and_what_import_changes(tmp_path: Path) -> None:
    app, sp, grant = (f"0000000{i}-1111-4222-8333-444444444444" for i in range(3))
    path = write_stack_file(tmp_path, "dev", {"clients": {
        "hr": {"kind": "servicePrincipal", "displayName": "HR middleware", "credential": {"type": "secret"},
               "adopt": {"application": app, "servicePrincipal": sp,
                         "grants": {"SynchronizationData-User.Upload": grant}}},
        "logic": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"},
                  "adopt": {"grants": {"AuditLog.Read.All": grant.replace("0000000", "9999999")}}},
        "new": {"kind": "servicePrincipal", "credential": {"type": "secret"}},
    }})
    code, text, err = run_plan("dev", path)
    assert code == 0, err
    section = text.split("## Adopted objects (imported on deploy, not created)")[1].split("\n## ")[0]
    assert f"`hr-app` ← `/applications/{app}`" in section
    assert f"`hr-sp` ← `/servicePrincipals/{sp}`" in section
    assert (f"`hr-grant-SynchronizationData-User.Upload` ← `/servicePrincipals/<Graph's service principal>"
            f"/appRoleAssignedTo/{grant}`") in section
    assert "`logic-grant-AuditLog.Read.All` ← `/servicePrincipals/" in section
    assert "displayName `HR middleware`" in section
    assert "declared API permissions exactly SynchronizationData-User.Upload, AuditLog.Read.All" in section
    assert "owners: none (any owners are removed)" in section
    assert "the stack adds its secret beside them" in section
    assert "**new**" not in section
    assert "hr-grant-AuditLog.Read.All` ←" not in section


def test_plan_without_adopt_has_no_adoption_section() -> None:
    code, text, _ = run_plan("dev", ROOT / "Pulumi.dev.yaml")
    assert code == 0
    assert "Adopted objects" not in text
