"""make audit: what in the tenant gives the stack's clients access, or anyone else HR upload access, undeclared.

Pulumi sees only the resources it manages. A secret added to a client's app registration in the
portal, an owner added to it, a role granted to its principal by hand, or another app granted
``SynchronizationData-User.Upload`` is invisible to ``pulumi preview`` and to the weekly run.
This reads them from Microsoft Graph, read-only, and reports every one the stack did not declare.
What the stack declared comes from its non-secret outputs and is classified by id only
(``tools/tenant/ownership.py``, shared with ``make adopt`` and ``make verify --deployer``).

Per client: credentials on the app registration and on its service principal (secrets,
certificates, federated credentials) whose key id the stack did not register; owners of either;
app role assignments to its principal beyond its graphPermissions (any API); delegated permission
grants; directory role assignments. For a provisioning app the stack created
(``provisioningApp.create``): owners beyond the clients granted the OwnedBy permission, and any
credential. Tenant-wide: every principal that holds an upload or provisioning-log permission on
Microsoft Graph and is not a client of this stack.

Exit status:
  0  clean: everything checked is what the stack declared
  1  findings (listed); also a stack whose outputs do not list its key ids yet
  2  usage, outputs or stack file unreadable, sign-in or permission problem, Graph unavailable
  3  nothing checked: the stack's outputs list no clients and no provisioning app
Nothing secret is read or printed: Graph returns credentials' metadata only; no hint, no token.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from azure.core.credentials import TokenCredential

from components.microsoft import UPLOAD_OWNED_BY
from tools.audit.orphans import mark_orphans
from tools.audit.report import render_json, render_text
from tools.stack.outputs import StackOutputError, pulumi_stack_export, pulumi_stack_output
from tools.stack.pending import PendingCreate, pending_creates
from tools.stack.stack_file import StackFileError, read_stack_file
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphAccessError, GraphReader, ObjectGoneError, Transport, deployer_credential
from tools.tenant.ownership import FOREIGN, UNKNOWN, StackClient, StackRecord
from tools.tenant.sign_in import show_sign_in_detail

ROOT = Path(__file__).resolve().parents[2]
EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_NOTHING_CHECKED = 0, 1, 2, 3
UPLOAD = "SynchronizationData-User.Upload"
LOG_READ = "ProvisioningLog.Read.All"
HR_PERMISSIONS = (UPLOAD, UPLOAD_OWNED_BY, LOG_READ)
# The least Microsoft Graph application permissions for every read here (docs/audit.md, per endpoint).
AUDIT_PERMISSIONS = ("Application.Read.All", "Directory.Read.All")
PERMISSION_HINT = (f"make audit needs Microsoft Graph {' and '.join(AUDIT_PERMISSIONS)} (a pipeline's service "
                   "principal: those application permissions, admin-consented; a person: a directory role "
                   "that can read them, such as Global Reader)")


@dataclass
class Finding:
    """One thing in the tenant the stack did not declare (ids, names and dates only)."""

    kind: str
    where: str
    name: str
    object_id: str
    permission: str | None = None
    """For an app role on Microsoft Graph: the permission (``make adopt`` proposes adopting it)."""


@dataclass
class Section:
    """What was checked for one client (or the provisioning app, or the tenant) and what was found."""

    scope: str
    """``client <key>``, ``provisioningApp`` or ``tenant``."""
    title: str
    checked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Audit:
    stack: str
    sections: list[Section]

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "findings": len(self.findings), "sections": [asdict(s) for s in self.sections]}


class _Reads:
    """Graph reads for one section: an object gone between two reads becomes a finding, not a crash."""

    def __init__(self, reader: GraphReader, section: Section) -> None:
        self.reader, self.section = reader, section

    def __call__(self, what: str, read: Callable[[], Any], where: str, object_id: str) -> Any:
        try:
            result = read()
        except ObjectGoneError:
            self.section.findings.append(Finding("gone", where, f"{what}: deleted since it was listed", object_id))
            return None
        self.section.checked.append(what)
        return result


def _credentials(section: Section, client: StackClient | None, holder: Mapping[str, Any], where: str) -> None:
    """Secrets and certificates on ``holder`` that are not ``client``'s (None: the stack registered none there)."""
    for kind, field_name in (("secret", "passwordCredentials"), ("certificate", "keyCredentials")):
        for credential in holder.get(field_name) or []:
            verdict = ownership.credential(client, credential.get("keyId"))
            if verdict == ownership.OWN:
                continue
            # Never the secret's hint (its first characters): only its name, key id and dates.
            end = str(credential.get("endDateTime") or "")[:10]
            name = f"{credential.get('displayName') or '(no description)'!r}" + (f", expires {end}" if end else "")
            label, name = ("unclassified credential", f"{kind} {name}") if verdict == UNKNOWN else (kind, name)
            section.findings.append(Finding(label, where, name, str(credential.get("keyId", "?"))))


