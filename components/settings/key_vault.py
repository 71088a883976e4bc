"""``clients.<key>.keyVault``: the vault, secret name and readers a client's credential is delivered to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.settings.model import (
    GUID_RE,
    RESOURCE_GROUP_RE,
    CertificateCredential,
    ClientSettings,
    Credential,
    FederatedCredential,
    KeyVaultSettings,
    ServicePrincipalClientSettings,
)
from components.settings.object_ids import object_ids
from components.settings.problems import Checker, Problem

KEY_VAULT_KEYS = ("vaultId", "secretName", "readers")
# Resource Manager ids are case-insensitive in their fixed segments.
VAULT_ID_RE = re.compile(r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)"
                         r"/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)$", re.IGNORECASE)
# Azure naming rules: a vault is 3-24 characters of letters, digits and -, starting with a letter,
# ending with a letter or digit, no "--"; a secret is 1-127 characters of 0-9, a-z, A-Z and -.
VAULT_NAME_RE = re.compile(r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
SECRET_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
VAULT_ID_FORM = ("the vault's Azure resource id, /subscriptions/<subscription GUID>/resourceGroups/<group>"
                 "/providers/Microsoft.KeyVault/vaults/<name> (`az keyvault show -n <name> --query id`)")
SECRET_NAME_RULE = "1-127 characters of 0-9, a-z, A-Z and - (Key Vault's rule for secret names)"  # noqa: S105
READER_RULE = "an object id (a GUID) of a user, group, service principal or managed identity"


def no_secret_material(credential: Credential | None) -> str | None:
    """Why a client with this credential has nothing to write to Key Vault (None: it has)."""
    if isinstance(credential, FederatedCredential):
        return ("a federated credential has no secret: its workload signs in with its own identity "
                "provider's token, so there is nothing to deliver")
    if isinstance(credential, CertificateCredential):
        return ("a bring-your-own certificate's private key never reaches the stack: store your PEM in Key Vault "
                "yourself, or use credential.generate to have the stack make and deliver one")
    return None


def parse_key_vault(check: Checker, value: Any, path: str, client_key: str,
                    credential: Credential | None) -> KeyVaultSettings | None:
    """``clients.<key>.keyVault``, or None (the problems are recorded)."""
    obj = check.mapping(value, path)
    if obj is None:
        return None
    before = len(check.problems)
    why_not = no_secret_material(credential)
    if why_not is not None:
        check.add(path, value, f"not allowed: {why_not}")
    check.only_keys(obj, path, KEY_VAULT_KEYS)
    vault = _vault_id(check, obj, path)
    secret_name = check.string(obj, "secretName", path, required=False, max_len=127, pattern=SECRET_NAME_RE,
                               allowed=SECRET_NAME_RULE) or client_key
    readers = object_ids(check, obj.get("readers", []), f"{path}.readers", READER_RULE, "reader")
    if len(check.problems) > before or vault is None:
        return None
    vault_id, subscription, group, vault_name = vault
    return KeyVaultSettings(vault_id=vault_id, subscription_id=subscription.lower(), resource_group_name=group,
                            vault_name=vault_name, secret_name=secret_name, readers=readers)


def _vault_id(check: Checker, obj: Mapping[str, Any], path: str) -> tuple[str, str, str, str] | None:
    vault_id = check.string(obj, "vaultId", path, max_len=400, allowed=VAULT_ID_FORM)
    if vault_id is None:
        return None
    match = VAULT_ID_RE.match(vault_id)
    if match is None:
        check.add(f"{path}.vaultId", vault_id, VAULT_ID_FORM)
        return None
    subscription, group, vault_name = match.group("subscription", "group", "vault")
    wrong = [what for what, ok in (
        (f"the subscription {subscription!r} is not a GUID", GUID_RE.match(subscription)),
        (f"the resource group {group!r} is not a valid name", RESOURCE_GROUP_RE.match(group)),
        (f"the vault name {vault_name!r} breaks Azure's rule (3-24 characters of letters, digits and -, "
         "starting with a letter, ending with a letter or digit, no --)", VAULT_NAME_RE.match(vault_name)),
    ) if not ok]
    if wrong:
        check.add(f"{path}.vaultId", vault_id, f"{'; '.join(wrong)}; expected {VAULT_ID_FORM}")
        return None
    return vault_id, subscription, group, vault_name


def same_secret_twice(check: Checker, clients: Mapping[str, ClientSettings]) -> None:
    """Refuse two clients writing one secret (one vault and name, in any case): each would overwrite the other.

    By vault *name*: vault names are global, and the secret is written by name in the subscription
    azure-native deploys to, so two ids differing only in subscription or group name one vault.
    """
    writers: dict[tuple[str, str], list[str]] = {}
    for key, client in clients.items():
        if isinstance(client, ServicePrincipalClientSettings) and client.key_vault is not None:
            target = (client.key_vault.vault_name.casefold(), client.key_vault.secret_name.casefold())
            writers.setdefault(target, []).append(key)
    for (_, secret_name), keys in writers.items():
        if len(keys) > 1:
            first, *others = sorted(keys)
            check.problems.append(Problem(
                f"clients.{first}.keyVault",
                f"the same secret {secret_name!r} in the same vault as clients.{', clients.'.join(others)}",
                "one secret per client: each deploy would overwrite the other's credential; give each a "
                "secretName of its own"))
