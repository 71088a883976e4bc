"""Clients and managed identities: ``clients.<key>`` → a servicePrincipal or managedIdentity client's settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.microsoft import (
    ALLOWED_PERMISSIONS,
    LOG_PERMISSIONS,
    UPLOAD_PERMISSIONS,
)
from components.settings.adoption import parse_adopt
from components.settings.credentials import parse_credential
from components.settings.key_vault import parse_key_vault
from components.settings.model import (
    DISPLAY_NAME_MAX,
    GUID_RE,
    RESOURCE_GROUP_RE,
    ClientSettings,
    ExistingIdentity,
    ManagedIdentityClientSettings,
    ServicePrincipalClientSettings,
    UserAssignedIdentitySettings,
)
from components.settings.problems import MISSING, Checker, Problem, quoted_hint
from components.settings.stack_config import NAMESPACE

CLIENT_KEY_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# Azure naming rule for Microsoft.ManagedIdentity/userAssignedIdentities (resource groups: model.RESOURCE_GROUP_RE).
IDENTITY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$")
# Region names as the ARM API spells them: westeurope, eastus2, swedencentral.
LOCATION_RE = re.compile(r"^[a-z][a-z0-9]{3,29}$")

MAX_TAGS = 50


def same_principal_problem(keys: list[str], what: str) -> Problem:
    """One problem naming every client that resolves to one principal: their grants would collide."""
    first, *others = sorted(keys)
    return Problem(f"clients.{first}", f"the same principal as clients.{', clients.'.join(others)} ({what})",
                   "one client per principal: Graph refuses a second identical app role assignment, "
                   "so keep one of these clients")


def same_identity_twice(check: Checker, clients: Mapping[str, ClientSettings]) -> None:
    """Refuse two clients that name the same managed identity in config (the tenant check catches the rest)."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for key, client in clients.items():
        if not isinstance(client, ManagedIdentityClientSettings):
            continue
        if client.existing is not None:
            ident: tuple[str, ...] = ("existing", client.existing.lookup, client.existing.value.casefold())
        elif client.user_assigned is not None:
            ident = ("userAssigned", client.user_assigned.resource_group_name.casefold(),
                     client.user_assigned.name.casefold())
        else:
            continue
        seen.setdefault(ident, []).append(key)
    for ident, keys in seen.items():
        if len(keys) > 1:
            what = (f"{ident[1]} {ident[2]!r}" if ident[0] == "existing"
                    else f"user-assigned identity {ident[2]!r} in resource group {ident[1]!r}")
            check.problems.append(same_principal_problem(keys, what))