def _federated(section: Section, client: StackClient | None, credentials: Iterable[Mapping[str, Any]],
               where: str) -> None:
    for credential in credentials:
        verdict = ownership.credential(client, credential.get("id"))
        if verdict != ownership.OWN:
            name = (f"{credential.get('name')!r} (subject {credential.get('subject')!r}, issuer "
                    f"{credential.get('issuer')!r})")
            label, name = (("unclassified credential", f"federated credential {name}") if verdict == UNKNOWN
                           else ("federated credential", name))
            section.findings.append(Finding(label, where, name, str(credential.get("id", "?"))))


def _owners(section: Section, reads: _Reads, record: StackRecord, collection: str, object_id: str, where: str,
            of_provisioning_app: bool) -> None:
    found = reads(f"owners of the {where}", lambda: reads.reader.owners(collection, object_id), where, object_id)
    for owner in found or []:
        if ownership.owner(record, str(owner.get("id")), of_provisioning_app=of_provisioning_app) == FOREIGN:
            name = owner.get("userPrincipalName") or owner.get("displayName") or owner.get("@odata.type") or "?"
            section.findings.append(Finding("owner", where, str(name), str(owner.get("id"))))


def _grants(section: Section, reads: _Reads, client: StackClient, graph_id: str, roles: Mapping[str, str]) -> None:
    where, principal = "service principal", client.principal_id
    assignments = reads("app role assignments", lambda: reads.reader.app_role_assignments(principal), where,
                        principal) or []
    for a in assignments:
        on_graph = a.resource_id.lower() == graph_id.lower()
        permission = roles.get(a.app_role_id) if on_graph else None
        if ownership.app_role(client, a.resource_id, graph_id, permission) == FOREIGN:
            name = (f"{permission} on Microsoft Graph" if permission else
                    f"app role {a.app_role_id} on {a.resource_display_name or a.resource_id}")
            section.findings.append(Finding("app role", where, name, a.id, permission))
    for grant in reads("delegated permission grants", lambda: reads.reader.delegated_grants(principal), where,
                       principal) or []:
        scope = str(grant.get("scope") or "").strip()
        consent = "all users" if grant.get("consentType") == "AllPrincipals" else f"user {grant.get('principalId')}"
        section.findings.append(Finding("delegated grant", where, f"{scope!r} on resource {grant.get('resourceId')} "
                                        f"for {consent}", str(grant.get("id"))))
    for role in reads("directory role assignments", lambda: reads.reader.directory_roles(principal), where,
                      principal) or []:
        definition = role.get("roleDefinition") or {}
        name = f"{definition.get('displayName') or role.get('roleDefinitionId')} (scope {role.get('directoryScopeId')})"
        section.findings.append(Finding("directory role", where, name, str(role.get("id"))))


