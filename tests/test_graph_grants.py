"""Graph app role assignments: the right role, on Graph, to the client's own principal."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi_azuread import AppRoleAssignment

from components.directory import MicrosoftGraph
from components.graph_grants import grant_graph_permissions, role_ids_for
from components.settings.problems import SettingsError
from tests.conftest import GRAPH_ROLES, ROLE_ID, RunProgram, secret_client
from tools.offline.entra import OfflineEntra

GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
SP = "azuread:index/servicePrincipal:ServicePrincipal"


def grants_by_name(run: Any) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in run.of_type(GRANT)}


def test_default_client_gets_exactly_the_tutorial_pair(run_program: RunProgram, entra: OfflineEntra) -> None:
    run = run_program({"clients": {"hr-sync": secret_client()}})
    principal = run.named("hr-sync-sp")
    sp_object_id = run.outputs["clients"]["hr-sync"]["servicePrincipalObjectId"]
    assert grants_by_name(run) == {
        "hr-sync-grant-SynchronizationData-User.Upload": {
            "appRoleId": "db31e92a-b9ea-4d87-bf6a-75a37a9ca35a",
            "resourceObjectId": entra.graph_object_id,
            "principalObjectId": sp_object_id,
        },
        "hr-sync-grant-AuditLog.Read.All": {
            "appRoleId": "b0afded3-3588-46d8-8b3d-9842eff778da",
            "resourceObjectId": entra.graph_object_id,
            "principalObjectId": sp_object_id,
        },
    }
    assert ROLE_ID["SynchronizationData-User.Upload"] == "db31e92a-b9ea-4d87-bf6a-75a37a9ca35a"
    # The principal is the client's own service principal, never Graph and never the app object.
    assert sp_object_id not in (entra.graph_object_id, run.outputs["clients"]["hr-sync"]["clientId"])
    for grant in run.of_type(GRANT):
        assert principal.urn in grant.dependencies, "grants wait for the principal (Entra replication)"
        assert grant.parent.endswith("ServicePrincipalClient::hr-sync")


def test_stack_and_client_permissions_produce_exactly_those_grants(run_program: RunProgram) -> None:
    run = run_program({
        "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
        "clients": {
            "workday": secret_client(),
            "csv": {**secret_client(), "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"]},
        },
    })
    sp_ids = {k: v["servicePrincipalObjectId"] for k, v in run.outputs["clients"].items()}
    got = {(g["principalObjectId"], g["appRoleId"]) for g in grants_by_name(run).values()}
    assert got == {
        (sp_ids["workday"], ROLE_ID["SynchronizationData-User.Upload"]),
        (sp_ids["workday"], ROLE_ID["ProvisioningLog.Read.All"]),
        (sp_ids["csv"], ROLE_ID["SynchronizationData-User.Upload.OwnedBy"]),
    }
    assert len(run.of_type(GRANT)) == 3
    assert len(set(sp_ids.values())) == 2, "each created principal has its own object id"
    assert any("OwnedBy" in message for level, message in run.logs if level == "warning")


def test_twelve_clients_look_up_graph_once(run_program: RunProgram) -> None:
    run = run_program({"clients": {f"hr-{i:02d}": secret_client() for i in range(12)}})
    assert run.graph_lookups == 1
    assert len(run.of_type(GRANT)) == 24


def test_reordering_permissions_changes_no_resource_names(run_program: RunProgram) -> None:
    forward = ["SynchronizationData-User.Upload", "AuditLog.Read.All"]
    first = run_program({"clients": {"a": secret_client(), "b": secret_client()}, "graphPermissions": forward})
    names_first = sorted(r.name for r in first.registrations)
    inputs_first = {r.name: r.inputs for r in first.of_type(GRANT)}
    second = run_program({"clients": {"b": secret_client(), "a": secret_client()},
                          "graphPermissions": list(reversed(forward))})
    assert sorted(r.name for r in second.registrations) == names_first
    assert {r.name: r.inputs for r in second.of_type(GRANT)} == inputs_first


def test_a_permission_missing_from_the_tenant_fails_before_registration(run_program: RunProgram,
                                                                        entra: OfflineEntra) -> None:
    entra.graph_app_roles = [r for r in GRAPH_ROLES if r["value"] != "AuditLog.Read.All"]
    with pytest.raises(SettingsError, match=r"clients\.hr\.graphPermissions\[1\].*no app role"):
        run_program({"clients": {"hr": secret_client()}})
    from tools.offline.run import LAST_RUN
    assert LAST_RUN[0].registrations == []


def test_role_ids_resolve_by_value_from_the_tenant() -> None:
    graph = MicrosoftGraph("graph-oid", {"AuditLog.Read.All": "tenant-published-id"})
    assert role_ids_for(graph, ["AuditLog.Read.All"]) == {"AuditLog.Read.All": "tenant-published-id"}


@pulumi.runtime.test
def test_grant_component_inputs(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    graph = MicrosoftGraph("graph-sp-object-id", {v: ROLE_ID[v] for v in ("AuditLog.Read.All",)})
    parent = pulumi.ComponentResource("test:index:Parent", "hr")
    grants = grant_graph_permissions("hr", "client-sp-object-id", role_ids_for(graph, ["AuditLog.Read.All"]),
                                     graph, parent=parent, principal=None, protect=True)
    assert list(grants) == ["AuditLog.Read.All"]
    grant: AppRoleAssignment = grants["AuditLog.Read.All"]

    def check(values: list[Any]) -> None:
        app_role_id, principal, resource = values
        assert app_role_id == "b0afded3-3588-46d8-8b3d-9842eff778da"
        assert principal == "client-sp-object-id"
        assert resource == "graph-sp-object-id"

    return pulumi.Output.all(grant.app_role_id, grant.principal_object_id, grant.resource_object_id).apply(check)
