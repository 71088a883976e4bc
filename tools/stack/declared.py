"""What a stack file declares, in the shape the policy pack compares the stack with (its ``stackFile`` config).

``tools/policy-config.sh`` hands it to the pack (``policy/stack_file.py``), which refuses every client
component, grant, credential, federated credential, owner or Key Vault reader the file does not declare.
It is read from the stack file as ``make plan`` reads it (validated, defaults applied: a client's
permissions are the stack's unless it sets its own), so it says what the program would do with that file:

- ``stack``: the stack's name;
- ``clients``: by key, ``kind``, ``permissions`` (Graph permission values), ``credential`` (``type``
  ``secret``; ``certificate`` with ``form`` ``pem`` or ``generate``; ``federated`` with its ``issuer``,
  ``subject`` and ``audiences``), ``identity`` (``existing`` or ``userAssigned``, with ``userAssigned``'s
  ``name`` and ``resourceGroupName``), ``adopt`` (the object ids given) and ``keyVault`` (``vaultId``,
  ``vaultName``, ``secretName``, ``readers``);
- ``provisioningApp``: ``{"create": true|false}``, or null without one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from components.settings.model import (
    Adoption,
    CertificateCredential,
    Credential,
    FederatedCredential,
    GeneratedCertificateCredential,
    ManagedIdentityClientSettings,
    Settings,
)
from components.settings.problems import SettingsError
from tools.stack.settings import settings_or_problems
from tools.stack.stack_file import read_stack_file


def read_settings(stack_file: Path, stack: str) -> Settings | None:
    """The validated settings of ``stack_file``; None when it is absent (a new stack has none until its first
    ``pulumi config set``). Raises ``SettingsError`` or ``StackFileError``."""
    if not stack_file.exists():
        return None
    settings = settings_or_problems(stack, read_stack_file(stack_file), dt.datetime.now(dt.UTC))
    if isinstance(settings, SettingsError):
        raise settings
    return settings


def declaration(settings: Settings | None, stack: str) -> dict[str, Any]:
    """What ``settings`` declare (see the module's docstring); nothing at all for a stack with no file."""
    if settings is None:
        return {"stack": stack, "clients": {}, "provisioningApp": None}
    clients: dict[str, Any] = {}
    for key, client in settings.clients.items():
        entry: dict[str, Any] = {"kind": client.kind, "permissions": sorted(client.graph_permissions)}
        if client.adopt is not None:
            entry["adopt"] = _adopt(client.adopt)
        if isinstance(client, ManagedIdentityClientSettings):
            entry["identity"] = "existing" if client.existing is not None else "userAssigned"
            if client.user_assigned is not None:
                entry["userAssigned"] = {"name": client.user_assigned.name,
                                         "resourceGroupName": client.user_assigned.resource_group_name}
        else:
            entry["credential"] = _credential(client.credential)
            vault = client.key_vault
            if vault is not None:
                entry["keyVault"] = {"vaultId": vault.vault_id, "vaultName": vault.vault_name,
                                     "resourceGroupName": vault.resource_group_name, "secretName": vault.secret_name,
                                     "readers": sorted(vault.readers)}
        clients[key] = entry
    app = settings.provisioning_app
    return {"stack": stack, "clients": clients,
            "provisioningApp": None if app is None else {"create": app.create is not None}}


def _adopt(adopt: Adoption) -> dict[str, str]:
    given = {"application": adopt.application, "servicePrincipal": adopt.service_principal}
    return {k: v.lower() for k, v in given.items() if v}


def _credential(credential: Credential) -> dict[str, Any]:
    if isinstance(credential, FederatedCredential):
        return {"type": "federated", "issuer": credential.issuer, "subject": credential.subject,
                "audiences": list(credential.audiences)}
    if isinstance(credential, CertificateCredential):
        return {"type": "certificate", "form": "pem"}
    if isinstance(credential, GeneratedCertificateCredential):
        return {"type": "certificate", "form": "generate"}
    return {"type": "secret"}
