"""What make audit checks on each client and on the provisioning app: credentials, grants, directory roles.

Per client: the credentials on its app registration that are not the stack's (by key id, kind, end
date and thumbprint, or issuer, subject and audiences: ``tools/tenant/ownership.py``); any credential
on its service principal (the stack puts none there); app role assignments to its principal beyond
its graphPermissions (any API); delegated grants; directory roles. On the provisioning app, created
or named by the stack: every credential (the stack registers none). Owners are paths to the upload
(``tools/audit/owners.py``), so they are reported once, there.

To add a per-client check, write a function of ``(section, reads, client, ...)`` and call it from
:func:`audit_client`; ``section.add`` gives each finding its principal, path and severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tools.audit.model import Section
from tools.audit.reads import APPLICATION_READ, DIRECTORY_READ, NOT_READ, ROLE_READ, Reads
from tools.tenant import ownership
from tools.tenant.graph_reader import GraphReader, ObjectGoneError
from tools.tenant.ownership import FOREIGN, UNKNOWN, CredentialKind, StackClient

APP, SP = "app registration", "service principal"


def credentials(section: Section, client: StackClient | None, holder: Mapping[str, Any], where: str,
                principal_id: str) -> None:
    """Secrets and certificates on ``holder`` that are not ``client``'s (None: the stack registered none there)."""
    kinds: tuple[tuple[CredentialKind, str], ...] = (("secret", "passwordCredentials"),
                                                     ("certificate", "keyCredentials"))
    for kind, field_name in kinds:
        for found in holder.get(field_name) or []:
            verdict, why = ownership.credential(client, kind, found)
            if verdict == ownership.OWN:
                continue
            # Never the secret's hint (its first characters): only its name, key id and dates.
            end = str(found.get("endDateTime") or "")[:10]
            name = f"{found.get('displayName') or '(no description)'!r}" + (f", expires {end}" if end else "")
            _report(section, verdict, kind, where, name + (f": {why}" if why else ""),
                    str(found.get("keyId", "?")), principal_id)


def federated(section: Section, client: StackClient | None, found: Iterable[Mapping[str, Any]], where: str,
              principal_id: str) -> None:
    """Federated credentials that are not ``client``'s, or are but were edited in place."""
    for credential in found:
        verdict, why = ownership.credential(client, "federated", credential)
        if verdict != ownership.OWN:
            name = (f"{credential.get('name')!r} (subject {credential.get('subject')!r}, issuer "
                    f"{credential.get('issuer')!r})" + (f": {why}" if why else ""))
            _report(section, verdict, "federated credential", where, name, str(credential.get("id", "?")),
                    principal_id)


def _report(section: Section, verdict: str, kind: str, where: str, name: str, key_id: str, principal_id: str) -> None:
    if verdict == UNKNOWN:  # neither own nor foreign until a deploy writes the credentials into the outputs
        section.unclassified.append(section.finding("unclassified credential", where, f"{kind} {name}", key_id,
                                                    principal_id, severity="low"))
    else:
        section.add(kind, where, name, key_id, principal_id)


def app_registration(section: Section, reads: Reads, client: StackClient | None, app_id: str,
                     principal_id: str) -> dict[str, Any] | None:
    """An app registration's credentials and federated credentials (``client``: whose app it is; None for the
    provisioning app's, where the stack registered none). None when it is gone or could not be read."""
    app = reads(section, f"{APP} and its credentials", APPLICATION_READ,
                lambda: reads.reader.application_by_app_id(app_id), gone=(APP, app_id))
    if app is NOT_READ:
        return None
    object_id = str(app["id"])
    section.covers.append((APP, object_id))
    credentials(section, client, app, APP, principal_id)
    found = reads(section, "federated credentials", APPLICATION_READ,
                  lambda: reads.reader.federated_credentials(object_id), gone=(APP, object_id))
    if found is not NOT_READ:
        federated(section, client, found, APP, principal_id)
    return dict(app)


