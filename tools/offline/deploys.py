"""A deploy simulation: the program run again and again on one stack, as ``pulumi up`` would.

The mock engine alone forgets everything between runs, so it cannot show what the *next*
deploy does to a stack that exists.  :class:`DeploySimulation` keeps the stack's state between
runs and decides, for each registration, what the engine and the real providers would do:

* a resource that is new is **created**;
* one whose replace-forcing input differs from its state is **replaced** (create-before-delete),
  with the rules of ``../shared/PROVIDER-FACTS.md`` (``REPLACED_BY``, ``tools/offline/replacement.py``);
* one whose other inputs differ is **updated** in place, keeping its id and outputs;
* one that is no longer registered is **deleted** at the end of the run;
* ``ignore_changes`` keeps the state's value of the named inputs, and ``aliases`` carry a
  resource's state over to a new name, type or parent, as Pulumi's engine does.

A resource is its URN: its parents' types, its type and its name (the stack and project are left
out, as ``pulumi stack rename`` rewrites them in the state).  A resource that moves under another
parent gets a new URN, and so do all its descendants: without an alias the engine creates the new
one and deletes the old.  An alias is resolved the way the engine resolves one (its parent is the
current parent unless it names one, or says there was none), and a child inherits its parent's
aliases: an alias on a component carries its whole subtree over.

A read of the stack's own outputs (the ``pulumi:pulumi:readStackOutputs`` invoke, or a
``StackReference``) is answered from the last deploy's outputs as stored, an unknown one as the
engine's unknown sentinel: the renewal ledger (``components/renewal.py``) is read back that way.
A read of its resources' outputs (``pulumi:pulumi:readStackResourceOutputs``) is answered from the
state as the run began, components included, each with the outputs it last registered
(``register_outputs``): a component reads its own record that way (``components/own_record.py``).
``pulumi stack rename`` keeps a stack's outputs, and so does this.

A deploy can **fail half-way** (``fail_at``): the named resource's operation fails, and, as the
engine stops at the first failure, nothing registered after it is created or changed.  What was
created before it stays in the state (the engine checkpoints each step), nothing is deleted (the
engine deletes what the program no longer declares only after a successful run), and the stack's
outputs stay the previous deploy's (the root stack resource is a "same" step that keeps its old
outputs until the program registers new ones, which it cannot do once an output it exports has
failed).  The engine's other partial runs are :class:`~tools.offline.stack_state.RunMode`'s: a
targeted update (``--target``/``--exclude``), ``--continue-on-error``, and a run killed while a
create is in flight (``pulumi cancel``), which leaves the object in the tenant and a pending create
in the state (``DeploySimulation.unmanaged``, ``DeploySimulation.pending``).

What the tenant holds beside the state is kept too: a resource deleted with ``retainOnDelete``
stays there (``retain``), as does a cancelled create's object.  azure-native GETs a resource before
it creates it and refuses one that exists; its Key Vault secret delete is a data-plane soft delete
the deployer's roles cannot perform (403), so a secret the stack drops without ``retainOnDelete``
fails the deploy (../shared/PROVIDER-FACTS.md, "Day 3").

What a provider stores is what it compares with: the offline tenant stores credential dates
the way Graph does (whole seconds), and pulumi-tls's times in Go's nanosecond text.  A pulumi-tls
certificate is also replaced once ``now >= validityEndTime - earlyRenewalHours``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

from tools.offline.azure import ROLE_ASSIGNMENT_TYPE, SECRET_TYPE, OfflineVault, already_exists
from tools.offline.entra import DirectoryEntry, OfflineEntra
from tools.offline.provisioning_tenant import ProvisioningTenant
from tools.offline.replacement import CREDENTIAL_TYPES, REPLACED_BY
from tools.offline.run import UNKNOWN, ProgramRun, RecordingMonitor, program_at, run_offline, unwrap_secrets
from tools.offline.stack_state import (
    Change,
    ChangeKind,
    Component,
    Deploy,
    Deployed,
    PendingCreate,
    RunMode,
    StackHeld,
    from_engine_urn,
    simulated_urn,
    state_key,
)
from tools.offline.values import parse_time

__all__ = ["CREDENTIAL_TYPES", "REPLACED_BY", "Change", "Deploy", "DeploySimulation", "Deployed", "RunMode"]
CHECKED_BEFORE_CREATE = frozenset({SECRET_TYPE, ROLE_ASSIGNMENT_TYPE,
                                   "azuread:index/applicationCertificate:ApplicationCertificate"})
"""Their providers look for the object before a create and refuse one that exists."""


def _stored(entry: Deployed, field_name: str) -> Any:
    # A provider diffs against what it stored (the outputs it read back), not what it was sent.
    return entry.outputs.get(field_name, entry.inputs.get(field_name))


def _as_stored(value: Any) -> Any:
    """A registered value as the engine stores it: an unknown one as the unknown sentinel, where it stands."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    return value


