"""make adopt: find what the tutorial (or the portal) already made, and print the `adopt` block.

Reads the tenant as the deployer, read-only (``tools/tenant/graph_reader.py``). For each client in
``Pulumi.<stack>.yaml`` it finds the app registration and service principal (servicePrincipal
clients: by ``--app KEY=<display name | client id | object id>``, else by the client's display
name) or the existing managed identity (by its ``existing`` lookup), the Microsoft Graph app
role assignments the principal holds, and the credentials already on the app. It prints the
``adopt`` block to paste (or writes it into the stack file with ``--write``), then what the
team must do afterwards: old secrets to retire, owners, grants beyond the allow-list, and what
the deploy changes on an adopted app registration.

What the stack already made is told apart by id, never by name (``tools/tenant/ownership.py``, from the
stack's non-secret outputs, as ``make audit`` does): its credentials are never "to retire". For
a client the stack has deployed it runs the audit's checks and proposes adopting what they find
where that applies (an allow-listed permission granted by hand: declare it, adopt its grant).

Exit status: 0 done; 1 a client needs a choice (several matches, a named app not found, bad
config); 2 sign-in or permission problem (the missing Graph permission is named), a stack file
that cannot be read (file and line named, as make plan names them), the stack's outputs unreadable
(``--outputs FILE`` gives them without the CLI; a never-deployed stack needs neither) or bad usage. It never
prints a secret: not a secret's text, not its hint, not a token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from azure.core.credentials import TokenCredential

from components.microsoft import ALLOWED_PERMISSIONS, GRAPH_APP_ID
from components.service_principal_client import APPLICATION_NOTES, SIGN_IN_AUDIENCE
from components.settings.model import GUID_RE, ClientSettings, ManagedIdentityClientSettings, Settings
from components.settings.problems import SettingsError
from components.settings.stack_config import NAMESPACE
from tools.adopt.write import WriteError, write_stack_file
from tools.audit.clients import audit_client
from tools.audit.report import ADVICE
from tools.stack.outputs import StackOutputError, never_deployed_here, pulumi_stack_output
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import StackFileError, read_stack_file
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphAccessError, GraphReader, Transport, deployer_credential
from tools.tenant.ownership import NO_KEY_IDS, CredentialKind, StackClient, StackRecord
from tools.tenant.sign_in import show_sign_in_detail

ROOT = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_CHOICE, EXIT_ACCESS = 0, 1, 2
# The overlap this program keeps for its own rotations: the time a consumer gets to switch.
SWITCH_DAYS = 14


IMPORT_NOTE = """
## How the deploy imports

