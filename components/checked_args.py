"""The component's args checked as stack config: ``CheckedArgs``, with the one arg that may be an output deferred.

Another language's args become the stack config's raw shape and are validated by
:func:`components.settings.parse.parse_settings`, with the same messages and key paths: one
``SettingsError`` for every problem, before anything is registered.
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import pulumi

from components.directory import FoundPrincipal, Tenant, find_service_principals
from components.managed_identity import DeferredPrincipal
from components.settings.clients import same_principal_problem
from components.settings.model import ManagedIdentityClientSettings, Settings
from components.settings.parse import parse_settings
from components.settings.problems import Problem, SettingsError
from components.settings.stack_config import NAMESPACE

# The one arg that may be another resource's output: everything else names resources or must be
# checked before anything is registered, so it is plain.
DEFERRABLE = ("existing", "objectId")
_LEFT_OUT = object()
PLAIN = ("a plain value, known when the component is constructed: this value names resources or is checked "
         "before anything is registered")


class CheckedArgs:
    """Component args as raw stack config, validated; and the existing identities known only later."""

    def __init__(self, raw: dict[str, Any], stack: str, now: dt.datetime, secret_keys: frozenset[str],
                 misplaced: tuple[str, ...], settings: Settings, deferred: Mapping[str, pulumi.Output[Any]]) -> None:
        self.raw = raw
        self.stack = stack
        self.now = now
        self.secret_keys = secret_keys
        self.misplaced = misplaced
        self.settings = settings
        self.deferred = deferred
        """``clients.<key>.existing.objectId`` values that are outputs, by client key."""

    @classmethod
    def of(cls, args: Mapping[str, Any], stack: str, now: dt.datetime,
           secret_keys: frozenset[str] = frozenset(), misplaced: tuple[str, ...] = (),
           also: tuple[Problem, ...] = ()) -> "CheckedArgs":
        """Validate ``args`` as parse_settings validates stack config; raise one SettingsError for every
        problem (``also``: problems the caller found in args that are not stack config)."""
        problems: list[Problem] = list(also)
        deferred: dict[str, pulumi.Output[Any]] = {}
        raw = _as_config(args, "", problems, deferred)
        try:
            settings = parse_settings(raw, stack, now, secret_keys, misplaced)
        except SettingsError as error:
            if not problems:
                raise
            raise SettingsError(stack, [*error.problems, *problems]) from None
        if problems:
            raise SettingsError(stack, problems)
        return cls(raw, stack, now, secret_keys, misplaced, settings, deferred)

    def settings_to_look_up(self) -> Settings:
        """The settings without the deferred identities: those are looked up once their object id is known."""
        if not self.deferred:
            return self.settings
        clients = {key: (ManagedIdentityClientSettings(key=key, graph_permissions=client.graph_permissions,
                                                       adopt=client.adopt, protect=client.protect)
                         if key in self.deferred and isinstance(client, ManagedIdentityClientSettings) else client)
                   for key, client in self.settings.clients.items()}
        # replace(), not a new Settings: every other field (secret_keys, which hides values in tenant
        # errors, among them) stays as parsed.
        return dataclasses.replace(self.settings, clients=clients)

    def deferred_principal(self, key: str, tenant: Tenant) -> DeferredPrincipal:
        """An identity whose object id is an output: validated and looked up in an ``apply`` once it is known.

        During a preview the value is unknown, so the apply does not run and the grants show with an
        unknown principal.  On ``pulumi up`` the value is known before the grants are created; a bad
        or unknown object id then fails the deploy with the message the stack config would have had
        (what was created before that point stays; nothing depends on it).
        """
        path = f"clients.{key}.existing.objectId"
        known = {p.object_id.casefold(): k for k, p in tenant.existing_identities.items()}

        def check(value: Any) -> FoundPrincipal:
            raw = _with_value(self.raw, ("clients", key, *DEFERRABLE), value)
            parse_settings(raw, self.stack, self.now, self.secret_keys, self.misplaced)  # the config's own messages
            found, reasons = find_service_principals("objectId", [value])
            if value not in found:
                raise SettingsError(self.stack, self.settings.hide_secrets([Problem.of(path, value, reasons[value])]))
            principal = found[value]
            if principal.object_id.casefold() in known:
                raise SettingsError(self.stack, [same_principal_problem(
                    [key, known[principal.object_id.casefold()]], f"object id {principal.object_id}")])
            return principal

        principal = self.deferred[key].apply(check)
        return DeferredPrincipal(object_id=principal.apply(lambda p: p.object_id),
                                 client_id=principal.apply(lambda p: p.client_id),
                                 display_name=principal.apply(lambda p: p.display_name))


def _as_config(value: Any, path: str, problems: list[Problem], deferred: dict[str, pulumi.Output[Any]]) -> Any:
    """A value as stack config holds it: plain dicts and lists, whole numbers as ints (another
    language sends every number as a float); an output where only a known value can be validated
    is a problem, and the one deferrable output is replaced by a stand-in the checks accept."""
    if isinstance(value, pulumi.Output):
        parts = path.split(".")
        if len(parts) == 4 and parts[0] == "clients" and tuple(parts[2:]) == DEFERRABLE:
            deferred[parts[1]] = value
            return _stand_in(parts[1])
        problems.append(Problem(path, "an output (another resource's, or a secret)", PLAIN))
        return _LEFT_OUT
    if isinstance(value, Mapping):
        # A key whose value is refused above is left out: its problem is reported once, not again as missing.
        converted = {str(k): _as_config(v, f"{path}.{k}" if path else str(k), problems, deferred)
                     for k, v in value.items()}
        return {k: v for k, v in converted.items() if v is not _LEFT_OUT}
    if isinstance(value, list | tuple):
        return [_as_config(v, f"{path}[{i}]", problems, deferred) for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stand_in(key: str) -> str:
    # A distinct, valid GUID per client, so the config checks pass (and no two clients look alike)
    # until the real value is known and checked.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{NAMESPACE}/deferred/{key}"))


def _with_value(raw: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copied = dict(raw)
    if len(path) == 1:
        copied[path[0]] = value
    else:
        copied[path[0]] = _with_value(raw[path[0]], path[1:], value)
    return copied
