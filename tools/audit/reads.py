"""Every Graph read make audit makes, with the least permission Graph's reference names for it.

Each read goes through :class:`Reads`: a 404 is read again once, after a pause, before the object
is called gone (the weekly audit runs right after a deploy, and Entra replicates with a lag); a 403
makes the read *not checked* (with the permission it needs), never clean. docs/audit.md lists the
same reads, each with its reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from tools.audit.model import NotChecked, Section
from tools.tenant.graph_reader import GraphReader, ObjectGoneError, ReadRefusedError, odata_literal, segment

# The least Microsoft Graph application permission of each read ("Least privileged permissions" in
# each API's reference page; docs/audit.md cites them one by one).
APPLICATION_READ: Final = "Application.Read.All"
DIRECTORY_READ: Final = "Directory.Read.All"  # oauth2PermissionGrants: no narrower permission is documented
ROLE_READ: Final = "RoleManagement.Read.Directory"
ELIGIBILITY_READ: Final = "RoleEligibilitySchedule.Read.Directory"  # not covered by Directory.Read.All
GROUP_READ: Final = "GroupMember.Read.All"
# What the auditor identity is given: Directory.Read.All is named a higher permission for the role
# assignment and group reads, so RoleManagement.Read.Directory and GroupMember.Read.All add nothing;
# it is not named for federated credentials, so Application.Read.All stays.
AUDITOR_PERMISSIONS: Final = (APPLICATION_READ, DIRECTORY_READ, ELIGIBILITY_READ)
# Entra replicates a new or renewed object within seconds; one pause before a 404 counts.
REPLICATION_WAIT_SECONDS: Final = 10.0
MEMBER_FIELDS: Final = "id,displayName,userPrincipalName,appId"


class _NotRead:
    """What a read returns when it was refused or its object is gone (told apart from an empty answer)."""

    def __repr__(self) -> str:
        return "NOT_READ"


NOT_READ: Final = _NotRead()


class Reads:
    """Graph reads for the sections of one audit: retried once on 404, refused ones recorded as not checked."""

    def __init__(self, reader: GraphReader, sleep: Callable[[float], None]) -> None:
        self.reader, self._sleep = reader, sleep

    def __call__(self, section: Section, what: str, needs: str, read: Callable[[], Any],
                 gone: tuple[str, str] | None = None) -> Any:
        """``read()``'s answer, or NOT_READ. ``gone`` (where, object id): an object that stays 404 is a finding."""
        for attempt in (1, 2):
            try:
                result = read()
            except ObjectGoneError:
                if attempt == 1:
                    self._sleep(REPLICATION_WAIT_SECONDS)
                    continue
                if gone is not None:
                    section.add("gone", gone[0], f"{what}: deleted since it was listed", gone[1], gone[1],
                                severity="medium")
                return NOT_READ
            except ReadRefusedError as refused:
                section.not_checked.append(NotChecked(what, needs, refused.code))
                return NOT_READ
            section.checked.append(what)
            return result
        return NOT_READ  # pragma: no cover (the loop returns)

    # -- the reads only make audit makes ---------------------------------------------------------

    def role_assignments(self, role_id: str) -> list[dict[str, Any]]:
        """Active assignments of one directory role, any scope, each with its principal (user, group, app)."""
        return list(self.reader.collection("/roleManagement/directory/roleAssignments", {
            "$filter": f"roleDefinitionId eq {odata_literal(role_id)}", "$expand": "principal"}))

    def role_eligibilities(self, role_id: str) -> list[dict[str, Any]]:
        """PIM-eligible assignments of one directory role, with the principal."""
        return list(self.reader.collection("/roleManagement/directory/roleEligibilitySchedules", {
            "$filter": f"roleDefinitionId eq {odata_literal(role_id)}", "$expand": "principal"}))

    def group_members(self, group_id: str) -> list[dict[str, Any]]:
        return list(self.reader.collection(f"/groups/{segment(group_id)}/members", {"$select": MEMBER_FIELDS}))

    def group_owners(self, group_id: str) -> list[dict[str, Any]]:
        return list(self.reader.collection(f"/groups/{segment(group_id)}/owners", {"$select": MEMBER_FIELDS}))

    def delegated_grants_on(self, resource_id: str) -> Iterator[dict[str, Any]]:
        """Every delegated permission grant on one API (Microsoft Graph), tenant-wide and per user."""
        return self.reader.collection("/oauth2PermissionGrants",
                                      {"$filter": f"resourceId eq {odata_literal(resource_id)}"})

    def owned_objects(self, principal_id: str) -> list[dict[str, Any]]:
        return list(self.reader.collection(f"/servicePrincipals/{segment(principal_id)}/ownedObjects",
                                           {"$select": "id,displayName,appId"}))


def name_of(principal: Mapping[str, Any]) -> str:
    """A directory object as a person would recognise it: sign-in name, display name, or its id."""
    return str(principal.get("userPrincipalName") or principal.get("displayName") or principal.get("id") or "?")


def type_of(principal: Mapping[str, Any]) -> str:
    """``user``, ``group`` or ``servicePrincipal`` from Graph's ``@odata.type`` (``directoryObject`` if absent)."""
    return str(principal.get("@odata.type") or "#microsoft.graph.directoryObject").rsplit(".", 1)[-1]
