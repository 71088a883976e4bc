"""The whole program with `adopt`: existing objects are imported (with `protect`), never created twice."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.problems import SettingsError
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, ROLE_ID, existing_identity, secret_client
from tools.offline.entra import DirectoryEntry, ExistingApplication, OfflineEntra, mock_guid
from tools.offline.run import LAST_RUN, ProgramRun, run_offline

PORTAL_APP = ExistingApplication("HR middleware (portal)", mock_guid("portal-app"), mock_guid("portal-app-client"),
                                 owners=(mock_guid("alice"),))
PORTAL_SP = mock_guid("portal-sp")
PORTAL_PRINCIPAL = DirectoryEntry(PORTAL_APP.display_name, PORTAL_SP, PORTAL_APP.client_id)
UPLOAD, AUDIT = "SynchronizationData-User.Upload", "AuditLog.Read.All"
GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"


@pytest.fixture
def tenant() -> OfflineEntra:
    return OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP, PORTAL_PRINCIPAL], applications=[PORTAL_APP], now=NOW)


def adopted_config(protect: bool) -> dict[str, Any]:
    return {
        "protect": protect,
        "clients": {
            "hr-middleware": {**secret_client(), "displayName": PORTAL_APP.display_name, "adopt": {
                "application": PORTAL_APP.object_id, "servicePrincipal": PORTAL_SP,
                "grants": {UPLOAD: mock_guid("portal-grant-upload")},
            }},
            "csv-logic-app": {**existing_identity(displayName=LOGIC_APP.display_name), "adopt": {
                "grants": {UPLOAD: mock_guid("logic-grant-upload"), AUDIT: mock_guid("logic-grant-audit")},
            }},
        },
    }


@pytest.mark.parametrize("protect", [True, False])
def test_adopted_objects_are_imported_by_their_provider_ids(tenant: OfflineEntra, protect: bool) -> None:
    run = run_offline(tenant, adopted_config(protect), "prod" if protect else "dev")
    graph = tenant.graph_object_id
    assert run.named("hr-middleware-app").import_id == f"/applications/{PORTAL_APP.object_id}"
    assert run.named("hr-middleware-sp").import_id == f"/servicePrincipals/{PORTAL_SP}"
    assert run.named(f"hr-middleware-grant-{UPLOAD}").import_id == (
        f"/servicePrincipals/{graph}/appRoleAssignedTo/{mock_guid('portal-grant-upload')}")
    assert run.named(f"csv-logic-app-grant-{UPLOAD}").import_id == (
        f"/servicePrincipals/{graph}/appRoleAssignedTo/{mock_guid('logic-grant-upload')}")
    assert run.named(f"csv-logic-app-grant-{AUDIT}").import_id == (
        f"/servicePrincipals/{graph}/appRoleAssignedTo/{mock_guid('logic-grant-audit')}")
    # The grant the portal app did not have yet is created, to the adopted principal.
    created = run.named(f"hr-middleware-grant-{AUDIT}")
    assert created.import_id == ""
    assert created.inputs["principalObjectId"] == PORTAL_SP
    assert created.inputs["appRoleId"] == ROLE_ID[AUDIT]
    imported = [r for r in run.registrations if r.import_id]
    assert len(imported) == 5
    assert all(r.protect is protect for r in imported)


def test_adopted_app_keeps_its_client_id_and_gets_a_credential_beside_its_own(tenant: OfflineEntra) -> None:
    run = run_offline(tenant, adopted_config(True), "prod")
    client = run.outputs["clients"]["hr-middleware"]
    assert client["clientId"] == PORTAL_APP.client_id
    assert client["servicePrincipalObjectId"] == PORTAL_SP
    assert client["displayName"] == PORTAL_APP.display_name
    # The managed secret is added to the adopted app; nothing replaces the app's own credentials.
    password = run.of_type("azuread:index/applicationPassword:ApplicationPassword")
    assert [p.import_id for p in password] == [""], "the stack's own new secret, beside the app's own"
    assert {p.inputs["applicationId"] for p in password} == {f"/applications/{PORTAL_APP.object_id}"}
    assert run.secret_outputs == {"clientCredentials"}
    assert run.outputs["clients"]["csv-logic-app"]["servicePrincipalObjectId"] == LOGIC_APP.object_id


def test_grants_import_under_graphs_principal_with_the_program_inputs(tenant: OfflineEntra) -> None:
    run: ProgramRun = run_offline(tenant, adopted_config(False), "dev")
    for grant in run.of_type(GRANT):
        assert grant.inputs["resourceObjectId"] == tenant.graph_object_id
        if grant.import_id:
            # The inputs must describe the existing assignment: same principal, same role.
            key, permission = grant.name.split("-grant-")
            principal = PORTAL_SP if key == "hr-middleware" else LOGIC_APP.object_id
            assert grant.inputs["principalObjectId"] == principal
            assert grant.inputs["appRoleId"] == ROLE_ID[permission]


def test_without_adopt_nothing_is_imported(tenant: OfflineEntra) -> None:
    run = run_offline(tenant, {"clients": {"hr": secret_client()}}, "dev")
    assert all(r.import_id == "" for r in run.registrations)


def test_a_client_unprotected_for_removal_is_the_only_one_unprotected(tenant: OfflineEntra) -> None:
    config = adopted_config(True)
    config["clients"]["hr-middleware"]["protect"] = False
    run = run_offline(tenant, config, "prod")
    protected = {r.name: r.protect for r in run.registrations
                 if r.custom and not r.type.startswith("azuread:index/applicationPassword")}
    assert {name for name, on in protected.items() if not on} == {
        "hr-middleware-app", "hr-middleware-sp", f"hr-middleware-grant-{UPLOAD}", f"hr-middleware-grant-{AUDIT}"}
    assert protected[f"csv-logic-app-grant-{UPLOAD}"] is True


def test_owners_the_import_removes_are_a_warning_in_preview(tenant: OfflineEntra) -> None:
    run = run_offline(tenant, adopted_config(True), "prod")
    warnings = [m for level, m in run.logs if level == "warning"]
    assert any(m.startswith("clients.hr-middleware.adopt.application has 1 owner(s); the import removes them")
               for m in warnings), warnings


def test_a_principal_of_another_app_is_refused_before_anything_is_imported(tenant: OfflineEntra) -> None:
    config = adopted_config(True)
    config["clients"]["hr-middleware"]["adopt"]["servicePrincipal"] = LOGIC_APP.object_id
    with pytest.raises(SettingsError) as caught:
        run_offline(tenant, config, "prod")
    # Also one principal claimed by two clients (the Logic App's, adopted as the portal app's).
    assert [p.path for p in caught.value.problems] == ["clients.csv-logic-app",
                                                       "clients.hr-middleware.adopt.servicePrincipal"]
    assert f"belongs to client id {LOGIC_APP.client_id}" in str(caught.value)
    assert not [r for r in LAST_RUN[0].registrations if r.custom], "nothing registered"


def test_an_unknown_application_is_refused(tenant: OfflineEntra) -> None:
    config = adopted_config(False)
    config["clients"]["hr-middleware"]["adopt"]["application"] = mock_guid("no-such-app")
    with pytest.raises(SettingsError) as caught:
        run_offline(tenant, config, "dev")
    assert [p.path for p in caught.value.problems] == ["clients.hr-middleware.adopt.application"]
    assert "the object id, not the client id" in str(caught.value)
