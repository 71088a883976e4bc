"""What the deploy simulation keeps of a stack: resources, pending creates, what each deploy did, how it ran.

``tools/offline/deploys.py`` runs the program against it.  A resource is its URN, less stack and
project (``pulumi stack rename`` rewrites those in the state): its parents' types, its type, its name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.offline.azure import SECRET_TYPE, secret_delete_refused
from tools.offline.replacement import CREDENTIAL_TYPES
from tools.offline.run import PROJECT, ProgramRun

ChangeKind = Literal["create", "replace", "update", "delete", "retain"]
"""``retain``: the resource leaves the state and stays in the tenant (``retainOnDelete``)."""


@dataclass
class Deployed:
    """One resource in the simulated stack's state (or, in ``DeploySimulation.unmanaged``, in the tenant only)."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    created_run: int
    created_at: dt.datetime
    urn: str = ""
    """Its URN without stack and project; "" matches by type and name only."""
    retain: bool = False
    """``retainOnDelete``: the engine drops it from the state instead of asking the provider to delete it."""


@dataclass
class Component:
    """A component resource in the simulated state: its type, and the outputs it last registered.

    A component registered again keeps its old outputs until it registers new ones (pulumi ``step.go``, SameStep;
    ``step_executor.go``, ``executeRegisterResourceOutputs`` replaces them); a new one has none until then.
    """

    type: str
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """What one deploy did to one resource."""

    kind: ChangeKind
    type: str
    name: str
    fields: tuple[str, ...] = ()
    """The inputs that differed (replace, update)."""


@dataclass(frozen=True)
class PendingCreate:
    """A create the engine began and never saw finish (``pulumi cancel``, a killed runner).

    The engine writes it to the state before it calls the provider and keeps it there, across updates,
    until someone clears it (``pulumi refresh --clear-pending-creates``, or ``--import-pending-creates``):
    pulumi ``pkg/backend/snapshot.go``.  Each ``pulumi up`` meanwhile warns and goes on.
    """

    urn: str
    type: str
    name: str


@dataclass(frozen=True)
class RunMode:
    """How one ``pulumi up`` runs besides the default (every resource, stop at the first failure).

    * ``targets`` / ``excludes`` (``--target`` / ``--exclude``): a resource left out keeps its state ("same",
      even if its inputs changed); one left out that the state lacks is a *skipped create*, whose outputs the
      program gets as unknown (pulumi ``step.go``); only what is in the update is deleted.  The root stack is
      always in it: its outputs are replaced, unknowns and all.
    * ``fail_at``: that resource's operation fails.  Without ``continue_on_error`` the engine stops there.
      With it (``--continue-on-error``), the steps that depend on it are skipped, the rest goes on, deletes
      included, and the outputs the program registered are merged over the old ones (``step_executor.go``,
      ``executeRegisterResourceOutputs``).
    * ``cancel_at``: the runner dies while that resource's create is in flight: the provider created the
      object, the state holds a :class:`PendingCreate` instead, and nothing after it happens.
    """

    targets: Collection[str] | None = None
    excludes: Collection[str] = ()
    fail_at: str = ""
    continue_on_error: bool = False
    cancel_at: str = ""

    def in_update(self, name: str) -> bool:
        """Whether the resource named so is part of this update (``--target`` / ``--exclude``)."""
        return (self.targets is None or name in self.targets) and name not in self.excludes


@dataclass
class Deploy:
    """One simulated ``pulumi up``: the run, and what it changed."""

    number: int
    now: dt.datetime
    run: ProgramRun
    changes: list[Change] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    """What a provider waited for until its timeout, and failed (see ``ProvisioningTenant``)."""
    failed: str = ""
    """The resource whose operation failed (or was cancelled in flight); "" when none did."""
    error: str = ""
    """The provider's or the engine's error for ``failed``."""
    cancelled: bool = False
    """The runner died (``RunMode.cancel_at``): nothing after ``failed`` happened, outputs untouched."""
    warnings: list[str] = field(default_factory=list)
    """What the engine warned about before running (pending operations of an earlier run)."""

    def of_kind(self, kind: ChangeKind, types: Iterable[str] | None = None) -> list[Change]:
        wanted = None if types is None else set(types)
        return [c for c in self.changes if c.kind == kind and (wanted is None or c.type in wanted)]


def state_key(typ: str, name: str) -> str:
    """The key of a resource in the simulation's state."""
    return f"{typ}::{name}"


