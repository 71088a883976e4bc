"""Managed-identity clients: the tutorial's existing Logic App identity, and user-assigned identities."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.directory import FoundPrincipal, MicrosoftGraph
from components.managed_identity import ManagedIdentityClient, ManagedIdentityClientArgs
from components.settings.model import ExistingIdentity, ManagedIdentityClientSettings
from tests.conftest import LOGIC_APP, ROLE_ID, RunProgram, existing_identity, secret_client
from tools.offline.entra import OfflineEntra

GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ENTRA_WRITES = {"azuread:index/application:Application", "azuread:index/servicePrincipal:ServicePrincipal",
                "azuread:index/applicationPassword:ApplicationPassword"}
UA = {"name": "id-hr-sync", "resourceGroupName": "rg-identity", "location": "westeurope", "tags": {"owner": "iam"}}



@pytest.mark.parametrize("lookup", [
    {"displayName": LOGIC_APP.display_name},
    {"objectId": LOGIC_APP.object_id},
    {"clientId": LOGIC_APP.client_id},
], ids=["displayName", "objectId", "clientId"])
def test_existing_identity_gets_only_grants(run_program: RunProgram, entra: OfflineEntra,
                                            lookup: dict[str, str]) -> None:
    run = run_program({"clients": {"logic-app": existing_identity(**lookup)}})
    custom = [r for r in run.registrations if r.custom]
    assert {r.type for r in custom} == {GRANT}, "nothing but the grants is created"
    assert {(r.inputs["principalObjectId"], r.inputs["appRoleId"], r.inputs["resourceObjectId"]) for r in custom} == {
        (LOGIC_APP.object_id, ROLE_ID["SynchronizationData-User.Upload"], entra.graph_object_id),
        (LOGIC_APP.object_id, ROLE_ID["AuditLog.Read.All"], entra.graph_object_id),
    }
    assert run.outputs["clients"]["logic-app"] == {
        "kind": "managedIdentity",
        "displayName": "CSV2SCIMBulkUpload",
        "clientId": LOGIC_APP.client_id,
        "servicePrincipalObjectId": LOGIC_APP.object_id,
        "graphPermissions": ["SynchronizationData-User.Upload", "AuditLog.Read.All"],
        "credentialType": "managedIdentity",
    }
    assert "logic-app" not in run.outputs["clientCredentials"]


def test_user_assigned_identity_is_created_and_granted(run_program: RunProgram, entra: OfflineEntra) -> None:
    run = run_program({"clients": {"uami": {"kind": "managedIdentity", "userAssigned": UA}}}, stack="prod")
    identity = run.named("uami-identity")
    assert identity.type == IDENTITY
    assert identity.inputs == {"resourceName": "id-hr-sync", "resourceGroupName": "rg-identity",
                               "location": "westeurope", "tags": {"owner": "iam"}}
    assert identity.protect is True
    client = run.outputs["clients"]["uami"]
    grants = run.of_type(GRANT)
    assert len(grants) == 2
    for grant in grants:
        assert grant.inputs["principalObjectId"] == client["servicePrincipalObjectId"]
        assert grant.inputs["resourceObjectId"] == entra.graph_object_id
        assert identity.urn in grant.dependencies
        assert grant.protect is True
    assert client["credentialType"] == "managedIdentity"
    assert client["displayName"] == "id-hr-sync"
    assert client["resourceId"].endswith(
        "/resourceGroups/rg-identity/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-hr-sync")
    assert client["clientId"] != client["servicePrincipalObjectId"]
    assert not [r for r in run.registrations if r.type in ENTRA_WRITES], "no app or password for an identity"


def test_mixed_stack_looks_up_graph_once(run_program: RunProgram) -> None:
    run = run_program({"clients": {
        "workday": secret_client(),
        "logic-app": existing_identity(displayName="CSV2SCIMBulkUpload"),
        "uami": {"kind": "managedIdentity", "userAssigned": UA},
    }})
    assert run.graph_lookups == 1
    principals = {r.inputs["principalObjectId"] for r in run.of_type(GRANT)}
    assert len(principals) == 3, "each client's grants go to its own principal"


@pulumi.runtime.test
def test_existing_identity_component(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    found = FoundPrincipal("mi-object-id", "mi-client-id", "CSV2SCIMBulkUpload")
    client = ManagedIdentityClient("logic-app", ManagedIdentityClientArgs(
        settings=ManagedIdentityClientSettings(key="logic-app", graph_permissions=("ProvisioningLog.Read.All",),
                                               existing=ExistingIdentity("displayName", "CSV2SCIMBulkUpload")),
        graph=MicrosoftGraph("graph-oid", {}),
        role_ids={"ProvisioningLog.Read.All": ROLE_ID["ProvisioningLog.Read.All"]},
        protect=False, existing=found,
    ))
    assert client.resource_id is None
    grant = client.grants["ProvisioningLog.Read.All"]

    def check(values: list[Any]) -> None:
        assert values == ["mi-object-id", "091937d3-3e38-47a1-8649-b2f99d3035f1", "graph-oid", "mi-client-id"]

    return pulumi.Output.all(grant.principal_object_id, grant.app_role_id, grant.resource_object_id,
                             client.client_id).apply(check)
