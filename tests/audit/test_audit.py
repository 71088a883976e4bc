"""make audit against a fake Microsoft Graph: every finding class, the tenant section, Graph under load."""

from __future__ import annotations

import copy
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError

from components.microsoft import GRAPH_APP_ID
from tests.conftest import GRAPH_ROLES, ROLE_ID
from tests.fake_graph import TOKEN, FakeCredential, FakeGraph, FakeResponse, Tenant, assignment, graph_principal
from tools.audit import audit
from tools.tenant.graph_reader import MAX_ATTEMPTS
from tools.tenant.ownership import NO_KEY_IDS

UPLOAD, OWNED_BY, LOGS = "SynchronizationData-User.Upload", "SynchronizationData-User.Upload.OwnedBy", \
    "ProvisioningLog.Read.All"
SECRET_HINT = "Q7~"  # Graph's hint: the first characters of a secret; never to be printed


def gid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"audit-test/{name}"))


GRAPH = graph_principal(gid("graph"), GRAPH_ROLES)
OTHER_API = {"id": gid("other-api"), "appId": gid("other-api-app"), "displayName": "Payroll API",
             "servicePrincipalType": "Application", "accountEnabled": True}


def principal(name: str, kind: str = "Application", **extra: Any) -> dict[str, Any]:
    return {"id": gid(f"{name}-sp"), "appId": gid(f"{name}-client"), "displayName": name,
            "servicePrincipalType": kind, "accountEnabled": True, "passwordCredentials": [], "keyCredentials": [],
            **extra}


def secret(name: str, key: str) -> dict[str, Any]:
    return {"customKeyIdentifier": None, "displayName": name, "endDateTime": "2027-05-01T00:00:00Z",
            "hint": SECRET_HINT, "keyId": gid(key), "secretText": None, "startDateTime": "2026-11-01T00:00:00Z"}


def certificate(subject: str, key: str) -> dict[str, Any]:
    return {"customKeyIdentifier": "AB12", "displayName": f"CN={subject}", "endDateTime": "2027-11-01T00:00:00Z",
            "keyId": gid(key), "type": "AsymmetricX509Cert", "usage": "Verify", "key": None}


HR = principal("HR middleware")
LOGIC = principal("CSV2SCIMBulkUpload", "ManagedIdentity",
                  # Azure's own key on every managed identity: never the stack's, never a finding.
                  keyCredentials=[certificate("azure-managed", "mi-key")])
OWNER_CLIENT = principal("HR owned-by client")
PROVISIONING = principal("API-driven provisioning to Microsoft Entra ID")


def application(sp: dict[str, Any], *credentials: dict[str, Any]) -> dict[str, Any]:
    return {"id": gid(f"{sp['displayName']}-app"), "appId": sp["appId"], "displayName": sp["displayName"],
            "passwordCredentials": [c for c in credentials if "hint" in c],
            "keyCredentials": [c for c in credentials if "hint" not in c]}


HR_APP = application(HR, secret("renewal 2026-11-01 (managed by Pulumi)", "hr-secret"),
                     secret("renewal 2026-08-01 (managed by Pulumi)", "hr-secret-previous"))
OWNER_APP = application(OWNER_CLIENT, certificate("hr-owned-by", "owner-cert"))
PROVISIONING_APP = application(PROVISIONING)
FIC = {"id": gid("hr-fic"), "name": "github-prod", "issuer": "https://token.actions.githubusercontent.com",
       "subject": "repo:contoso/hr:environment:prod", "audiences": ["api://AzureADTokenExchange"]}