class _SimulatingMonitor(RecordingMonitor):
    """Answers registrations from the simulated state, recording what each one does."""

    def __init__(self, mocks: OfflineEntra, simulation: DeploySimulation, deploy: Deploy, mode: RunMode) -> None:
        super().__init__(mocks)
        self.entra = mocks
        self.simulation = simulation
        self.deploy = deploy
        self.mode = mode
        self.seen: set[str] = set()
        self.urns: dict[str, str] = {}
        """The engine's URN (see the module's docstring) of each registered resource, by the mock's URN."""
        self.aliases: dict[str, frozenset[str]] = {}
        """The URNs each registered resource's aliases resolve to, by its URN: its children inherit them."""
        self.skipped: set[str] = set()
        """Mock URNs of the failed and skipped steps: under ``--continue-on-error`` their dependents are skipped."""
        self.components_seen: set[str] = set()
        self.stopped = False
        """The engine stopped at a failure (or the runner died): the program's outputs are never registered."""

    def respond(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().respond(request)
        urn, aliases = self._urns(request)
        if not request.custom:
            response = super().respond(request)
            self.urns[response.urn] = urn
            self._component(request.type, urn, aliases)
            return response
        if self.stopped:
            return self._not_applied(request, urn)
        state = self.simulation.state
        key = state_key(request.type, request.name)
        old = state.get(key)
        if old is not None and old.urn and old.urn != urn and old.urn not in aliases:
            # The same type and name under another parent: another resource to the engine. The
            # one in the state is deleted at the end of the run, unless something aliases it.
            state[f"{key}@{old.urn}"] = state.pop(key)
            old = None
        if old is None:
            old = self._aliased(request, aliases)
        skipped_dependency = self.mode.continue_on_error and bool(set(request.dependencies) & self.skipped)
        if not self.mode.in_update(request.name) or skipped_dependency or request.name == self.mode.fail_at:
            if request.name == self.mode.fail_at:
                self._fail(request.name, "the provider refused the operation (RunMode.fail_at)")
            return self._left_out(request, key, old, urn)
        inputs = unwrap_secrets(rpc.deserialize_properties(request.object))
        self.seen.add(key)
        if old is None:
            return self._create(request, key, inputs, "create", (), urn, None)
        old.retain = bool(request.retainOnDelete)
        effective = dict(inputs)
        for ignored in request.ignoreChanges:
            if ignored in old.inputs:
                effective[ignored] = old.inputs[ignored]
            else:
                effective.pop(ignored, None)
        replaced_by = REPLACED_BY.get(request.type, frozenset())
        forcing = tuple(sorted(f for f in replaced_by
                               if f in effective and effective[f] != _stored(old, f)))
        if not forcing and request.type == "tls:index/selfSignedCert:SelfSignedCert":
            renew_at = (parse_time(str(old.outputs["validityEndTime"]))
                        - dt.timedelta(hours=int(str(old.outputs.get("earlyRenewalHours") or 0))))
            if self.deploy.now >= renew_at:
                forcing = ("readyForRenewal",)
        if forcing:
            return self._create(request, key, inputs, "replace", forcing, urn, old)
        changed = tuple(sorted(f for f in set(effective) | set(old.inputs)
                               if effective.get(f) != old.inputs.get(f)))
        if changed:
            self.deploy.changes.append(Change("update", request.type, request.name, changed))
            old.inputs = effective
            self.entra.generation = f"deploy-{self.deploy.number}"
            old.outputs = self.entra.updated(request.type, old.outputs, effective)
        old.name = request.name
        old.urn = urn
        state[key] = old
        return self._answer(request, old)

    def _component(self, typ: str, urn: str, aliases: frozenset[str]) -> None:
        """A component registered: it keeps what it last registered (an alias's, if it moved) until it registers
        outputs again; a stopped run changes nothing in the state."""
        components = self.simulation.components
        self.components_seen.add(urn)
        if self.stopped or urn in components:
            return
        moved = next((a for a in aliases if a in components), None)
        components[urn] = components.pop(moved) if moved is not None else Component(typ)

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        """What a component registers is kept in the state as the engine receives it (an unknown output as the
        sentinel, a secret in its envelope); a stopped run's is not."""
        component = self.simulation.components.get(self.urns.get(request.urn, ""))
        if component is not None and not self.stopped:
            component.outputs = _as_stored(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def _fail(self, name: str, error: str) -> None:
        """This step failed: the engine stops, unless it runs with ``--continue-on-error``."""
        self.deploy.failed = self.deploy.failed or name
        self.deploy.error = self.deploy.error or error
        self.stopped = self.stopped or not self.mode.continue_on_error

    def _left_out(self, request: Any, key: str, old: Deployed | None, urn: str) -> Any:
        """A step not taken (targeted away, failed, or depending on a failed one): the state keeps what it had;
        a create not taken answers the program with unknown outputs (pulumi ``step.go``)."""
        self.skipped.add(self.make_urn(request.parent, request.type, request.name))
        if old is not None:
            self.seen.add(key)
            self.simulation.state[key] = old
            return self._answer(request, old)
        if self.stopped:
            return self._not_applied(request, urn)
        _, outputs = self.entra.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=unwrap_secrets(rpc.deserialize_properties(request.object)),
            provider=request.provider, resource_id=request.importId, custom=True))
        return self._answer(request, Deployed(request.type, request.name, "", {}, dict.fromkeys(outputs, UNKNOWN),
                                              self.deploy.number, self.deploy.now, urn))

    def _not_applied(self, request: Any, urn: str) -> Any:
        """The failed step, or one after the engine stopped: the state is left as it is (the program is still
        answered, so that it runs to its end; its outputs are not kept)."""
        old = self.simulation.state.get(state_key(request.type, request.name))
        if old is not None:
            return self._answer(request, old)
        resource_id, outputs = self.entra.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=unwrap_secrets(rpc.deserialize_properties(request.object)),
            provider=request.provider, resource_id=request.importId, custom=True))
        return self._answer(request, Deployed(request.type, request.name, resource_id or "", {}, outputs,
                                              self.deploy.number, self.deploy.now, urn))

    def _urns(self, request: Any) -> tuple[str, frozenset[str]]:
        """The registration's URN and the URNs its aliases (its own and its parents') resolve to."""
        parent = self.urns.get(request.parent, "")
        inherited = self.aliases.get(parent, frozenset())
        urn = simulated_urn(parent, request.type, request.name)
        aliases = {simulated_urn(p, request.type, request.name) for p in inherited}
        for alias in request.aliases:
            if not alias.HasField("spec"):
                continue
            spec = alias.spec
            if spec.noParent:
                parents: set[str] = {""}
            elif spec.parentUrn:
                parents = {self.urns.get(spec.parentUrn) or from_engine_urn(spec.parentUrn)}
            else:
                parents = {parent, *inherited}
            aliases |= {simulated_urn(p, spec.type or request.type, spec.name or request.name) for p in parents}
        aliases.discard(urn)
        self.aliases[urn] = frozenset(aliases)
        return urn, frozenset(aliases)

    def _aliased(self, request: Any, aliases: frozenset[str]) -> Deployed | None:
        """The state an alias takes over, if any (popped from the state)."""
        state = self.simulation.state
        for key, entry in state.items():
            if entry.urn and entry.urn in aliases:
                return state.pop(key)
        # Entries written without a URN (by hand, in a test) match an alias by type and name.
        for alias in request.aliases:
            alias_key = state_key(alias.spec.type or request.type, alias.spec.name)
            if alias.HasField("spec") and alias.spec.name and alias_key in state and not state[alias_key].urn:
                return state.pop(alias_key)
        return None

    def _create(self, request: Any, key: str, inputs: dict[str, Any], kind: ChangeKind,
                fields: tuple[str, ...], urn: str, replaced: Deployed | None) -> Any:
        self.entra.generation = f"deploy-{self.deploy.number}"
        resource_id, outputs = self.entra.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=True))
        entry = Deployed(request.type, request.name, resource_id or "", dict(inputs), outputs,
                         self.deploy.number, self.deploy.now, urn, retain=bool(request.retainOnDelete))
        refused = (self.simulation.removal_refused(replaced) if replaced is not None else None) or (
            already_exists(entry.type, entry.id, self.simulation.unmanaged)
            if entry.type in CHECKED_BEFORE_CREATE else None)
        if refused is not None:
            self._fail(request.name, refused)
            self.seen.discard(key)
            return self._left_out(request, key, replaced, urn)
        if self.mode.cancel_at == request.name and replaced is None:
            # The provider made the object; the runner died before the engine recorded it.
            self.simulation.unmanaged.append(entry)
            self.simulation.pending.append(PendingCreate(urn, request.type, request.name))
            self.deploy.cancelled = True
            self._fail(request.name, "cancelled while the create was in flight")
            self.stopped = True
            return self._not_applied(request, urn)
        if replaced is not None:
            self.simulation.remove(replaced, self.deploy, replaced=True)
        self.simulation.state[key] = entry
        self.deploy.changes.append(Change(kind, request.type, request.name, fields))
        return self._answer(request, entry)

    def _answer(self, request: Any, entry: Deployed) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, entry.id, entry.outputs)
        self.urns[urn] = entry.urn
        obj = _sync_await(rpc.serialize_properties(entry.outputs, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=entry.id, object=obj)


class DeploySimulation(StackHeld):
    """A stack that exists across runs of the program, in the offline tenant."""

    def __init__(self, graph_app_roles: Iterable[Mapping[str, Any]], directory: Iterable[DirectoryEntry] = (),
                 tenant_id: str = "72f988bf-0000-4000-8000-00000000e1d0") -> None:
        super().__init__()
        self.graph_app_roles = [dict(r) for r in graph_app_roles]
        self.directory = list(directory)
        self.tenant_id = tenant_id
        self.deploys: list[Deploy] = []
        self.tenant = ProvisioningTenant()
        """What the provisioning app's objects hold in the tenant, changed in the portal between deploys."""
        self.outputs: dict[str, Any] = {}
        """The stack's outputs as the last deploy left them (what a read of them gets; unknown: the sentinel)."""
        self.secret_outputs: frozenset[str] = frozenset()
        self.vaults: dict[str, OfflineVault | None] | None = None
        """The subscription's vaults by name, when a test sets them (``OfflineAzure.vaults``)."""

    def up(self, config: Mapping[str, Any], now: dt.datetime, stack: str = "dev",
           program: Callable[[], None] | None = None, refresh: bool = False, fail_at: str = "",
           mode: RunMode | None = None) -> Deploy:
        """Run the program (by default this one, at ``now``) against the stack's state, as ``pulumi up`` does.

        ``refresh`` first reads what the tenant holds into the state, as ``pulumi up --refresh`` (the
        pipeline's deploys) does, with the providers' Read (:class:`ProvisioningTenant`).
        ``fail_at`` names a resource whose operation fails: the deploy stops there (see the module's
        docstring) and is returned with ``failed`` set; the state keeps what it created, the outputs
        are unchanged.  ``mode`` runs it as ``--target``, ``--exclude``, ``--continue-on-error`` or a
        cancelled run (:class:`RunMode`).
        """
        mode = mode or RunMode(fail_at=fail_at)
        mocks = OfflineEntra(self.graph_app_roles, tenant_id=self.tenant_id, directory=self.directory, now=now,
                             **self.tenant.entra_options())
        if refresh:
            self.tenant.refresh(self.state)
        deploy = Deploy(number=len(self.deploys) + 1, now=now, run=ProgramRun([], [], []))
        if self.pending:  # pulumi deployment_executor.go: printPendingOperationsWarning, then on
            deploy.warnings.append(f"Attempting to deploy or update resources with {len(self.pending)} pending "
                                   "operations from previous deployment: " + ", ".join(
                                       f"{p.urn}, interrupted while creating" for p in self.pending))
        monitor = _SimulatingMonitor(mocks, self, deploy, mode)
        # The stack's read of its own outputs gets the last deploy's, as stored.
        mocks.stack_outputs, mocks.secret_output_names = self.outputs, self.secret_outputs
        # Its read of its resources' outputs (a component's own record) gets the last checkpoint's.
        mocks.stack_resources = self.resource_outputs(stack)
        self.tenant.before_run(mocks, self.state)
        mocks.azure.vaults = self.vaults
        mocks.azure.existing = {d.id.casefold() for d in [*self.state.values(), *self.unmanaged]
                                if d.type in (SECRET_TYPE, ROLE_ASSIGNMENT_TYPE)}
        deploy.run = run_offline(mocks, config, stack, program=program or program_at(now), monitor=monitor)
        for wanted in (mode.fail_at, mode.cancel_at):
            if wanted and deploy.failed != wanted:
                raise AssertionError(f"{wanted!r}: no such resource was registered, or another step failed first")
        if not monitor.stopped:
            # Deletes come last, and only of what is in the update (a skipped dependent is kept).
            for key in [k for k, d in self.state.items() if k not in monitor.seen and mode.in_update(d.name)]:
                refused = self.removal_refused(self.state[key])
                if refused is not None:
                    deploy.failed, deploy.error = deploy.failed or self.state[key].name, deploy.error or refused
                    continue
                self.remove(self.state.pop(key), deploy)
            for urn in [u for u in self.components if u not in monitor.components_seen]:
                del self.components[urn]  # a component the program no longer declares: deleted (nothing in Entra)
            # An errored run's outputs are merged over the old ones; a good one's replace them.
            new = dict(deploy.run.outputs)
            self.outputs = {**self.outputs, **new} if deploy.failed else new
            self.secret_outputs = (self.secret_outputs - set(new)) | deploy.run.secret_outputs
        self.tenant.apply(deploy, self.state)
        self.deploys.append(deploy)
        return deploy
