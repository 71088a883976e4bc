"""The one classification of what in the tenant is the stack's own, by the ids in its non-secret outputs.

`make audit`, `make adopt` and `make verify --deployer` all tell the stack's credentials, grants
and owners from anything else here, and only by ids: never by display name. The program names a
secret ``renewal YYYY-MM-DD (managed by Pulumi)``, Graph names an uploaded certificate
``CN=<subject>``, and anyone can name a credential anything.

What the stack declared, read from ``pulumi stack output --json`` (no secret needed):

- ``clients.<key>.credentialKeyIds``: the key ids of every credential the stack registered and
  keeps (a secret's or certificate's ``keyId``, a federated credential's id). Stacks deployed
  before the field existed have none: their credentials are *unknown*, neither own nor foreign;
- ``clients.<key>.servicePrincipalObjectId`` and ``clientId``: the client's principal and app;
- ``clients.<key>.graphPermissions``: the only app roles the client's principal should hold, all
  on Microsoft Graph. The program grants no delegated permission, no directory role, and gives
  its app registrations and service principals no owners;
- ``provisioningAppServicePrincipalId``: the provisioning app, whose only owners should be the
  clients granted ``SynchronizationData-User.Upload.OwnedBy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.microsoft import UPLOAD_OWNED_BY

Ownership = Literal["own", "foreign", "unknown"]
OWN: Ownership = "own"
FOREIGN: Ownership = "foreign"
UNKNOWN: Ownership = "unknown"

NO_KEY_IDS = "the stack's outputs do not list its key ids yet: deploy once with this version"


class OutputsError(Exception):
    """The outputs are not this program's stack outputs (the message says what is wrong)."""


@dataclass(frozen=True)
class StackClient:
    """One client as the stack's outputs record it."""

    key: str
    kind: str
    display_name: str
    client_id: str
    principal_id: str
    graph_permissions: frozenset[str]
    credential_key_ids: frozenset[str] | None
    """Lower-cased; None when the outputs predate ``credentialKeyIds`` (or for a managed identity)."""

    @property
    def has_app_registration(self) -> bool:
        """A servicePrincipal client: the stack made (or adopted) its app registration and credentials."""
        return self.kind == "servicePrincipal"


@dataclass(frozen=True)
class StackRecord:
    """Everything the stack's outputs say it made."""

    clients: Mapping[str, StackClient]
    provisioning_app_principal_id: str | None

    def client_of_principal(self, principal_id: str) -> StackClient | None:
        return next((c for c in self.clients.values() if c.principal_id == principal_id.lower()), None)

    def client_of_app(self, client_id: str) -> StackClient | None:
        return next((c for c in self.clients.values() if c.client_id == client_id.lower()), None)

    def provisioning_app_owners(self) -> frozenset[str]:
        """The principals that should own the provisioning app: the clients granted the OwnedBy permission."""
        return frozenset(c.principal_id for c in self.clients.values() if UPLOAD_OWNED_BY in c.graph_permissions)


def _string(client: Mapping[str, Any], name: str, path: str, problems: list[str]) -> str:
    value = client.get(name)
    if not isinstance(value, str) or not value:
        problems.append(f"{path}.{name} is missing")
        return ""
    return value.lower() if name != "displayName" else value


def _strings(value: Any, path: str, problems: list[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{path} is not a list of strings")
        return None
    return frozenset(value)


def stack_record(outputs: Any) -> StackRecord:
    """The record in ``pulumi stack output --json`` (secrets need not be shown); raises :class:`OutputsError`."""
    if not isinstance(outputs, Mapping):
        raise OutputsError("the outputs are not a JSON object")
    if not outputs:  # what `pulumi stack output --json` prints for a stack never deployed
        return StackRecord({}, None)
    clients = outputs.get("clients")
    if not isinstance(clients, Mapping) or not all(isinstance(c, Mapping) for c in clients.values()):
        raise OutputsError("the outputs have no `clients` map: are they this program's stack outputs?")
    problems: list[str] = []
    record: dict[str, StackClient] = {}
    for key, client in clients.items():
        path = f"clients.{key}"
        permissions = _strings(client.get("graphPermissions", []), f"{path}.graphPermissions", problems)
        key_ids = _strings(client.get("credentialKeyIds"), f"{path}.credentialKeyIds", problems)
        record[key] = StackClient(
            key=key, kind=str(client.get("kind") or "servicePrincipal"),
            display_name=_string(client, "displayName", path, problems),
            client_id=_string(client, "clientId", path, problems),
            principal_id=_string(client, "servicePrincipalObjectId", path, problems),
            graph_permissions=permissions or frozenset(),
            credential_key_ids=None if key_ids is None else frozenset(k.lower() for k in key_ids))
    app = outputs.get("provisioningAppServicePrincipalId")
    if app is not None and not isinstance(app, str):
        problems.append("provisioningAppServicePrincipalId is not a string")
    if problems:
        raise OutputsError("; ".join(problems))
    return StackRecord(record, app.lower() if isinstance(app, str) else None)


def credential(client: StackClient | None, key_id: Any) -> Ownership:
    """A credential on a client's app registration or service principal, by its key id.

    ``client`` is the stack's client whose app or principal holds it, None when the stack made
    neither (every credential there predates the stack, or was added beside it).
    """
    if client is None:
        return FOREIGN
    if client.credential_key_ids is None:
        return UNKNOWN
    return OWN if isinstance(key_id, str) and key_id.lower() in client.credential_key_ids else FOREIGN


def app_role(client: StackClient, resource_id: str, graph_object_id: str, permission: str | None) -> Ownership:
    """An app role assignment to the client's principal: own only if it is one of its graphPermissions."""
    on_graph = resource_id.lower() == graph_object_id.lower()
    return OWN if on_graph and permission is not None and permission in client.graph_permissions else FOREIGN


def owner(record: StackRecord, owner_id: str, *, of_provisioning_app: bool) -> Ownership:
    """An owner of a client's app registration or principal (never the stack's), or of the provisioning app."""
    if of_provisioning_app:
        return OWN if owner_id.lower() in record.provisioning_app_owners() else FOREIGN
    return FOREIGN


def holder(record: StackRecord, principal_id: str) -> Ownership:
    """A principal holding an upload or log permission tenant-wide: own if it is one of the stack's clients."""
    return OWN if record.client_of_principal(principal_id) is not None else FOREIGN
