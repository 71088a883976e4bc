"""Who can upload: a tenant holding every path to the upload, each planted once; the audit reports each.

The planted tenant is built once per module and audited once per scenario (planted, clean, PIM not
readable); the tests read the one run's JSON, text, job summary and diagram.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from components.microsoft import DIRECTORY_ROLES
from tests.audit.tenant import (
    GRAPH,
    HR,
    HR_APP,
    LOGIC,
    OWNER_CLIENT,
    PROVISIONING,
    PROVISIONING_APP,
    SECRET_HINT,
    Run,
    application,
    as_owner,
    clean_tenant,
    gid,
    holds,
    principal,
    run,
    secret,
    user,
)
from tests.fake_graph import TOKEN, FakeGraph, Tenant
from tools.audit import model

ROLE = {name: role_id for role_id, name in DIRECTORY_ROLES.items()}
DEPLOYER = principal("inbound-provisioning-access deploy")
BREAK_GLASS = user("breakglass")
STACK_FILE = f"""\
config:
  inbound-provisioning-access:provisioningApp:
    servicePrincipalId: {PROVISIONING['id']}
    jobId: API2AAD.0123456789abcdef0123456789abcdef.{gid('tenant')}
  inbound-provisioning-access:trustedPrincipals:
    - {DEPLOYER['id'].upper()}
    - {BREAK_GLASS['id']}
