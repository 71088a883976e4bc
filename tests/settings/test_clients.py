"""clients.<key>: kinds, permissions, managed identities, and one identity claimed by two clients."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.model import ManagedIdentityClientSettings
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import NOW, RunProgram, existing_identity, secret_client
from tests.settings.helpers import SP, UA, assert_names_the_key_path, assert_registers_nothing, parse, problems_of


def test_stack_permissions_apply_unless_a_client_overrides() -> None:
    settings = parse({
        "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
        "clients": {
            "a": secret_client(),
            "b": {**secret_client(), "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"]},
        },
    })
    assert settings.clients["a"].graph_permissions == ("SynchronizationData-User.Upload", "ProvisioningLog.Read.All")
    assert settings.clients["b"].graph_permissions == ("SynchronizationData-User.Upload.OwnedBy",)


def test_managed_identity_forms_parse() -> None:
    settings = parse({"clients": {
        "logic-app": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}},
        "uami": {"kind": "managedIdentity", "userAssigned": {
            "name": "id-hr-sync", "resourceGroupName": "rg-identity", "location": "westeurope",
            "tags": {"owner": "iam"}}},
    }})
    logic_app = settings.clients["logic-app"]
    assert isinstance(logic_app, ManagedIdentityClientSettings)
    assert logic_app.existing is not None
    assert (logic_app.existing.lookup, logic_app.existing.value) == ("displayName", "CSV2SCIMBulkUpload")
    uami = settings.clients["uami"]
    assert isinstance(uami, ManagedIdentityClientSettings)
    assert uami.user_assigned is not None
    assert uami.user_assigned.location == "westeurope"
    assert dict(uami.user_assigned.tags) == {"owner": "iam"}


def test_redundant_permission_pairs_warn() -> None:
    settings = parse({"clients": {"a": {**secret_client(), "graphPermissions": [
        "SynchronizationData-User.Upload", "AuditLog.Read.All", "ProvisioningLog.Read.All"]}}})
    assert any("AuditLog.Read.All and ProvisioningLog.Read.All" in w for w in settings.warnings)


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("bad client key", {"clients": {"HR_Sync": secret_client()}}, "clients.HR_Sync"),
    ("client key too long", {"clients": {"a" * 41: secret_client()}}, "clients." + "a" * 41),
    ("missing kind", {"clients": {"a": {"credential": {"type": "secret"}}}}, "clients.a.kind"),
    ("unknown kind", {"clients": {"a": {"kind": "user"}}}, "clients.a.kind"),
    ("typo in client key", {"clients": {"a": {**secret_client(), "displayname": "x"}}}, "clients.a.displayname"),
    ("display name too long", {"clients": {"a": {**secret_client(), "displayName": "x" * 121}}},
     "clients.a.displayName"),
    ("permission not allowed", {"graphPermissions": ["Directory.ReadWrite.All"], "clients": {"a": secret_client()}},
     "graphPermissions[0]"),
    ("client permission not allowed",
     {"clients": {"a": {**secret_client(), "graphPermissions": ["User.ReadWrite.All"]}}},
     "clients.a.graphPermissions[0]"),
    ("duplicate permission", {"graphPermissions": ["AuditLog.Read.All", "AuditLog.Read.All"],
                              "clients": {"a": secret_client()}}, "graphPermissions[1]"),
    ("empty permission list", {"graphPermissions": [], "clients": {"a": secret_client()}}, "graphPermissions"),
    ("permissions not a list", {"clients": {"a": {**secret_client(), "graphPermissions": "AuditLog.Read.All"}}},
     "clients.a.graphPermissions"),
    ("missing credential", {"clients": {"a": {"kind": SP}}}, "clients.a.credential"),
    ("two clients, one identity", {"clients": {
        "a": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}},
        "b": {"kind": "managedIdentity", "existing": {"displayName": "csv2scimbulkupload"}}}}, "clients.a"),
    ("managed identity with credential", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "CSV2SCIMBulkUpload"}, "credential": {"type": "secret"}}}}, "clients.a.credential"),
    ("managed identity with both forms", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "x"}, "userAssigned": UA}}}, "clients.a"),
    ("managed identity with neither", {"clients": {"a": {"kind": "managedIdentity"}}}, "clients.a"),
    ("existing with two lookups", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "x", "objectId": "00000000-0000-0000-0000-000000000001"}}}}, "clients.a.existing"),
    ("existing objectId not a GUID", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "objectId": "CSV2SCIMBulkUpload"}}}}, "clients.a.existing.objectId"),
    ("existing clientId not a GUID", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "clientId": "123"}}}}, "clients.a.existing.clientId"),
    ("user-assigned bad name", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "name": "id hr!"}}}}, "clients.a.userAssigned.name"),
    ("user-assigned resource group ends with a period", {"clients": {"a": {"kind": "managedIdentity",
                                                                           "userAssigned": {
        **UA, "resourceGroupName": "rg-identity."}}}}, "clients.a.userAssigned.resourceGroupName"),
    ("user-assigned display-style location", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "location": "West Europe"}}}}, "clients.a.userAssigned.location"),
    ("user-assigned missing location", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        k: v for k, v in UA.items() if k != "location"}}}}, "clients.a.userAssigned.location"),
    ("user-assigned tags not strings", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "tags": {"cost": 12}}}}}, "clients.a.userAssigned.tags"),
    ("managed identity displayName", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": UA,
                                                        "displayName": "x"}}}, "clients.a.displayName"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    assert_names_the_key_path(case, raw, path)


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    assert_registers_nothing(run_program, case, raw, path)


def test_two_clients_for_one_identity_are_one_problem_naming_both() -> None:
    error = problems_of({"clients": {
        "a": {"kind": "managedIdentity", "userAssigned": UA},
        "b": {"kind": "managedIdentity", "userAssigned": {**UA, "tags": {"x": "y"}}}}})
    (problem,) = error.problems
    assert problem.path == "clients.a"
    assert "clients.b" in problem.shown


def test_an_unknown_kind_is_not_called_missing() -> None:
    error = problems_of({"clients": {"a": {"kind": "app"}, "b": {"credential": {"type": "secret"}}}})
    by_path = {p.path: p for p in error.problems}
    assert str(by_path["clients.a.kind"]) == \
        'clients.a.kind: got "app"; not a known kind; servicePrincipal or managedIdentity'
    assert str(by_path["clients.b.kind"]) == \
        "clients.b.kind: got (missing); required; servicePrincipal or managedIdentity"


# -- removing a client from a protected stack: its own protect ------------------------------------

def test_client_protect_overrides_the_stack() -> None:
    settings = parse_settings({"clients": {"old": {**secret_client(), "protect": False}, "kept": secret_client()}},
                              "prod", NOW)
    assert settings.protect is True
    assert settings.clients["old"].protect is False
    assert settings.clients["kept"].protect is None


def test_client_protect_must_be_a_boolean() -> None:
    with pytest.raises(SettingsError) as caught:
        parse({"clients": {"old": {**existing_identity(displayName="x"), "protect": "no"}}})
    assert [p.path for p in caught.value.problems] == ["clients.old.protect"]
