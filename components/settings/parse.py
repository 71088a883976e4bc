"""parse_settings: a stack's whole config → :class:`Settings`, or one SettingsError listing every problem.

:func:`parse_settings` is pure (no Pulumi engine needed) so every rule can be unit-tested
directly; :func:`load_settings` reads the stack's config through Pulumi and calls it.  Each
section is read by its own module (clients, credentials, adoption, the provisioning app).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components.microsoft import DEFAULT_PERMISSIONS
from components.settings.clients import parse_client, parse_permissions, same_identity_twice
from components.settings.key_vault import same_secret_twice
from components.settings.model import ClientSettings, Settings
from components.settings.problems import MISSING, Checker, SettingsError, quoted_hint
from components.settings.provisioning_app import parse_provisioning_app
from components.settings.stack_config import NAMESPACE, namespace_problems, read_stack_config
from components.settings.trusted_principals import parse_trusted_principals

TOP_LEVEL_KEYS = ("clients", "graphPermissions", "protect", "provisioningApp", "trustedPrincipals")
# Keys only a client has: a top-level key whose object holds one is a client indented one level too far out.
_CLIENT_ONLY_KEYS = frozenset({"kind", "credential", "existing", "userAssigned", "keyVault"})


def parse_settings(raw: Mapping[str, Any], stack: str, now: dt.datetime | None = None,
                   secret_keys: frozenset[str] = frozenset(), misplaced: Sequence[str] = ()) -> Settings:
    """Validate raw stack config (keys without the namespace) and return typed settings.

    ``secret_keys`` names top-level keys set with ``pulumi config set --secret``: their values
    are never shown in an error.  ``misplaced`` lists config keys that look like this project's
    but sit outside its namespace (:func:`misplaced_keys`); each is refused with a hint.
    Raises :class:`SettingsError` listing every problem found.
    """
    now = now or dt.datetime.now(dt.UTC)
    check = Checker(now, secret_keys)
    namespace_problems(check, raw, misplaced)
    stray_clients = {key for key, value in raw.items() if key not in TOP_LEVEL_KEYS and isinstance(value, dict)
                     and _CLIENT_ONLY_KEYS & set(value)}
    for key in sorted(stray_clients):
        check.add(key, raw[key], f"unknown key; looks like a client that belongs under `clients`: indent it one "
                  f"level further in, under `{NAMESPACE}:clients` beside the other clients")
    check.only_keys({k: v for k, v in raw.items() if k not in stray_clients}, "", TOP_LEVEL_KEYS)
    default_permissions = parse_permissions(check, raw, "graphPermissions", "graphPermissions",
                                            DEFAULT_PERMISSIONS)

    protect = raw.get("protect", MISSING)
    if protect is MISSING:
        protect = is_prod_stack(stack)
    elif not isinstance(protect, bool):
        check.add("protect", protect, f"true or false{quoted_hint(protect, bool)}")
        protect = True

    clients: dict[str, ClientSettings] = {}
    raw_clients = raw.get("clients", MISSING)
    if raw_clients is MISSING or raw_clients == {}:
        where = f" under `{NAMESPACE}:clients`" if misplaced else ""
        check.add("clients", raw_clients, f"required{where}; a map with at least one client, keyed by client name")
    elif check.mapping(raw_clients, "clients") is not None:
        for key, value in raw_clients.items():
            client = parse_client(check, stack, str(key), value, default_permissions)
            if client is not None:
                clients[str(key)] = client

    same_identity_twice(check, clients)
    same_secret_twice(check, clients)

    provisioning_app = None
    if "provisioningApp" in raw:
        provisioning_app = parse_provisioning_app(check, raw["provisioningApp"], "provisioningApp", stack)
    trusted_principals = parse_trusted_principals(check, raw.get("trustedPrincipals", MISSING))

    if check.problems:
        raise SettingsError(stack, check.problems)
    return Settings(stack=stack, clients=clients, protect=bool(protect),
                    provisioning_app=provisioning_app, trusted_principals=trusted_principals,
                    warnings=tuple(check.warnings), secret_keys=secret_keys)


def is_prod_stack(stack: str) -> bool:
    """Whether ``protect`` defaults on: stack names starting with ``prod`` in any case (Prod-eu, PROD, production)."""
    return stack.casefold().startswith("prod")


def load_settings(now: dt.datetime | None = None) -> Settings:
    """Read and validate this stack's config; raise :class:`SettingsError` before anything is registered."""
    config = read_stack_config()
    return parse_settings(config.raw, pulumi.get_stack(), now, config.secret_keys, config.misplaced)
