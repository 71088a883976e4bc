"""The service-principal client: app registration, service principal, protect and outputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest

from components.directory import MicrosoftGraph
from components.microsoft import GRAPH_APP_ID
from components.service_principal_client import ServicePrincipalClient, ServicePrincipalClientArgs
from components.settings.model import SecretCredential, ServicePrincipalClientSettings
from tests.conftest import NOW, ROLE_ID, RunProgram, secret_client
from tools.offline.entra import OfflineEntra

APP = "azuread:index/application:Application"
SP = "azuread:index/servicePrincipal:ServicePrincipal"
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"


def test_app_declares_exactly_the_granted_roles(run_program: RunProgram) -> None:
    run = run_program({"clients": {"hr": {**secret_client(), "graphPermissions": [
        "SynchronizationData-User.Upload", "ProvisioningLog.Read.All"]}}})
    app = run.named("hr-app").inputs
    assert app["signInAudience"] == "AzureADMyOrg"
    assert app["requiredResourceAccesses"] == [{
        "resourceAppId": GRAPH_APP_ID,
        "resourceAccesses": [
            {"id": ROLE_ID["SynchronizationData-User.Upload"], "type": "Role"},
            {"id": ROLE_ID["ProvisioningLog.Read.All"], "type": "Role"},
        ],
    }]
    granted = {r.inputs["appRoleId"] for r in run.of_type(GRANT)}
    assert {a["id"] for a in app["requiredResourceAccesses"][0]["resourceAccesses"]} == granted


def test_service_principal_belongs_to_the_app(run_program: RunProgram, entra: OfflineEntra) -> None:
    run = run_program({"clients": {"hr": {**secret_client(), "displayName": "Workday inbound (dev)"}}})
    assert run.named("hr-app").inputs["displayName"] == "Workday inbound (dev)"
    assert run.named("hr-sp").inputs["clientId"] == run.outputs["clients"]["hr"]["clientId"]
    assert "owners" not in run.named("hr-app").inputs, "an owner could add credentials and act as the client"
    assert "owners" not in run.named("hr-sp").inputs
    assert run.outputs["clients"]["hr"]["displayName"] == "Workday inbound (dev)"


@pytest.mark.parametrize(("stack", "config", "expected"), [
    ("prod", {}, True), ("prod-weu", {}, True), ("dev", {}, False), ("dev", {"protect": True}, True),
    ("prod", {"protect": False}, False),
])
def test_protect_is_set_on_everything_but_credentials(run_program: RunProgram, stack: str,
                                                      config: dict[str, Any], expected: bool) -> None:
    run = run_program({"clients": {"hr": secret_client()}, **config}, stack=stack)
    protected = {r.type: r.protect for r in run.registrations if r.custom}
    assert protected == {APP: expected, SP: expected, GRANT: expected, PASSWORD: False}


@pulumi.runtime.test
def test_component_outputs(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    graph = MicrosoftGraph("graph-oid", {"AuditLog.Read.All": ROLE_ID["AuditLog.Read.All"]})
    client = ServicePrincipalClient("hr", ServicePrincipalClientArgs(
        settings=ServicePrincipalClientSettings(key="hr", display_name="HR", graph_permissions=("AuditLog.Read.All",),
                                                credential=SecretCredential(lifetime_days=60, rotation_days=21)),
        graph=graph, role_ids={"AuditLog.Read.All": ROLE_ID["AuditLog.Read.All"]}, protect=False, now=NOW,
    ))
    assert client.credential_type == "secret"
    assert client.certificate_thumbprint is None
    assert client.secret_material is not None
    expires = client.credential_expires_at
    assert expires is not None

    def check(values: list[Any]) -> None:
        grant_principal, sp_id, expires_at, secret_is_secret = values
        assert grant_principal == sp_id
        assert expires_at == (NOW + dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ"), "a new client's one secret"
        assert secret_is_secret is True

    return pulumi.Output.all(
        client.grants["AuditLog.Read.All"].principal_object_id,
        client.service_principal_object_id,
        expires,
        pulumi.Output.from_input(client.secret_material.is_secret()),  # type: ignore[arg-type]
    ).apply(check)
