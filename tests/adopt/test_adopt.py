"""make adopt against a fake Microsoft Graph, and the takeover of a tutorial-built tenant end to end."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings.parse import parse_settings
from tests.conftest import DUPLICATE_A, DUPLICATE_B, GRAPH_ROLES, LOGIC_APP, NOW, ROLE_ID
from tests.fake_graph import (
    TOKEN,
    FakeCredential,
    FakeGraph,
    SignedOutCredential,
    Tenant,
    assignment,
    graph_principal,
)
from tools.adopt import adopt
from tools.offline.entra import DirectoryEntry, ExistingApplication, OfflineEntra, mock_guid
from tools.offline.run import run_offline
from tools.stack.stack_file import read_stack_file

UPLOAD, AUDIT = "SynchronizationData-User.Upload", "AuditLog.Read.All"
PORTAL_APP = ExistingApplication("HR middleware", mock_guid("portal-app"), mock_guid("portal-app-client"))
PORTAL_SP = mock_guid("portal-sp")
SECRET_HINT = "Q7~"  # Graph's hint: the first characters of the secret; never to be printed
NOT_DEPLOYED: dict[str, Any] = {}  # `pulumi stack output --json` of a stack never deployed
USER_READ = "e1fc6d9b-5c6f-4c5e-9d2d-0000000000aa"  # a delegated scope the portal declares by default
DIRECTORY_RW = next(r["id"] for r in GRAPH_ROLES if r["value"] == "Directory.ReadWrite.All")
OFFLINE = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP, DirectoryEntry(PORTAL_APP.display_name, PORTAL_SP,
                                                                        PORTAL_APP.client_id)],
                       applications=[PORTAL_APP], now=NOW)
GRAPH = graph_principal(OFFLINE.graph_object_id, GRAPH_ROLES)

STACK_FILE = f"""\
# The team's dev stack: the tutorial's Logic App and the HR middleware's portal app.
config:
  azure-native:location: westeurope
  inbound-provisioning-access:clients:
    # Made in the portal; its client id is configured in the HR middleware.
    hr-middleware:
      kind: servicePrincipal
      displayName: {PORTAL_APP.display_name}
      credential:
        type: secret
        lifetimeDays: 90   # the stack's own secret, beside the portal one
    csv-logic-app:
      kind: managedIdentity
      existing:
        displayName: {LOGIC_APP.display_name}
  inbound-provisioning-access:protect: true
