"""Directory roles as paths to the upload: held, through a role-assignable group, or PIM-eligible.

Global Administrator, Privileged Role Administrator, Application Administrator, Cloud Application
Administrator and Hybrid Identity Administrator control every app, grant or synchronization job
at tenant scope (``/``), or one client's app or principal at its scope (``/<objectId>``); a User
Administrator may call bulkUpload itself with a delegated token (the bulkUpload reference). A role
held by a group is held by each member; a group's owner can add itself (one step more). An eligible
(PIM) assignment is one activation further. The stack's own clients holding a role are a finding of
their own section, not repeated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from components.microsoft import DIRECTORY_ROLES, USER_ADMINISTRATOR
from tools.audit.model import ONE_STEP, TENANT, TWO_STEPS, UPLOAD, Section, UploadPath
from tools.audit.reads import ELIGIBILITY_READ, GROUP_READ, NOT_READ, ROLE_READ, Reads, name_of, type_of
from tools.tenant.ownership import StackRecord

_WHAT = {USER_ADMINISTRATOR: "may call bulkUpload with a delegated token (the bulkUpload reference)"}
_CONTROLS = "controls every app registration, grant and synchronization job"
ASSIGNMENTS = f"assignments of the {len(DIRECTORY_ROLES)} directory roles"
ELIGIBLE = f"PIM-eligible assignments of the {len(DIRECTORY_ROLES)} directory roles"


def role_paths(section: Section, reads: Reads, record: StackRecord, scopes: Mapping[str, tuple[str, str]]
               ) -> list[UploadPath]:
    """Every principal holding or eligible for one of the roles, at tenant scope or at a scope in ``scopes``
    (``/<objectId>`` -> (what it is, the path's target))."""
    paths: list[UploadPath] = []
    for role_id, role in DIRECTORY_ROLES.items():
        for eligible, what, needs, read in (
                (False, ASSIGNMENTS, ROLE_READ, partial(reads.role_assignments, role_id)),
                (True, ELIGIBLE, ELIGIBILITY_READ, partial(reads.role_eligibilities, role_id))):
            found = reads(section, what, needs, read)
            for assignment in [] if found is NOT_READ else found:
                paths += _assignment(section, reads, record, role, assignment, eligible, scopes)
    return paths


def _assignment(section: Section, reads: Reads, record: StackRecord, role: str, assignment: Mapping[str, Any],
                eligible: bool, scopes: Mapping[str, tuple[str, str]]) -> list[UploadPath]:
    scope = str(assignment.get("directoryScopeId") or "/")
    if scope == "/":
        where, target = "tenant-wide", UPLOAD if role == USER_ADMINISTRATOR else TENANT
    elif scope.lower() in scopes:
        where, target = f"at scope {scope} ({scopes[scope.lower()][0]})", scopes[scope.lower()][1]
    else:
        return []  # an administrative unit or another app: not a path to this stack's upload
    principal: Mapping[str, Any] = assignment.get("principal") or {"id": assignment.get("principalId")}
    principal_id = str(principal.get("id") or assignment.get("principalId") or "").lower()
    if record.client_of_principal(principal_id) is not None:
        return []  # the client's own section reports every directory role it holds
    how = "eligible (PIM): can activate " if eligible else "holds "
    does = _WHAT.get(role, _CONTROLS if scope == "/" else "can add a credential to it and act as the client")
    via = f"{role} (eligible)" if eligible else role
    directness = TWO_STEPS if eligible else ONE_STEP
    kind = type_of(principal)
    paths = [UploadPath(principal_id, name_of(principal), kind, f"{how}{role} {where}: {does}", directness, via,
                        target, str(assignment.get("id")))]
    if kind == "group":
        paths += _group(section, reads, principal_id, name_of(principal), f"{how}{role} {where}", directness)
    return paths


def _group(section: Section, reads: Reads, group_id: str, group: str, holds: str, directness: str
           ) -> list[UploadPath]:
    """A role-assignable group's members (as direct as the group) and owners (one step more: add themselves)."""
    paths: list[UploadPath] = []
    members = reads(section, f"members of group {group}", GROUP_READ, partial(reads.group_members, group_id))
    paths += [UploadPath(str(m.get("id", "")).lower(), name_of(m), type_of(m),
                         f"member of group {group}, which {holds}", directness, "member of", group_id, group_id)
              for m in ([] if members is NOT_READ else members)]
    owners = reads(section, f"owners of group {group}", GROUP_READ, partial(reads.group_owners, group_id))
    paths += [UploadPath(str(o.get("id", "")).lower(), name_of(o), type_of(o),
                         f"owner of group {group}, which {holds}: can add itself as a member", TWO_STEPS,
                         "owner of", group_id, group_id)
              for o in ([] if owners is NOT_READ else owners)]
    return paths
