"""The one classification of the stack's own: by ids from its outputs, never by name; a key id alone proves nothing."""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest

from tools.tenant import ownership
from tools.tenant.ownership import FOREIGN, OWN, UNKNOWN, OutputsError, stack_record


def gid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ownership-test/{name}"))


GRAPH = gid("graph")
CERT = b"the HR client's certificate"
THUMB = hashlib.sha1(CERT, usedforsecurity=False).hexdigest().upper()
FEDERATION = {"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:contoso/hr:environment:prod",
              "audiences": ["api://AzureADTokenExchange"]}
OUTPUTS: dict[str, Any] = {
    "tenantId": gid("tenant").upper(),
    "clients": {
        "hr": {"kind": "servicePrincipal", "displayName": "renewal 2026-11-01 (managed by Pulumi)",
               "clientId": gid("hr-app").upper(), "servicePrincipalObjectId": gid("hr-sp"),
               "graphPermissions": ["SynchronizationData-User.Upload"],
               "credentialKeyIds": [gid("key-1").upper(), gid("fic-1"), gid("cert-1")],
               "credentials": [
                   {"keyId": gid("key-1").upper(), "type": "secret", "endDate": "2027-05-01T00:00:00Z"},
                   {"keyId": gid("fic-1"), "type": "federated", **FEDERATION},
                   {"keyId": gid("cert-1"), "type": "certificate", "thumbprint": THUMB.lower(),
                    "endDate": "2027-11-01T12:00:00Z"}]},
        "owner": {"kind": "servicePrincipal", "displayName": "owner", "clientId": gid("owner-app"),
                  "servicePrincipalObjectId": gid("owner-sp"),
                  "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"], "credentialKeyIds": [],
                  "credentials": []},
        "old": {"kind": "servicePrincipal", "displayName": "old", "clientId": gid("old-app"),
                "servicePrincipalObjectId": gid("old-sp"), "graphPermissions": [],
                "credentialKeyIds": [gid("old-key")]},
        "logic": {"kind": "managedIdentity", "displayName": "CSV2SCIMBulkUpload", "clientId": gid("logic-app"),
                  "servicePrincipalObjectId": gid("logic-sp"), "graphPermissions": ["AuditLog.Read.All"]},
    },
    "clientCredentials": "[secret]",
    "provisioningAppServicePrincipalId": gid("prov").upper(),
}
SECRET = {"keyId": gid("key-1"), "endDateTime": "2027-05-01T00:00:00.0000000Z", "displayName": "renewal"}
CERTIFICATE = {"keyId": gid("cert-1"), "endDateTime": "2027-11-01T12:00:00Z", "customKeyIdentifier": "AB12",
               "key": base64.b64encode(CERT).decode()}
FIC = {"id": gid("fic-1"), "name": "github", **FEDERATION}


def test_credentials_by_key_id_kind_end_date_and_thumbprint_never_by_name() -> None:
    record = stack_record(OUTPUTS)
    hr = record.clients["hr"]
    assert ownership.credential(hr, "secret", SECRET) == (OWN, "")
    assert ownership.credential(hr, "secret", dict(SECRET, keyId=gid("key-1").upper())) == (OWN, "")
    assert ownership.credential(hr, "certificate", CERTIFICATE) == (OWN, "")
    assert ownership.credential(hr, "federated", FIC) == (OWN, "")
    assert ownership.credential(hr, "secret", dict(SECRET, keyId=gid("key-2")))[0] == FOREIGN
    assert ownership.credential(hr, "secret", dict(SECRET, keyId=None))[0] == FOREIGN
    assert ownership.credential(None, "secret", SECRET)[0] == FOREIGN  # where the stack registered nothing
    assert ownership.credential(record.clients["owner"], "secret", SECRET)[0] == FOREIGN  # another client's key
    assert ownership.credential(record.clients["old"], "secret", SECRET) == (UNKNOWN, ownership.NO_KEY_IDS)


