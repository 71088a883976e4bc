"""The last deploy's ``clients`` output, read through a ``StackReference`` to the running stack itself.

The renewal ledger (``components/renewal.py``) lives in the stack's own outputs; this is how the
next run reads it back, through Pulumi alone: the engine answers a ``StackReference`` from the
stack's last checkpoint, in ``pulumi preview`` as in ``pulumi up`` (and the mock engine answers it
through ``Mocks.new_resource``, type ``pulumi:pulumi:StackReference``).  Resources are declared
from what it returns, so the value is awaited at program time, the way the SDK's own
synchronous invokes wait (``pulumi.runtime.sync_await._sync_await``): declaring them inside an
``apply`` would hide them from a preview.

The stack is ``<organization>/<project>/<stack>`` of the running program; a DIY backend's
organization is ``organization`` (what ``pulumi.get_organization()`` answers there, and what it
falls back to when the SDK has none, as under the mock engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

DIY_ORGANIZATION = "organization"
CLIENTS_OUTPUT = "clients"


def own_stack_name() -> str:
    """The fully qualified name of the stack being deployed."""
    organization = pulumi.get_organization() or DIY_ORGANIZATION
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def read_own_clients(parent: pulumi.Resource | None = None) -> dict[str, Any]:
    """The last deploy's ``clients`` output, by client key ({} for a stack never deployed).

    Only the non-secret ``clients`` output is read; a value the engine cannot tell (unknown) is
    treated as no history, which the renewal treats as new clients.
    """
    name = own_stack_name()
    reference = pulumi.StackReference(name, opts=pulumi.ResourceOptions(parent=parent))
    return known_clients(_sync_await(_resolve(reference.outputs)))


def resolve_known(value: Any) -> Any:
    """A value that may be a Pulumi output, awaited now; None when it is unknown."""
    if isinstance(value, pulumi.Output):
        return _sync_await(_resolve(value))
    return value


async def _resolve(output: pulumi.Output[Any]) -> Any:
    if not await output.is_known():
        return None
    return await output.future()


def known_clients(outputs: Any) -> dict[str, Any]:
    """The ``clients`` map of a stack's outputs (``{}`` when there is none)."""
    if not isinstance(outputs, Mapping):
        return {}
    clients = outputs.get(CLIENTS_OUTPUT)
    return {str(k): v for k, v in clients.items()} if isinstance(clients, Mapping) else {}
