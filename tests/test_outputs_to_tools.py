"""From the program's outputs to the tools that read them, end to end: ``make audit``, ``make adopt``,
``make check-expiry``.

The program runs offline (the deploy simulation) for a realistic stack: a secret client, a generated
certificate that owns the provisioning app the stack creates, a federated client and an existing managed
identity.  Its outputs are taken as ``pulumi stack output --json`` prints them (a secret output as
``"[secret]"``), and the fake Graph holds exactly the credentials, grants and owners the program registered.
A clean stack reports nothing; one portal secret and one hand grant are exactly what is reported.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from components.settings.stack_config import NAMESPACE
from tests.conftest import GRAPH_ROLES, LOGIC_APP, ROLE_ID, existing_identity, secret_client
from tests.fake_graph import FakeCredential, FakeGraph, Tenant, assignment, graph_principal
from tools.adopt import adopt
from tools.audit import audit, model
from tools.offline.deploys import DeploySimulation
from tools.offline.entra import mock_guid
from tools.stack import expiry

NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)
CONFIG: dict[str, Any] = {
    "clients": {
        "hr": secret_client(),
        "payroll": {"kind": "servicePrincipal", "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"],
                    "credential": {"type": "certificate", "generate": {"subject": "payroll"}}},
        "gh": {"kind": "servicePrincipal", "credential": {
            "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:contoso/hr:environment:prod"}},
        "logic": existing_identity(displayName=LOGIC_APP.display_name),
    },
    "provisioningApp": {"create": {"notificationEmail": "hr-ops@contoso.example"}},
}
T = "azuread:index/"


def deployed() -> tuple[DeploySimulation, dict[str, Any]]:
    """The stack after its first deploy, and its outputs as ``pulumi stack output --json`` shows them."""
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    run = simulation.up(CONFIG, NOW).run
    shown = {name: "[secret]" if name in run.secret_outputs else value for name, value in run.outputs.items()}
    assert shown["clientCredentials"] == "[secret]"
    return simulation, json.loads(json.dumps(shown))


def tenant_of(simulation: DeploySimulation) -> Tenant:
    """Graph's view of exactly what the program registered (and the managed identity it found)."""
    def of(kind: str) -> list[Any]:
        return simulation.of_type(f"{T}{kind}")

    graph = graph_principal(simulation_graph_id(simulation), GRAPH_ROLES)
    tenant = Tenant(service_principals=[graph, {
        "id": LOGIC_APP.object_id, "appId": LOGIC_APP.client_id, "displayName": LOGIC_APP.display_name,
        "servicePrincipalType": "ManagedIdentity", "accountEnabled": True, "passwordCredentials": [],
        "keyCredentials": [{"displayName": "CN=azure-managed", "keyId": mock_guid("mi-key"),
                            "endDateTime": "2027-01-01T00:00:00Z", "type": "AsymmetricX509Cert"}]}])
    for app in of("application:Application"):
        oid, where = app.outputs["objectId"], f"/applications/{app.outputs['objectId']}"
        tenant.applications.append({
            "id": oid, "appId": app.outputs["clientId"], "displayName": app.outputs["displayName"],
            "notes": app.outputs.get("notes"), "signInAudience": "AzureADMyOrg", "requiredResourceAccess": [],
            "passwordCredentials": [
                {"keyId": p.outputs["keyId"], "displayName": p.outputs["displayName"], "hint": "mo~",
                 "endDateTime": p.outputs["endDate"]} for p in of("applicationPassword:ApplicationPassword")
                if p.inputs["applicationId"] == where],
            "keyCredentials": [
                {"keyId": c.outputs["keyId"], "displayName": "CN=payroll", "endDateTime": c.outputs["endDate"],
                 "type": "AsymmetricX509Cert", "key": der_base64(c.inputs["value"])}
                for c in of("applicationCertificate:ApplicationCertificate")
                if c.inputs["applicationId"] == where]})
        tenant.federated[oid] = [
            {"id": f.outputs["credentialId"], "name": f.outputs["displayName"], "issuer": f.outputs["issuer"],
             "subject": f.outputs["subject"], "audiences": f.outputs["audiences"]}
            for f in of("applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential")
            if f.inputs["applicationId"] == where]
    names = {a["appId"]: a["displayName"] for a in tenant.applications}
    for sp in of("servicePrincipal:ServicePrincipal"):
        tenant.service_principals.append({
            "id": sp.outputs["objectId"], "appId": sp.outputs["clientId"], "displayName": names[sp.outputs["clientId"]],
            "servicePrincipalType": "Application", "accountEnabled": True, "passwordCredentials": [],
            "keyCredentials": []})
    (made,) = of("applicationFromTemplate:ApplicationFromTemplate")
    app_id = mock_guid("provisioning-app-client")
    tenant.applications.append({"id": made.outputs["applicationObjectId"], "appId": app_id,
                                "displayName": made.outputs["displayName"], "passwordCredentials": [],
                                "keyCredentials": []})
    tenant.service_principals.append({"id": made.outputs["servicePrincipalObjectId"], "appId": app_id,
                                      "displayName": made.outputs["displayName"], "servicePrincipalType": "Application",
                                      "accountEnabled": True, "passwordCredentials": [], "keyCredentials": []})
    principals = {sp["id"]: sp for sp in tenant.service_principals}
    for grant in of("appRoleAssignment:AppRoleAssignment"):
        holder = grant.outputs["principalObjectId"]
        tenant.assignments.setdefault(holder, []).append(
            assignment(grant.id.rsplit("/", 1)[-1], principals[holder], graph, grant.outputs["appRoleId"]))
    for owner in of("applicationOwner:ApplicationOwner"):
        owned = owner.outputs["applicationId"].rsplit("/", 1)[-1]
        tenant.owners.setdefault(owned, []).append({"@odata.type": "#microsoft.graph.servicePrincipal",
                                                    "id": owner.outputs["ownerObjectId"]})
    return tenant