`make preview` shows adopted objects as imports (`=`). Where the program's inputs differ from an
imported object (the changes listed above), Pulumi CLIs with the import-then-update engine
(pulumi/pulumi#19339) import it and update it in the same run; older CLIs stop instead with
"inputs to import do not match the existing resource" and change nothing. Keep the adopt block
in the stack file: on later runs an import of an object already in the stack is a no-op.
"""


@dataclass
class Finding:
    """What was found for one client: the block to adopt and what to tell the team."""

    key: str
    title: str
    adopt: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    needs_choice: bool = False


def _date(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def _one(found: list[dict[str, Any]], what: str, value: str, finding: Finding, fix: str) -> dict[str, Any] | None:
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        finding.needs_choice = True
        listed = "; ".join(f"object id {f['id']} (client id {f.get('appId', '?')}"
                           f"{', created ' + f['createdDateTime'][:10] if f.get('createdDateTime') else ''})"
                           for f in found)
        finding.notes.append(f"several {what}s are named {value!r}: {listed}. Say which one by its object id: {fix}")
    return None


def _find_application(reader: GraphReader, key: str, value: str, explicit: bool,
                      finding: Finding) -> dict[str, Any] | None:
    if GUID_RE.match(value):
        found = reader.applications("appId", value) or reader.applications("id", value)
    else:
        found = reader.applications("displayName", value)
    if not found:
        if explicit:
            finding.needs_choice = True
            finding.notes.append(f"no app registration has the display name, client id or object id {value!r}")
        else:
            finding.notes.append(f"no app registration is named {value!r}: nothing to adopt, the deploy creates one "
                                 f"(a new client id). To adopt a hand-made app, run with --app {key}=<its client id>")
        return None
    return _one(found, "app registration", value, finding, f"--app {key}=<object id>")


def _principal_of(reader: GraphReader, client: ManagedIdentityClientSettings,
                  finding: Finding) -> dict[str, Any] | None:
    existing = client.existing
    if existing is None:
        finding.notes.append("a user-assigned identity this stack creates: nothing exists yet, nothing to adopt")
        return None
    by = {"displayName": "displayName", "objectId": "id", "clientId": "appId"}[existing.lookup]
    found = reader.service_principals(by, existing.value)
    if not found:
        finding.needs_choice = True
        finding.notes.append(f"no service principal has existing.{existing.lookup} {existing.value!r}: check the "
                             "name, and that the Logic App's system-assigned identity is on")
        return None
    return _one(found, "service principal", existing.value, finding,
                f"set clients.{client.key}.existing.objectId instead of displayName")


def _grants(reader: GraphReader, client: ClientSettings, principal_id: str, finding: Finding) -> None:
    held, other = reader.graph_grants(principal_id)
    grants: dict[str, str] = {}
    for permission, assignment in sorted(held.items()):
        if permission in client.graph_permissions:
            grants[permission] = assignment.id
        elif permission in ALLOWED_PERMISSIONS:
            finding.notes.append(f"granted outside this client's graphPermissions, not adopted: {permission} "
                                 f"(assignment {assignment.id}); the deploy leaves it alone. Remove it for least "
                                 "privilege, or add it to graphPermissions and run make adopt again")
        else:
            finding.notes.append(f"beyond the allow-list, reported and never adopted: {permission} (assignment "
                                 f"{assignment.id}); remove it: it is more than inbound provisioning needs")
    finding.notes += [f"another API's app role, not managed here: {o}" for o in other]
    missing = [p for p in client.graph_permissions if p not in held]
    if missing:
        finding.notes.append(f"not held yet, the deploy grants: {', '.join(missing)}")
    if grants:
        finding.adopt["grants"] = grants


def _credentials(app: Mapping[str, Any], record: StackRecord, key: str, now: dt.datetime, finding: Finding) -> None:
    deadline = now + dt.timedelta(days=SWITCH_DAYS)
    found: list[tuple[CredentialKind, Mapping[str, Any]]] = [
        *[("secret", c) for c in app.get("passwordCredentials") or []],
        *[("certificate", c) for c in app.get("keyCredentials") or []]]
    deployed = record.client_of_app(str(app.get("appId")))
    for kind, credential in found:
        verdict, _ = ownership.credential(deployed, kind, credential)
        if verdict == ownership.UNKNOWN:  # never advise retiring what may be the stack's own
            finding.notes.append(f"credentials not classified: {NO_KEY_IDS}")
            return
        if verdict == ownership.OWN:
            continue
        # Never the secret's text or its hint (its first characters): only names, ids and dates.
        name = credential.get("displayName") or "(no description)"
        end = _date(str(credential.get("endDateTime") or ""))
        ident = f"{kind} {name!r} (key id {credential.get('keyId', '?')})"
        if end is not None and end <= now:
            finding.notes.append(f"retire now: {ident} expired on {end:%Y-%m-%d}")
            continue
        by = min(end, deadline) if end is not None else deadline
        expiry = f"; it expires {end:%Y-%m-%d} regardless" if end is not None else ""
        finding.notes.append(
            f"retire once the HR client uses this stack's credential (clientCredentials.{key}, or the stack's "
            f"certificate or federation): {ident}, by {by:%Y-%m-%d}{expiry}. The deploy never touches it")


def _owners(reader: GraphReader, app_id: str, sp_id: str, finding: Finding) -> None:
    for collection, what in (("applications", "app registration"), ("servicePrincipals", "service principal")):
        object_id = app_id if collection == "applications" else sp_id
        owners = reader.owners(collection, object_id)
        if owners:
            names = ", ".join(str(o.get("userPrincipalName") or o.get("displayName") or o.get("id")) for o in owners)
            finding.notes.append(
                f"owners of the {what}: {names}. An owner can add a credential and act with the client's Graph "
                "permissions; this program's apps have no owners, so the deploy removes them")


def _import_changes(app: Mapping[str, Any], client: ClientSettings, display_name: str,
                    role_values: Mapping[str, str], finding: Finding) -> None:
    """What the deploy changes on the adopted app: the program's inputs against what the tenant holds."""
    changes: list[str] = []
    if app.get("displayName") != display_name:
        changes.append(f"displayName {app.get('displayName')!r} -> {display_name!r} (set clients.{client.key}."
                       "displayName to keep the current name)")
    if (app.get("notes") or "") != APPLICATION_NOTES:
        changes.append("notes -> the program's note")
    if app.get("signInAudience") != SIGN_IN_AUDIENCE:
        changes.append(f"signInAudience {app.get('signInAudience')!r} -> {SIGN_IN_AUDIENCE!r} (single tenant)")
    role_ids = {value: role_id for role_id, value in role_values.items()}
    wanted = {(GRAPH_APP_ID, role_ids.get(p, p), "Role") for p in client.graph_permissions}
    declared = {(r.get("resourceAppId"), a.get("id"), a.get("type"))
                for r in app.get("requiredResourceAccess") or [] for a in r.get("resourceAccess") or []}
    if declared != wanted:
        def name(entry: tuple[Any, Any, Any]) -> str:
            graph = entry[0] == GRAPH_APP_ID
            value = role_values.get(str(entry[1]), str(entry[1])) if graph and entry[2] == "Role" else str(entry[1])
            return f"{value} ({entry[2]}{'' if graph else ' on ' + str(entry[0])})"
        dropped = ", ".join(sorted(name(e) for e in declared - wanted)) or "nothing"
        added = ", ".join(sorted(name(e) for e in wanted - declared)) or "nothing"
        changes.append(f"declared API permissions (requiredResourceAccess): drops {dropped}; adds {added}")
    web, spa, public = app.get("web") or {}, app.get("spa") or {}, app.get("publicClient") or {}
    for label, value in (("redirect URIs", (web.get("redirectUris") or []) + (spa.get("redirectUris") or [])
                          + (public.get("redirectUris") or [])),
                         ("identifierUris", app.get("identifierUris") or []),
                         ("app roles", [r.get("value") for r in app.get("appRoles") or []])):
        if value:
            changes.append(f"{label} {', '.join(map(str, value))}: not set by this program, cleared")
    if changes:
        finding.notes.append("on import, the deploy changes the app registration: " + "; ".join(changes))


def _deployed(reader: GraphReader, record: StackRecord, deployed: StackClient, finding: Finding) -> None:
    """A client the stack deployed: nothing to import; what make audit finds, and the grants worth adopting."""
    finding.title += f": deployed by this stack (client id {deployed.client_id}, principal {deployed.principal_id})"
    graph_id, roles = reader.microsoft_graph()
    grants: dict[str, str] = {}
    for found in [*(section := audit_client(reader, deployed, graph_id, roles)).findings, *section.unclassified]:
        if found.kind == "app role" and found.permission in ALLOWED_PERMISSIONS:
            grants[str(found.permission)] = found.object_id
            finding.notes.append(f"granted outside graphPermissions: {found.permission} (assignment "
                                 f"{found.object_id}). To keep it, add it to clients.{deployed.key}.graphPermissions "
                                 "with the adopt block above (config refuses the block until then); else remove it")
        else:
            finding.notes.append(f"make audit finds: {found.kind} on the {found.where}: {found.name} "
                                 f"({found.object_id}). {ADVICE[found.kind]}")
    if grants and deployed.has_app_registration:
        app = reader.applications("appId", deployed.client_id)
        if app:
            finding.adopt = {"application": app[0]["id"], "servicePrincipal": deployed.principal_id, "grants": grants}
    elif grants:
        finding.adopt = {"grants": grants}


def find(reader: GraphReader, settings: Settings, apps: Mapping[str, str], now: dt.datetime,
         record: StackRecord) -> list[Finding]:
    """One finding per client of the stack, in config order."""
    findings: list[Finding] = []
    _, role_values = reader.microsoft_graph()
    for key, client in settings.clients.items():
        deployed = record.clients.get(key)
        if deployed is not None:
            findings.append(finding := Finding(key, f"{key} ({deployed.kind})"))
            _deployed(reader, record, deployed, finding)
            continue
        if isinstance(client, ManagedIdentityClientSettings):
            finding = Finding(key, f"{key} (managedIdentity)")
            principal = _principal_of(reader, client, finding)
            if principal is not None:
                finding.title += f": service principal {principal.get('displayName')!r} (object id {principal['id']})"
                _grants(reader, client, principal["id"], finding)
            findings.append(finding)
            continue
        finding = Finding(key, f"{key} (servicePrincipal)")
        value = apps.get(key, client.display_name)
        app = _find_application(reader, key, value, key in apps, finding)
        if app is not None:
            principals = reader.service_principals("appId", app["appId"])
            finding.title += (f": app registration {app.get('displayName')!r} (client id {app['appId']}, "
                              f"object id {app['id']})")
            if not principals:
                finding.needs_choice = True
                finding.notes.append("this app has no service principal in the tenant yet: create it "
                                     f"(`az ad sp create --id {app['appId']}`) and run make adopt again")
            else:
                sp = principals[0]
                finding.adopt = {"application": app["id"], "servicePrincipal": sp["id"]}
                _grants(reader, client, sp["id"], finding)
                _credentials(app, record, key, now, finding)
                _owners(reader, app["id"], sp["id"], finding)
                _import_changes(app, client, client.display_name, role_values, finding)
        findings.append(finding)
    return findings


def adopt_blocks(findings: Sequence[Finding]) -> dict[str, dict[str, Any]]:
    return {f.key: {"adopt": f.adopt} for f in findings if f.adopt}


def render(stack: str, stack_file: Path, findings: Sequence[Finding], out: TextIO) -> None:
    out.write(f"# make adopt: stack `{stack}` ({stack_file.name}); read from the tenant, nothing changed\n\n")
    blocks = adopt_blocks(findings)
    if blocks:
        out.write(f"Paste under `{NAMESPACE}:clients:` in {stack_file.name} (merge into each client), "
                  "or run again with --write:\n\n```yaml\n")
        out.write(yaml.safe_dump(blocks, sort_keys=False, default_flow_style=False))
        out.write("```\n")
    elif any(f.needs_choice for f in findings):
        out.write("No adopt block yet: a client needs a choice (below); run again after making it.\n")
    else:
        out.write("Nothing to adopt: nothing the stack would create exists already.\n")
    for finding in findings:
        out.write(f"\n## {finding.title}\n\n")
        out.write("".join(f"- {note}\n" for note in finding.notes) or "- nothing else to do\n")
    if blocks:
        out.write(IMPORT_NOTE)


# -- command line ------------------------------------------------------------------------------------------


def _app_arg(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError("expected CLIENT=<display name | client id | object id>")
    return key, value


def _stack_record(stack: str, outputs_file: Path | None, new_stack: bool) -> StackRecord:
    """What the stack made, from its outputs; a stack never deployed (unknown to the backend) made nothing."""
    if outputs_file is not None:
        return ownership.stack_record(json.loads(outputs_file.read_text()))
    try:
        return ownership.stack_record({} if new_stack else pulumi_stack_output(stack))
    except StackOutputError as error:
        if "no stack named" in str(error) or never_deployed_here(stack):
            return ownership.stack_record({})
        raise


def main(argv: Sequence[str] | None = None, *, credential: TokenCredential | None = None,
         transport: Transport | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
         now: dt.datetime | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make adopt STACK=<stack> ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--config-file", type=Path, help="default: Pulumi.<stack>.yaml beside Pulumi.yaml")
    parser.add_argument("--app", type=_app_arg, action="append", default=[], metavar="CLIENT=NAME_OR_ID",
                        help="the app registration of a servicePrincipal client, by display name, client id or "
                             "object id (default: the client's displayName)")
    parser.add_argument("--write", action="store_true", help="write the adopt blocks into the stack file")
    parser.add_argument("--outputs", type=Path, metavar="FILE",
                        help="the stack's `pulumi stack output --json` (no secrets needed) instead of the Pulumi CLI")
    parser.add_argument("--new-stack", action="store_true", help="never deployed: no outputs to read (needed only "
                        "without the CLI and with PULUMI_BACKEND_URL set; else .pulumi-state/ tells)")
    parser.add_argument("--debug", action="store_true", help="on a failed sign-in, what each sign-in method answered")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_OK if exit_.code == 0 else EXIT_ACCESS
    show_sign_in_detail(args.debug)
    now = now or dt.datetime.now(dt.UTC)
    path: Path = args.config_file or ROOT / f"Pulumi.{args.stack}.yaml"
    if not path.exists():
        err.write(f"error: {path} does not exist\n")
        return EXIT_ACCESS
    try:
        settings = settings_or_problems(args.stack, read_stack_file(path), now)
    except StackFileError as error:  # read as the Pulumi CLI reads it: file and line named
        err.write(f"error: {error}\n")
        return EXIT_ACCESS
    if isinstance(settings, SettingsError):
        err.write(f"{settings}\n")
        return EXIT_CHOICE
    apps = dict(args.app)
    unknown = sorted(set(apps) - set(settings.clients))
    if unknown:
        err.write(f"error: --app names clients that are not in {path.name}: {', '.join(unknown)}\n")
        return EXIT_CHOICE
    try:
        record = _stack_record(args.stack, args.outputs, args.new_stack)
    except (OSError, ValueError, StackOutputError, ownership.OutputsError) as error:
        err.write(f"error: cannot read the stack's outputs ({error}); make adopt tells the stack's own credentials "
                  "by their key ids: give --outputs FILE (`pulumi stack output --json`), or --new-stack if new\n")
        return EXIT_ACCESS
    try:
        reader = GraphReader(credential or deployer_credential(), transport)
        findings = find(reader, settings, apps, now, record)
    except GraphAccessError as error:
        err.write(f"error: {error}\n")
        return EXIT_ACCESS
    render(args.stack, path, findings, out)
    if args.write and adopt_blocks(findings):
        try:
            write_stack_file(path, adopt_blocks(findings))
        except WriteError as error:
            err.write(f"error: {path.name} was not changed ({error}); paste the block above by hand\n")
            return EXIT_CHOICE
        out.write(f"\nWrote the adopt blocks into {path.name}. Next: make plan STACK={args.stack}, "
                  f"then make preview STACK={args.stack} (imports show as `=`).\n")
    return EXIT_CHOICE if any(f.needs_choice for f in findings) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
