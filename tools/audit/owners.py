"""Owners as paths to the upload: of each client's app and principal, of the provisioning app, and one step further.

An owner of a client's app registration or service principal can add a credential to it and act
with the client's grants; an owner of the provisioning app can rewrite its job. The stack gives its
clients' objects no owners; the provisioning app's owners are the clients granted the OwnedBy
permission (declared). An owner that is itself a service principal is followed one step further:
its own owners (two steps from the upload) and its credentials (whoever holds one signs in as it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from tools.audit.model import DECLARED, ONE_STEP, PROVISIONING_APP, TWO_STEPS, Section, UploadPath, client_target
from tools.audit.reads import APPLICATION_READ, NOT_READ, Reads, name_of, type_of
from tools.tenant import ownership
from tools.tenant.ownership import StackRecord


@dataclass(frozen=True)
class Owned:
    """A directory object whose owners are a path: what it is, its id, and what owning it reaches."""

    what: str
    collection: str
    """``applications`` or ``servicePrincipals``."""
    object_id: str
    target: str


def owned_objects(sections: Mapping[str, Section]) -> list[Owned]:
    """What the client and provisioning-app sections read: each app registration and service principal."""
    found: list[Owned] = []
    for scope, section in sections.items():
        target = PROVISIONING_APP if scope == "provisioningApp" else client_target(scope.removeprefix("client "))
        label = "the provisioning app" if target == PROVISIONING_APP else f"client {scope.removeprefix('client ')}"
        for what, object_id in section.covers:
            collection = "applications" if what == "app registration" else "servicePrincipals"
            found.append(Owned(f"{what} of {label}", collection, object_id, target))
    return found


def owner_paths(section: Section, reads: Reads, record: StackRecord, owned: list[Owned],
                trusted: frozenset[str]) -> list[UploadPath]:
    """A path per owner of each object in ``owned``, and one step further for owners that are service principals."""
    paths: list[UploadPath] = []
    followed: set[str] = set()
    for target in owned:
        found = reads(section, f"owners of the {target.what}", APPLICATION_READ,
                      partial(reads.reader.owners, target.collection, target.object_id))
        for owner in [] if found is NOT_READ else found:
            owner_id = str(owner.get("id", "")).lower()
            declared = (target.target == PROVISIONING_APP
                        and ownership.owner(record, owner_id, of_provisioning_app=True) == ownership.OWN)
            kind = type_of(owner)
            paths.append(UploadPath(
                owner_id, name_of(owner), kind,
                f"owner of the {target.what}: " + ("can rewrite its job's mappings and secrets"
                                                   if target.target == PROVISIONING_APP
                                                   else "can add a credential and sign in as the client"),
                ONE_STEP, "owner", target.target, target.object_id, DECLARED if declared else "finding"))
            further = (kind == "servicePrincipal" and not declared and owner_id not in trusted
                       and record.client_of_principal(owner_id) is None and owner_id not in followed)
            if further:
                followed.add(owner_id)
                paths += _owner_of_owner(section, reads, owner_id, name_of(owner))
    return paths


def _owner_of_owner(section: Section, reads: Reads, principal_id: str, name: str) -> list[UploadPath]:
    """One step further from an owner that is a service principal: who owns it, and its credentials."""
    paths: list[UploadPath] = []
    principal = reads(section, f"service principal {name} (an owner) and its credentials", APPLICATION_READ,
                      lambda: reads.reader.principal_with_credentials(principal_id))
    if principal in (None, NOT_READ):
        return paths
    holders: list[tuple[str, str, dict[str, Any]]] = [("servicePrincipals", principal_id, principal)]
    app_id = str(principal.get("appId") or "")
    if ownership.is_guid(app_id) and principal.get("servicePrincipalType") != "ManagedIdentity":
        app = reads(section, f"app registration of {name} (an owner)", APPLICATION_READ,
                    lambda: reads.reader.application_by_app_id(app_id))
        if app is not NOT_READ:
            holders.append(("applications", str(app["id"]), app))
            fics = reads(section, f"federated credentials of {name} (an owner)", APPLICATION_READ,
                         lambda: reads.reader.federated_credentials(str(app["id"])))
            paths += [_credential(principal_id, name, "federated credential", f.get("name"), str(f.get("id")),
                                  f" (subject {f.get('subject')!r}, issuer {f.get('issuer')!r})")
                      for f in ([] if fics is NOT_READ else fics)]
    for collection, object_id, holder in holders:
        where = "app registration" if collection == "applications" else "service principal"
        for kind, field_name in (("secret", "passwordCredentials"), ("certificate", "keyCredentials")):
            paths += [_credential(principal_id, name, f"{kind} on the {where}", c.get("displayName"),
                                  str(c.get("keyId")), f", expires {str(c.get('endDateTime') or '')[:10]}")
                      for c in holder.get(field_name) or []]
        owners = reads(section, f"owners of the {where} of {name} (an owner)", APPLICATION_READ,
                       partial(reads.reader.owners, collection, object_id))
        paths += [UploadPath(str(o.get("id", "")).lower(), name_of(o), type_of(o),
                             f"owner of the {where} of {name}, which owns a client or the provisioning app: "
                             "can add a credential to it, then act as it",
                             TWO_STEPS, "owner", principal_id, object_id)
                  for o in ([] if owners is NOT_READ else owners)]
    return paths


def _credential(principal_id: str, name: str, kind: str, display_name: Any, key_id: str, detail: str) -> UploadPath:
    """A credential of an owner that is a service principal: whoever holds it signs in as that owner."""
    shown = f"{kind.split(' ', maxsplit=1)[0]} {str(display_name or '(no description)')!r}"
    return UploadPath(key_id.lower(), shown,
                      "credential", f"{kind} of {name}{detail}: whoever holds it signs in as {name}",
                      ONE_STEP, "signs in as", principal_id, key_id)