"""


def tutorial_tenant() -> Tenant:
    """The tenant after Microsoft's tutorial: a Logic App granted by script, an app made in the portal."""
    logic = {"id": LOGIC_APP.object_id, "appId": LOGIC_APP.client_id, "displayName": LOGIC_APP.display_name,
             "servicePrincipalType": "ManagedIdentity", "accountEnabled": True}
    portal_sp = {"id": PORTAL_SP, "appId": PORTAL_APP.client_id, "displayName": PORTAL_APP.display_name,
                 "servicePrincipalType": "Application", "accountEnabled": True}
    duplicates = [{"id": d.object_id, "appId": d.client_id, "displayName": d.display_name,
                   "servicePrincipalType": "ManagedIdentity", "accountEnabled": True}
                  for d in (DUPLICATE_A, DUPLICATE_B)]
    app: dict[str, Any] = {
        "id": PORTAL_APP.object_id, "appId": PORTAL_APP.client_id, "displayName": PORTAL_APP.display_name,
        "createdDateTime": "2025-02-01T08:00:00Z", "notes": None, "signInAudience": "AzureADMyOrg",
        "identifierUris": [], "appRoles": [], "web": {"redirectUris": []}, "spa": {"redirectUris": []},
        "publicClient": {"redirectUris": []},
        "requiredResourceAccess": [{"resourceAppId": GRAPH["appId"], "resourceAccess": [
            {"id": USER_READ, "type": "Scope"}, {"id": ROLE_ID[UPLOAD], "type": "Role"}]}],
        "passwordCredentials": [
            {"customKeyIdentifier": None, "displayName": "workday-prod", "endDateTime": "2027-03-01T00:00:00Z",
             "hint": SECRET_HINT, "keyId": mock_guid("portal-secret"), "secretText": None,
             "startDateTime": "2025-03-01T00:00:00Z"},
            {"customKeyIdentifier": None, "displayName": "first try", "endDateTime": "2026-06-01T00:00:00Z",
             "hint": SECRET_HINT, "keyId": mock_guid("portal-secret-old"), "secretText": None,
             "startDateTime": "2025-02-01T00:00:00Z"},
        ],
        "keyCredentials": [],
    }
    return Tenant(
        applications=[app],
        service_principals=[GRAPH, logic, portal_sp, *duplicates],
        assignments={
            # The tutorial's script: the two permissions, to the Logic App's identity.
            LOGIC_APP.object_id: [assignment(mock_guid("logic-upload"), logic, GRAPH, ROLE_ID[UPLOAD]),
                                  assignment(mock_guid("logic-audit"), logic, GRAPH, ROLE_ID[AUDIT])],
            # Consented in the portal: upload, and a permission far beyond what it needs.
            PORTAL_SP: [assignment(mock_guid("portal-upload"), portal_sp, GRAPH, ROLE_ID[UPLOAD]),
                        assignment(mock_guid("portal-directory"), portal_sp, GRAPH, DIRECTORY_RW)],
        },
        owners={PORTAL_APP.object_id: [{"@odata.type": "#microsoft.graph.user", "id": mock_guid("alice"),
                                        "displayName": "Alice", "userPrincipalName": "alice@contoso.example"}]},
    )


def run_adopt(stack_file: Path, graph: FakeGraph, *extra: str, credential: Any = None,
              outputs: dict[str, Any] | None = NOT_DEPLOYED) -> tuple[int, str, str]:
    """make adopt; ``outputs`` is the stack's `pulumi stack output --json` (None: read through the CLI)."""
    if outputs is not None:
        outputs_file = stack_file.parent / "dev.outputs.json"
        outputs_file.write_text(json.dumps(outputs))
        extra = ("--outputs", str(outputs_file), *extra)
    out, err = io.StringIO(), io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file), *extra],
                      credential=credential or FakeCredential(), transport=graph, out=out, err=err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def printed_block(text: str) -> dict[str, Any]:
    match = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert match, text
    block: dict[str, Any] = yaml.safe_load(match.group(1))
    return block


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(STACK_FILE)
    return path


def assert_nothing_secret(text: str) -> None:
    assert SECRET_HINT not in text
    assert TOKEN not in text


def test_prints_the_adopt_block_and_what_to_do_afterwards(stack_file: Path) -> None:
    graph = FakeGraph(tutorial_tenant(), page_size=1)
    code, text, err = run_adopt(stack_file, graph)
    assert code == 0, err
    assert printed_block(text) == {
        "hr-middleware": {"adopt": {"application": PORTAL_APP.object_id, "servicePrincipal": PORTAL_SP,
                                    "grants": {UPLOAD: mock_guid("portal-upload")}}},
        "csv-logic-app": {"adopt": {"grants": {AUDIT: mock_guid("logic-audit"),
                                               UPLOAD: mock_guid("logic-upload")}}},
    }
    # Old secrets: retire within the 14-day switch-over, or at once when already expired.
    assert (f"secret 'workday-prod' (key id {mock_guid('portal-secret')}), by 2026-12-11; "
            "it expires 2027-03-01 regardless") in text
    assert "retire now: secret 'first try'" in text
    assert "owners of the app registration: alice@contoso.example" in text
    assert "beyond the allow-list, reported and never adopted: Directory.ReadWrite.All" in text
    assert mock_guid("portal-directory") not in printed_block(text)["hr-middleware"]["adopt"]["grants"].values()
    assert "not held yet, the deploy grants: AuditLog.Read.All" in text
    assert f"drops {USER_READ} (Scope)" in text
    assert "notes -> the program's note" in text
    assert_nothing_secret(text + err)
    # Paged reads followed @odata.nextLink; and everything was a GET (the fake refuses anything else).
    assert f"/servicePrincipals/{LOGIC_APP.object_id}/appRoleAssignments?$skiptoken=1" in graph.requests