"""
HOSTILE = 'x"]\nclick n1 call alert(1)\n%%{init: {}}%% <img src=x onerror=alert(1)> `md` [link](https://e.example) #'


def role(name: str, who: dict[str, Any], scope: str = "/", number: int = 1) -> dict[str, Any]:
    return {"id": gid(f"{name}-{who['id']}-{number}"), "principalId": who["id"], "directoryScopeId": scope,
            "roleDefinitionId": ROLE[name]}


def with_trusted(tenant: Tenant) -> Tenant:
    """The principals the stack trusts, holding what they must: the deploy identity and a break-glass admin."""
    tenant.service_principals.append(DEPLOYER)
    tenant.assignments[DEPLOYER["id"]] = holds(DEPLOYER, "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")
    tenant.users.append(BREAK_GLASS)
    tenant.directory_roles[BREAK_GLASS["id"]] = [role("Global Administrator", BREAK_GLASS)]
    return tenant


# principal name -> (how direct, via, what it reaches): every path planted, each once.
PLANTED = {
    "rogue HR sync": (model.HOLDS, "SynchronizationData-User.Upload", model.UPLOAD),
    "payroll connector": (model.HOLDS, "SynchronizationData-User.Upload.OwnedBy", model.UPLOAD),
    "log reader": (model.HOLDS, "ProvisioningLog.Read.All", model.UPLOAD),
    "HR portal": (model.HOLDS, "SynchronizationData-User.Upload (delegated)", model.UPLOAD),
    "survey tool": (model.HOLDS, "SynchronizationData-User.Upload (delegated)", model.UPLOAD),
    "role granter": (model.ONE_STEP, "AppRoleAssignment.ReadWrite.All", model.TENANT),
    "app writer": (model.ONE_STEP, "Application.ReadWrite.All", model.TENANT),
    "role manager": (model.ONE_STEP, "RoleManagement.ReadWrite.Directory", model.TENANT),
    "directory writer": (model.ONE_STEP, "Directory.ReadWrite.All", model.TENANT),
    "sync writer": (model.ONE_STEP, "Synchronization.ReadWrite.All", model.TENANT),
    "uma@contoso.example": (model.ONE_STEP, "User Administrator", model.UPLOAD),
    "Tier0 admins": (model.ONE_STEP, "Global Administrator", model.TENANT),
    "mallory@contoso.example": (model.ONE_STEP, "member of", gid("tier0")),
    "oscar@contoso.example": (model.TWO_STEPS, "owner of", gid("tier0")),
    "eve@contoso.example": (model.TWO_STEPS, "Privileged Role Administrator (eligible)", model.TENANT),
    "ada@contoso.example": (model.ONE_STEP, "Application Administrator", "client:hr-middleware"),
    "carl@contoso.example": (model.ONE_STEP, "Cloud Application Administrator", "client:owned-by"),
    "hank@contoso.example": (model.ONE_STEP, "Hybrid Identity Administrator", model.TENANT),
    "bob@contoso.example": (model.ONE_STEP, "owner", "client:hr-middleware"),
    "carol@contoso.example": (model.ONE_STEP, "owner", model.PROVISIONING_APP),
    "HR automation": (model.ONE_STEP, "owner", "client:hr-middleware"),
    "HR automation/Application.ReadWrite.OwnedBy": (model.ONE_STEP, "Application.ReadWrite.OwnedBy",
                                                   "client:hr-middleware"),
    "secret 'ci'": (model.ONE_STEP, "signs in as", principal("HR automation")["id"]),
    "dave@contoso.example": (model.TWO_STEPS, "owner", principal("HR automation")["id"]),
}


def planted() -> Tenant:
    tenant = with_trusted(clean_tenant())
    sps = {name: principal(name) for name in (
        "rogue HR sync", "payroll connector", "log reader", "HR portal", "survey tool", "role granter", "app writer",
        "role manager", "directory writer", "sync writer", "HR automation", "bystander")}
    sps["HR automation"]["displayName"] = "HR automation"
    tenant.service_principals += sps.values()
    for name, permission in (("rogue HR sync", "SynchronizationData-User.Upload"),
                             ("payroll connector", "SynchronizationData-User.Upload.OwnedBy"),
                             ("log reader", "ProvisioningLog.Read.All"),
                             ("role granter", "AppRoleAssignment.ReadWrite.All"),
                             ("app writer", "Application.ReadWrite.All"),
                             ("role manager", "RoleManagement.ReadWrite.Directory"),
                             ("directory writer", "Directory.ReadWrite.All"),
                             ("sync writer", "Synchronization.ReadWrite.All"),
                             ("HR automation", "Application.ReadWrite.OwnedBy"),
                             ("bystander", "User.Read.All")):  # not a path: not this audit's business
        tenant.assignments[sps[name]["id"]] = holds(sps[name], permission)
    payroll_app = application(principal("payroll API-driven app"))
    tenant.applications.append(payroll_app)
    tenant.owners[payroll_app["id"]] = [as_owner(sps["payroll connector"])]
    tenant.delegated[sps["HR portal"]["id"]] = [{
        "id": "grant-all", "clientId": sps["HR portal"]["id"], "consentType": "AllPrincipals", "principalId": None,
        "resourceId": GRAPH["id"], "scope": "User.Read SynchronizationData-User.Upload"}]
    tenant.delegated[sps["survey tool"]["id"]] = [{
        "id": "grant-one", "clientId": sps["survey tool"]["id"], "consentType": "Principal",
        "principalId": gid("uma"), "resourceId": GRAPH["id"], "scope": "SynchronizationData-User.Upload"}]
    people = {name: user(name) for name in ("uma", "mallory", "oscar", "eve", "ada", "carl", "hank", "bob", "carol",
                                            "dave")}
    tenant.users += people.values()
    tier0 = {"id": gid("tier0"), "displayName": "Tier0 admins"}
    tenant.groups.append(tier0)
    tenant.members[tier0["id"]] = [people["mallory"]["id"]]
    tenant.owners[tier0["id"]] = [as_owner(people["oscar"])]
    tenant.directory_roles.update({
        people["uma"]["id"]: [role("User Administrator", people["uma"])],
        tier0["id"]: [role("Global Administrator", tier0)],
        people["ada"]["id"]: [role("Application Administrator", people["ada"], f"/{HR_APP['id']}")],
        people["carl"]["id"]: [role("Cloud Application Administrator", people["carl"], f"/{OWNER_CLIENT['id']}")],
        people["hank"]["id"]: [role("Hybrid Identity Administrator", people["hank"])],
        # Scoped to an object that is not this stack's: no path to its upload.
        people["dave"]["id"]: [role("Application Administrator", people["dave"], f"/{gid('someone-elses-app')}")],
    })
    tenant.eligible[people["eve"]["id"]] = [role("Privileged Role Administrator", people["eve"])]
    tenant.owners[HR["id"]] = [as_owner(people["bob"])]
    tenant.owners[PROVISIONING_APP["id"]].append(as_owner(people["carol"]))
    # An owner that is a service principal, followed one step further: its credential and its owner.
    automation_app = application(sps["HR automation"], secret("ci", "automation-secret"))
    tenant.applications.append(automation_app)
    tenant.owners[HR_APP["id"]] = [as_owner(sps["HR automation"])]
    tenant.owners[sps["HR automation"]["id"]] = [as_owner(people["dave"])]
    return tenant


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run(tmp_path_factory.mktemp("planted"), planted(), "--json", stack_file=STACK_FILE, summary=True)


def path_key(row: dict[str, Any]) -> str:
    if row["via"] == "Application.ReadWrite.OwnedBy":
        return f"{row['principal']}/Application.ReadWrite.OwnedBy"
    return str(row["principal"])


def test_every_planted_path_is_reported_once_as_a_finding_ranked_by_how_direct(planted_run: Run) -> None:
    assert planted_run.code == model.EXIT_FINDINGS, planted_run.err
    rows = planted_run.report["whoCanUpload"]
    found = {path_key(r): (r["howDirect"], r["via"], r["target"]) for r in rows if r["status"] == model.FINDING}
    assert found == PLANTED
    assert len([r for r in rows if r["status"] == model.FINDING]) == len(PLANTED), "each once"
    ranks = [model.DIRECTNESS.index(r["howDirect"]) for r in rows]
    assert ranks == sorted(ranks), "most direct first"
    findings = [f for f in planted_run.findings if f["scope"] == "whoCanUpload"]
    assert len(findings) == len(PLANTED) == planted_run.report["findings"], "nothing else is found"
    for finding in findings:
        assert finding["kind"] == "path"
        assert finding["tenantId"] == gid("tenant")
        assert finding["generatedAt"] == "2026-11-27T09:30:00Z"
        assert finding["severity"] in {"high", "medium"}
        assert finding["path"].startswith("whoCanUpload > ")
        assert finding["principalId"]


def test_trusted_principals_and_the_stacks_own_are_listed_as_expected(planted_run: Run) -> None:
    expected = {(r["principal"], r["via"], r["status"]) for r in planted_run.report["whoCanUpload"]
                if r["status"] != model.FINDING}
    assert expected == {
        ("inbound-provisioning-access deploy", "Application.ReadWrite.All", model.TRUSTED),
        ("inbound-provisioning-access deploy", "AppRoleAssignment.ReadWrite.All", model.TRUSTED),
        ("breakglass@contoso.example", "Global Administrator", model.TRUSTED),
        ("HR middleware", "SynchronizationData-User.Upload", model.DECLARED),
        ("CSV2SCIMBulkUpload", "SynchronizationData-User.Upload", model.DECLARED),
        ("CSV2SCIMBulkUpload", "ProvisioningLog.Read.All", model.DECLARED),
        ("HR owned-by client", "SynchronizationData-User.Upload.OwnedBy", model.DECLARED),
        ("HR owned-by client", "owner", model.DECLARED),
    }
    found = {f["principalId"] for f in planted_run.findings}
    assert not found & {DEPLOYER["id"], BREAK_GLASS["id"]}, "never a finding"


def test_paths_say_what_they_reach_and_how(planted_run: Run) -> None:
    by_name = {path_key(r): r for r in planted_run.report["whoCanUpload"]}
    assert by_name["payroll connector"]["path"].endswith("it owns payroll API-driven app")
    assert "it uploads as any User Administrator who signs in" in by_name["HR portal"]["path"]
    assert f"it uploads as user {gid('uma')}, when that user holds User Administrator" in by_name["survey tool"]["path"]
    assert by_name["mallory@contoso.example"]["path"] == ("member of group Tier0 admins, which holds Global "
                                                          "Administrator tenant-wide")
    assert by_name["oscar@contoso.example"]["path"].endswith("can add itself as a member")
    assert by_name["eve@contoso.example"]["path"].startswith("eligible (PIM): can activate Privileged Role")
    assert by_name["ada@contoso.example"]["path"] == (
        f"holds Application Administrator at scope /{HR_APP['id']} (app registration of client hr-middleware): "
        "can add a credential to it and act as the client")
    assert by_name["secret 'ci'"]["type"] == "credential"
    assert by_name["dave@contoso.example"]["reaches"] == "HR automation"
    assert by_name["carol@contoso.example"]["reaches"] == "the provisioning app and its job"


def test_the_text_report_and_the_summary_carry_the_same_table(planted_run: Run) -> None:
    text = planted_run.summary
    assert "## who can upload: every principal with a path to the upload, most direct first" in text
    assert "how direct        principal" in text
    assert "holds the upload  rogue HR sync" in text
    assert f"{len(PLANTED)} finding(s)." in text
    assert "what to do: path: someone the stack did not declare can upload" in text


# -- the diagram (issue 33) ------------------------------------------------------------------------

NODE = re.compile(r'^\s+(n\d+)(?:\["(.*)"\]|\(\["(.*)"\]\))$')
EDGE = re.compile(r'^\s+(n\d+) -->\|"(.*)"\| (n\d+)$')
SUBGRAPH = re.compile(r'^\s+subgraph (g\d+)\["(.*)"\]$')


def text(label: str) -> str:
    """A label as GitHub draws it: Mermaid's entity codes (``#58;``) as the characters they stand for."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label)


