"""The last deploy's outputs, read through a ``StackReference`` to the running stack itself.

The renewal ledger (``components/renewal.py``) and the created provisioning app's service principal
(``components/replication_wait.py``: a principal deployed before and now gone was deleted) live in the
stack's own outputs; this is how the next run reads them back, through Pulumi alone: the engine
answers a ``StackReference`` from the stack's last checkpoint, in ``pulumi preview`` as in ``pulumi up``
(and the mock engine answers it through ``Mocks.new_resource``, type ``pulumi:pulumi:StackReference``).
Resources are declared from what it returns, so the value is awaited at program time, the way the SDK's own
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
NO_CLIENTS_OUTPUT = (
    f"this stack has outputs, but none named `{CLIENTS_OUTPUT}`: the renewal record of the last deploy cannot be "
    "read, so each deploy on a new day makes new secrets and generated certificates and drops the ones handed out. "
    f"Export the component's clients output as `{CLIENTS_OUTPUT}`, or pass it back as the `renewalLedger` arg "
    "(docs/credentials-and-renewal.md, 'The component package')")


def own_stack_name() -> str:
    """The fully qualified name of the stack being deployed."""
    organization = pulumi.get_organization() or DIY_ORGANIZATION
    return f"{organization}/{pulumi.get_project()}/{pulumi.get_stack()}"


def read_own_outputs(parent: pulumi.Resource | None = None) -> dict[str, Any]:
    """The last deploy's non-secret outputs, read once ({} for a stack never deployed, or when the engine
    cannot tell: a value unknown in a preview is treated as no history)."""
    reference = pulumi.StackReference(own_stack_name(), opts=pulumi.ResourceOptions(parent=parent))
    outputs = _sync_await(_resolve(reference.outputs))
    return {str(k): v for k, v in outputs.items()} if isinstance(outputs, Mapping) else {}


def clients_of(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``clients`` output of :func:`read_own_outputs`' answer, by client key (the renewal's history)."""
    if outputs and CLIENTS_OUTPUT not in outputs:
        # Deployed, yet no ledger: a program using the component that exports its clients under another name.
        pulumi.log.warn(NO_CLIENTS_OUTPUT)
    return known_clients(outputs)


def read_own_clients(parent: pulumi.Resource | None = None) -> dict[str, Any]:
    """The last deploy's ``clients`` output, by client key ({} for a stack never deployed)."""
    return clients_of(read_own_outputs(parent))


_UNKNOWN = object()


async def _resolve(output: pulumi.Output[Any]) -> Any:
    """The output's value, or ``_UNKNOWN`` when the engine cannot tell it (a preview's unknown)."""
    if not await output.is_known():
        return _UNKNOWN
    return await output.future()


def known_clients(outputs: Any) -> dict[str, Any]:
    """The ``clients`` map of a stack's outputs (``{}`` when there is none)."""
    if not isinstance(outputs, Mapping):
        return {}
    clients = outputs.get(CLIENTS_OUTPUT)
    return {str(k): v for k, v in clients.items()} if isinstance(clients, Mapping) else {}


# -- the package: history handed in by the consumer -----------------------------------------------

RENEWAL_LEDGER_ARG = "renewalLedger"
RENEWAL_LEDGER_ALLOWED = ("a map by client key, as the last deploy's `clients` output of this component (each "
                          "client's `renewal` is read), known when the component is constructed")


def split_renewal_ledger(args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """The args without ``renewalLedger``; its value as history (None: not given); what is wrong with it.

    A consumer may pass another resource's output (its own ``StackReference``): it is awaited
    here, as the program's own read is; an unknown value is refused rather than taken as no history,
    which would plan every credential anew.
    """
    rest = {k: v for k, v in args.items() if k != RENEWAL_LEDGER_ARG}
    if RENEWAL_LEDGER_ARG not in args:
        return rest, None, None
    value = args[RENEWAL_LEDGER_ARG]
    if isinstance(value, pulumi.Output):
        value = _sync_await(_resolve(value))
        if value is _UNKNOWN:
            return rest, None, "an unknown value (an output not known yet)"
    if value is None:
        return rest, {}, None  # the consumer's stack has no such output yet: a new stack
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        return rest, None, f"{type(value).__name__} value"
    return rest, {str(k): dict(v) for k, v in value.items()}, None