def parse_permissions(check: Checker, obj: Mapping[str, Any], key: str, path: str,
                      default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """A ``graphPermissions`` list: ``default`` when absent, None when invalid (the problems are recorded)."""
    value = obj.get(key, MISSING)
    if value is MISSING:
        return default
    allowed = f"a non-empty list of distinct values from: {', '.join(ALLOWED_PERMISSIONS)}"
    if not isinstance(value, list) or not value:
        check.add(path, value, allowed)
        return None
    seen: set[str] = set()
    ok = True
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in ALLOWED_PERMISSIONS:
            near = check.near_miss(path, item, ALLOWED_PERMISSIONS)
            check.add(f"{path}[{index}]", item,
                      f"not allowed (least privilege){near}; allowed: {', '.join(ALLOWED_PERMISSIONS)}")
            ok = False
        elif item in seen:
            check.add(f"{path}[{index}]", item, "listed twice; each permission once")
            ok = False
        else:
            seen.add(item)
    if not ok:
        return None
    for pair in (UPLOAD_PERMISSIONS, LOG_PERMISSIONS):
        if pair <= seen:
            check.warnings.append(
                f"{path} grants both {' and '.join(sorted(pair))}; one of them is enough"
            )
    return tuple(value)


def parse_client(check: Checker, stack: str, key: str, value: Any,
                 default_permissions: tuple[str, ...] | None) -> ClientSettings | None:
    """``clients.<key>``: a servicePrincipal or managedIdentity client, or None (the problems are recorded)."""
    path = f"clients.{key}"
    if not CLIENT_KEY_RE.match(key):
        check.add(path, key, "client keys are 1-40 characters of a-z, 0-9 and -, starting with a letter")
    obj = check.mapping(value, path)
    if obj is None:
        return None
    kind = obj.get("kind", MISSING)
    if kind not in ("servicePrincipal", "managedIdentity"):
        known = ("required" if kind is MISSING
                 else f"not a known kind{check.near_miss(path, kind, ('servicePrincipal', 'managedIdentity'))}")
        check.add(f"{path}.kind", kind, f"{known}; servicePrincipal or managedIdentity")
        return None
    permissions = parse_permissions(check, obj, "graphPermissions", f"{path}.graphPermissions",
                                    default_permissions)
    if kind == "servicePrincipal":
        check.only_keys(obj, path, ("kind", "displayName", "graphPermissions", "credential", "adopt", "protect",
                                    "keyVault"))
        display_name = check.string(obj, "displayName", path, required=False, max_len=DISPLAY_NAME_MAX)
        credential = None
        if "credential" not in obj:
            check.add(f"{path}.credential", MISSING,
                      "required for a servicePrincipal; {type: secret | certificate | federated, ...}")
        else:
            credential = parse_credential(check, obj["credential"], f"{path}.credential")
        adopt = parse_adopt(check, obj, path, kind, permissions)
        protect_ok, protect = _client_protect(check, obj, path)
        key_vault = (parse_key_vault(check, obj["keyVault"], f"{path}.keyVault", key, credential)
                     if "keyVault" in obj else None)
        if (permissions is None or credential is None or adopt is False or not protect_ok
                or (key_vault is None and "keyVault" in obj)):
            return None
        return ServicePrincipalClientSettings(
            key=key,
            display_name=display_name or f"{NAMESPACE}-{stack}-{key}",
            graph_permissions=permissions,
            credential=credential,
            adopt=adopt,
            protect=protect,
            key_vault=key_vault,
        )

    why = {
        "credential": "a managedIdentity has no credential; Azure manages its keys",
        "displayName": "a managed identity's name comes from existing.displayName or userAssigned.name",
        "keyVault": "a managed identity has no secret material to deliver; it signs in where it runs",
    }
    for bad, reason in why.items():
        if bad in obj:
            check.add(f"{path}.{bad}", obj[bad], f"not allowed: {reason}")
    check.only_keys({k: v for k, v in obj.items() if k not in why}, path,
                    ("kind", "graphPermissions", "existing", "userAssigned", "adopt", "protect"))
    which = check.exactly_one(obj, ("existing", "userAssigned"), path)
    existing = user_assigned = None
    if which == "existing":
        existing = _existing(check, obj["existing"], f"{path}.existing")
    elif which == "userAssigned":
        user_assigned = _user_assigned(check, obj["userAssigned"], f"{path}.userAssigned")
    adopt = parse_adopt(check, obj, path, "userAssigned" if which == "userAssigned" else kind, permissions)
    protect_ok, protect = _client_protect(check, obj, path)
    if permissions is None or (existing is None and user_assigned is None) or adopt is False or not protect_ok:
        return None
    return ManagedIdentityClientSettings(key=key, graph_permissions=permissions, existing=existing,
                                         user_assigned=user_assigned, adopt=adopt, protect=protect)


def _client_protect(check: Checker, client: Mapping[str, Any], path: str) -> tuple[bool, bool | None]:
    """``clients.<key>.protect``: (valid, the value or None when absent)."""
    value = client.get("protect", None)
    if value is None or isinstance(value, bool):
        return True, value
    check.add(f"{path}.protect", value,
              f"true or false (overrides the stack's protect for this client){quoted_hint(value, bool)}")
    return False, None


def _existing(check: Checker, value: Any, path: str) -> ExistingIdentity | None:
    obj = check.mapping(value, path)
    if obj is None:
        return None
    check.only_keys(obj, path, ("displayName", "objectId", "clientId"))
    which = check.exactly_one(obj, ("displayName", "objectId", "clientId"), path)
    if which is None:
        return None
    if which == "displayName":
        found = check.string(obj, which, path, max_len=256)
    else:
        found = check.string(obj, which, path, pattern=GUID_RE, allowed="a GUID")
    if found is None:
        return None
    return ExistingIdentity(lookup=which, value=found)  # type: ignore[arg-type]


def _user_assigned(check: Checker, value: Any, path: str) -> UserAssignedIdentitySettings | None:
    obj = check.mapping(value, path)
    if obj is None:
        return None
    check.only_keys(obj, path, ("name", "resourceGroupName", "location", "tags"))
    name = check.string(obj, "name", path, pattern=IDENTITY_NAME_RE,
                        allowed="3-128 characters of letters, digits, - and _, starting with a letter or digit")
    group = check.string(obj, "resourceGroupName", path, pattern=RESOURCE_GROUP_RE,
                         allowed="an existing resource group: 1-90 characters of letters, digits, "
                                 "_ - . ( ), not ending in a period")
    location = check.string(obj, "location", path, pattern=LOCATION_RE,
                            allowed="an Azure region name as ARM spells it, for example westeurope or eastus2")
    tags = obj.get("tags", {})
    tags_ok = (isinstance(tags, dict) and len(tags) <= MAX_TAGS
               and all(isinstance(k, str) and 0 < len(k) <= 512 and isinstance(v, str) and len(v) <= 256
                       for k, v in tags.items()))
    if not tags_ok:
        check.add(f"{path}.tags", tags, f"a map of at most {MAX_TAGS} string tags (names ≤512, values ≤256 characters)")
    if name is None or group is None or location is None or not tags_ok:
        return None
    return UserAssignedIdentitySettings(name=name, resource_group_name=group, location=location, tags=dict(tags))