def diagram(summary: str) -> list[str]:
    block = summary.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    return block.splitlines()


def parse(lines: list[str]) -> tuple[dict[str, tuple[str, str]], set[tuple[str, str, str]]]:
    """Nodes (id -> (label, subgraph title)) and edges (source label, edge label, target label)."""
    nodes: dict[str, tuple[str, str]] = {}
    group = ""
    edges: set[tuple[str, str, str]] = set()
    for line in lines[1:]:
        if SUBGRAPH.match(line):
            group = text(SUBGRAPH.match(line).group(2))  # type: ignore[union-attr]
        elif line.strip() == "end":
            group = ""
        elif NODE.match(line):
            match = NODE.match(line)
            assert match is not None
            nodes[match.group(1)] = (text(match.group(2) or match.group(3)), group)
        elif EDGE.match(line):
            source, via, target = EDGE.match(line).groups()  # type: ignore[union-attr]
            edges.add((nodes[source][0], text(via), nodes[target][0]))
        else:
            assert re.fullmatch(r'  (classDef finding stroke:#d1242f,stroke-width:3px|class (n\d+,)*n\d+ finding'
                                r'|  g\dmore\["\d+ more in this group#58; see the table"\])', line), line
    return nodes, edges


def test_the_diagram_draws_every_path_grouped_by_how_direct_with_trusted_ones_apart(planted_run: Run) -> None:
    lines = diagram(planted_run.summary)
    assert lines[0] == "flowchart LR"
    nodes, edges = parse(lines)
    groups = dict(nodes.values())
    assert groups["FINDING: rogue HR sync (servicePrincipal)"] == "holds the upload"
    assert groups["FINDING: oscar@contoso.example (user)"] == "two steps from the upload"
    assert groups["FINDING: Tier0 admins (group)"] == "one step from the upload"
    assert groups["breakglass@contoso.example (user)"] == "trusted (trustedPrincipals): expected"
    assert groups["HR middleware (servicePrincipal)"] == "the stack's own clients: declared"
    assert groups["the upload (bulkUpload)"] == "what the paths reach"
    assert ("FINDING: mallory@contoso.example (user)", "member of", "FINDING: Tier0 admins (group)") in edges
    assert ("FINDING: Tier0 admins (group)", "Global Administrator", "every app, grant and job (tenant-wide)") in edges
    assert ("FINDING: dave@contoso.example (user)", "owner", "FINDING: HR automation (servicePrincipal)") in edges
    assert ("FINDING: carl@contoso.example (user)", "Cloud Application Administrator", "client owned-by") in edges
    assert ("HR owned-by client (servicePrincipal)", "owner", "the provisioning app and its job") in edges
    flagged = next(line for line in lines if line.startswith("  class "))
    finding_nodes = {node for node, (label, _) in nodes.items() if label.startswith("FINDING: ")}
    assert set(flagged.split()[1].split(",")) == finding_nodes
    assert len(edges) == len({(r["principalId"], r["via"], r["target"]) for r in planted_run.report["whoCanUpload"]})