def _principal(section: Section, reads: Reads, principal_id: str) -> dict[str, Any] | None:
    def read() -> dict[str, Any]:
        # Listed by id: an object not there (yet) is an empty list, read again once as a 404 is.
        found = reads.reader.principal_with_credentials(principal_id)
        if found is None:
            raise ObjectGoneError(f"no service principal has the object id {principal_id}")
        return found

    found = reads(section, f"{SP} and its credentials", APPLICATION_READ, read, gone=(SP, principal_id))
    if found is NOT_READ:
        return None
    section.covers.append((SP, principal_id))
    return dict(found)


def grants(section: Section, reads: Reads, client: StackClient, graph_id: str, roles: Mapping[str, str]) -> None:
    """App roles beyond graphPermissions (any API), delegated grants and directory roles of the client's principal."""
    principal = client.principal_id
    assignments = reads(section, "app role assignments", APPLICATION_READ,
                        lambda: reads.reader.app_role_assignments(principal), gone=(SP, principal))
    for a in [] if assignments is NOT_READ else assignments:
        permission = roles.get(a.app_role_id) if a.resource_id.lower() == graph_id.lower() else None
        if ownership.app_role(client, a.resource_id, graph_id, permission) == FOREIGN:
            name = (f"{permission} on Microsoft Graph" if permission else
                    f"app role {a.app_role_id} on {a.resource_display_name or a.resource_id}")
            section.add("app role", SP, name, a.id, principal, permission=permission)
    delegated = reads(section, "delegated permission grants", DIRECTORY_READ,
                      lambda: reads.reader.delegated_grants(principal), gone=(SP, principal))
    for grant in [] if delegated is NOT_READ else delegated:
        scope = str(grant.get("scope") or "").strip()
        consent = "all users" if grant.get("consentType") == "AllPrincipals" else f"user {grant.get('principalId')}"
        section.add("delegated grant", SP, f"{scope!r} on resource {grant.get('resourceId')} for {consent}",
                    str(grant.get("id")), principal)
    directory = reads(section, "directory role assignments", ROLE_READ,
                      lambda: reads.reader.directory_roles(principal), gone=(SP, principal))
    for role in [] if directory is NOT_READ else directory:
        definition = role.get("roleDefinition") or {}
        name = f"{definition.get('displayName') or role.get('roleDefinitionId')} (scope {role.get('directoryScopeId')})"
        section.add("directory role", SP, name, str(role.get("id")), principal)


def audit_client(reader: GraphReader, client: StackClient, graph_id: str, roles: Mapping[str, str],
                 reads: Reads | None = None) -> Section:
    """One client's section (``reads``: the audit's; ``make adopt`` reads once, and a 404 again at once)."""
    reads = reads or Reads(reader, lambda _seconds: None)
    section = Section(f"client {client.key}", f"{client.key} ({client.kind}): {client.display_name!r}, "
                      f"client id {client.client_id}, principal {client.principal_id}")
    if client.has_app_registration:
        app_registration(section, reads, client, client.client_id, client.principal_id)
    principal = _principal(section, reads, client.principal_id)
    if principal is None:
        return section
    if client.has_app_registration:
        # Compared with what the stack put on the service principal: nothing.
        credentials(section, None, principal, SP, client.principal_id)
    else:
        section.checked.append("credentials: not checked (a managed identity's keys are Azure's own)")
    grants(section, reads, client, graph_id, roles)
    return section


def audit_provisioning_app(reads: Reads, principal_id: str, created: bool) -> Section:
    """The provisioning app, created by the stack or named by it: any credential on its principal or app."""
    how = "created by the stack" if created else "named by the stack (servicePrincipalId, displayName, jobId)"
    section = Section("provisioningApp", f"provisioning app ({how}): principal {principal_id}")
    principal = _principal(section, reads, principal_id)
    if principal is None:
        return section
    # No client of the stack registered a credential here: every one is a finding.
    credentials(section, None, principal, SP, principal_id)
    app_id = str(principal.get("appId") or "")
    if ownership.is_guid(app_id):
        app_registration(section, reads, None, app_id, principal_id)
    return section
