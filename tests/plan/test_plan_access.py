"""Who can act as a client, in the access part of both outputs: credential readers, app owners, trusted principals.

One plan and one diff of the same pair of stack files, run once for the module (issue 32).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import secret_client
from tests.plan.helpers import section, table
from tools.plan import plan, plan_diff

NAMESPACE = "inbound-provisioning-access"
VAULT = ("/subscriptions/11111111-2222-4333-8444-555555555555/resourceGroups/rg-hr/providers/Microsoft.KeyVault/"
         "vaults/kv-hr")
READER_A, READER_B = "aaaaaaaa-0000-4000-8000-00000000000a", "bbbbbbbb-0000-4000-8000-00000000000b"
TRUSTED_A, TRUSTED_B = "aaaaaaaa-1111-4000-8000-00000000000a", "bbbbbbbb-1111-4000-8000-00000000000b"
OWNED_BY = ["SynchronizationData-User.Upload.OwnedBy", "ProvisioningLog.Read.All"]
CERTIFICATE = {"kind": "servicePrincipal", "graphPermissions": OWNED_BY[1:],
               "credential": {"type": "certificate", "generate": {"subject": "hr-cert"}}}

BASE: dict[str, Any] = {
    "trustedPrincipals": [TRUSTED_A],
    "clients": {"hr-sync": {**secret_client(lifetimeDays=90), "keyVault": {"vaultId": VAULT, "readers": [READER_A]}},
                "hr-cert": CERTIFICATE},
}
PR: dict[str, Any] = {
    "trustedPrincipals": [TRUSTED_B],
    "provisioningApp": {"create": {"notificationEmail": "hr-ops@contoso.com"}},
    "clients": {"hr-sync": {**secret_client(lifetimeDays=90), "graphPermissions": OWNED_BY,
                            "keyVault": {"vaultId": VAULT, "readers": [READER_B]}},
                "hr-cert": CERTIFICATE},
}
OBJECT_ID = "object id (its name is not read offline)"
HR_SYNC = "inbound-provisioning-access-dev-hr-sync (created on deploy)"


def write(directory: Path, config: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": {f"{NAMESPACE}:{k}": v for k, v in config.items()}}))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("access")
    return write(root / "base", BASE), write(root / "pr", PR)


@pytest.fixture(scope="module")
def planned(files: tuple[Path, Path]) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert plan.main(["--stack", "dev", "--config-file", str(files[1])], out=out, err=err) == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def diffed(files: tuple[Path, Path]) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = plan_diff.main(["--base", str(files[0]), "--pr", str(files[1]), "--code-commit", "abc"], out, err)
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_the_plan_shows_a_reader_of_a_credential_as_access(planned: str) -> None:
    rows = table(planned, "## Access")
    assert [READER_B, OBJECT_ID, "reads client hr-sync's credential (Key Vault secret hr-sync in vault kv-hr), so "
            "can sign in as hr-sync", "Key Vault Secrets User on that one secret"] in rows


def test_the_plan_shows_the_provisioning_apps_owners_and_the_trusted_principals(planned: str) -> None:
    rows = table(planned, "## Access")
    assert ["hr-sync", HR_SYNC, "owns the provisioning app inbound-provisioning-access-dev: can change it, and upload "
            "to it with SynchronizationData-User.Upload.OwnedBy", "application owner"] in rows
    assert [TRUSTED_B, OBJECT_ID, "trusted: make audit lists what it holds as expected, never as a finding",
            "trustedPrincipals"] in rows
    assert "**Least privilege**" not in planned, "no client holds the tutorial's default pair"


def test_the_plan_says_where_a_generated_private_key_lives(planned: str) -> None:
    [row] = [r for r in table(planned, "## Credentials") if r[0] == "hr-cert"]
    assert row[1].startswith("certificate, generated (CN=hr-cert); its private key is kept in the stack's Pulumi "
                             "state, so whoever can decrypt the state can sign in as hr-cert (docs/credentials-and-"
                             "renewal.md, 'Where a generated private key lives')")


def test_the_diff_shows_who_gains_and_loses_read_access_to_which_credential(diffed: str) -> None:
    rows = table(diffed, "### Access")
    reads = "reads client hr-sync's credential (Key Vault secret hr-sync in vault kv-hr), so can sign in as hr-sync"
    assert [READER_B, OBJECT_ID, "**gains**", reads] in rows
    assert [READER_A, OBJECT_ID, "**loses**", reads] in rows
    assert [TRUSTED_B, OBJECT_ID, "**gains**", "trusted: make audit lists what it holds as expected, never as a "
            "finding"] in rows
    assert [TRUSTED_A, OBJECT_ID, "**loses**", "trusted: make audit lists what it holds as expected, never as a "
            "finding"] in rows
    assert ["hr-sync", HR_SYNC, "**gains**", "owns the provisioning app inbound-provisioning-access-dev: can change "
            "it, and upload to it with SynchronizationData-User.Upload.OwnedBy"] in rows
    assert ["hr-sync", HR_SYNC, "**loses**", "Graph permission AuditLog.Read.All"] in rows
    assert not [r for r in rows if r[0] == "hr-cert"], "hr-cert's access is the same on both sides"
    other = section(diffed, "### Other changes")
    assert "RoleAssignment" not in other, "said as access, not as a resource"
    assert "ApplicationOwner" not in other


def test_the_diff_never_prints_pythons_none(diffed: str) -> None:
    assert "None" not in diffed
    assert ("- provisioning app: (none) → **created by the stack: inbound-provisioning-access-dev (target entraId, "
            "notices to hr-ops@\u200bcontoso.com)**") in diffed


@pytest.mark.parametrize("module", [plan, plan_diff], ids=["plan", "plan-diff"])
def test_help_is_plain_text(module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.suppress(SystemExit):  # plan-diff's argparse exits, plan returns
        module.main(["--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: make plan")
    assert "``" not in text, "no reStructuredText markup"
    assert "__main__.py" in text or "Pulumi.<stack>.yaml" in text