@pytest.mark.parametrize(("kind", "found", "why"), [
    ("certificate", dict(SECRET, key=CERTIFICATE["key"]), "it is a certificate"),
    ("secret", dict(SECRET, endDateTime="2028-01-01T00:00:00Z"), "it ends 2028-01-01T00:00:00Z, the stack's "
                                                                  "2027-05-01T00:00:00Z"),
    ("certificate", dict(CERTIFICATE, key=base64.b64encode(b"another certificate").decode()), "its thumbprint is "),
    ("certificate", dict(CERTIFICATE, key=None, customKeyIdentifier=THUMB), "Graph returned no certificate"),
    ("certificate", dict(CERTIFICATE, endDateTime="2027-11-02T12:00:00Z"), "it ends 2027-11-02"),
    ("federated", dict(FIC, subject="repo:evil/fork:ref:refs/heads/main"), "its subject was edited in place"),
    ("federated", dict(FIC, issuer="https://evil.example"), "its issuer was edited in place"),
    ("federated", dict(FIC, audiences=["api://other"]), "its audiences was edited in place"),
])
def test_a_credential_under_the_stacks_key_id_is_foreign_when_anything_else_differs(
        kind: ownership.CredentialKind, found: dict[str, Any], why: str) -> None:
    verdict, reason = ownership.credential(stack_record(OUTPUTS).clients["hr"], kind, found)
    assert verdict == FOREIGN
    assert reason.startswith("reuses the key id of the stack's ")
    assert why in reason


def test_grants_owners_holders_and_ids() -> None:
    record = stack_record(OUTPUTS)
    hr = record.clients["hr"]
    assert ownership.app_role(hr, GRAPH.upper(), GRAPH, "SynchronizationData-User.Upload") == OWN
    assert ownership.app_role(hr, GRAPH, GRAPH, "AuditLog.Read.All") == FOREIGN
    assert ownership.app_role(hr, gid("another-api"), GRAPH, "SynchronizationData-User.Upload") == FOREIGN
    assert ownership.owner(record, gid("owner-sp").upper(), of_provisioning_app=True) == OWN
    assert ownership.owner(record, gid("hr-sp"), of_provisioning_app=True) == FOREIGN
    assert ownership.owner(record, gid("owner-sp"), of_provisioning_app=False) == FOREIGN  # clients' apps have none
    assert ownership.holder(record, gid("logic-sp").upper(), "AuditLog.Read.All") == OWN
    assert ownership.holder(record, gid("logic-sp"), "SynchronizationData-User.Upload") == FOREIGN
    assert ownership.holder(record, gid("someone-else"), "AuditLog.Read.All") == FOREIGN
    assert record.client_of_app(gid("hr-app")) is hr
    assert record.provisioning_app_principal_id == gid("prov")
    assert record.tenant_id == gid("tenant")
    assert not record.clients["logic"].has_app_registration


def test_a_stack_never_deployed_made_nothing() -> None:
    record = stack_record({})
    assert record.clients == {}
    assert record.provisioning_app_principal_id is None


@pytest.mark.parametrize(("outputs", "message"), [
    ({"tenantId": "t"}, "no `clients` map"),
    ({"clients": {"a": "x"}}, "no `clients` map"),
    ({"clients": {"a": {"clientId": gid("c"), "displayName": "a"}}}, "clients.a.servicePrincipalObjectId is missing"),
    ({"clients": {"a": {"clientId": "c", "displayName": "a", "servicePrincipalObjectId": gid("s")}}},
     "clients.a.clientId is not a GUID ('c')"),
    ({"clients": {"a": {"clientId": gid("c"), "displayName": "a", "servicePrincipalObjectId": gid("s"),
                        "graphPermissions": "Upload"}}}, "clients.a.graphPermissions is not a list of strings"),
    ({"clients": {"a": {"clientId": gid("c"), "displayName": "a", "servicePrincipalObjectId": gid("s"),
                        "credentialKeyIds": [gid("k"), "k2/../x"]}}}, "clients.a.credentialKeyIds[1] is not a GUID"),
    ({"clients": {"a": {"clientId": gid("c"), "displayName": "a", "servicePrincipalObjectId": gid("s"),
                        "credentials": [{"keyId": gid("k"), "type": "password"}]}}},
     "clients.a.credentials[0].type is not secret, certificate or federated"),
    ({"clients": {}, "provisioningAppServicePrincipalId": 3}, "provisioningAppServicePrincipalId is not a GUID"),
    ({"clients": {}, "tenantId": "contoso.onmicrosoft.com"}, "tenantId is not a GUID"),
])
def test_outputs_that_are_not_the_stacks_are_refused(outputs: dict[str, Any], message: str) -> None:
    with pytest.raises(OutputsError) as refused:
        stack_record(outputs)
    assert message in str(refused.value)


@pytest.mark.parametrize("outputs", [[1], [], None, "clients"])
def test_outputs_that_are_not_a_json_object_are_refused(outputs: object) -> None:
    with pytest.raises(OutputsError, match="not a JSON object"):
        stack_record(outputs)
