"""Graph permissions as paths to the upload: app-only holders tenant-wide, and delegated upload grants.

One read of every app role assignment on Microsoft Graph (``appRoleAssignedTo``) finds the
holders of the upload (``SynchronizationData-User.Upload``; ``...Upload.OwnedBy``, with the apps it
owns; ``ProvisioningLog.Read.All``, which reads what was uploaded) and of the permissions one step
from it (grant any app role, write any app, assign any directory role, write the directory, rewrite
a synchronization job; ``Application.ReadWrite.OwnedBy`` where it owns a client or the provisioning
app). One read of the delegated grants on Graph finds every client app that may upload for a signed-in
User Administrator. The stack's own clients are checked in their sections; here they appear only
holding what they declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from components.microsoft import (
    ONE_STEP_PERMISSIONS,
    OWNED_APPS_PERMISSION,
    PROVISIONING_LOG_PERMISSION,
    UPLOAD_OWNED_BY,
)
from tools.audit.model import DECLARED, HOLDS, ONE_STEP, PROVISIONING_APP, TENANT, UPLOAD, Section, UploadPath
from tools.audit.reads import APPLICATION_READ, DIRECTORY_READ, NOT_READ, Reads, name_of
from tools.tenant import ownership
from tools.tenant.ownership import StackRecord

UPLOAD_SCOPE = "SynchronizationData-User.Upload"
_HOLDS_TEXT = {
    "SynchronizationData-User.Upload": "posts HR records to any provisioning job's bulkUpload",
    UPLOAD_OWNED_BY: "posts HR records to the provisioning jobs of the apps it owns",
    PROVISIONING_LOG_PERMISSION: "reads the provisioning logs: every record uploaded",
}
_ONE_STEP_TEXT = {
    "AppRoleAssignment.ReadWrite.All": "can grant itself, or any client, the upload",
    "Application.ReadWrite.All": "can add a credential to any client, or the provisioning app, and act as it",
    "RoleManagement.ReadWrite.Directory": "can assign itself any directory role",
    "Directory.ReadWrite.All": "can write the directory (owners, group members) around every client",
    "Synchronization.ReadWrite.All": "can rewrite the provisioning job's schema and secrets: re-mapping "
                                     "the attributes re-targets every legitimate upload",
}


def app_only_paths(section: Section, reads: Reads, record: StackRecord, graph_id: str, roles: Mapping[str, str],
                   owners: Mapping[str, list[str]]) -> list[UploadPath]:
    """Every service principal holding one of the permissions above on Microsoft Graph.

    ``owners``: owner id -> the targets it owns (clients, the provisioning app), from the owner paths.
    """
    found = reads(section, "app role assignments on Microsoft Graph (all pages)", APPLICATION_READ,
                  lambda: list(reads.reader.assigned_to_graph()))
    paths: list[UploadPath] = []
    for assignment in [] if found is NOT_READ else found:
        permission = roles.get(str(assignment.get("appRoleId")))
        holder = str(assignment.get("principalId", "")).lower()
        if permission is None or str(assignment.get("resourceId", "")).lower() != graph_id.lower():
            continue
        if record.client_of_principal(holder) is not None:
            if permission in _HOLDS_TEXT and ownership.holder(record, holder, permission) == ownership.OWN:
                paths.append(_path(assignment, permission, HOLDS, _HOLDS_TEXT[permission], UPLOAD, DECLARED))
            continue  # anything else a client holds is a finding of its own section
        if permission == UPLOAD_OWNED_BY:
            paths.append(_owned_by(section, reads, assignment, owners.get(holder, [])))
        elif permission in _HOLDS_TEXT:
            paths.append(_path(assignment, permission, HOLDS, _HOLDS_TEXT[permission], UPLOAD))
        elif permission in ONE_STEP_PERMISSIONS:
            paths.append(_path(assignment, permission, ONE_STEP, _ONE_STEP_TEXT[permission], TENANT))
        elif permission == OWNED_APPS_PERMISSION and owners.get(holder):
            paths += [_path(assignment, permission, ONE_STEP, "can add a credential to what it owns and act as it",
                            target) for target in owners[holder]]
    return paths


def _path(assignment: Mapping[str, Any], permission: str, directness: str, does: str, target: str,
          status: str = "finding") -> UploadPath:
    return UploadPath(str(assignment.get("principalId", "")).lower(),
                      str(assignment.get("principalDisplayName") or assignment.get("principalId")),
                      "servicePrincipal", f"{permission} (application permission on Microsoft Graph): {does}",
                      directness, permission, target, str(assignment.get("id")), status)


def _owned_by(section: Section, reads: Reads, assignment: Mapping[str, Any], owns: list[str]) -> UploadPath:
    holder = str(assignment.get("principalId", "")).lower()
    owned = reads(section, f"objects owned by {assignment.get('principalDisplayName')!r} (holds {UPLOAD_OWNED_BY})",
                  APPLICATION_READ, partial(reads.owned_objects, holder))
    names = ", ".join(name_of(o) for o in ([] if owned is NOT_READ else owned)) or "nothing"
    target = PROVISIONING_APP if PROVISIONING_APP in owns else UPLOAD
    return _path(assignment, UPLOAD_OWNED_BY, HOLDS, f"{_HOLDS_TEXT[UPLOAD_OWNED_BY]}; it owns {names}", target)


def delegated_paths(section: Section, reads: Reads, record: StackRecord, graph_id: str) -> list[UploadPath]:
    """Client apps granted the delegated upload: they upload as any signed-in User Administrator (or the one user)."""
    found = reads(section, "delegated permission grants on Microsoft Graph", DIRECTORY_READ,
                  lambda: list(reads.delegated_grants_on(graph_id)))
    paths: list[UploadPath] = []
    for grant in [] if found is NOT_READ else found:
        client_id = str(grant.get("clientId", "")).lower()
        if UPLOAD_SCOPE not in str(grant.get("scope") or "").split() or record.client_of_principal(client_id):
            continue  # a client of the stack: its section reports every delegated grant
        whom = ("any User Administrator who signs in" if grant.get("consentType") == "AllPrincipals"
                else f"user {grant.get('principalId')}, when that user holds User Administrator")
        paths.append(UploadPath(client_id, _principal_name(section, reads, client_id), "servicePrincipal",
                                f"delegated {UPLOAD_SCOPE} granted to this app: it uploads as {whom}", HOLDS,
                                f"{UPLOAD_SCOPE} (delegated)", UPLOAD, str(grant.get("id"))))
    return paths


def _principal_name(section: Section, reads: Reads, principal_id: str) -> str:
    found = reads(section, "service principal of a delegated grant", APPLICATION_READ,
                  partial(reads.reader.service_principals, "id", principal_id))
    return principal_id if found is NOT_READ or not found else name_of(found[0])