def outputs() -> dict[str, Any]:
    """`pulumi stack output --json`, non-secret part, as the stack writes it."""
    def client(sp: dict[str, Any], kind: str, permissions: list[str], key_ids: list[str] | None) -> dict[str, Any]:
        shown: dict[str, Any] = {"kind": kind, "displayName": sp["displayName"], "clientId": sp["appId"],
                                 "servicePrincipalObjectId": sp["id"], "graphPermissions": permissions}
        if key_ids is not None:
            shown["credentialKeyIds"] = [gid(k) for k in key_ids]
        return shown
    return {
        "tenantId": gid("tenant"),
        "clients": {
            "hr-middleware": client(HR, "servicePrincipal", [UPLOAD], ["hr-secret", "hr-secret-previous", "hr-fic"]),
            "csv-logic-app": client(LOGIC, "managedIdentity", [UPLOAD, LOGS], None),
            "owned-by": client(OWNER_CLIENT, "servicePrincipal", [OWNED_BY], ["owner-cert"]),
        },
        "clientCredentials": "[secret]",
        "provisioningAppServicePrincipalId": PROVISIONING["id"],
        "provisioningJobId": f"API2AAD.0123456789abcdef0123456789abcdef.{gid('tenant')}",
    }


def clean_tenant() -> Tenant:
    """The tenant exactly as the stack declared it."""
    def holds(sp: dict[str, Any], *permissions: str) -> list[dict[str, Any]]:
        return [assignment(gid(f"{sp['displayName']}-{p}"), sp, GRAPH, ROLE_ID[p]) for p in permissions]
    return copy.deepcopy(Tenant(
        applications=[HR_APP, OWNER_APP, PROVISIONING_APP],
        service_principals=[GRAPH, OTHER_API, HR, LOGIC, OWNER_CLIENT, PROVISIONING],
        assignments={HR["id"]: holds(HR, UPLOAD), LOGIC["id"]: holds(LOGIC, UPLOAD, LOGS),
                     OWNER_CLIENT["id"]: holds(OWNER_CLIENT, OWNED_BY)},
        owners={PROVISIONING_APP["id"]: [{"@odata.type": "#microsoft.graph.servicePrincipal", "id": OWNER_CLIENT["id"],
                                          "displayName": OWNER_CLIENT["displayName"]}]},
        federated={HR_APP["id"]: [FIC]},
    ))


