"""Microsoft Graph's 716 app roles are converted once per test process, not once per program run.

Every program run looks up Graph's service principal, and the offline Entra answers as the azuread
provider does: the real 716 app roles (`appRoles`, `appRoleIds`). Pulumi's SDK then converts that
answer three times over (the mock monitor's dict → protobuf, protobuf → dict, dict → the typed
``GetServicePrincipalResult``): about 0.05 s of a 0.08 s run, for data that is the same in every run.
These wrappers keep each conversion of a *large* answer (over 32 KiB) by its exact content and hand
the same result back for the same content, so the SDK's own code still converts it, once. Smaller
values (every resource's inputs and outputs, every other invoke) go through untouched.

If the SDK renames what is wrapped, ``install`` fails loudly rather than the tests silently slowing
down (as ``tests/conftest.py``'s stack-walk patch does).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LARGE = 32 * 1024


class _ConvertOnce:
    """``pulumi.runtime.rpc`` as one SDK module sees it, with its large conversions kept by content."""

    def __init__(self, rpc: Any) -> None:
        self._rpc = rpc
        self._serialized: dict[str, Any] = {}
        self._deserialized: dict[bytes, tuple[Any, bool]] = {}
        self._translated: dict[tuple[int, Any], Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rpc, name)

    async def serialize_properties(self, inputs: Any, property_deps: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            key = json.dumps(inputs, sort_keys=True)
        except (TypeError, ValueError):  # resources, Outputs, assets: not plain data, never kept
            key = ""
        if args or kwargs or len(key) < LARGE:
            return await self._rpc.serialize_properties(inputs, property_deps, *args, **kwargs)
        if key not in self._serialized:
            self._serialized[key] = await self._rpc.serialize_properties(inputs, property_deps)
        return self._serialized[key]

    def deserialize_properties_unwrap_secrets(self, props_struct: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or props_struct.ByteSize() < LARGE:
            return self._rpc.deserialize_properties_unwrap_secrets(props_struct, *args, **kwargs)
        key = props_struct.SerializeToString(deterministic=True)
        if key not in self._deserialized:
            self._deserialized[key] = self._rpc.deserialize_properties_unwrap_secrets(props_struct)
        return self._deserialized[key]

    def translate_output_properties(self, output: Any, transformer: Any, output_type: Any = None,
                                    *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not any(output is kept for kept, _ in self._deserialized.values()):
            return self._rpc.translate_output_properties(output, transformer, output_type, *args, **kwargs)
        key = (id(output), output_type)
        if key not in self._translated:
            self._translated[key] = self._rpc.translate_output_properties(output, transformer, output_type)
        return self._translated[key]


@contextmanager
def install() -> Iterator[None]:
    """Wrap the ``rpc`` of the SDK's invoke (protobuf → typed result) and of its mock monitor (dict → protobuf)."""
    invoke = sys.modules["pulumi.runtime.invoke"]
    mocks = sys.modules["pulumi.runtime.mocks"]
    wrapped = _ConvertOnce(invoke.rpc)
    for name in ("serialize_properties", "deserialize_properties_unwrap_secrets", "translate_output_properties"):
        assert callable(getattr(invoke.rpc, name)), f"pulumi.runtime.rpc.{name} is gone: update tests/invoke_memo.py"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(invoke, "rpc", wrapped)
        patch.setattr(mocks, "rpc", wrapped)
        yield
