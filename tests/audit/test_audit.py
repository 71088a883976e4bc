"""make audit against a fake Microsoft Graph: every per-client finding, what is never clean, Graph under load.

Who can upload (the paths to the upload) has its own module, ``test_who_can_upload.py``.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError

from components.microsoft import GRAPH_APP_ID
from tests.audit.tenant import (
    FIC,
    GRAPH,
    HR,
    HR_APP,
    LOGIC,
    OTHER_API,
    OWNER_CLIENT,
    PROVISIONING,
    UPLOAD,
    as_owner,
    certificate,
    clean_tenant,
    gid,
    outputs,
    principal,
    run,
    secret,
    user,
)
from tests.conftest import ROLE_ID
from tests.fake_graph import FakeGraph, FakeResponse, Tenant, assignment
from tools.audit import audit, model
from tools.tenant.graph_reader import MAX_ATTEMPTS
from tools.tenant.ownership import NO_KEY_IDS


def test_a_clean_stack_reports_nothing(tmp_path: Path) -> None:
    graph = FakeGraph(clean_tenant(), page_size=1)
    done = run(tmp_path, clean_tenant(), graph=graph)
    assert done.code == model.EXIT_CLEAN, done.out + done.err
    assert "Clean: everything checked is what the stack declared." in done.out
    assert done.out.count("nothing the stack did not declare") == 5  # three clients, provisioning app, who can upload
    # The stack's own credentials, named as the program and Graph name them, are never reported.
    assert "renewal 2026-11-01" not in done.out
    assert "CN=" not in done.out
    assert f"/servicePrincipals(appId='{GRAPH_APP_ID}')/appRoleAssignedTo?$top=999&$skiptoken=1" in graph.requests


def _add_secret(t: Tenant) -> None:
    t.applications[0]["passwordCredentials"].append(secret("workday-prod", "portal-secret"))


def _sp_secret_with_the_apps_key_id(t: Tenant) -> None:
    # The stack put nothing on the service principal: a key id it uses on the app proves nothing here.
    t.service_principals[2]["passwordCredentials"].append(secret("sp side", "hr-secret"))


def _sp_certificate(t: Tenant) -> None:
    t.service_principals[2]["keyCredentials"].append(certificate("sp-cert", "sp-cert"))


def _certificate_under_the_stacks_key_id(t: Tenant) -> None:
    # Whoever adds a certificate chooses its key id: the owned-by client's, with another certificate.
    t.applications[1]["keyCredentials"] = [certificate("attacker", "owner-cert")]


def _certificate_with_a_secrets_key_id(t: Tenant) -> None:
    t.applications[0]["keyCredentials"].append(certificate("hr-middleware", "hr-secret-previous",
                                                           "2027-02-01T00:00:00Z"))


def _foreign_fic(t: Tenant) -> None:
    t.federated[HR_APP["id"]].append(dict(FIC, id=gid("foreign-fic"), name="laptop"))


def _fic_edited_in_place(t: Tenant) -> None:
    t.federated[HR_APP["id"]] = [dict(FIC, subject="repo:someone-else/fork:ref:refs/heads/main")]


def _extra_graph_role(t: Tenant) -> None:
    t.assignments[HR["id"]].append(assignment(gid("extra"), HR, GRAPH, ROLE_ID["Directory.ReadWrite.All"]))


def _other_api_role(t: Tenant) -> None:
    t.assignments[LOGIC["id"]].append(assignment(gid("payroll"), LOGIC, OTHER_API, gid("payroll-role")))


def _delegated(t: Tenant) -> None:
    t.delegated[HR["id"]] = [{"id": "grant-1", "clientId": HR["id"], "consentType": "AllPrincipals",
                              "principalId": None, "resourceId": GRAPH["id"], "scope": " User.Read Mail.Read"}]


def _directory_role(t: Tenant) -> None:
    # A role the paths read too (User Administrator): reported once, in the client's section.
    t.directory_roles[LOGIC["id"]] = [{"id": "role-1", "principalId": LOGIC["id"], "directoryScopeId": "/",
                                       "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1",
                                       "roleDefinition": {"displayName": "User Administrator"}}]


def _provisioning_secret(t: Tenant) -> None:
    t.applications[2]["passwordCredentials"].append(secret("debug", "prov-secret"))


@pytest.mark.parametrize(("change", "scope", "kind", "where", "object_id"), [
    (_add_secret, "client hr-middleware", "secret", "app registration", gid("portal-secret")),
    (_sp_secret_with_the_apps_key_id, "client hr-middleware", "secret", "service principal", gid("hr-secret")),
    (_sp_certificate, "client hr-middleware", "certificate", "service principal", gid("sp-cert")),
    (_certificate_under_the_stacks_key_id, "client owned-by", "certificate", "app registration", gid("owner-cert")),
    (_certificate_with_a_secrets_key_id, "client hr-middleware", "certificate", "app registration",
     gid("hr-secret-previous")),
    (_foreign_fic, "client hr-middleware", "federated credential", "app registration", gid("foreign-fic")),
    (_fic_edited_in_place, "client hr-middleware", "federated credential", "app registration", gid("hr-fic")),
    (_extra_graph_role, "client hr-middleware", "app role", "service principal", gid("extra")),
    (_other_api_role, "client csv-logic-app", "app role", "service principal", gid("payroll")),
    (_delegated, "client hr-middleware", "delegated grant", "service principal", "grant-1"),
    (_directory_role, "client csv-logic-app", "directory role", "service principal", "role-1"),
    (_provisioning_secret, "provisioningApp", "secret", "app registration", gid("prov-secret")),
])
def test_each_finding_class(tmp_path: Path, change: Any, scope: str, kind: str, where: str, object_id: str) -> None:
    tenant = clean_tenant()
    change(tenant)
    done = run(tmp_path, tenant, "--json", summary=True)
    assert done.code == model.EXIT_FINDINGS, done.out + done.err
    assert [(f["scope"], f["kind"], f["where"], f["objectId"]) for f in done.findings] == [
        (scope, kind, where, object_id)]
    (found,) = done.findings
    assert found["tenantId"] == gid("tenant")
    assert found["generatedAt"] == "2026-11-27T09:30:00Z"
    assert found["severity"] == "high"
    assert found["path"] == f"{scope} > {where} > {kind}"
    assert found["principalId"] == (PROVISIONING["id"] if scope == "provisioningApp" else
                                    {"client hr-middleware": HR, "client csv-logic-app": LOGIC,
                                     "client owned-by": OWNER_CLIENT}[scope]["id"])
    assert object_id in done.summary
    assert f"what to do: {kind}:" in done.summary
    assert "1 finding(s)." in done.summary


def test_findings_name_what_a_reviewer_needs(tmp_path: Path) -> None:
    tenant = clean_tenant()
    for change in (_add_secret, _extra_graph_role, _other_api_role, _delegated, _directory_role,
                   _certificate_under_the_stacks_key_id, _fic_edited_in_place):
        change(tenant)
    text = run(tmp_path, tenant).out
    assert "'workday-prod', expires 2027-05-01" in text
    assert "Directory.ReadWrite.All on Microsoft Graph" in text
    assert f"app role {gid('payroll-role')} on Payroll API" in text
    assert "'User.Read Mail.Read' on resource" in text
    assert "for all users" in text
    assert "User Administrator (scope /)" in text
    assert "reuses the key id of the stack's certificate, but its thumbprint is" in text
    assert ("its subject was edited in place ('repo:someone-else/fork:ref:refs/heads/main', the stack's "
            "'repo:contoso/hr:environment:prod')") in text


def test_thousands_of_assignments_are_read_page_by_page(tmp_path: Path) -> None:
    tenant = clean_tenant()
    crowd = principal("busy app")
    tenant.service_principals.append(crowd)
    tenant.assignments[crowd["id"]] = [assignment(f"a-{n}", crowd, GRAPH, ROLE_ID["User.Read.All"])
                                       for n in range(3000)]
    tenant.assignments[crowd["id"]].append(assignment("last", crowd, GRAPH, ROLE_ID[UPLOAD]))
    graph = FakeGraph(tenant, page_size=500)
    done = run(tmp_path, tenant, "--json", graph=graph)
    assert [f["objectId"] for f in done.findings] == ["last"]  # found on the last of 7 pages
    assert done.code == model.EXIT_FINDINGS
    assert len([r for r in graph.requests if r.startswith("/servicePrincipals(appId=")]) == 7


def test_throttling_waits_out_retry_after(tmp_path: Path) -> None:
    sleeps: list[float] = []
    graph = FakeGraph(clean_tenant(), throttle={rf"/servicePrincipals/{HR['id']}/owners": 2,
                                                r"/servicePrincipals\(appId=.*\)/appRoleAssignedTo": 1})
    done = run(tmp_path, clean_tenant(), graph=graph, sleeps=sleeps)
    assert done.code == model.EXIT_CLEAN, done.out + done.err
    assert sleeps == [7.0, 7.0, 7.0]


@pytest.mark.parametrize(("retries", "retry_after"), [(MAX_ATTEMPTS, "1"), (1, "3600")])
def test_throttling_without_end_stops_with_exit_2(tmp_path: Path, retries: int, retry_after: str) -> None:
    sleeps: list[float] = []
    graph = FakeGraph(clean_tenant(), throttle={rf"/servicePrincipals/{HR['id']}/owners": retries},
                      retry_after=retry_after)
    done = run(tmp_path, clean_tenant(), graph=graph, sleeps=sleeps)
    assert done.code == model.EXIT_USAGE
    assert f"Microsoft Graph is throttling GET /servicePrincipals/{HR['id']}/owners" in done.err
    assert len(sleeps) == (MAX_ATTEMPTS - 1 if retry_after == "1" else 0)


def test_a_404_is_read_again_once_before_the_object_is_called_gone(tmp_path: Path) -> None:
    """The weekly audit runs right after a deploy: an object may not have replicated to every replica yet."""
    sleeps: list[float] = []
    graph = FakeGraph(clean_tenant(), lagging={rf"/applications/{HR_APP['id']}/federatedIdentityCredentials": 1})
    done = run(tmp_path, clean_tenant(), graph=graph, sleeps=sleeps)
    assert done.code == model.EXIT_CLEAN, done.out
    assert sleeps == [10.0], "one pause (not really waited in tests), then it was there"
    tenant = clean_tenant()
    tenant.deleted.add(HR_APP["id"])  # still deleted when read again: gone
    sleeps.clear()
    done = run(tmp_path, tenant, "--json", sleeps=sleeps)
    assert done.code == model.EXIT_FINDINGS, done.err
    assert [(f["kind"], f["name"], f["severity"]) for f in done.findings] == [
        ("gone", "app registration and its credentials: deleted since it was listed", "medium")]
    assert sleeps == [10.0]


def test_a_client_whose_principal_no_longer_exists(tmp_path: Path) -> None:
    tenant = clean_tenant()
    tenant.service_principals.remove(HR)
    sleeps: list[float] = []
    done = run(tmp_path, tenant, "--json", sleeps=sleeps)
    assert done.code == model.EXIT_FINDINGS
    assert [(f["kind"], f["where"], f["objectId"]) for f in done.findings] == [("gone", "service principal", HR["id"])]
    assert sleeps == [10.0], "listed by id and not there: read again once, as a 404 is"


def test_outputs_without_key_ids_have_their_own_exit_status_instead_of_a_guess(tmp_path: Path) -> None:
    old = outputs()
    for client in old["clients"].values():
        client.pop("credentialKeyIds", None)
        client.pop("credentials", None)
    done = run(tmp_path, clean_tenant(), stack_outputs=old)
    assert done.code == model.EXIT_UNCLASSIFIED == 5
    assert NO_KEY_IDS in done.out
    assert "\nsecret " not in done.out  # not called foreign
    done = run(tmp_path, clean_tenant(), "--json", stack_outputs=old)
    assert done.findings == []
    unclassified = [f for s in done.report["sections"] for f in s["unclassified"]]
    assert {f["kind"] for f in unclassified} == {"unclassified credential"}
    assert len(unclassified) == 4  # two secrets, the federated credential, the owned-by client's certificate


def test_an_existing_provisioning_app_named_by_the_stack_is_audited(tmp_path: Path) -> None:
    tenant = clean_tenant()
    _provisioning_secret(tenant)
    named = ("config:\n  inbound-provisioning-access:provisioningApp:\n"
             f"    servicePrincipalId: {PROVISIONING['id']}\n    jobId: API2AAD.x\n")
    done = run(tmp_path, tenant, stack_file=named)
    assert done.code == model.EXIT_FINDINGS
    assert "## provisioning app (named by the stack (servicePrincipalId, displayName, jobId))" in done.out
    assert gid("prov-secret") in done.out


def test_a_created_provisioning_app_is_told_whatever_spelling_of_its_key_the_cli_reads(tmp_path: Path) -> None:
    # A bare key in a stack file is the project's own, as the Pulumi CLI reads it.
    bare = "config:\n  provisioningApp:\n    create:\n      notificationEmail: hr-it@contoso.example\n"
    done = run(tmp_path, clean_tenant(), stack_file=bare)
    assert done.code == model.EXIT_CLEAN, done.out
    assert "## provisioning app (created by the stack)" in done.out


def test_json_and_step_summary(tmp_path: Path) -> None:
    tenant = clean_tenant()
    _add_secret(tenant)
    done = run(tmp_path, tenant, "--json", summary=True)
    assert done.code == model.EXIT_FINDINGS
    assert (done.report["stack"], done.report["findings"], done.report["exitStatus"]) == ("dev", 1, 1)
    assert done.summary.startswith("## make audit: stack `dev`\n\n```mermaid\nflowchart LR\n")
    assert "\n```text\n# make audit: stack `dev`" in done.summary
    assert done.summary.endswith("1 finding(s).\n```\n")


def test_nothing_checked_exits_3(tmp_path: Path) -> None:
    done = run(tmp_path, clean_tenant(), stack_outputs={"clients": {}})
    assert done.code == model.EXIT_NOTHING_CHECKED
    assert "nothing checked" in done.err


@pytest.mark.parametrize(("stack_outputs", "message"), [
    ({"tenantId": "x"}, "no `clients` map"),
    ({"clients": {"a": {"kind": "servicePrincipal"}}}, "clients.a.clientId is missing"),
    ({"clients": {"a": {"clientId": gid("c"), "servicePrincipalObjectId": "s'&$top=1", "displayName": "a"}}},
     "clients.a.servicePrincipalObjectId is not a GUID (\"s'&$top=1\")"),
    ({"clients": {"a": {"clientId": gid("c"), "servicePrincipalObjectId": gid("s"), "displayName": "a",
                        "credentialKeyIds": "k"}}}, "clients.a.credentialKeyIds is not a list of strings"),
    ({"clients": {}, "provisioningAppServicePrincipalId": "../users"},
     "provisioningAppServicePrincipalId is not a GUID"),
    ({"clients": {}, "tenantId": "contoso", "clientCredentials": {"hr": {"clientSecret": "s3cr3t"}}},
     "they hold clientCredentials decrypted (`--show-secrets`): give them without it"),
])
def test_outputs_that_are_not_the_stacks_exit_2(tmp_path: Path, stack_outputs: dict[str, Any], message: str) -> None:
    done = run(tmp_path, clean_tenant(), stack_outputs=stack_outputs)
    assert done.code == model.EXIT_USAGE
    assert message in done.err
    assert "s3cr3t" not in done.err


def test_a_refused_read_is_never_clean(tmp_path: Path) -> None:
    graph = FakeGraph(clean_tenant(), refuse=(r"/servicePrincipals/[0-9a-f-]+/oauth2PermissionGrants",))
    done = run(tmp_path, clean_tenant(), graph=graph)
    assert done.code == model.EXIT_INCOMPLETE == 4, done.out + done.err
    assert ("delegated permission grants: not checked (needs Directory.Read.All; Graph answered 403 "
            "Authorization_RequestDenied)") in done.out
    assert done.out.rstrip().endswith("nothing is called clean until the auditor may make them.")
    assert "Clean" not in done.out


def test_usage_and_a_refused_first_read_exit_2(tmp_path: Path) -> None:
    assert audit.main([], out=io.StringIO(), err=io.StringIO()) == model.EXIT_USAGE
    graph = FakeGraph(clean_tenant(), refuse=(r"/servicePrincipals",))  # Microsoft Graph's own principal
    done = run(tmp_path, clean_tenant(), graph=graph)
    assert done.code == model.EXIT_USAGE
    assert "refused GET /servicePrincipals" in done.err
    assert "Application.Read.All, Directory.Read.All, RoleEligibilitySchedule.Read.Directory" in done.err


def test_trusted_principals_are_checked_as_the_program_checks_them(tmp_path: Path) -> None:
    bad = "config:\n  inbound-provisioning-access:trustedPrincipals: [ops@contoso.com]\n"
    done = run(tmp_path, clean_tenant(), stack_file=bad)
    assert done.code == model.EXIT_USAGE
    assert '  - trustedPrincipals[0]: got "ops@contoso.com"; an object id (a GUID)' in done.err


def test_the_outputs_are_never_changed_by_a_run(tmp_path: Path) -> None:
    before = outputs()
    run(tmp_path, clean_tenant(), stack_outputs=copy.deepcopy(before))
    assert json.loads((tmp_path / "dev.outputs.json").read_text()) == before


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
def test_a_next_link_that_loops_or_leaves_graph_stops_with_exit_2(tmp_path: Path, next_link: str) -> None:
    graph = _LoopingGraph(clean_tenant(), next_link)
    done = run(tmp_path, clean_tenant(), graph=graph)
    assert done.code == model.EXIT_USAGE
    assert "@odata.nextLink" in done.err
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
def test_graph_unreachable_or_garbled_is_exit_2_not_findings(tmp_path: Path, failure: str) -> None:
    done = run(tmp_path, clean_tenant(), graph=_UnreachableGraph(clean_tenant(), failure))
    assert done.code == model.EXIT_USAGE, done.err
    assert done.err.startswith("error: ")
    assert "/owners" in done.err


def test_a_name_with_backticks_cannot_close_the_summarys_code_block(tmp_path: Path) -> None:
    tenant = clean_tenant()
    tenant.applications[0]["passwordCredentials"].append(
        secret("x```\n## All clear [details](https://phish.example)", "portal-secret"))
    done = run(tmp_path, tenant, summary=True)
    assert done.code == model.EXIT_FINDINGS
    text_block = done.summary.split("\n\n", 2)[2]  # after the heading and the diagram
    fence = text_block.splitlines()[0].removesuffix("text")
    assert set(fence) == {"`"}
    assert text_block.endswith(f"\n{fence}\n")
    assert text_block.count(fence) == 2, "the fence is longer than any run of backticks inside"


def test_a_name_with_line_breaks_cannot_forge_lines_of_the_report(tmp_path: Path) -> None:
    tenant = clean_tenant()
    forged = "helper\n\nClean: everything checked is what the stack declared.\r"
    tenant.users.append(dict(user("helper"), userPrincipalName=None, displayName=forged))
    tenant.owners[HR["id"]] = [dict(as_owner(tenant.users[0]), displayName=forged)]
    done = run(tmp_path, tenant)
    assert done.code == model.EXIT_FINDINGS
    assert "\nClean:" not in done.out
    assert "\r" not in done.out
    assert "helper\\n\\nClean: everything" in done.out


def test_without_the_pulumi_cli_it_says_which_file_to_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outputs are what is missing, not the stack file: one line naming --outputs FILE."""
    monkeypatch.setenv("PATH", str(tmp_path))
    err = io.StringIO()
    code = audit.main(["--stack", "dev", "--config-file", str(tmp_path / "Pulumi.dev.yaml")], out=io.StringIO(),
                      err=err)
    assert code == model.EXIT_USAGE
    assert err.getvalue() == ("error: cannot read the stack's outputs: the Pulumi CLI is not on PATH; give them with "
                              "--outputs FILE (`pulumi stack output --stack <stack> --json`, no secrets needed)\n")


