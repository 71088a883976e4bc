"""The one classification of what in the tenant is the stack's own, by the ids in its non-secret outputs.

`make audit`, `make adopt` and `make verify --deployer` all tell the stack's credentials, grants
and owners from anything else here, and only by ids: never by display name. The program names a
secret ``renewal YYYY-MM-DD (managed by Pulumi)``, Graph names an uploaded certificate
``CN=<subject>``, and anyone can name a credential anything.

What the stack declared, read from ``pulumi stack output --json`` (no secret needed):

- ``clients.<key>.credentialKeyIds`` and ``clients.<key>.credentials``: every credential the stack
  registered and keeps, by key id (a secret's or certificate's ``keyId``, a federated credential's
  id), with its kind, end date, certificate thumbprint or federation. A key id alone proves nothing:
  whoever adds a certificate chooses its key id, and a federated credential is edited in place under
  its id. Stacks deployed before these fields existed have neither: their credentials are *unknown*,
  neither own nor foreign;
- ``clients.<key>.servicePrincipalObjectId`` and ``clientId``: the client's principal and app;
- ``clients.<key>.graphPermissions``: the only app roles the client's principal should hold, all
  on Microsoft Graph. The program grants no delegated permission, no directory role, puts no
  credential on a service principal, and gives its app registrations and service principals no owners;
- ``provisioningAppServicePrincipalId``: the provisioning app, whose only owners should be the
  clients granted ``SynchronizationData-User.Upload.OwnedBy``; ``tenantId``: the tenant.

Every id is a GUID, or the outputs are refused: ids go into Graph's URLs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.microsoft import UPLOAD_OWNED_BY
from components.renewal import rfc3339
from components.settings.model import GUID_RE

Ownership = Literal["own", "foreign", "unknown"]
OWN: Ownership = "own"
FOREIGN: Ownership = "foreign"
UNKNOWN: Ownership = "unknown"
CredentialKind = Literal["secret", "certificate", "federated"]

NO_KEY_IDS = ("the stack's outputs do not describe its credentials yet (clients.<key>.credentialKeyIds and "
              "credentials): deploy once with this version")


class OutputsError(Exception):
    """The outputs are not this program's stack outputs (the message says what is wrong)."""


@dataclass(frozen=True)
class ExpectedCredential:
    """One credential the stack keeps for a client, as its outputs describe it."""

    key_id: str
    kind: str
    end_date: dt.datetime | None = None
    thumbprint: str | None = None
    """SHA-1, upper-case hex (certificates)."""
    federation: tuple[str, str, tuple[str, ...]] | None = None
    """Issuer, subject and sorted audiences (federated credentials)."""


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
    credentials: Mapping[str, ExpectedCredential] | None = None
    """By lower-cased key id; None when the outputs predate ``credentials`` (or for a managed identity)."""

    @property
    def has_app_registration(self) -> bool:
        """A servicePrincipal client: the stack made (or adopted) its app registration and credentials."""
        return self.kind == "servicePrincipal"


@dataclass(frozen=True)
class StackRecord:
    """Everything the stack's outputs say it made."""

    clients: Mapping[str, StackClient]
    provisioning_app_principal_id: str | None
    tenant_id: str | None = None

    def client_of_principal(self, principal_id: str) -> StackClient | None:
        return next((c for c in self.clients.values() if c.principal_id == principal_id.lower()), None)

    def client_of_app(self, client_id: str) -> StackClient | None:
        return next((c for c in self.clients.values() if c.client_id == client_id.lower()), None)

    def provisioning_app_owners(self) -> frozenset[str]:
        """The principals that should own the provisioning app: the clients granted the OwnedBy permission."""
        return frozenset(c.principal_id for c in self.clients.values() if UPLOAD_OWNED_BY in c.graph_permissions)


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and GUID_RE.match(value) is not None


def _guid(value: Any, path: str, problems: list[str]) -> str:
    if value is None or value == "":
        problems.append(f"{path} is missing")
    elif not is_guid(value):
        problems.append(f"{path} is not a GUID ({str(value)[:60]!r})")
    else:
        return str(value).lower()
    return ""


def _strings(value: Any, path: str, problems: list[str]) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{path} is not a list of strings")
        return None
    return frozenset(value)


