"""make verify --deployer: grants read through a fake Graph as the deployer, compared with the stack's."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GRAPH_ROLES, LOGIC_APP, RunProgram, secret_client
from tests.fake_graph import TOKEN, FakeCredential, FakeGraph, SignedOutCredential, Tenant, assignment, graph_principal
from tools import verify
from tools.offline_entra import mock_guid

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

