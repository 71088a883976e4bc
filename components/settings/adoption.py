"""Adoption: ``clients.<key>.adopt``, the existing objects (the tutorial's, the portal's) a client imports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from components.settings.model import GUID_RE, Adoption
from components.settings.problems import MISSING, Checker


def parse_adopt(check: Checker, client: Mapping[str, Any], client_path: str, kind: str,
                permissions: tuple[str, ...] | None) -> Adoption | Literal[False] | None:
    """``clients.<key>.adopt``: None when absent, False when invalid (the problems are recorded)."""
    if "adopt" not in client:
        return None
    path = f"{client_path}.adopt"
    obj = check.mapping(client["adopt"], path)
    if obj is None:
        return False
    problems = len(check.problems)
    guid = "an object id (a GUID), as `make adopt` prints it"
    if kind == "servicePrincipal":
        check.only_keys(obj, path, ("application", "servicePrincipal", "grants"))
        objects = {k: check.string(obj, k, path, required=False, pattern=GUID_RE, allowed=guid)
                   for k in ("application", "servicePrincipal")}
        present = [k for k in ("application", "servicePrincipal") if k in obj]
        if len(present) == 1 or (not present and "grants" in obj):
            check.add(path, {k: obj[k] for k in present} if present else MISSING,
                      "application and servicePrincipal together: the grants of an adopted client belong to "
                      "its existing service principal, which is imported with its app registration")
    else:
        why = ("a managedIdentity client may adopt only grants: its identity is found by existing, "
               "never imported" if kind == "managedIdentity" else
               "a user-assigned identity this stack creates has no grants yet: adopt grants of an "
               "existing identity only")
        for bad in ("application", "servicePrincipal"):
            if bad in obj:
                check.add(f"{path}.{bad}", obj[bad], f"not allowed: {why}")
        check.only_keys({k: v for k, v in obj.items() if k not in ("application", "servicePrincipal")}, path,
                        ("grants",))
        if kind == "userAssigned" and "grants" in obj:
            check.add(f"{path}.grants", obj["grants"], f"not allowed: {why}")
        objects = {}
    grants: dict[str, str] = {}
    raw_grants = obj.get("grants", {})
    if check.mapping(raw_grants, f"{path}.grants") is not None:
        seen: dict[str, str] = {}
        for permission, assignment in raw_grants.items():
            gpath = f"{path}.grants.{permission}"
            if permissions is not None and permission not in permissions:
                check.add(gpath, assignment, f"{permission} is not granted to this client; adopt only its own "
                          f"graphPermissions: {', '.join(permissions)}")
            elif not isinstance(assignment, str) or not GUID_RE.match(assignment):
                check.add(gpath, assignment, "an app role assignment id (a GUID), as `make adopt` prints it")
            elif assignment.lower() in seen:
                check.add(gpath, assignment, f"the same assignment as grants.{seen[assignment.lower()]}; "
                          "each assignment grants one permission")
            else:
                seen[assignment.lower()] = str(permission)
                grants[str(permission)] = assignment.lower()
    if len(check.problems) > problems:
        return False
    return Adoption(application=(objects.get("application") or "").lower() or None,
                    service_principal=(objects.get("servicePrincipal") or "").lower() or None,
                    grants=grants)