def test_a_diagram_never_carries_a_secret_value_a_hint_or_a_token(planted_run: Run) -> None:
    block = "\n".join(diagram(planted_run.summary))
    for never in (SECRET_HINT, TOKEN, "secretText", "clientSecret"):
        assert never not in block


def test_a_hostile_display_name_stays_text_in_the_diagram(tmp_path: Path) -> None:
    tenant = clean_tenant()
    evil = principal("evil")
    evil["displayName"] = HOSTILE
    tenant.service_principals.append(evil)
    tenant.assignments[evil["id"]] = holds(evil, "SynchronizationData-User.Upload")
    for entry in tenant.assignments[evil["id"]]:
        entry["principalDisplayName"] = HOSTILE
    done = run(tmp_path, tenant, summary=True)
    assert done.code == model.EXIT_FINDINGS
    lines = diagram(done.summary)
    _nodes, _ = parse(lines)  # every line is a node, an edge, a subgraph or our own class lines
    (label,) = [line for line in lines if "FINDING#58; x" in line]
    inside = label.split('["', 1)[1].rsplit('"]', 1)[0]
    assert not set(inside) & set('"[]<>`\n{}%|:()'), "every character that could end or escape the label is coded"
    assert text(inside).startswith('FINDING: x"] click n1 call alert(1) %%{init'), "drawn as the name, on one line"
    assert not any(line.lstrip().startswith(("click", "%%", "style", "linkStyle")) for line in lines)
    assert "https://e.example" not in "\n".join(lines).replace("#58;", ":")


