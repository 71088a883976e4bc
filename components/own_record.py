"""The component's own last registered outputs, read back by its URN: the renewal record a program need not export.

``InboundProvisioningAccess`` registers its outputs (``renewalLedger`` and ``clients`` among them) with the engine
(``register_outputs``), so the state holds them whatever the program exports.  When the stack's outputs hold no
record for a client (a program that uses the component and exports nothing, or leaves an instance's ledger out),
the component reads its own last outputs with the engine's built-in invoke
``pulumi:pulumi:readStackResourceOutputs`` (pulumi ``pkg/resource/deploy/builtins.go``): it takes
``{"stackName": "<organization>/<project>/<stack>"}`` and answers ``{"name": …, "outputs": {<urn>: {"type": …,
"outputs": {…}}}}``, every resource of the stack's last checkpoint that is not pending deletion
(``pkg/backend/backend.go``, ``GetStackResourceOutputs``), a component's outputs as it last registered them.  It
registers nothing.  The read is made once per program, and only when some client's record is not in the stack's
outputs (never for this repository's own stack, which exports ``renewalLedger``).

The component is picked by its URN alone, ``urn:pulumi:<stack>::<project>::<parent types$>TYPE::<name>``, as
the engine makes it (``sdk/go/common/resource/urn/urn.go``, ``New``: the root stack's type is left out of the
chain): no display name, no date.  The SDK's ``pulumi.runtime.invoke`` reads an output the engine stored as
unknown back as ``None`` (the sentinel, ``rpc.deserialize_properties`` without ``keep_unknowns``), and a
preview's wholly unknown answer as ``is_known=False``: neither is taken for "no record".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

READ_STACK_RESOURCE_OUTPUTS = "pulumi:pulumi:readStackResourceOutputs"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
ABSENT: Any = object()
"""The state holds no resource of the component's URN: it was never deployed (or was deleted)."""


@dataclass(frozen=True)
class OwnRecord:
    """The component's last registered outputs (:data:`ABSENT`: none in the state; otherwise as read back)."""

    urn: str
    outputs: Any


def own_urn(typ: str, name: str, parent: pulumi.Resource | None) -> str:
    """The URN the engine gives a resource of this type and name under ``parent`` (None: the root stack)."""
    chain = typ
    if parent is not None:
        parent_urn = str(_sync_await(parent.urn.future()))
        parent_types = parent_urn.split("::")[2] if parent_urn.count("::") >= 3 else ""
        # The engine leaves the root stack's type out of a chain; Pulumi's mock engine puts it in (mocks.py).
        parent_types = parent_types.removeprefix(f"{ROOT_STACK_TYPE}$")
        if parent_types and parent_types != ROOT_STACK_TYPE:
            chain = f"{parent_types}${typ}"
    return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{chain}::{name}"


_READS: dict[str, tuple[object, Any]] = {}


def read_once(token: str, args: Mapping[str, Any]) -> Any:
    """The ``outputs`` of an engine built-in read (``readStackOutputs``, ``readStackResourceOutputs``) as the
    engine answers (None when the answer cannot be read): one read per program and token, shared by every
    component; a new program (a new monitor) reads again."""
    monitor = pulumi.runtime.settings.get_monitor()
    cached = _READS.get(token)
    if cached is None or cached[0] is not monitor:
        result = pulumi.runtime.invoke(token, dict(args))
        value = result.value if result.is_known and isinstance(result.value, Mapping) else None
        cached = _READS[token] = (monitor, value.get("outputs") if value is not None else None)
    return cached[1]


def stack_resource_outputs(stack_name: str) -> Any:
    """Every resource's last outputs by URN, as the engine answers (None when the answer cannot be read)."""
    return read_once(READ_STACK_RESOURCE_OUTPUTS, {"stackName": stack_name})


def read_own_record(stack_name: str, urn: str, aliased: bool = False) -> OwnRecord | str:
    """The component's own record; a string says why it cannot be told (the caller stops).

    ``aliased``: the component declares aliases (it was renamed or moved), so its record may be under an earlier
    URN, which is not resolved here: with nothing under its URN it cannot be told new, and stops.
    """
    resources = stack_resource_outputs(stack_name)
    if not isinstance(resources, Mapping):
        return ("the stack's resources' outputs (the engine's `readStackResourceOutputs`) came back "
                f"{'unknown' if resources is None else 'as a ' + type(resources).__name__}, so whether the component "
                f"{urn} has a record cannot be told")
    if urn not in resources:
        if aliased:
            return (f"the component {urn} has no record under its URN, and declares aliases: its record under an "
                    "earlier URN is not read (hand its last `renewalLedger` output in as the `renewalLedger` arg "
                    "once, or `renewalLedger: {}` if it never deployed)")
        return OwnRecord(urn, ABSENT)
    entry = resources[urn]
    outputs = entry.get("outputs") if isinstance(entry, Mapping) else None
    return OwnRecord(urn, outputs)
