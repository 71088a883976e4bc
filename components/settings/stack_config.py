"""Reading stack config: this project's namespace, the PULUMI_CONFIG the CLI hands over, misplaced keys."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.settings.problems import Checker, Problem

NAMESPACE = "inbound-provisioning-access"


def decode_config_text(text: Any) -> Any:
    """A top-level config value as the program reads it: the CLI hands over every value as a string
    (objects and arrays as JSON text, ``true`` as ``"true"``); JSON text is decoded, anything else
    stays the string it is (``"yes"`` stays ``"yes"``)."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def config_env() -> dict[str, Any]:
    """The stack's config, every namespace, full keys: the CLI's Python host passes it in the PULUMI_CONFIG
    environment variable (and loads it into the runtime); the mock engine (tests, `make plan`) sets it in-process."""
    return {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}


def read_raw_config(namespace: str = NAMESPACE) -> dict[str, Any]:
    """Every key of ``namespace`` (this project's by default) in the stack's config, without the namespace,
    parsed from JSON where it is JSON."""
    prefix = f"{namespace}:"
    return {full_key[len(prefix):]: decode_config_text(text)
            for full_key, text in config_env().items() if full_key.startswith(prefix)}


def secret_keys_of(raw: Mapping[str, Any], namespace: str = NAMESPACE) -> frozenset[str]:
    """The keys of ``raw`` (read from ``namespace``) that were set with ``--secret``."""
    secret_env = set(pulumi.runtime.config.get_config_secret_keys_env())
    return frozenset(k for k in raw if pulumi.runtime.config.is_config_secret(f"{namespace}:{k}")
                     or f"{namespace}:{k}" in secret_env)


@dataclass(frozen=True)
class StackConfig:
    """This stack's config as :func:`parse_settings` takes it."""

    raw: dict[str, Any]
    """Every key of this project's namespace, without the namespace (:func:`read_raw_config`)."""
    secret_keys: frozenset[str]
    """Top-level keys set with ``--secret``."""
    misplaced: tuple[str, ...]
    """Keys that look like this project's but sit in another namespace (:func:`misplaced_keys`)."""


def read_stack_config() -> StackConfig:
    """Read this stack's config (what :func:`load_settings` validates; the component takes it the same way)."""
    raw = read_raw_config()
    return StackConfig(raw, secret_keys_of(raw), tuple(misplaced_keys(config_env())))


def _namespace_key(namespace: str) -> str:
    return re.sub(r"[^a-z0-9]", "", namespace.casefold())


def looks_like_ours(namespace: str) -> bool:
    """A namespace that differs from ours only in case, punctuation, a typo, or by a word cut off or added.

    ``inbound_provisioning_access``, ``Inbound-Provisioning-Access``, ``inbound-provisoning-access``,
    ``inbound-provisioning`` (most of the name: at least 60% of it, from either end), or
    ``inbound-provisioning-access-dev``; not ``azuread`` or ``inbound``.
    """
    ours, theirs = _namespace_key(NAMESPACE), _namespace_key(namespace)
    if difflib.SequenceMatcher(None, theirs, ours).ratio() >= 0.9:
        return True
    shorter, longer = sorted((theirs, ours), key=len)
    return len(shorter) >= 0.6 * len(ours) and (longer.startswith(shorter) or longer.endswith(shorter))


def misplaced_keys(full_keys: Iterable[str]) -> list[str]:
    """Config keys that look like this project's but are not in its namespace (:func:`looks_like_ours`),
    in the order given.  Pulumi hands them to the program unread, so without a hint the only error
    would be a missing ``clients``.
    """
    found = []
    for key in full_keys:
        namespace, sep, _ = key.partition(":")
        if sep and namespace != NAMESPACE and looks_like_ours(namespace):
            found.append(key)
    return found


def namespace_problems(check: Checker, raw: Mapping[str, Any], misplaced: Sequence[str]) -> None:
    """One problem per misplaced key (:func:`misplaced_keys`), saying where it belongs."""
    for key in misplaced:
        namespace, sep, name = key.partition(":")
        also = " (that key is also set)" if (name or namespace) in raw else ""
        if not sep or namespace == NAMESPACE:
            # A key at the top of the stack file, beside `config:` instead of under it (make plan only).
            name = name or namespace
            check.problems.append(Problem(
                f"{key} (top level of the file)", "(ignored)",
                f"Pulumi reads only the keys under `config:`; put it there as `{NAMESPACE}:{name}`{also}"))
            continue
        check.problems.append(Problem(
            key, "(ignored)",
            f"not in this project's namespace; its keys are `{NAMESPACE}:<key>`, so this is `{NAMESPACE}:{name}`"
            f"{also}"))