def _app_registration(section: Section, reads: _Reads, record: StackRecord, client: StackClient | None,
                      app: Mapping[str, Any], *, of_provisioning_app: bool) -> None:
    """An app registration's credentials, federated credentials and owners (``client``: the stack's client
    whose app it is; None for the provisioning app, where the stack registered no credential)."""
    app_id = str(app["id"])
    _credentials(section, client, app, "app registration")
    fics = reads("federated credentials", lambda: reads.reader.federated_credentials(app_id), "app registration",
                 app_id)
    _federated(section, client, fics or [], "app registration")
    _owners(section, reads, record, "applications", app_id, "app registration", of_provisioning_app)


def audit_client(reader: GraphReader, record: StackRecord, client: StackClient, graph_id: str,
                 roles: Mapping[str, str]) -> Section:
    section = Section(f"client {client.key}", f"{client.key} ({client.kind}): {client.display_name!r}, "
                      f"client id {client.client_id}, principal {client.principal_id}")
    reads = _Reads(reader, section)
    if client.has_app_registration:
        apps = reads("app registration and its credentials", lambda: reader.applications("appId", client.client_id),
                     "app registration", client.client_id)
        if not apps:
            section.findings.append(Finding("gone", "app registration", "no app registration has this client id",
                                            client.client_id))
        else:
            _app_registration(section, reads, record, client, apps[0], of_provisioning_app=False)
    principal = reads("service principal and its credentials",
                      lambda: reader.principal_with_credentials(client.principal_id),
                      "service principal", client.principal_id)
    if principal is None:
        if not any(f.kind == "gone" and f.where == "service principal" for f in section.findings):
            section.findings.append(Finding("gone", "service principal", "no service principal has this object id",
                                            client.principal_id))
        return section
    if client.has_app_registration:
        _credentials(section, client, principal, "service principal")
    else:
        section.checked.append("credentials: not checked (a managed identity's keys are Azure's own)")
    _owners(section, reads, record, "servicePrincipals", client.principal_id, "service principal", False)
    _grants(section, reads, client, graph_id, roles)
    return section


def audit_provisioning_app(reader: GraphReader, record: StackRecord, principal_id: str) -> Section:
    section = Section("provisioningApp", f"provisioning app (created by the stack): principal {principal_id}")
    reads = _Reads(reader, section)
    principal = reads("service principal", lambda: reader.principal_with_credentials(principal_id),
                      "service principal", principal_id)
    if principal is None:
        section.findings.append(Finding("gone", "service principal", "no service principal has this object id",
                                        principal_id))
        return section
    # No client of the stack registered a credential here: every one is a finding.
    _credentials(section, None, principal, "service principal")
    _owners(section, reads, record, "servicePrincipals", principal_id, "service principal", True)
    apps = reads("app registration", lambda: reader.applications("appId", str(principal.get("appId"))),
                 "app registration", str(principal.get("appId")))
    for app in apps or []:
        _app_registration(section, reads, record, None, app, of_provisioning_app=True)
    return section


def audit_tenant(reader: GraphReader, record: StackRecord, roles: Mapping[str, str]) -> Section:
    section = Section("tenant", "tenant: every principal holding " + ", ".join(HR_PERMISSIONS) + " on Microsoft Graph")
    wanted = {role_id: value for role_id, value in roles.items() if value in HR_PERMISSIONS}
    for assignment in reader.assigned_to_graph():
        permission = wanted.get(str(assignment.get("appRoleId")))
        principal = str(assignment.get("principalId"))
        if permission is None or ownership.holder(record, principal) != FOREIGN:
            continue
        name = (f"{permission}: {assignment.get('principalDisplayName')!r} ({assignment.get('principalType')} "
                f"{principal})")
        section.findings.append(Finding("HR permission", "Microsoft Graph", name, str(assignment.get("id"))))
    section.checked.append("app role assignments on Microsoft Graph (all pages)")
    return section


def provisioning_app_created(stack_file: Path) -> bool:
    """Whether the stack file says ``provisioningApp.create`` (the only part of it this tool reads).

    Read as the Pulumi CLI reads it (``tools/stack/stack_file.py``), so every spelling of the key the CLI
    hands the program counts, not only ``inbound-provisioning-access:provisioningApp``.
    """
    if not stack_file.exists():
        return False
    app = read_stack_file(stack_file).raw.get("provisioningApp")
    return isinstance(app, dict) and "create" in app