def der_base64(pem: str) -> str:
    """A certificate as Graph returns it in ``keyCredentials[].key`` when an app is read alone: DER, base64."""
    return base64.b64encode(x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)).decode()


def simulation_graph_id(simulation: DeploySimulation) -> str:
    (graph_id,) = {g.outputs["resourceObjectId"] for g in simulation.of_type(f"{T}appRoleAssignment:AppRoleAssignment")}
    return str(graph_id)


def files(tmp_path: Path, outputs: dict[str, Any]) -> tuple[Path, Path]:
    outputs_file, stack_file = tmp_path / "dev.outputs.json", tmp_path / "Pulumi.dev.yaml"
    outputs_file.write_text(json.dumps(outputs))
    stack_file.write_text(yaml.safe_dump({"config": {f"{NAMESPACE}:{k}": v for k, v in CONFIG.items()}}))
    return outputs_file, stack_file


def run_audit(tmp_path: Path, outputs: dict[str, Any], tenant: Tenant) -> tuple[int, list[dict[str, Any]]]:
    outputs_file, stack_file = files(tmp_path, outputs)
    out, err = io.StringIO(), io.StringIO()
    code = audit.main(["--stack", "dev", "--outputs", str(outputs_file), "--config-file", str(stack_file), "--json"],
                      credential=FakeCredential(), transport=FakeGraph(tenant, page_size=50), out=out, err=err,
                      sleep=lambda _: None)
    assert not err.getvalue(), err.getvalue()
    report = json.loads(out.getvalue())
    return code, [dict(f, scope=s["scope"]) for s in report["sections"] for f in s["findings"]]


def portal_secret_and_hand_grant(tenant: Tenant) -> None:
    """Someone adds a secret to hr's app in the portal and grants gh's principal one more Graph role."""
    (hr_app,) = [a for a in tenant.applications if a["displayName"].endswith("-hr")]
    hr_app["passwordCredentials"].append({"keyId": mock_guid("portal"), "displayName": "added in the portal",
                                          "hint": "pw~", "endDateTime": "2027-03-01T00:00:00Z"})
    (gh,) = [sp for sp in tenant.service_principals if sp["displayName"].endswith("-gh")]
    graph = next(sp for sp in tenant.service_principals if sp["displayName"] == "Microsoft Graph")
    tenant.assignments[gh["id"]].append(assignment(mock_guid("hand-grant"), gh, graph,
                                                   ROLE_ID["ProvisioningLog.Read.All"]))