def _date(value: Any) -> dt.datetime | None:
    """An RFC 3339 date as Graph and the outputs write it, to the second (Graph keeps whole seconds)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").split(".")[0].removesuffix("+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _expected(value: Any, path: str, problems: list[str]) -> dict[str, ExpectedCredential] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        problems.append(f"{path} is not a list of objects")
        return None
    found: dict[str, ExpectedCredential] = {}
    for index, entry in enumerate(value):
        key_id = _guid(entry.get("keyId"), f"{path}[{index}].keyId", problems)
        kind = entry.get("type")
        if kind not in ("secret", "certificate", "federated"):
            problems.append(f"{path}[{index}].type is not secret, certificate or federated")
            continue
        audiences = entry.get("audiences") or []
        federation = ((str(entry.get("issuer")), str(entry.get("subject")), tuple(sorted(map(str, audiences))))
                      if kind == "federated" else None)
        thumbprint = entry.get("thumbprint")
        found[key_id] = ExpectedCredential(key_id, kind, _date(entry.get("endDate")),
                                           str(thumbprint).upper() if thumbprint else None, federation)
    return found


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
        for index, key_id in enumerate(client.get("credentialKeyIds") if key_ids is not None else ()):
            _guid(key_id, f"{path}.credentialKeyIds[{index}]", problems)
        display_name = client.get("displayName")
        if not isinstance(display_name, str) or not display_name:
            problems.append(f"{path}.displayName is missing")
        record[key] = StackClient(
            key=key, kind=str(client.get("kind") or "servicePrincipal"), display_name=str(display_name or ""),
            client_id=_guid(client.get("clientId"), f"{path}.clientId", problems),
            principal_id=_guid(client.get("servicePrincipalObjectId"), f"{path}.servicePrincipalObjectId", problems),
            graph_permissions=permissions or frozenset(),
            credential_key_ids=None if key_ids is None else frozenset(k.lower() for k in key_ids),
            credentials=_expected(client.get("credentials"), f"{path}.credentials", problems))
    app = outputs.get("provisioningAppServicePrincipalId")
    tenant = outputs.get("tenantId")
    app_id = None if app is None else _guid(app, "provisioningAppServicePrincipalId", problems)
    tenant_id = None if tenant is None else _guid(tenant, "tenantId", problems)
    if problems:
        raise OutputsError("; ".join(problems))
    return StackRecord(record, app_id, tenant_id)


def graph_thumbprint(found: Mapping[str, Any]) -> str | None:
    """A key credential's SHA-1 thumbprint, from the certificate itself (``key``: Graph returns it when the
    object is read alone with ``$select=keyCredentials``), never from ``customKeyIdentifier``, which the
    caller chooses."""
    key = found.get("key")
    if not isinstance(key, str) or not key:
        return None
    try:
        der = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return None
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def credential(client: StackClient | None, kind: CredentialKind, found: Mapping[str, Any]) -> tuple[Ownership, str]:
    """A credential on an app registration (``kind``: the Graph collection it is in), and why it is not the
    stack's when its key id is.

    ``client`` is the stack's client whose app registration holds it, None where the stack registered
    nothing (a service principal, the provisioning app): every credential there is foreign.
    """
    key_id = found.get("id" if kind == "federated" else "keyId")
    if client is None:
        return FOREIGN, ""
    if client.credential_key_ids is None or client.credentials is None:
        return UNKNOWN, NO_KEY_IDS
    if not isinstance(key_id, str) or key_id.lower() not in client.credential_key_ids:
        return FOREIGN, ""
    expected = client.credentials.get(key_id.lower())
    if expected is None:
        return FOREIGN, "its key id is in credentialKeyIds but not in credentials"
    differences = _differences(expected, kind, found)
    if differences:
        return FOREIGN, f"reuses the key id of the stack's {expected.kind}, but " + "; ".join(differences)
    return OWN, ""


def _differences(expected: ExpectedCredential, kind: str, found: Mapping[str, Any]) -> list[str]:
    if kind != expected.kind:
        return [f"it is a {kind}"]
    differences: list[str] = []
    if kind == "federated":
        audiences = tuple(sorted(map(str, found.get("audiences") or [])))
        issuer, subject = str(found.get("issuer")), str(found.get("subject"))
        wanted_issuer, wanted_subject, wanted_audiences = expected.federation or ("", "", ())
        for name, got, wanted in (("issuer", issuer, wanted_issuer), ("subject", subject, wanted_subject),
                                  ("audiences", audiences, wanted_audiences)):
            if got != wanted:
                differences.append(f"its {name} was edited in place ({got!r}, the stack's {wanted!r})")
        return differences
    end = _date(found.get("endDateTime"))
    if expected.end_date is not None and end != expected.end_date:
        differences.append(f"it ends {found.get('endDateTime')}, the stack's {rfc3339(expected.end_date)}")
    if kind == "certificate":
        thumbprint = graph_thumbprint(found)
        if thumbprint is None:
            differences.append("Graph returned no certificate to compare thumbprints")
        elif thumbprint != expected.thumbprint:
            differences.append(f"its thumbprint is {thumbprint}, the stack's {expected.thumbprint}")
    return differences


def app_role(client: StackClient, resource_id: str, graph_object_id: str, permission: str | None) -> Ownership:
    """An app role assignment to the client's principal: own only if it is one of its graphPermissions."""
    on_graph = resource_id.lower() == graph_object_id.lower()
    return OWN if on_graph and permission is not None and permission in client.graph_permissions else FOREIGN


def owner(record: StackRecord, owner_id: str, *, of_provisioning_app: bool) -> Ownership:
    """An owner of a client's app registration or principal (never the stack's), or of the provisioning app."""
    if of_provisioning_app:
        return OWN if owner_id.lower() in record.provisioning_app_owners() else FOREIGN
    return FOREIGN


def holder(record: StackRecord, principal_id: str, permission: str) -> Ownership:
    """A principal holding a Graph permission tenant-wide: own if it is a client of the stack granted it."""
    client = record.client_of_principal(principal_id)
    return OWN if client is not None and permission in client.graph_permissions else FOREIGN
