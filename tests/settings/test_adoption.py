"""`clients.<key>.adopt` validation, without Pulumi: ids, kinds, and grants the client really has."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.model import Adoption, ManagedIdentityClientSettings
from components.settings.problems import SettingsError
from tests.conftest import existing_identity, secret_client
from tests.settings.helpers import parse

APP = "0b7e8d3a-1c2f-4a5b-9c8d-7e6f5a4b3c2d"
SP = "5f4e3d2c-1b0a-4998-8776-655443322110"
UPLOAD = "a1b2c3d4-0000-4000-8000-000000000001"
AUDIT = "a1b2c3d4-0000-4000-8000-000000000002"


def adopting(client: dict[str, Any], adopt: Any) -> dict[str, Any]:
    return {"clients": {"hr": {**client, "adopt": adopt}}}


def test_service_principal_client_adopts_app_principal_and_grants() -> None:
    settings = parse(adopting(secret_client(), {
        "application": APP.upper(), "servicePrincipal": SP,
        "grants": {"SynchronizationData-User.Upload": UPLOAD, "AuditLog.Read.All": AUDIT},
    }))
    assert settings.clients["hr"].adopt == Adoption(
        application=APP, service_principal=SP,
        grants={"SynchronizationData-User.Upload": UPLOAD, "AuditLog.Read.All": AUDIT})


def test_managed_identity_adopts_some_grants() -> None:
    settings = parse(adopting(existing_identity(displayName="CSV2SCIMBulkUpload"),
                              {"grants": {"AuditLog.Read.All": AUDIT}}))
    client = settings.clients["hr"]
    assert isinstance(client, ManagedIdentityClientSettings)
    assert client.adopt == Adoption(grants={"AuditLog.Read.All": AUDIT})


def test_no_adopt_means_none() -> None:
    assert parse({"clients": {"hr": secret_client()}}).clients["hr"].adopt is None


USER_ASSIGNED = {"kind": "managedIdentity",
                 "userAssigned": {"name": "id-hr", "resourceGroupName": "rg", "location": "westeurope"}}

BAD_INPUT = [
    ("not a map", secret_client(), "yes", "clients.hr.adopt", "expected an object"),
    ("app id not a GUID", secret_client(), {"application": "my-app", "servicePrincipal": SP},
     "clients.hr.adopt.application", "a GUID"),
    ("principal id not a GUID", secret_client(), {"application": APP, "servicePrincipal": 42},
     "clients.hr.adopt.servicePrincipal", "a GUID"),
    ("application alone", secret_client(), {"application": APP},
     "clients.hr.adopt", "application and servicePrincipal together"),
    ("grants without the principal", secret_client(), {"grants": {"AuditLog.Read.All": AUDIT}},
     "clients.hr.adopt", "application and servicePrincipal together"),
    ("unknown key", secret_client(), {"application": APP, "servicePrincipal": SP, "credentials": []},
     "clients.hr.adopt.credentials", "unknown key"),
    ("grant not granted", secret_client(),
     {"application": APP, "servicePrincipal": SP, "grants": {"ProvisioningLog.Read.All": AUDIT}},
     "clients.hr.adopt.grants.ProvisioningLog.Read.All", "is not granted to this client"),
    ("grant beyond the allow-list", secret_client(),
     {"application": APP, "servicePrincipal": SP, "grants": {"Directory.ReadWrite.All": AUDIT}},
     "clients.hr.adopt.grants.Directory.ReadWrite.All", "is not granted to this client"),
    ("grant id not a GUID", secret_client(),
     {"application": APP, "servicePrincipal": SP, "grants": {"AuditLog.Read.All": "abc"}},
     "clients.hr.adopt.grants.AuditLog.Read.All", "app role assignment id (a GUID)"),
    ("one assignment twice", secret_client(),
     {"application": APP, "servicePrincipal": SP,
      "grants": {"AuditLog.Read.All": AUDIT, "SynchronizationData-User.Upload": AUDIT.upper()}},
     "clients.hr.adopt.grants.SynchronizationData-User.Upload", "the same assignment as grants.AuditLog.Read.All"),
    ("grants not a map", secret_client(), {"application": APP, "servicePrincipal": SP, "grants": ["x"]},
     "clients.hr.adopt.grants", "expected an object"),
    ("managed identity adopts an application", existing_identity(displayName="x"), {"application": APP},
     "clients.hr.adopt.application", "may adopt only grants"),
    ("managed identity adopts a principal", existing_identity(displayName="x"), {"servicePrincipal": SP},
     "clients.hr.adopt.servicePrincipal", "may adopt only grants"),
    ("user-assigned identity adopts grants", USER_ASSIGNED, {"grants": {"AuditLog.Read.All": AUDIT}},
     "clients.hr.adopt.grants", "adopt grants of an existing identity only"),
]


@pytest.mark.parametrize(("client", "adopt", "path", "allowed"),
                         [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_adopt_is_refused_with_its_key_path(client: dict[str, Any], adopt: Any, path: str,
                                                allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse(adopting(client, adopt))
    assert [str(p).split(": got")[0] for p in caught.value.problems] == [path], caught.value
    assert allowed in caught.value.problems[0].allowed


def test_every_adopt_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        parse({"clients": {
            "a": {**secret_client(), "adopt": {"application": "x", "servicePrincipal": "y"}},
            "b": {**existing_identity(clientId=APP), "adopt": {"application": APP, "grants": {"X": "y"}}},
        }})
    paths = [p.path for p in caught.value.problems]
    assert paths == ["clients.a.adopt.application", "clients.a.adopt.servicePrincipal",
                     "clients.b.adopt.application", "clients.b.adopt.grants.X"]