def run_audit(stack: str, reader: GraphReader, record: StackRecord, created_app: bool,
              pending: Sequence[PendingCreate] = ()) -> Audit:
    graph_id, roles = reader.microsoft_graph()
    sections = [audit_client(reader, record, client, graph_id, roles) for client in record.clients.values()]
    mark_orphans(sections, pending)
    if created_app and record.provisioning_app_principal_id:
        sections.append(audit_provisioning_app(reader, record, record.provisioning_app_principal_id))
    sections.append(audit_tenant(reader, record, roles))
    return Audit(stack, sections)


def read_outputs(stack: str, outputs_file: Path | None) -> Any:
    """The stack's outputs, non-secret: from a file of ``pulumi stack output --json`` or from the CLI.

    Whether they are a JSON object is :func:`tools.tenant.ownership.stack_record`'s check, shared with adopt.
    """
    return json.loads(outputs_file.read_text()) if outputs_file is not None else pulumi_stack_output(stack)


def main(argv: Sequence[str] | None = None, *, credential: TokenCredential | None = None,
         transport: Transport | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
         sleep: Callable[[float], None] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make audit STACK=<stack> ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="a file of `pulumi stack output --json` (no secrets needed) instead of the CLI")
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--state", type=Path, metavar="FILE",
                        help="a `pulumi stack export` file: credentials an interrupted run left are named orphans "
                             "(default: from the CLI, unless --outputs is given)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--summary", type=Path, metavar="FILE",
                        help="also append the report as Markdown to FILE (the workflow's $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--debug", action="store_true", help="on a failed sign-in, what each sign-in method answered")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_CLEAN if exit_.code == 0 else EXIT_USAGE
    show_sign_in_detail(args.debug)
    stack_file: Path = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    try:
        record = ownership.stack_record(read_outputs(args.stack, args.outputs))
    except (OSError, ValueError, StackOutputError, ownership.OutputsError) as error:
        hint = ("; give them with --outputs FILE (`pulumi stack output --stack <stack> --json`, no secrets needed)"
                if args.outputs is None else "")
        err.write(f"error: cannot read the stack's outputs: {error}{hint}\n")
        return EXIT_USAGE
    try:
        state = (json.loads(args.state.read_text()) if args.state is not None
                 else pulumi_stack_export(args.stack) if args.outputs is None else {})
    except (OSError, ValueError, StackOutputError) as error:
        err.write(f"error: cannot read the stack's state: {error}; give it with --state FILE (`pulumi stack "
                  "export`)\n")
        return EXIT_USAGE
    try:
        created_app = provisioning_app_created(stack_file)
    except (OSError, ValueError, StackFileError) as error:
        err.write(f"error: cannot read {stack_file.name}: {error}\n")
        return EXIT_USAGE
    if not record.clients and not record.provisioning_app_principal_id:
        err.write(f"nothing checked: the outputs of stack {args.stack!r} list no clients and no provisioning app "
                  "(not deployed yet?)\n")
        return EXIT_NOTHING_CHECKED
    try:
        reader = GraphReader(credential or deployer_credential(), transport, permission_hint=PERMISSION_HINT,
                             **({"sleep": sleep} if sleep else {}))
        result = run_audit(args.stack, reader, record, created_app, pending_creates(state))
    except GraphAccessError as error:
        err.write(f"error: {error}\n")
        return EXIT_USAGE
    report = result.as_dict()
    text = io.StringIO()
    render_text(report, text)
    if args.json:
        render_json(report, out)
    else:
        out.write(text.getvalue())
    if args.summary is not None:
        # Longer than any run of backticks in the names the tenant gave: none can close the block.
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text.getvalue())), default=0))
        with args.summary.open("a") as summary:
            summary.write(f"{fence}text\n{text.getvalue()}{fence}\n")
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