def test_several_identities_with_one_display_name_ask_for_the_object_id(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": {"inbound-provisioning-access:clients": {
        "feed": {"kind": "managedIdentity", "existing": {"displayName": "hr-feed"}}}}}))
    code, text, _ = run_adopt(path, FakeGraph(tutorial_tenant()))
    assert code == 1
    assert "several service principals are named 'hr-feed'" in text
    assert DUPLICATE_A.object_id in text
    assert DUPLICATE_B.object_id in text
    assert "set clients.feed.existing.objectId" in text
    assert "```yaml" not in text
    assert "No adopt block yet: a client needs a choice" in text


def test_several_app_registrations_with_one_name_ask_for_the_object_id(stack_file: Path) -> None:
    tenant = tutorial_tenant()
    twin = {**tenant.applications[0], "id": mock_guid("twin-app"), "appId": mock_guid("twin-client")}
    tenant.applications.append(twin)
    code, text, _ = run_adopt(stack_file, FakeGraph(tenant))
    assert code == 1
    assert "several app registrations are named 'HR middleware'" in text
    assert "--app hr-middleware=<object id>" in text
    # Chosen by object id, the block is complete again.
    code, text, _ = run_adopt(stack_file, FakeGraph(tenant), "--app", f"hr-middleware={PORTAL_APP.object_id}")
    assert code == 0
    assert printed_block(text)["hr-middleware"]["adopt"]["application"] == PORTAL_APP.object_id


def test_app_by_client_id(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": {"inbound-provisioning-access:clients": {
        "hr": {"kind": "servicePrincipal", "credential": {"type": "secret"}}}}}))
    code, text, _ = run_adopt(path, FakeGraph(tutorial_tenant()))
    assert code == 0
    assert "nothing to adopt, the deploy creates one" in text
    code, text, _ = run_adopt(path, FakeGraph(tutorial_tenant()), "--app", f"hr={PORTAL_APP.client_id}")
    assert code == 0
    assert printed_block(text)["hr"]["adopt"]["servicePrincipal"] == PORTAL_SP
    assert "displayName 'HR middleware' -> 'inbound-provisioning-access-dev-hr'" in text


@pytest.mark.parametrize("refused", [r"/servicePrincipals/[0-9a-f-]+/appRoleAssignments", r"/applications",
                                     r"/applications/[0-9a-f-]+/owners"])
def test_403_exits_2_naming_the_missing_permission(stack_file: Path, refused: str) -> None:
    code, text, err = run_adopt(stack_file, FakeGraph(tutorial_tenant(), refuse=(refused,)))
    assert code == 2
    assert "403 Authorization_RequestDenied" in err
    assert "Application.Read.All" in err
    assert "```yaml" not in text
    assert_nothing_secret(text + err)


def test_not_signed_in_exits_2(stack_file: Path) -> None:
    code, _, err = run_adopt(stack_file, FakeGraph(tutorial_tenant()), credential=SignedOutCredential())
    assert code == 2
    assert "sign-in failed" in err
    assert "az login" in err


def test_unknown_app_client_is_refused(stack_file: Path) -> None:
    code, _, err = run_adopt(stack_file, FakeGraph(tutorial_tenant()), "--app", "nope=x")
    assert code == 1
    assert "not in Pulumi.dev.yaml: nope" in err