def simulated_urn(parent: str, typ: str, name: str) -> str:
    """A URN as the engine makes it, less stack and project: the parent's types (not the stack's), ``$``-joined."""
    if not parent:
        return f"{typ}::{name}"
    return f"{parent.rsplit('::', 1)[0]}${typ}::{name}"


def from_engine_urn(full: str) -> str:
    """A full URN (``urn:pulumi:<stack>::<project>::<types>::<name>``) in the simulation's form."""
    parts = full.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        return full
    types = parts[2].removeprefix("pulumi:pulumi:Stack$")
    return f"{types}::{'::'.join(parts[3:])}"


class StackHeld:
    """A stack's state, and what the tenant holds beside it: the resources the simulation keeps between runs."""

    def __init__(self) -> None:
        self.state: dict[str, Deployed] = {}
        self.unmanaged: list[Deployed] = []
        """What the tenant and subscription hold that the state does not: retained on delete, or created by a
        cancelled run."""
        self.pending: list[PendingCreate] = []
        """The pending creates the state holds (until cleared: :meth:`clear_pending_creates`)."""
        self.components: dict[str, Component] = {}
        """The component resources the state holds, by URN (as ``Deployed.urn``), with what they registered."""

    def resource_outputs(self, stack: str) -> dict[str, Any]:
        """Every resource's outputs by full URN, as the engine's ``readStackResourceOutputs`` answers (pulumi
        ``pkg/backend/backend.go``, ``GetStackResourceOutputs``): custom resources and components alike."""
        def urn(short: str) -> str:
            return f"urn:pulumi:{stack}::{PROJECT}::{short}"
        found = {urn(d.urn or f"{d.type}::{d.name}"): {"type": d.type, "outputs": d.outputs}
                 for d in self.state.values()}
        return found | {urn(short): {"type": c.type, "outputs": c.outputs} for short, c in self.components.items()}

    def removal_refused(self, entry: Deployed) -> str | None:
        """Why the provider would fail to delete this resource (None: it would not)."""
        return secret_delete_refused(entry.id) if entry.type == SECRET_TYPE and not entry.retain else None

    def remove(self, entry: Deployed, deploy: Deploy, replaced: bool = False) -> None:
        """A resource leaves the state: deleted by its provider (a replaced one: part of its ``replace``), or,
        with ``retainOnDelete``, left in the tenant."""
        if entry.retain:
            self.unmanaged.append(entry)
            deploy.changes.append(Change("retain", entry.type, entry.name))
        elif not replaced:
            deploy.changes.append(Change("delete", entry.type, entry.name))

    def clear_pending_creates(self) -> list[PendingCreate]:
        """``pulumi refresh --clear-pending-creates``: the state forgets them (the objects stay where they are)."""
        cleared, self.pending = self.pending, []
        return cleared

    def import_pending_create(self, name: str, resource_id: str) -> Deployed:
        """``pulumi refresh --import-pending-creates <urn> <id>``: the object becomes the state's resource."""
        (pending,) = [p for p in self.pending if p.name == name]
        (entry,) = [d for d in self.unmanaged if d.id == resource_id]
        self.pending.remove(pending)
        self.unmanaged.remove(entry)
        entry.urn = pending.urn
        self.state[state_key(entry.type, entry.name)] = entry
        return entry

    def export(self, stack: str = "dev") -> dict[str, Any]:
        """The state as ``pulumi stack export`` prints it (the parts the tools read)."""
        def urn(short: str) -> str:
            return f"urn:pulumi:{stack}::{PROJECT}::{short}"
        return {"version": 3, "deployment": {
            "resources": [{"urn": urn(d.urn), "type": d.type, "id": d.id} for d in self.state.values()],
            "pending_operations": [{"resource": {"urn": urn(p.urn), "type": p.type}, "type": "creating"}
                                   for p in self.pending]}}

    def of_type(self, typ: str) -> list[Deployed]:
        return [d for d in self.state.values() if d.type == typ]

    def credentials(self, client: str) -> list[Deployed]:
        """The key and password credentials of one client's app registration, as the state holds them."""
        return [d for d in self.state.values()
                if d.type in CREDENTIAL_TYPES and d.name.startswith(f"{client}-")]

    def credentials_in_entra(self, client: str) -> list[Deployed]:
        """The credentials Entra holds on one client's app registration: the state's, and any it does not hold."""
        return self.credentials(client) + [d for d in self.unmanaged
                                           if d.type in CREDENTIAL_TYPES and d.name.startswith(f"{client}-")]
