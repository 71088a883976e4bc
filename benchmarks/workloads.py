"""Stack configs of N clients of one kind, shared by the benchmark and its structural test."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tools.offline.entra import DirectoryEntry, mock_guid
from tools.offline.values import self_signed_pem

KINDS = ("secret", "certificate", "existing-mi", "user-assigned-mi")

# Custom resources per client at the floor, with the default two permissions:
# secret: app + service principal + 1 password (a new client's one credential; a second exists only
# during a renewal's 14-day overlap) + 2 grants; certificate (one brought): app + service principal +
# the certificate + 2 grants; existing identity: the grants only; user-assigned: identity + grants.
MINIMUM_RESOURCES_PER_CLIENT = {"secret": 5, "certificate": 5, "existing-mi": 2, "user-assigned-mi": 3}

_NOW = dt.datetime.now(dt.UTC)
_PEM = self_signed_pem("bench", _NOW - dt.timedelta(days=1), _NOW + dt.timedelta(days=300))


def identity_name(i: int) -> str:
    return f"logic-app-{i:03d}"


def directory(clients: int) -> list[DirectoryEntry]:
    """Existing managed identities for the existing-mi workload."""
    return [DirectoryEntry(identity_name(i), mock_guid("mi", str(i)), mock_guid("mi-client", str(i)))
            for i in range(clients)]


def config(kind: str, clients: int) -> dict[str, Any]:
    def client(i: int) -> dict[str, Any]:
        if kind == "secret":
            return {"kind": "servicePrincipal", "credential": {"type": "secret"}}
        if kind == "certificate":
            return {"kind": "servicePrincipal", "credential": {"type": "certificate", "pem": _PEM}}
        if kind == "existing-mi":
            return {"kind": "managedIdentity", "existing": {"displayName": identity_name(i)}}
        return {"kind": "managedIdentity", "userAssigned": {
            "name": f"id-hr-{i:03d}", "resourceGroupName": "rg-identity", "location": "westeurope"}}

    return {"clients": {f"c{i:03d}": client(i) for i in range(clients)}}
