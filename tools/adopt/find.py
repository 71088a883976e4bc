"""What ``make adopt`` finds in the tenant for each client, read-only: the block to adopt and what to tell the team.

The app registration and service principal (by ``--app`` or the client's display name) or the
existing managed identity, the Graph app role assignments the principal holds, the credentials on
the app told apart from the stack's own by key id (``tools/tenant/ownership.py``), the owners, and
what a deploy would change on an adopted app registration. For a client the stack has deployed, the
audit's checks (``tools/audit/clients.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.microsoft import ALLOWED_PERMISSIONS, GRAPH_APP_ID
from components.service_principal_client import APPLICATION_NOTES, SIGN_IN_AUDIENCE
from components.settings.model import GUID_RE, ClientSettings, ManagedIdentityClientSettings, Settings
from tools.audit.clients import audit_client
from tools.audit.report import ADVICE
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphReader
from tools.tenant.ownership import NO_KEY_IDS, CredentialKind, StackClient, StackRecord

# The overlap this program keeps for its own rotations: the time a consumer gets to switch.
SWITCH_DAYS = 14




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