def test_an_unreadable_stack_file_is_named_alone(tmp_path: Path) -> None:
    done = run(tmp_path, clean_tenant(), stack_file="config: [\n")
    assert done.code == model.EXIT_USAGE
    assert done.err.startswith("error: cannot read Pulumi.dev.yaml: ")
    assert "outputs" not in done.err


def test_a_secret_a_killed_run_left_is_reported_as_an_orphan_by_key_id(tmp_path: Path) -> None:
    tenant = clean_tenant()
    _add_secret(tenant)
    state = tmp_path / "state.json"
    urn = ("urn:pulumi:dev::inbound-provisioning-access::inbound-provisioning-access:index:InboundProvisioningAccess"
           "$inbound-provisioning-access:index:ServicePrincipalClient$azuread:index/applicationPassword:"
           "ApplicationPassword::hr-middleware-secret-20270220")
    state.write_text(json.dumps({"deployment": {"pending_operations": [
        {"resource": {"urn": urn, "type": "azuread:index/applicationPassword:ApplicationPassword"},
         "type": "creating"}]}}))
    done = run(tmp_path, tenant, "--json", "--state", str(state))
    assert done.code == model.EXIT_FINDINGS
    (finding,) = [f for f in done.findings if f["scope"] == "client hr-middleware"]
    assert (finding["kind"], finding["objectId"]) == ("orphan", gid("portal-secret"))
    assert "the interrupted create of hr-middleware-secret-20270220 may have made it" in finding["name"]
    assert "what to do: orphan: an interrupted `pulumi up` created it" in run(tmp_path, tenant, "--state",
                                                                             str(state)).out