@pytest.fixture(scope="module")
def stack() -> tuple[DeploySimulation, dict[str, Any]]:
    """One deploy for the module: every test reads it, none changes it (each builds its own tenant)."""
    return deployed()


def test_audit_of_a_clean_stack_reports_nothing_then_exactly_what_was_added(
        tmp_path: Path, stack: tuple[DeploySimulation, dict[str, Any]]) -> None:
    simulation, outputs = stack
    tenant = tenant_of(simulation)
    code, found = run_audit(tmp_path, outputs, tenant)
    assert found == []
    assert code == model.EXIT_CLEAN
    portal_secret_and_hand_grant(tenant)
    code, found = run_audit(tmp_path, outputs, tenant)
    assert sorted((f["scope"], f["kind"], f["objectId"]) for f in found) == [
        ("client gh", "app role", mock_guid("hand-grant")), ("client hr", "secret", mock_guid("portal"))]
    assert code == model.EXIT_FINDINGS


def test_adopt_advises_retiring_only_the_portal_secret(tmp_path: Path,
                                                      stack: tuple[DeploySimulation, dict[str, Any]]) -> None:
    simulation, outputs = stack
    tenant = tenant_of(simulation)
    portal_secret_and_hand_grant(tenant)
    outputs_file, stack_file = files(tmp_path, outputs)
    out, err = io.StringIO(), io.StringIO()
    code = adopt.main(["--stack", "dev", "--config-file", str(stack_file), "--outputs", str(outputs_file)],
                      credential=FakeCredential(), transport=FakeGraph(tenant, page_size=50), out=out, err=err,
                      now=NOW + dt.timedelta(days=1))
    text = out.getvalue() + err.getvalue()
    assert code == adopt.EXIT_OK, text
    sections = {part.split(" ", 1)[0]: part for part in text.split("\n## ")[1:]}
    for key in ("hr", "payroll", "gh", "logic"):
        assert sections[key].startswith(f"{key} (")
        assert "deployed by this stack" in sections[key]
    assert "make audit finds: secret on the app registration: 'added in the portal'" in sections["hr"]
    assert "remove it once nobody signs in with it" in sections["hr"]
    assert "renewal" not in text, "the stack's own secrets (named 'renewal …') are never advised on"
    assert "CN=payroll" not in text
    assert "nothing else to do" in sections["payroll"]
    assert "nothing else to do" in sections["logic"]
    block = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert block == {"gh": {"adopt": {"application": tenant_app(tenant, "-gh"), "servicePrincipal": outputs[
        "clients"]["gh"]["servicePrincipalObjectId"], "grants": {"ProvisioningLog.Read.All": mock_guid("hand-grant")}}}}


def tenant_app(tenant: Tenant, suffix: str) -> str:
    (app,) = [a["id"] for a in tenant.applications if a["displayName"].endswith(suffix)]
    return str(app)


@pytest.mark.parametrize(("days_later", "expected"), [(1, expiry.EXIT_OK), (160, expiry.EXIT_EXPIRING)])
def test_check_expiry_reads_the_same_outputs(tmp_path: Path, stack: tuple[DeploySimulation, dict[str, Any]],
                                             days_later: int, expected: int) -> None:
    _, outputs = stack
    outputs_file, _ = files(tmp_path, outputs)
    out, err = io.StringIO(), io.StringIO()
    code = expiry.main(["--stack", "dev", "--outputs", str(outputs_file)], out=out, err=err,
                       now=NOW + dt.timedelta(days=days_later))
    assert code == expected, out.getvalue() + err.getvalue()
    table = out.getvalue()
    for key in ("hr", "payroll"):
        assert f"| {key} |" in table
