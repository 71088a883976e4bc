"""Config problems: the checker that collects them, how a value is shown in one, and SettingsError.

Every problem found is collected, then reported at once in one :class:`SettingsError`
(a ``pulumi.RunError``, which the CLI prints without a stack trace) before any resource is
registered.  No value under a ``--secret`` key, and no key material, is ever shown.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

SECRET_SHOWN = "<secret, not shown>"  # noqa: S105 (what is shown instead of a secret)


_REDACTED_KEYS = frozenset({"pem"})


@dataclass(frozen=True)
class Encrypted:
    """A ``secure:`` value read offline (``make plan``): the ciphertext is dropped, never shown.

    Under ``pulumi up`` the CLI decrypts these before the program sees them; only a reader of
    the stack file meets them, and it cannot check what it cannot decrypt.
    """


ENCRYPTED_HINT = ("`secure:` values are decrypted only by the Pulumi CLI, so make plan cannot check this one; "
                  "`pulumi preview` does")


def _show(value: Any, key: str = "") -> str:
    """Render a config value for an error message, never echoing key material."""
    if isinstance(value, Encrypted):
        return "<encrypted, not shown>"
    if re.sub(r"\[\d+\]$", "", key) in _REDACTED_KEYS or (isinstance(value, str) and "PRIVATE KEY" in value):
        size = len(value) if isinstance(value, str) else 0
        return f"<{size} characters, not shown>"
    if value is MISSING:
        return "(missing)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Problem:
    """One invalid config value."""

    path: str
    """Full key path, for example ``clients.hr-sync.credential.lifetimeDays``."""
    shown: str
    """The value given, as safe to print."""
    allowed: str
    """What is allowed instead."""

    def __str__(self) -> str:
        return f"{self.path}: got {self.shown}; {self.allowed}"

    @classmethod
    def of(cls, path: str, value: Any, allowed: str) -> Problem:
        """A problem with ``value`` shown the way every config error shows it."""
        return cls(path, _show(value, path.rsplit(".", 1)[-1]), allowed)


class SettingsError(pulumi.RunError):
    """Every problem in a stack's configuration, reported at once."""

    def __init__(self, stack: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"Invalid configuration for stack '{stack}' ({len(problems)} {noun}); "
            f"nothing was created, changed or deleted:\n{lines}"
        )


def quoted_hint(value: Any, expected: type[bool] | type[int]) -> str:
    """``"; drop the quotes ..."`` when a string holds the boolean or integer expected, else ``""``.

    ``lifetimeDays: "90"`` or ``protect: "true"`` inside an object reaches the program as a string,
    and so does ``protect: yes``: YAML 1.2, which Pulumi reads, has no yes/no booleans.
    The hint never repeats the value: it may sit under a ``--secret`` key.
    """
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if expected is bool and text.casefold() in ("true", "false"):
        return "; drop the quotes: a quoted true or false is a string to YAML, not a boolean"
    if expected is bool and text.casefold() in ("yes", "no", "on", "off", "y", "n"):
        return "; YAML 1.2, which Pulumi reads, takes yes, no, on and off as strings, not booleans"
    if expected is int and re.fullmatch(r"[+-]?\d+", text):
        return "; drop the quotes: a quoted number is a string to YAML, not an integer"
    return ""


def top_key(path: str) -> str:
    """The top-level config key a problem's key path starts with (``clients`` of ``clients.hr.kind``)."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """`` (did you mean `X`?)`` when ``given`` is a near miss of exactly one choice, else ``""``.

    A choice differing only in case is named as such (Graph's permission names and the config's
    keys are case-sensitive); otherwise the closest choice by spelling, if it is close.
    """
    choices = list(choices)
    folded = [choice for choice in choices if choice.casefold() == given.casefold()]
    if len(folded) == 1 and folded[0] != given:
        return f" (did you mean `{folded[0]}`? names are case-sensitive)"
    close = difflib.get_close_matches(given, choices, n=1, cutoff=0.8)
    return f" (did you mean `{close[0]}`?)" if close else ""


class _Missing:
    pass


MISSING: Any = _Missing()
"""A config key that is not set (distinct from ``null``)."""


class Checker:
    """Collects problems while reading raw config values."""

    def __init__(self, now: dt.datetime, secret_keys: frozenset[str]) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.now = now
        self.secret_keys = secret_keys

    def add(self, path: str, value: Any, allowed: str) -> None:
        if isinstance(value, Encrypted):
            shown, allowed = _show(value), f"{allowed}; {ENCRYPTED_HINT}"
        elif top_key(path) in self.secret_keys:
            shown = SECRET_SHOWN
        else:
            shown = _show(value, path.rsplit(".", 1)[-1])
        self.problems.append(Problem(path, shown, allowed))

    def near_miss(self, path: str, value: Any, choices: Iterable[str]) -> str:
        """:func:`did_you_mean` for a value, but never under a ``--secret`` key (it would hint at the value)."""
        if not isinstance(value, str) or top_key(path) in self.secret_keys:
            return ""
        return did_you_mean(value, choices)

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, value, "expected an object (a map of keys to values)")
            return None
        return value

    def only_keys(self, obj: Mapping[str, Any], path: str, allowed: tuple[str, ...], why: str = "") -> None:
        for key in obj:
            if key not in allowed:
                hint = why or f"allowed keys here: {', '.join(allowed)}"
                near = did_you_mean(key, allowed) if isinstance(key, str) else ""
                self.add(f"{path}.{key}" if path else str(key), obj[key], f"unknown key{near}; {hint}")

    def string(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = True,
               max_len: int = 256, pattern: re.Pattern[str] | None = None,
               allowed: str = "") -> str | None:
        value = obj.get(key, MISSING)
        if value is MISSING:
            if required:
                self.add(f"{path}.{key}", value, f"required; {allowed or 'a non-empty string'}")
            return None
        ok = isinstance(value, str) and len(value.strip()) > 0 and len(value) <= max_len
        if ok and pattern is not None:
            ok = bool(pattern.match(value))
        if not ok:
            self.add(f"{path}.{key}", value, allowed or f"a non-empty string of at most {max_len} characters")
            return None
        return str(value)

    def integer(self, obj: Mapping[str, Any], key: str, path: str, lo: int, hi: int,
                default: int | None, why: str = "") -> int | None:
        value = obj.get(key, MISSING)
        because = f": {why}" if why else ""
        if value is MISSING:
            if default is None:
                self.add(f"{path}.{key}", value, f"required; an integer from {lo} to {hi}{because}")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.add(f"{path}.{key}", value, f"an integer from {lo} to {hi}{because}{quoted_hint(value, int)}")
            return None
        return value

    def exactly_one(self, obj: Mapping[str, Any], keys: tuple[str, ...], path: str) -> str | None:
        present = [k for k in keys if k in obj]
        if len(present) != 1:
            self.add(path, {k: obj[k] for k in present} if present else MISSING,
                     f"exactly one of {', '.join(keys)}")
            return None
        return present[0]
