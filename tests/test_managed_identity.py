"""Managed-identity clients: the tutorial's existing Logic App identity, and user-assigned identities."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.directory import FoundPrincipal, MicrosoftGraph
from components.managed_identity import ManagedIdentityClient, ManagedIdentityClientArgs
from components.settings import ExistingIdentity, ManagedIdentityClientSettings, SettingsError
from tests.conftest import DUPLICATE_A, DUPLICATE_B, LOGIC_APP, ROLE_ID, RunProgram, secret_client
from tools.offline import LAST_RUN, DirectoryEntry, OfflineEntra, configure, mock_guid

GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ENTRA_WRITES = {"azuread:index/application:Application", "azuread:index/servicePrincipal:ServicePrincipal",
                "azuread:index/applicationPassword:ApplicationPassword"}
UA = {"name": "id-hr-sync", "resourceGroupName": "rg-identity", "location": "westeurope", "tags": {"owner": "iam"}}


def existing(**lookup: str) -> dict[str, Any]:
    return {"kind": "managedIdentity", "existing": lookup}


@pytest.mark.parametrize("lookup", [
    {"displayName": LOGIC_APP.display_name},
    {"objectId": LOGIC_APP.object_id},
    {"clientId": LOGIC_APP.client_id},
], ids=["displayName", "objectId", "clientId"])
def test_existing_identity_gets_only_grants(run_program: RunProgram, entra: OfflineEntra,
                                            lookup: dict[str, str]) -> None:
    run = run_program({"clients": {"logic-app": existing(**lookup)}})
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


def test_display_name_matching_nothing_says_use_object_id(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"logic-app": existing(displayName="CSV2SCIMBulkUplod")}})
    message = str(caught.value)
    assert "clients.logic-app.existing.displayName: got 'CSV2SCIMBulkUplod'" in message
    assert "no service principal has this display name in the tenant; check it, or use objectId" in message
    assert LAST_RUN[0].registrations == []


def test_display_name_matching_several_says_use_object_id(run_program: RunProgram) -> None:
    assert DUPLICATE_A.display_name == DUPLICATE_B.display_name
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"feed": existing(displayName="hr-feed")}})
    message = str(caught.value)
    assert "clients.feed.existing.displayName: got 'hr-feed'; several service principals have this display name; " \
           "use objectId to say which one" in message
    assert LAST_RUN[0].registrations == []


def test_a_duplicate_name_among_many_is_pinned_to_its_client(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"feed": existing(displayName="hr-feed"),
                                 "logic-app": existing(displayName=LOGIC_APP.display_name)}})
    assert [p.path for p in caught.value.problems] == ["clients.feed.existing.displayName"]


def test_unknown_object_id_fails_before_registration(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError, match=r"clients\.x\.existing\.objectId: .*no service principal has this "
                                            r"object id"):
        run_program({"clients": {"x": existing(objectId="00000000-0000-4000-8000-000000000404")}})
    assert LAST_RUN[0].registrations == []


def test_existing_identities_are_looked_up_in_one_read_per_lookup_kind(run_program: RunProgram,
                                                                       entra: OfflineEntra) -> None:
    entra.directory += [DirectoryEntry(f"logic-{i}", mock_guid("la", str(i)), mock_guid("lac", str(i)))
                        for i in range(5)]
    clients: dict[str, Any] = {f"la-{i}": existing(displayName=f"logic-{i}") for i in range(5)}
    clients["by-id"] = existing(objectId=LOGIC_APP.object_id)
    run = run_program({"clients": clients})
    lists = run.calls_to("azuread:index/getServicePrincipals:getServicePrincipals")
    assert len(lists) == 2
    assert sorted(lists[0].get("displayNames") or lists[1]["displayNames"]) == [f"logic-{i}" for i in range(5)]
    assert len(run.of_type(GRANT)) == 12


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
        "logic-app": existing(displayName="CSV2SCIMBulkUpload"),
        "uami": {"kind": "managedIdentity", "userAssigned": UA},
    }})
    assert run.graph_lookups == 1
    principals = {r.inputs["principalObjectId"] for r in run.of_type(GRANT)}
    assert len(principals) == 3, "each client's grants go to its own principal"


@pytest.fixture
def fresh_runtime(entra: OfflineEntra) -> OfflineEntra:
    configure(entra, {}, "dev")
    return entra


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