def test_past_the_bound_a_group_folds_into_one_node_that_says_how_many(tmp_path: Path) -> None:
    tenant = clean_tenant()
    for number in range(25):
        crowd = principal(f"uploader {number:02d}")
        tenant.service_principals.append(crowd)
        tenant.assignments[crowd["id"]] = holds(crowd, "SynchronizationData-User.Upload")
    done = run(tmp_path, tenant, summary=True)
    lines = diagram(done.summary)
    assert sum("FINDING#58; uploader" in line for line in lines) == 20
    assert '    g1more["5 more in this group#58; see the table"]' in lines


def test_a_clean_tenant_holding_only_the_declared_and_the_trusted_exits_clean(tmp_path: Path) -> None:
    done = run(tmp_path, with_trusted(clean_tenant()), "--json", stack_file=STACK_FILE)
    assert done.code == model.EXIT_CLEAN, done.out
    assert {r["status"] for r in done.report["whoCanUpload"]} == {model.TRUSTED, model.DECLARED}


def test_pim_not_readable_says_what_it_needs_and_is_never_clean(tmp_path: Path) -> None:
    graph = FakeGraph(with_trusted(clean_tenant()), refuse=(r"/roleManagement/directory/roleEligibilitySchedules",))
    done = run(tmp_path, graph.tenant, graph=graph, stack_file=STACK_FILE)
    assert done.code == model.EXIT_INCOMPLETE, done.out
    assert ("PIM-eligible assignments of the 6 directory roles: not checked (needs "
            "RoleEligibilitySchedule.Read.Directory; Graph answered 403 Authorization_RequestDenied)") in done.out
    assert done.out.count("not checked (needs RoleEligibilitySchedule.Read.Directory") == 1


def test_a_managed_identity_client_is_a_client_not_a_stranger(tmp_path: Path) -> None:
    """The Logic App's identity holds the upload because the stack granted it: declared, not a finding."""
    done = run(tmp_path, clean_tenant(), "--json")
    rows = [r for r in done.report["whoCanUpload"] if r["principalId"] == LOGIC["id"]]
    assert {r["status"] for r in rows} == {model.DECLARED}
    assert HR["id"] in {r["principalId"] for r in done.report["whoCanUpload"]}


def docs_example() -> Tenant:
    """docs/audit.md's example: the trusted deploy identity and break-glass admin, and three paths to remove."""
    tenant = with_trusted(clean_tenant())
    rogue = principal("rogue HR sync")
    tenant.service_principals.append(rogue)
    tenant.assignments[rogue["id"]] = holds(rogue, "SynchronizationData-User.Upload")
    mallory, oscar, bob = user("mallory"), user("oscar"), user("bob")
    tenant.users += [mallory, oscar, bob]
    tier0 = {"id": gid("tier0"), "displayName": "Tier0 admins"}
    tenant.groups.append(tier0)
    tenant.members[tier0["id"]] = [mallory["id"]]
    tenant.owners[tier0["id"]] = [as_owner(oscar)]
    tenant.directory_roles[tier0["id"]] = [role("Global Administrator", tier0)]
    tenant.owners[HR["id"]] = [as_owner(bob)]
    return tenant


def test_the_docs_show_the_diagram_the_code_draws(tmp_path: Path) -> None:
    done = run(tmp_path, docs_example(), stack_file=STACK_FILE, summary=True)
    drawn = "\n".join(["```mermaid", *diagram(done.summary), "```"])
    docs = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    shown = docs.split("<!-- drawn by tests/audit/test_who_can_upload.py: docs_example() -->\n", 1)[1]
    assert shown.startswith(drawn + "\n"), f"docs/audit.md's example diagram is now:\n{drawn}"
