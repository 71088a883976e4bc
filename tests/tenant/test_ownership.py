"""The one classification of the stack's own: by ids from its outputs, never by name."""

from __future__ import annotations

from typing import Any

import pytest

from tools.tenant import ownership
from tools.tenant.ownership import FOREIGN, OWN, UNKNOWN, OutputsError, stack_record

GRAPH = "7a1b0c2d-0000-4000-8000-000000000001"
OUTPUTS: dict[str, Any] = {
    "clients": {
        "hr": {"kind": "servicePrincipal", "displayName": "renewal 2026-11-01 (managed by Pulumi)",
               "clientId": "AAAA0000-0000-4000-8000-000000000001", "servicePrincipalObjectId": "sp-hr",
               "graphPermissions": ["SynchronizationData-User.Upload"], "credentialKeyIds": ["KEY-1", "fic-1"]},
        "owner": {"kind": "servicePrincipal", "displayName": "owner", "clientId": "c-owner",
                  "servicePrincipalObjectId": "sp-owner",
                  "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"], "credentialKeyIds": []},
        "old": {"kind": "servicePrincipal", "displayName": "old", "clientId": "c-old",
                "servicePrincipalObjectId": "sp-old", "graphPermissions": []},
        "logic": {"kind": "managedIdentity", "displayName": "CSV2SCIMBulkUpload", "clientId": "c-logic",
                  "servicePrincipalObjectId": "sp-logic", "graphPermissions": ["AuditLog.Read.All"]},
    },
    "clientCredentials": "[secret]",
    "provisioningAppServicePrincipalId": "SP-PROV",
}


def test_credentials_by_key_id_case_insensitive_and_never_by_name() -> None:
    record = stack_record(OUTPUTS)
    hr = record.clients["hr"]
    assert ownership.credential(hr, "key-1") == OWN
    assert ownership.credential(hr, "FIC-1") == OWN
    assert ownership.credential(hr, "key-2") == FOREIGN
    assert ownership.credential(hr, None) == FOREIGN
    assert ownership.credential(None, "key-1") == FOREIGN  # on an object the stack registered nothing on
    assert ownership.credential(record.clients["owner"], "key-1") == FOREIGN  # another client's key
    assert ownership.credential(record.clients["old"], "anything") == UNKNOWN  # outputs before credentialKeyIds


def test_grants_owners_and_holders() -> None:
    record = stack_record(OUTPUTS)
    hr = record.clients["hr"]
    assert ownership.app_role(hr, GRAPH.upper(), GRAPH, "SynchronizationData-User.Upload") == OWN
    assert ownership.app_role(hr, GRAPH, GRAPH, "AuditLog.Read.All") == FOREIGN
    assert ownership.app_role(hr, "another-api", GRAPH, "SynchronizationData-User.Upload") == FOREIGN
    assert ownership.owner(record, "SP-OWNER", of_provisioning_app=True) == OWN
    assert ownership.owner(record, "sp-hr", of_provisioning_app=True) == FOREIGN
    assert ownership.owner(record, "sp-owner", of_provisioning_app=False) == FOREIGN  # clients' apps have none
    assert ownership.holder(record, "SP-LOGIC") == OWN
    assert ownership.holder(record, "someone-else") == FOREIGN
    assert record.client_of_app("aaaa0000-0000-4000-8000-000000000001") is hr
    assert record.provisioning_app_principal_id == "sp-prov"
    assert not record.clients["logic"].has_app_registration


def test_a_stack_never_deployed_made_nothing() -> None:
    record = stack_record({})
    assert record.clients == {}
    assert record.provisioning_app_principal_id is None


@pytest.mark.parametrize(("outputs", "message"), [
    ({"tenantId": "t"}, "no `clients` map"),
    ({"clients": {"a": "x"}}, "no `clients` map"),
    ({"clients": {"a": {"clientId": "c", "displayName": "a"}}}, "clients.a.servicePrincipalObjectId is missing"),
    ({"clients": {"a": {"clientId": "c", "displayName": "a", "servicePrincipalObjectId": "s",
                        "graphPermissions": "Upload"}}}, "clients.a.graphPermissions is not a list of strings"),
    ({"clients": {}, "provisioningAppServicePrincipalId": 3}, "provisioningAppServicePrincipalId is not a string"),
])
def test_outputs_that_are_not_the_stacks_are_refused(outputs: dict[str, Any], message: str) -> None:
    with pytest.raises(OutputsError, match=message.replace("`", ".")):
        stack_record(outputs)


@pytest.mark.parametrize("outputs", [[1], [], None, "clients"])
def test_outputs_that_are_not_a_json_object_are_refused(outputs: object) -> None:
    with pytest.raises(OutputsError, match="not a JSON object"):
        stack_record(outputs)
