"""A review of make audit against Graph's answers it did not expect: none may read as clean, none may hide a path.

Each test plants one answer Graph may give (a page without ``value``, Graph's app roles left out, a
role's principal not expanded, a scope in another case, a client eligible for a role, a key id that is
a trusted principal's) and checks the audit neither exits clean nor misses or trusts the path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.audit.tenant import GRAPH, HR, HR_APP, application, as_owner, certificate, clean_tenant, gid, principal, run
from tests.audit.test_who_can_upload import DEPLOYER, STACK_FILE, role, with_trusted
from tests.fake_graph import FakeGraph, FakeResponse, Tenant
from tools.audit import model


class _Rewriting(FakeGraph):
    """Graph answering ``rewrite(page)`` instead of its page for requests whose URL holds ``where``."""

    def __init__(self, tenant: Tenant, where: str, rewrite: Any) -> None:
        super().__init__(tenant)
        self.where, self.rewrite = where, rewrite

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        if self.where not in request.url or response.status_code != 200:
            return response
        return FakeResponse(request, 200, self.rewrite(json.loads(response.body())))


@pytest.mark.parametrize("page", [
    {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#appRoleAssignments"},
    {"value": None},
    {"value": {"id": "x"}},
    {"value": ["not an object"]},
])
def test_a_page_without_a_list_of_objects_is_never_an_empty_collection(tmp_path: Path, page: dict[str, Any]) -> None:
    graph = _Rewriting(clean_tenant(), "appRoleAssignedTo", lambda _page: page)
    done = run(tmp_path, graph.tenant, graph=graph)
    assert done.code == model.EXIT_USAGE, done.out
    assert "appRoleAssignedTo" in done.err
    assert "`value` is not a list of objects" in done.err


def _graph_without(tenant: Tenant, roles: list[dict[str, Any]] | None) -> Tenant:
    graph = copy.deepcopy(GRAPH)
    if roles is None:
        del graph["appRoles"]
    else:
        graph["appRoles"] = roles
    tenant.service_principals = [graph if sp["id"] == GRAPH["id"] else sp for sp in tenant.service_principals]
    return tenant


@pytest.mark.parametrize("roles", [None, []])
def test_graphs_app_roles_left_out_stop_the_run_instead_of_hiding_every_holder(tmp_path: Path,
                                                                              roles: list[Any] | None) -> None:
    tenant = _graph_without(clean_tenant(), roles)
    rogue = principal("rogue")
    tenant.service_principals.append(rogue)
    tenant.assignments[rogue["id"]] = [dict(a, principalId=rogue["id"], principalDisplayName="rogue", id=gid("r"))
                                       for a in tenant.assignments[HR["id"]]]
    done = run(tmp_path, tenant)
    assert done.code == model.EXIT_USAGE, done.out
    assert "app roles" in done.err


def _tier0(tenant: Tenant) -> Tenant:
    mallory = {"id": gid("mallory"), "displayName": "Mallory", "userPrincipalName": "mallory@contoso.example"}
    tier0 = {"id": gid("tier0"), "displayName": "Tier0 admins"}
    tenant.users.append(mallory)
    tenant.groups.append(tier0)
    tenant.members[tier0["id"]] = [mallory["id"]]
    tenant.directory_roles[tier0["id"]] = [role("Global Administrator", tier0)]
    return tenant


def _unexpanded(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "value": [{k: v for k, v in a.items() if k != "principal"} for a in page["value"]]}


def test_a_role_holder_graph_did_not_expand_is_looked_up_so_a_groups_members_are_not_missed(tmp_path: Path) -> None:
    graph = _Rewriting(_tier0(clean_tenant()), "/roleManagement/directory/roleAssignments", _unexpanded)
    done = run(tmp_path, graph.tenant, "--json", graph=graph)
    rows = {(r["principal"], r["type"], r["via"]) for r in done.report["whoCanUpload"]}
    assert ("Tier0 admins", "group", "Global Administrator") in rows
    assert ("mallory@contoso.example", "user", "member of") in rows


def test_a_role_holder_of_a_type_nobody_could_read_is_not_checked(tmp_path: Path) -> None:
    graph = _Rewriting(_tier0(clean_tenant()), "/roleManagement/directory/roleAssignments", _unexpanded)
    graph.refuse = (r"/directoryObjects/.*",)
    done = run(tmp_path, graph.tenant, graph=graph)
    assert done.code == model.EXIT_FINDINGS  # the holder itself is a path
    assert f"what directory object {gid('tier0')} is (a group's members hold its roles): not checked" in done.out


def test_a_delegated_upload_scope_in_another_case_is_still_the_upload(tmp_path: Path) -> None:
    tenant = clean_tenant()
    portal = principal("HR portal")
    tenant.service_principals.append(portal)
    tenant.delegated[portal["id"]] = [{
        "id": "grant-lower", "clientId": portal["id"], "consentType": "AllPrincipals", "principalId": None,
        "resourceId": GRAPH["id"], "scope": " user.read  synchronizationdata-user.upload "}]
    done = run(tmp_path, tenant, "--json")
    assert done.code == model.EXIT_FINDINGS
    assert portal["id"] in {r["principalId"] for r in done.report["whoCanUpload"] if r["status"] == model.FINDING}


def test_a_client_eligible_for_a_directory_role_is_a_finding(tmp_path: Path) -> None:
    """The client's section reads its active roles only: its eligibility is a path, not skipped as its section's."""
    tenant = clean_tenant()
    tenant.eligible[HR["id"]] = [role("Global Administrator", HR)]
    done = run(tmp_path, tenant, "--json")
    assert done.code == model.EXIT_FINDINGS, done.out
    assert any(f["principalId"] == HR["id"] and "eligible" in f["name"] for f in done.findings)


def test_a_key_id_chosen_to_be_a_trusted_principals_id_is_not_trusted(tmp_path: Path) -> None:
    """Whoever adds a certificate chooses its key id: a credential path is never matched against trustedPrincipals."""
    tenant = with_trusted(clean_tenant())
    automation = principal("HR automation")
    tenant.service_principals.append(automation)
    planted = dict(certificate("ci", "ci-cert"), keyId=DEPLOYER["id"])
    tenant.applications.append(application(automation, planted))
    tenant.owners[HR_APP["id"]] = [as_owner(automation)]
    done = run(tmp_path, tenant, "--json", stack_file=STACK_FILE)
    (row,) = [r for r in done.report["whoCanUpload"] if r["type"] == "credential"]
    assert row["status"] == model.FINDING


def _tier0_with(tenant: Tenant, members: list[dict[str, Any]]) -> Tenant:
    tenant = _tier0(tenant)
    tenant.service_principals += members
    tenant.members[gid("tier0")] += [m["id"] for m in members]
    return tenant


def test_a_service_principal_member_of_a_role_group_is_found_though_v1_lists_none(tmp_path: Path) -> None:
    """Graph v1.0's members list leaves service principals out; trusting the group must not hide one."""
    automation = principal("tier0 automation")
    trusting = f"config:\n  inbound-provisioning-access:trustedPrincipals:\n    - {gid('tier0')}\n"
    done = run(tmp_path, _tier0_with(clean_tenant(), [automation]), "--json", stack_file=trusting)
    rows = {r["principalId"]: r for r in done.report["whoCanUpload"]}
    assert rows[gid("tier0")]["status"] == model.TRUSTED
    assert rows[automation["id"]]["status"] == model.FINDING
    assert rows[automation["id"]]["via"] == "member of"
    assert rows[gid("mallory")]["status"] == model.FINDING


def test_a_role_group_with_more_members_than_graph_expands_is_not_called_complete(tmp_path: Path) -> None:
    crowd = [principal(f"member {number:02d}") for number in range(20)]
    trusting = f"config:\n  inbound-provisioning-access:trustedPrincipals:\n    - {gid('tier0')}\n"
    done = run(tmp_path, _tier0_with(clean_tenant(), crowd), stack_file=trusting)
    assert "service principal members of group Tier0 admins past the first 20: not checked" in done.out