STACK_FILE = """\
config:
  inbound-provisioning-access:provisioningApp:
    create:
      displayName: API-driven provisioning to Microsoft Entra ID
      notificationEmail: hr-it@contoso.example
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(STACK_FILE)
    return tmp_path / "dev.outputs.json", stack_file


def run(files: tuple[Path, Path], tenant: Tenant, *extra: str, stack_outputs: dict[str, Any] | None = None,
        graph: FakeGraph | None = None, sleeps: list[float] | None = None) -> tuple[int, str, str]:
    outputs_file, stack_file = files
    outputs_file.write_text(json.dumps(outputs() if stack_outputs is None else stack_outputs))
    out, err = io.StringIO(), io.StringIO()
    slept = sleeps if sleeps is not None else []
    code = audit.main(["--stack", "dev", "--outputs", str(outputs_file), "--config-file", str(stack_file), *extra],
                      credential=FakeCredential(), transport=graph or FakeGraph(tenant), out=out, err=err,
                      sleep=slept.append)
    text = out.getvalue() + err.getvalue()
    assert SECRET_HINT not in text
    assert TOKEN not in text
    return code, out.getvalue(), err.getvalue()


def findings(text: str) -> list[dict[str, Any]]:
    report = json.loads(text)
    return [dict(f, scope=s["scope"]) for s in report["sections"] for f in s["findings"]]


def test_a_clean_stack_reports_nothing(files: tuple[Path, Path]) -> None:
    graph = FakeGraph(clean_tenant(), page_size=1)
    code, text, err = run(files, clean_tenant(), graph=graph)
    assert code == audit.EXIT_CLEAN, text + err
    assert "Clean: everything checked is what the stack declared." in text
    assert text.count("nothing the stack did not declare") == 5  # three clients, provisioning app, tenant
    # The stack's own credentials, named as the program and Graph name them, are never reported.
    assert "renewal 2026-11-01" not in text
    assert "CN=" not in text
    assert f"/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo?$top=999&$skiptoken=1" in graph.requests


def _add_secret(t: Tenant) -> None:
    t.applications[0]["passwordCredentials"].append(secret("workday-prod", "portal-secret"))


def _sp_certificate(t: Tenant) -> None:
    t.service_principals[2]["keyCredentials"].append(certificate("sp-cert", "sp-cert"))


def _foreign_fic(t: Tenant) -> None:
    t.federated[HR_APP["id"]].append(dict(FIC, id=gid("foreign-fic"), name="laptop"))


def _app_owner(t: Tenant) -> None:
    t.owners[HR_APP["id"]] = [{"@odata.type": "#microsoft.graph.user", "id": gid("alice"),
                               "userPrincipalName": "alice@contoso.example"}]


def _sp_owner(t: Tenant) -> None:
    t.owners[HR["id"]] = [{"@odata.type": "#microsoft.graph.user", "id": gid("bob")}]


def _extra_graph_role(t: Tenant) -> None:
    t.assignments[HR["id"]].append(assignment(gid("extra"), HR, GRAPH, ROLE_ID["Directory.ReadWrite.All"]))


def _other_api_role(t: Tenant) -> None:
    t.assignments[LOGIC["id"]].append(assignment(gid("payroll"), LOGIC, OTHER_API, gid("payroll-role")))


def _delegated(t: Tenant) -> None:
    t.delegated[HR["id"]] = [{"id": "grant-1", "clientId": HR["id"], "consentType": "AllPrincipals",
                              "principalId": None, "resourceId": GRAPH["id"], "scope": " User.Read Mail.Read"}]


def _directory_role(t: Tenant) -> None:
    t.directory_roles[LOGIC["id"]] = [{"id": "role-1", "principalId": LOGIC["id"], "directoryScopeId": "/",
                                       "roleDefinitionId": gid("admin"),
                                       "roleDefinition": {"displayName": "User Administrator"}}]


def _provisioning_owner(t: Tenant) -> None:
    t.owners[PROVISIONING["id"]] = [{"@odata.type": "#microsoft.graph.user", "id": gid("carol"),
                                     "userPrincipalName": "carol@contoso.example"}]


def _provisioning_secret(t: Tenant) -> None:
    t.applications[2]["passwordCredentials"].append(secret("debug", "prov-secret"))


@pytest.mark.parametrize(("change", "scope", "kind", "where", "object_id"), [
    (_add_secret, "client hr-middleware", "secret", "app registration", gid("portal-secret")),
    (_sp_certificate, "client hr-middleware", "certificate", "service principal", gid("sp-cert")),
    (_foreign_fic, "client hr-middleware", "federated credential", "app registration", gid("foreign-fic")),
    (_app_owner, "client hr-middleware", "owner", "app registration", gid("alice")),
    (_sp_owner, "client hr-middleware", "owner", "service principal", gid("bob")),
    (_extra_graph_role, "client hr-middleware", "app role", "service principal", gid("extra")),
    (_other_api_role, "client csv-logic-app", "app role", "service principal", gid("payroll")),
    (_delegated, "client hr-middleware", "delegated grant", "service principal", "grant-1"),
    (_directory_role, "client csv-logic-app", "directory role", "service principal", "role-1"),
    (_provisioning_owner, "provisioningApp", "owner", "service principal", gid("carol")),
    (_provisioning_secret, "provisioningApp", "secret", "app registration", gid("prov-secret")),
])
def test_each_finding_class(files: tuple[Path, Path], change: Any, scope: str, kind: str, where: str,
                            object_id: str) -> None:
    tenant = clean_tenant()
    change(tenant)
    code, text, err = run(files, tenant, "--json")
    assert code == audit.EXIT_FINDINGS, text + err
    assert [(f["scope"], f["kind"], f["where"], f["object_id"]) for f in findings(text)] == [
        (scope, kind, where, object_id)]
    code, table, _ = run(files, tenant)
    assert object_id in table
    assert f"what to do: {kind}:" in table
    assert "1 finding(s)." in table


def test_findings_name_what_a_reviewer_needs(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    for change in (_add_secret, _extra_graph_role, _other_api_role, _delegated, _directory_role, _app_owner):
        change(tenant)
    _, text, _ = run(files, tenant)
    assert "'workday-prod', expires 2027-05-01" in text
    assert "Directory.ReadWrite.All on Microsoft Graph" in text
    assert f"app role {gid('payroll-role')} on Payroll API" in text
    assert "'User.Read Mail.Read' on resource" in text
    assert "for all users" in text
    assert "User Administrator (scope /)" in text
    assert "alice@contoso.example" in text


def test_tenant_wide_holders_of_upload_and_log_permissions(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    rogue, reader, bystander = principal("rogue HR sync"), principal("log reader"), principal("directory tool")
    tenant.service_principals += [rogue, reader, bystander]
    tenant.assignments[rogue["id"]] = [assignment(gid("rogue-upload"), rogue, GRAPH, ROLE_ID[UPLOAD]),
                                       assignment(gid("rogue-owned"), rogue, GRAPH, ROLE_ID[OWNED_BY])]
    tenant.assignments[reader["id"]] = [assignment(gid("reader-logs"), reader, GRAPH, ROLE_ID[LOGS])]
    # Not an upload or log permission: not this section's business.
    tenant.assignments[bystander["id"]] = [assignment(gid("bystander"), bystander, GRAPH, ROLE_ID["User.Read.All"])]
    code, text, _ = run(files, tenant, "--json")
    assert code == audit.EXIT_FINDINGS
    found = findings(text)
    assert {(f["scope"], f["kind"], f["object_id"]) for f in found} == {
        ("tenant", "HR permission", gid("rogue-upload")), ("tenant", "HR permission", gid("rogue-owned")),
        ("tenant", "HR permission", gid("reader-logs"))}
    assert any(f["name"].startswith(f"{OWNED_BY}: 'rogue HR sync' (ServicePrincipal ") for f in found)


def test_thousands_of_assignments_are_read_page_by_page(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    crowd = principal("busy app")
    tenant.service_principals.append(crowd)
    tenant.assignments[crowd["id"]] = [assignment(f"a-{n}", crowd, GRAPH, ROLE_ID["User.Read.All"])
                                       for n in range(3000)]
    tenant.assignments[crowd["id"]].append(assignment("last", crowd, GRAPH, ROLE_ID[UPLOAD]))
    graph = FakeGraph(tenant, page_size=500)
    code, text, _ = run(files, tenant, "--json", graph=graph)
    assert [f["object_id"] for f in findings(text)] == ["last"]  # found on the last of 7 pages
    assert code == audit.EXIT_FINDINGS
    pages = [r for r in graph.requests if r.startswith("/servicePrincipals(appId=")]
    assert len(pages) == 7


def test_throttling_waits_out_retry_after(files: tuple[Path, Path]) -> None:
    sleeps: list[float] = []
    graph = FakeGraph(clean_tenant(), throttle={rf"/servicePrincipals/{HR['id']}/owners": 2,
                                                r"/servicePrincipals\(appId=.*\)/appRoleAssignedTo": 1})
    code, text, err = run(files, clean_tenant(), graph=graph, sleeps=sleeps)
    assert code == audit.EXIT_CLEAN, text + err
    assert sleeps == [7.0, 7.0, 7.0]


@pytest.mark.parametrize(("retries", "retry_after"), [(MAX_ATTEMPTS, "1"), (1, "3600")])
def test_throttling_without_end_stops_with_exit_2(files: tuple[Path, Path], retries: int, retry_after: str) -> None:
    sleeps: list[float] = []
    graph = FakeGraph(clean_tenant(), throttle={rf"/servicePrincipals/{HR['id']}/owners": retries},
                      retry_after=retry_after)
    code, _, err = run(files, clean_tenant(), graph=graph, sleeps=sleeps)
    assert code == audit.EXIT_USAGE
    assert f"Microsoft Graph is throttling GET /servicePrincipals/{HR['id']}/owners" in err
    assert len(sleeps) == (MAX_ATTEMPTS - 1 if retry_after == "1" else 0)


def test_an_object_deleted_between_two_reads_is_reported(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    tenant.deleted.add(HR_APP["id"])  # listed by client id, then gone when its credentials and owners are read
    code, text, err = run(files, tenant, "--json")
    assert code == audit.EXIT_FINDINGS, err
    gone = [(f["kind"], f["name"]) for f in findings(text)]
    assert gone == [("gone", "federated credentials: deleted since it was listed"),
                    ("gone", "owners of the app registration: deleted since it was listed")]


def test_a_client_whose_principal_no_longer_exists(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    tenant.service_principals.remove(HR)
    code, text, _ = run(files, tenant, "--json")
    assert code == audit.EXIT_FINDINGS
    assert [(f["kind"], f["where"], f["object_id"]) for f in findings(text)] == [
        ("gone", "service principal", HR["id"])]


def test_outputs_without_key_ids_say_so_instead_of_guessing(files: tuple[Path, Path]) -> None:
    old = outputs()
    for client in old["clients"].values():
        client.pop("credentialKeyIds", None)
    code, text, _ = run(files, clean_tenant(), stack_outputs=old)
    assert code == audit.EXIT_FINDINGS
    assert NO_KEY_IDS in text
    assert "\nsecret " not in text  # not called foreign
    code, text, _ = run(files, clean_tenant(), "--json", stack_outputs=old)
    assert {f["kind"] for f in findings(text)} == {"unclassified credential"}
    assert len(findings(text)) == 4  # two secrets, the federated credential, the owned-by client's certificate


def test_a_provisioning_app_the_stack_did_not_create_is_not_audited(files: tuple[Path, Path]) -> None:
    files[1].write_text("config:\n  inbound-provisioning-access:provisioningApp:\n    jobId: x\n")
    tenant = clean_tenant()
    _provisioning_owner(tenant)
    code, text, _ = run(files, tenant)
    assert code == audit.EXIT_CLEAN
    assert "provisioning app" not in text


def test_a_created_provisioning_app_is_audited_whatever_spelling_of_its_key_the_cli_reads(
        files: tuple[Path, Path]) -> None:
    # A bare key in a stack file is the project's own, as the Pulumi CLI reads it.
    files[1].write_text(STACK_FILE.replace("inbound-provisioning-access:provisioningApp", "provisioningApp"))
    tenant = clean_tenant()
    _provisioning_owner(tenant)
    code, text, _ = run(files, tenant)
    assert code == audit.EXIT_FINDINGS
    assert "provisioning app" in text


def test_json_and_step_summary(files: tuple[Path, Path], tmp_path: Path) -> None:
    tenant = clean_tenant()
    _add_secret(tenant)
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier steps\n")
    code, text, _ = run(files, tenant, "--json", "--summary", str(summary))
    assert code == audit.EXIT_FINDINGS
    report = json.loads(text)
    assert report["stack"] == "dev"
    assert report["findings"] == 1
    written = summary.read_text()
    assert written.startswith("# earlier steps\n```text\n# make audit: stack `dev`")
    assert written.endswith("```\n")


def test_nothing_checked_exits_3(files: tuple[Path, Path]) -> None:
    code, _, err = run(files, clean_tenant(), stack_outputs={"clients": {}})
    assert code == audit.EXIT_NOTHING_CHECKED
    assert "nothing checked" in err


@pytest.mark.parametrize(("stack_outputs", "message"), [
    ({"tenantId": "x"}, "no `clients` map"),
    ({"clients": {"a": {"kind": "servicePrincipal"}}}, "clients.a.clientId is missing"),
    ({"clients": {"a": {"clientId": "c", "servicePrincipalObjectId": "s", "displayName": "a",
                        "credentialKeyIds": "k"}}}, "clients.a.credentialKeyIds is not a list of strings"),
])
def test_outputs_that_are_not_the_stacks_exit_2(files: tuple[Path, Path], stack_outputs: dict[str, Any],
                                                 message: str) -> None:
    code, _, err = run(files, clean_tenant(), stack_outputs=stack_outputs)
    assert code == audit.EXIT_USAGE
    assert message in err


def test_usage_and_permission_errors_exit_2(files: tuple[Path, Path]) -> None:
    assert audit.main([], out=io.StringIO(), err=io.StringIO()) == audit.EXIT_USAGE
    graph = FakeGraph(clean_tenant(), refuse=(r"/servicePrincipals/[0-9a-f-]+/oauth2PermissionGrants",))
    code, _, err = run(files, clean_tenant(), graph=graph)
    assert code == audit.EXIT_USAGE
    assert "refused GET" in err
    assert "Directory.Read.All" in err


def test_the_outputs_are_never_changed_by_a_run(files: tuple[Path, Path]) -> None:
    before = outputs()
    run(files, clean_tenant(), stack_outputs=copy.deepcopy(before))
    assert json.loads(files[0].read_text()) == before


class _LoopingGraph(FakeGraph):
    """Graph answering every page of appRoleAssignedTo with a nextLink: to itself, or to another host."""

    def __init__(self, tenant: Tenant, next_link: str) -> None:
        super().__init__(tenant)
        self.next_link = next_link
        self.origins: set[str] = set()

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.origins.add(request.url.partition("/v1.0")[0])
        response = super().send(request, **kwargs)
        if "appRoleAssignedTo" not in request.url:
            return response
        page = json.loads(response.body())
        page["@odata.nextLink"] = self.next_link
        return FakeResponse(request, 200, page)


@pytest.mark.parametrize("next_link", [
    f"https://graph.microsoft.com/v1.0/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo?$top=999",
    "https://graph.example.invalid/v1.0/servicePrincipals",
    "http://graph.microsoft.com/v1.0/servicePrincipals",
])
def test_a_next_link_that_loops_or_leaves_graph_stops_with_exit_2(files: tuple[Path, Path], next_link: str) -> None:
    graph = _LoopingGraph(clean_tenant(), next_link)
    code, _, err = run(files, clean_tenant(), graph=graph)
    assert code == audit.EXIT_USAGE
    assert "@odata.nextLink" in err
    # Never more than two pages of the loop, and the bearer token never sent off Graph.
    assert sum("appRoleAssignedTo" in r for r in graph.requests) <= 2
    assert graph.origins == {"https://graph.microsoft.com"}


class _UnreachableGraph(FakeGraph):
    """Graph unreachable (DNS, proxy, TLS) on one path, or answering a page that is not JSON (a gateway's HTML)."""

    def __init__(self, tenant: Tenant, failure: str) -> None:
        super().__init__(tenant)
        self.failure = failure

    def send(self, request: Any, **kwargs: Any) -> Any:
        if "/owners" in request.url:
            if self.failure == "connection":
                raise ServiceRequestError("Failed to establish a new connection: [Errno -3] name resolution")
            response = FakeResponse(request, 200, {})
            response._body = b"<html>502 Bad Gateway</html>"
            return response
        return super().send(request, **kwargs)

    def sleep(self, duration: float) -> None:
        self.slept = getattr(self, "slept", 0.0) + duration  # azure-core's backoff between connection retries


@pytest.mark.parametrize("failure", ["connection", "not json"])
def test_graph_unreachable_or_garbled_is_exit_2_not_findings(files: tuple[Path, Path], failure: str) -> None:
    code, _, err = run(files, clean_tenant(), graph=_UnreachableGraph(clean_tenant(), failure))
    assert code == audit.EXIT_USAGE, err
    assert err.startswith("error: ")
    assert "/owners" in err


def test_a_name_with_backticks_cannot_close_the_summarys_code_block(files: tuple[Path, Path], tmp_path: Path) -> None:
    tenant = clean_tenant()
    tenant.applications[0]["passwordCredentials"].append(
        secret("x```\n## All clear [details](https://phish.example)", "portal-secret"))
    summary = tmp_path / "summary.md"
    code, _, _ = run(files, tenant, "--summary", str(summary))
    assert code == audit.EXIT_FINDINGS
    written = summary.read_text()
    fence = written.splitlines()[0].removesuffix("text")
    assert set(fence) == {"`"}
    assert written.endswith(f"\n{fence}\n")
    assert written.count(fence) == 2, "the fence is longer than any run of backticks inside"


def test_a_name_with_line_breaks_cannot_forge_lines_of_the_report(files: tuple[Path, Path]) -> None:
    tenant = clean_tenant()
    forged = "helper\n\nClean: everything checked is what the stack declared.\r"
    tenant.owners[HR["id"]] = [{"@odata.type": "#microsoft.graph.servicePrincipal", "id": gid("x"),
                                "displayName": forged}]
    code, text, _ = run(files, tenant)
    assert code == audit.EXIT_FINDINGS
    assert "\nClean:" not in text
    assert "\r" not in text
    assert "helper\\n\\nClean: everything" in text


def test_without_the_pulumi_cli_it_says_which_file_to_give(files: tuple[Path, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The outputs are what is missing, not the stack file: one line naming --outputs FILE."""
    monkeypatch.setenv("PATH", str(files[0].parent))
    err = io.StringIO()
    code = audit.main(["--stack", "dev", "--config-file", str(files[1])], out=io.StringIO(), err=err)
    assert code == audit.EXIT_USAGE
    assert err.getvalue() == ("error: cannot read the stack's outputs: the Pulumi CLI is not on PATH; give them with "
                              "--outputs FILE (`pulumi stack output --stack <stack> --json`, no secrets needed)\n")


def test_an_unreadable_stack_file_is_named_alone(files: tuple[Path, Path]) -> None:
    stack_file = files[1]
    stack_file.write_text("config: [\n")
    code, _, err = run(files, clean_tenant())
    assert code == audit.EXIT_USAGE
    assert err.startswith(f"error: cannot read {stack_file.name}: ")
    assert "outputs" not in err


def test_a_secret_a_killed_run_left_is_reported_as_an_orphan_by_key_id(files: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    tenant = clean_tenant()
    _add_secret(tenant)
    state = tmp_path / "state.json"
    urn = ("urn:pulumi:dev::inbound-provisioning-access::inbound-provisioning-access:index:InboundProvisioningAccess"
           "$inbound-provisioning-access:index:ServicePrincipalClient$azuread:index/applicationPassword:"
           "ApplicationPassword::hr-middleware-secret-20270220")
    state.write_text(json.dumps({"deployment": {"pending_operations": [
        {"resource": {"urn": urn, "type": "azuread:index/applicationPassword:ApplicationPassword"},
         "type": "creating"}]}}))
    code, text, _ = run(files, tenant, "--json", "--state", str(state))
    assert code == audit.EXIT_FINDINGS
    (finding,) = findings(text)
    assert (finding["kind"], finding["object_id"]) == ("orphan", gid("portal-secret"))
    assert "the interrupted create of hr-middleware-secret-20270220 may have made it" in finding["name"]
    _, table, _ = run(files, tenant, "--state", str(state))
    assert "what to do: orphan: an interrupted `pulumi up` created it" in table