def test_write_keeps_the_rest_of_the_file_and_replaces_an_earlier_block(stack_file: Path) -> None:
    code, _, err = run_adopt(stack_file, FakeGraph(tutorial_tenant()), "--write")
    assert code == 0, err
    written = stack_file.read_text()
    for line in STACK_FILE.splitlines():
        assert line in written, line  # comments, order and other keys untouched
    config = yaml.safe_load(written)["config"]
    assert config["inbound-provisioning-access:clients"]["csv-logic-app"]["adopt"]["grants"][UPLOAD] == (
        mock_guid("logic-upload"))
    # Run again: the blocks are replaced, not duplicated.
    code, _, _ = run_adopt(stack_file, FakeGraph(tutorial_tenant()), "--write")
    assert code == 0
    assert stack_file.read_text() == written


def test_write_refuses_a_file_it_cannot_edit_safely(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    text = ('config:\n  inbound-provisioning-access:clients: {csv-logic-app: {kind: managedIdentity, '
            'existing: {displayName: CSV2SCIMBulkUpload}}}\n')
    path.write_text(text)
    code, out, err = run_adopt(path, FakeGraph(tutorial_tenant()), "--write")
    assert code == 1
    assert "was not changed" in err
    assert "```yaml" in out
    assert path.read_text() == text


def test_tutorial_tenant_taken_over_end_to_end(stack_file: Path) -> None:
    """make adopt --write, then the deploy: nothing that exists is created again."""
    tenant = tutorial_tenant()
    code, _, err = run_adopt(stack_file, FakeGraph(tenant), "--write")
    assert code == 0, err
    config = read_stack_file(stack_file).raw
    parse_settings(config, "dev", NOW)  # what --write wrote is valid config
    run = run_offline(OFFLINE, config, "dev")

    existing = {f"/applications/{a['id']}" for a in tenant.applications}
    existing |= {f"/servicePrincipals/{sp['id']}" for sp in tenant.service_principals}
    existing_grants = {(a["principalId"], a["appRoleId"]): f"/servicePrincipals/{a['resourceId']}/appRoleAssignedTo/"
                       f"{a['id']}" for grants in tenant.assignments.values() for a in grants}
    imported = {r.import_id for r in run.registrations if r.import_id}
    for registration in run.registrations:
        if registration.type == "azuread:index/appRoleAssignment:AppRoleAssignment":
            pair = (registration.inputs["principalObjectId"], registration.inputs["appRoleId"])
            # A grant that exists is imported by its own id; Graph would refuse a second one.
            assert registration.import_id == existing_grants.get(pair, ""), registration.name
    assert f"/applications/{PORTAL_APP.object_id}" in imported
    assert f"/servicePrincipals/{PORTAL_SP}" in imported
    assert imported <= existing | set(existing_grants.values())
    assert len(imported) == 5  # app, principal, the portal grant, the Logic App's two grants
    assert all(r.protect for r in run.registrations if r.import_id)
    # What is created: the stack's own secret on the adopted app (a new client's one credential),
    # and the one grant it lacked.
    created = sorted(r.name for r in run.registrations if r.custom and not r.import_id)
    assert created[0] == "hr-middleware-grant-AuditLog.Read.All"
    assert [n.rsplit("-", 1)[0] for n in created[1:]] == ["hr-middleware-secret"]
    assert run.outputs["clients"]["hr-middleware"]["clientId"] == PORTAL_APP.client_id
    # Directory.ReadWrite.All was reported, never adopted: the program neither imports nor deletes it.
    assert not any(r.inputs.get("appRoleId") == DIRECTORY_RW for r in run.registrations)



def test_an_unreadable_stack_file_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  inbound-provisioning-access:clients:\n\thr: {}\n")
    graph = FakeGraph(tutorial_tenant())
    code, out, err = run_adopt(path, graph)
    assert code == adopt.EXIT_ACCESS
    assert out == ""
    assert err.startswith(f"error: {path}:3:1: not valid YAML: a tab character")
    assert "Traceback" not in err
