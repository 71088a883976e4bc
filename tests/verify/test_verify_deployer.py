"""make verify --deployer: grants read through a fake Graph as the deployer, compared with the stack's."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GRAPH_ROLES, LOGIC_APP, RunProgram, secret_client
from tests.fake_graph import TOKEN, FakeCredential, FakeGraph, SignedOutCredential, Tenant, assignment, graph_principal
from tools.offline.entra import mock_guid
from tools.verify import verify

UPLOAD, AUDIT = "SynchronizationData-User.Upload", "AuditLog.Read.All"
GRAPH = graph_principal(mock_guid("graph-in-fake-tenant"), GRAPH_ROLES)
ROLE_IDS = {r["value"]: r["id"] for r in GRAPH_ROLES}


@pytest.fixture
def outputs(run_program: RunProgram, tmp_path: Path) -> dict[str, Any]:
    run = run_program({"clients": {
        "workday": secret_client(),
        "csv-logic-app": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
    }})
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(run.outputs))
    return {**run.outputs, "_path": str(path)}


def tenant_for(outputs: dict[str, Any], grants: dict[str, list[str]]) -> Tenant:
    """A tenant whose principals hold ``grants`` (by client key), as Graph lists them."""
    tenant = Tenant(service_principals=[GRAPH])
    for key, client in outputs["clients"].items():
        principal = {"id": client["servicePrincipalObjectId"], "appId": client["clientId"],
                     "displayName": client["displayName"]}
        tenant.service_principals.append(principal)
        tenant.assignments[principal["id"]] = [
            assignment(mock_guid(key, value), principal, GRAPH, ROLE_IDS[value]) for value in grants.get(key, [])]
    return tenant


def run_deployer(outputs: dict[str, Any], graph: FakeGraph, credential: Any = None) -> tuple[int, str]:
    out = io.StringIO()
    code = verify.main(["--outputs", outputs["_path"], "--deployer"], transport=graph, out=out,
                       credential=credential or FakeCredential())
    return code, out.getvalue()


def test_grants_as_stated(outputs: dict[str, Any]) -> None:
    graph = FakeGraph(tenant_for(outputs, {"workday": [UPLOAD, AUDIT], "csv-logic-app": [AUDIT, UPLOAD]}),
                      page_size=1)
    code, text = run_deployer(outputs, graph)
    assert code == 0, text
    rows = {line.split()[0]: line for line in text.splitlines()[2:]}
    assert rows["csv-logic-app"].startswith(f"csv-logic-app  {LOGIC_APP.object_id}")
    assert rows["csv-logic-app"].rstrip().endswith("OK")
    assert f"{AUDIT}, {UPLOAD}" in rows["csv-logic-app"]
    # Paged: the second assignment of each principal came from @odata.nextLink.
    assert f"/servicePrincipals/{LOGIC_APP.object_id}/appRoleAssignments?$skiptoken=1" in graph.requests
    assert not any("/oauth2/v2.0/token" in r for r in graph.requests), "no client signs in"


def test_missing_and_extra_grants_are_mismatches(outputs: dict[str, Any]) -> None:
    graph = FakeGraph(tenant_for(outputs, {"workday": [UPLOAD, AUDIT],
                                           "csv-logic-app": [UPLOAD, "Directory.ReadWrite.All"]}))
    code, text = run_deployer(outputs, graph)
    assert code == 1
    assert "csv-logic-app: missing AuditLog.Read.All" in text
    assert (f"csv-logic-app: extra Directory.ReadWrite.All (assignment "
            f"{mock_guid('csv-logic-app', 'Directory.ReadWrite.All')})") in text
    assert "workday: " not in text


def test_403_exits_2_naming_the_permission(outputs: dict[str, Any]) -> None:
    graph = FakeGraph(tenant_for(outputs, {}), refuse=(r"/servicePrincipals/[0-9a-f-]+/appRoleAssignments",))
    code, text = run_deployer(outputs, graph)
    assert code == 2
    assert "403 Authorization_RequestDenied" in text
    assert "Application.Read.All" in text
    assert TOKEN not in text
    assert outputs["clientCredentials"]["workday"]["clientSecret"] not in text


def test_signed_out_exits_2(outputs: dict[str, Any]) -> None:
    code, text = run_deployer(outputs, FakeGraph(tenant_for(outputs, {})), credential=SignedOutCredential())
    assert code == 2
    assert "sign-in failed" in text



def test_outputs_missing_a_principal_exit_2(outputs: dict[str, Any], tmp_path: Path) -> None:
    graph = FakeGraph(tenant_for(outputs, {}))
    del outputs["clients"]["csv-logic-app"]["servicePrincipalObjectId"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({k: v for k, v in outputs.items() if k != "_path"}))
    code, text = run_deployer({**outputs, "_path": str(path)}, graph)
    assert code == 2
    assert "clients.csv-logic-app.servicePrincipalObjectId is missing" in text


def test_a_grant_on_another_api_is_a_note_as_the_audit_classifies_it(outputs: dict[str, Any]) -> None:
    tenant = tenant_for(outputs, {"workday": [UPLOAD, AUDIT], "csv-logic-app": [AUDIT, UPLOAD]})
    payroll = {"id": mock_guid("payroll-api"), "appId": mock_guid("payroll-app"), "displayName": "Payroll API"}
    workday = tenant.service_principals[1]
    tenant.assignments[workday["id"]].append(assignment(mock_guid("payroll-grant"), workday, payroll,
                                                        mock_guid("payroll-role")))
    code, text = run_deployer(outputs, FakeGraph(tenant))
    assert code == 0, text
    assert "Payroll API: app role" in text
    assert "make audit reports it" in text


def test_a_deleted_principal_is_a_mismatch(outputs: dict[str, Any]) -> None:
    tenant = tenant_for(outputs, {"workday": [UPLOAD, AUDIT]})
    logic = outputs["clients"]["csv-logic-app"]["servicePrincipalObjectId"]
    tenant.service_principals = [sp for sp in tenant.service_principals if sp["id"] != logic]
    code, text = run_deployer(outputs, FakeGraph(tenant))
    assert code == 1, text
    assert "csv-logic-app: the principal is gone" in text
