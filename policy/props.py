"""Reading a resource's properties when some are unknown during preview, without losing the rest.

The analyzer hands a rule its properties behind a proxy that raises ``UnknownValueError`` on any
value computed from another resource that does not exist yet.  Raised out of a rule, that makes the
whole rule advisory for the resource ("can't run during preview").  :class:`Reading` reads the
plain values first, so every known field is still judged (mandatory), and re-raises the first
unknown it met only at the end (``finish``), so the analyzer still says what it could not check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_SENTINELS = frozenset({UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
                        UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE})


@dataclass(frozen=True)
class Unknown:
    """A value not known during preview."""

    error: UnknownValueError


def _plain(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return Unknown(UnknownValueError(value, list(path))) if value in _SENTINELS else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key in value:
            try:
                out[key] = _plain(value[key], (*path, str(key)))
            except UnknownValueError as error:
                out[key] = Unknown(error)
        return out
    if isinstance(value, Sequence):
        items: list[Any] = []
        for index in range(len(value)):
            try:
                items.append(_plain(value[index], (*path, str(index))))
            except UnknownValueError as error:
                items.append(Unknown(error))
        return items
    return value


class Reading:
    """One rule's reading of one resource's properties."""

    def __init__(self, props: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = _plain(props, ())
        self.unknown: list[UnknownValueError] = []

    def known(self, value: Any) -> Any:
        """The value, or None when it is unknown (remembered, for :meth:`finish`)."""
        if isinstance(value, Unknown):
            self.unknown.append(value.error)
            return None
        return value

    def get(self, *path: str | int) -> Any:
        """The known value at ``path`` (keys and list indexes), or None when absent or unknown."""
        value: Any = self.data
        for step in path:
            value = self.known(value)
            if isinstance(step, int):
                value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
            else:
                value = value.get(step) if isinstance(value, dict) else None
        return self.known(value)

    def is_unknown(self, key: str) -> bool:
        """Whether the property ``key`` is unknown (during preview: computed from a resource not made yet)."""
        return isinstance(self.data.get(key), Unknown)

    def items(self, *path: str) -> list[Any]:
        """The known elements of the list at ``path`` (unknown ones remembered and skipped)."""
        value = self.get(*path)
        if not isinstance(value, list):
            return []
        return [item for item in (self.known(v) for v in value) if item is not None]

    def finish(self) -> None:
        """Raise the first unknown value read, so the analyzer reports what it could not check."""
        if self.unknown:
            raise self.unknown[0]


class Check:
    """A whole-stack check: reads resources, refuses them, and keeps every unknown value read."""

    def __init__(self, report: ReportViolation) -> None:
        self.report = report
        self.unknown: list[UnknownValueError] = []

    @staticmethod
    def read(resource: PolicyResource) -> Reading:
        return Reading(resource.props)

    def done(self, reading: Reading) -> None:
        self.unknown += reading.unknown

    def refuse(self, resource: PolicyResource, message: str) -> None:
        self.report(f"{resource.name}: {message}", resource.urn)


def number(value: Any) -> float | None:
    """A number, also when given as text (the bridged providers convert ``"1000000"`` to the number it
    spells); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None
