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

A ``StackReference`` to the stack itself is answered from the last deploy's outputs (secret ones
listed in ``secretOutputNames``), as the engine answers it from the stack's checkpoint: the
renewal ledger (``components/renewal.py``) is read back that way.  ``pulumi stack rename`` keeps
a stack's outputs, and so does this.

A deploy can **fail half-way** (``fail_at``): the named resource's operation fails, and, as the
engine stops at the first failure, nothing registered after it is created or changed.  What was
created before it stays in the state (the engine checkpoints each step), nothing is deleted (the
engine deletes what the program no longer declares only after a successful run), and the stack's
outputs stay the previous deploy's (the root stack resource is a "same" step that keeps its old
outputs until the program registers new ones, which it cannot do once an output it exports has
failed).

What a provider stores is what it compares with: the offline tenant stores credential dates
the way Graph does (whole seconds), and pulumi-tls's times in Go's nanosecond text.  A pulumi-tls
certificate is also replaced once ``now >= validityEndTime - earlyRenewalHours``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

from tools.offline.entra import DirectoryEntry, OfflineEntra
from tools.offline.replacement import CREDENTIAL_TYPES, REPLACED_BY
from tools.offline.run import ProgramRun, RecordingMonitor, program_at, run_offline, unwrap_secrets
from tools.offline.values import parse_time

__all__ = ["CREDENTIAL_TYPES", "REPLACED_BY", "Change", "Deploy", "DeploySimulation", "Deployed"]

ChangeKind = Literal["create", "replace", "update", "delete"]


@dataclass
class Deployed:
    """One resource in the simulated stack's state."""

    type: str
    name: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    created_run: int
    created_at: dt.datetime
    urn: str = ""
    """Its URN without stack and project (see the module's docstring); "" matches by type and name only."""


@dataclass(frozen=True)
class Change:
    """What one deploy did to one resource."""

    kind: ChangeKind
    type: str
    name: str
    fields: tuple[str, ...] = ()
    """The inputs that differed (replace, update)."""


@dataclass
class Deploy:
    """One simulated ``pulumi up``: the run, and what it changed."""

    number: int
    now: dt.datetime
    run: ProgramRun
    changes: list[Change] = field(default_factory=list)
    timeouts: list[str] = field(default_factory=list)
    """What a provider waited for until its timeout, and failed (see :class:`ProvisioningTenant`)."""
    failed: str = ""
    """The resource whose operation failed the deploy ("" when it succeeded)."""

    def of_kind(self, kind: ChangeKind, types: Iterable[str] | None = None) -> list[Change]:
        wanted = None if types is None else set(types)
        return [c for c in self.changes if c.kind == kind and (wanted is None or c.type in wanted)]


def _key(typ: str, name: str) -> str:
    return f"{typ}::{name}"


def _urn(parent: str, typ: str, name: str) -> str:
    """A URN as the engine makes it, less stack and project: the parent's types (not the stack's), ``$``-joined."""
    if not parent:
        return f"{typ}::{name}"
    return f"{parent.rsplit('::', 1)[0]}${typ}::{name}"


def _engine_urn(full: str) -> str:
    """A full URN (``urn:pulumi:<stack>::<project>::<types>::<name>``) in the simulation's form."""
    parts = full.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        return full
    types = parts[2].removeprefix("pulumi:pulumi:Stack$")
    return f"{types}::{'::'.join(parts[3:])}"


def _stored(entry: Deployed, field_name: str) -> Any:
    # A provider diffs against what it stored (the outputs it read back), not what it was sent.
    return entry.outputs.get(field_name, entry.inputs.get(field_name))


class _SimulatingMonitor(RecordingMonitor):
    """Answers registrations from the simulated state, recording what each one does."""

    def __init__(self, mocks: OfflineEntra, simulation: DeploySimulation, deploy: Deploy) -> None:
        super().__init__(mocks)
        self.entra = mocks
        self.simulation = simulation
        self.deploy = deploy
        self.seen: set[str] = set()
        self.urns: dict[str, str] = {}
        """The engine's URN (see the module's docstring) of each registered resource, by the mock's URN."""
        self.aliases: dict[str, frozenset[str]] = {}
        """The URNs each registered resource's aliases resolve to, by its URN: its children inherit them."""
        self.fail_at = ""
        """The name of the resource whose operation fails this deploy (``DeploySimulation.up``'s ``fail_at``)."""

    def respond(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().respond(request)
        urn, aliases = self._urns(request)
        if request.custom and (self.deploy.failed or request.name == self.fail_at):
            return self._not_applied(request, urn)
        if not request.custom:
            response = super().respond(request)
            self.urns[response.urn] = urn
            return response
        state = self.simulation.state
        key = _key(request.type, request.name)
        old = state.get(key)
        if old is not None and old.urn and old.urn != urn and old.urn not in aliases:
            # The same type and name under another parent: another resource to the engine. The
            # one in the state is deleted at the end of the run, unless something aliases it.
            state[f"{key}@{old.urn}"] = state.pop(key)
            old = None
        if old is None:
            old = self._aliased(request, aliases)
        inputs = unwrap_secrets(rpc.deserialize_properties(request.object))
        self.seen.add(key)
        if old is None:
            return self._create(request, key, inputs, "create", (), urn)
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
            renew_at = (parse_time(old.outputs["validityEndTime"])
                        - dt.timedelta(hours=int(old.outputs.get("earlyRenewalHours") or 0)))
            if self.deploy.now >= renew_at:
                forcing = ("readyForRenewal",)
        if forcing:
            return self._create(request, key, inputs, "replace", forcing, urn)
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

    def _not_applied(self, request: Any, urn: str) -> Any:
        """The failed step, or one after it: the state is left as it is (the program is still answered,
        so that it runs to its end; its outputs are not kept)."""
        self.deploy.failed = self.deploy.failed or request.name
        old = self.simulation.state.get(_key(request.type, request.name))
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
        urn = _urn(parent, request.type, request.name)
        aliases = {_urn(p, request.type, request.name) for p in inherited}
        for alias in request.aliases:
            if not alias.HasField("spec"):
                continue
            spec = alias.spec
            if spec.noParent:
                parents: set[str] = {""}
            elif spec.parentUrn:
                parents = {self.urns.get(spec.parentUrn) or _engine_urn(spec.parentUrn)}
            else:
                parents = {parent, *inherited}
            aliases |= {_urn(p, spec.type or request.type, spec.name or request.name) for p in parents}
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
            alias_key = _key(alias.spec.type or request.type, alias.spec.name)
            if alias.HasField("spec") and alias.spec.name and alias_key in state and not state[alias_key].urn:
                return state.pop(alias_key)
        return None

    def _create(self, request: Any, key: str, inputs: dict[str, Any], kind: ChangeKind,
                fields: tuple[str, ...], urn: str) -> Any:
        self.entra.generation = f"deploy-{self.deploy.number}"
        resource_id, outputs = self.entra.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=True))
        entry = Deployed(request.type, request.name, resource_id or "", dict(inputs), outputs,
                         self.deploy.number, self.deploy.now, urn)
        self.simulation.state[key] = entry
        self.deploy.changes.append(Change(kind, request.type, request.name, fields))
        return self._answer(request, entry)

    def _answer(self, request: Any, entry: Deployed) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, entry.id, entry.outputs)
        self.urns[urn] = entry.urn
        obj = _sync_await(rpc.serialize_properties(entry.outputs, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=entry.id, object=obj)


class DeploySimulation:
    """A stack that exists across runs of the program, in the offline tenant."""

    def __init__(self, graph_app_roles: Iterable[Mapping[str, Any]], directory: Iterable[DirectoryEntry] = (),
                 tenant_id: str = "72f988bf-0000-4000-8000-00000000e1d0") -> None:
        self.graph_app_roles = [dict(r) for r in graph_app_roles]
        self.directory = list(directory)
        self.tenant_id = tenant_id
        self.state: dict[str, Deployed] = {}
        self.deploys: list[Deploy] = []
        self.tenant = ProvisioningTenant()
        """What the provisioning app's objects hold in the tenant, changed in the portal between deploys."""
        self.outputs: dict[str, Any] = {}
        """The stack's outputs as the last deploy left them (what a StackReference to it reads)."""
        self.secret_outputs: frozenset[str] = frozenset()

    def up(self, config: Mapping[str, Any], now: dt.datetime, stack: str = "dev",
           program: Callable[[], None] | None = None, refresh: bool = False, fail_at: str = "") -> Deploy:
        """Run the program (by default this one, at ``now``) against the stack's state, as ``pulumi up`` does.

        ``refresh`` first reads what the tenant holds into the state, as ``pulumi up --refresh`` (the
        pipeline's deploys) does, with the providers' Read (:class:`ProvisioningTenant`).
        ``fail_at`` names a resource whose operation fails: the deploy stops there (see the module's
        docstring) and is returned with ``failed`` set; the state keeps what it created, the outputs
        are unchanged.
        """
        mocks = OfflineEntra(self.graph_app_roles, tenant_id=self.tenant_id, directory=self.directory, now=now,
                             **self.tenant.entra_options())
        if refresh:
            self.tenant.refresh(self.state)
        deploy = Deploy(number=len(self.deploys) + 1, now=now, run=ProgramRun([], [], []))
        monitor = _SimulatingMonitor(mocks, self, deploy)
        monitor.fail_at = fail_at
        # The stack's StackReference to itself reads the last deploy's outputs (issue 20's ledger).
        mocks.stack_outputs, mocks.secret_output_names = self.outputs, self.secret_outputs
        self.tenant.before_run(mocks, self.state)
        deploy.run = run_offline(mocks, config, stack, program=program or program_at(now), monitor=monitor)
        if fail_at and not deploy.failed:
            raise AssertionError(f"fail_at={fail_at!r}: no such resource was registered")
        if not deploy.failed:  # only a run that succeeds deletes what it no longer declares, and keeps its outputs
            for key in [k for k in self.state if k not in monitor.seen]:
                gone = self.state.pop(key)
                deploy.changes.append(Change("delete", gone.type, gone.name))
            self.outputs, self.secret_outputs = dict(deploy.run.outputs), deploy.run.secret_outputs
        self.tenant.apply(deploy, self.state)
        self.deploys.append(deploy)
        return deploy

    def of_type(self, typ: str) -> list[Deployed]:
        return [d for d in self.state.values() if d.type == typ]

    def credentials(self, client: str) -> list[Deployed]:
        """The key and password credentials of one client's app registration, as they stand."""
        return [d for d in self.state.values()
                if d.type in CREDENTIAL_TYPES and d.name.startswith(f"{client}-")]


# -- The provisioning app between deploys (issue 21) ---------------------------------------------------
# What terraform-provider-azuread's Read and write functions do with objects an operator changed in the
# portal (../shared/PROVIDER-FACTS.md, "Day 2 and after"; docs/provisioning-app.md names the source).

APP_FROM_TEMPLATE = "azuread:index/applicationFromTemplate:ApplicationFromTemplate"
SYNCHRONIZATION_JOB = "azuread:index/synchronizationJob:SynchronizationJob"
SYNCHRONIZATION_SECRET = "azuread:index/synchronizationSecret:SynchronizationSecret"  # noqa: S105 (a type token)


@dataclass
class ProvisioningTenant:
    """The tenant's side of the provisioning app: the gallery, paused jobs, secret keys the portal added."""

    gallery: dict[str, str] | None = None
    """The gallery's template ids by display name, when a test changes them (``None``: the default)."""
    paused_jobs: set[str] = field(default_factory=set)
    """Names of jobs an operator paused (schedule state ``Paused``)."""
    portal_secret_keys: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """Keys the portal added to a synchronization secret, by the secret's resource name."""
    replication_misses: int = 0
    """Reads of a new service principal that miss before Entra answers for it."""
    deleted_principals: set[str] = field(default_factory=set)
    """Object ids of the app's service principals someone deleted (its job and secret went with it)."""

    def entra_options(self) -> dict[str, Any]:
        return {} if self.gallery is None else {"gallery": dict(self.gallery)}

    def before_run(self, mocks: OfflineEntra, state: Mapping[str, Deployed]) -> None:
        """The service principals the stack made exist in the tenant; new ones replicate after some misses."""
        mocks.created_service_principals.update(str(d.outputs.get("servicePrincipalObjectId")) for d in state.values()
                                                if d.type == APP_FROM_TEMPLATE)
        mocks.created_service_principals -= self.deleted_principals  # a read misses them, for good
        mocks.replication_misses = self.replication_misses

    def refresh(self, state: dict[str, Deployed]) -> None:
        """``pulumi refresh``: each provider's Read, written to outputs and (as the bridge does) inputs; the job
        and secret of a deleted principal drop out (their Read answers 404; the app's Read checks the application)."""
        for key, entry in list(state.items()):
            if str(entry.inputs.get("servicePrincipalId", "")).rsplit("/", 1)[-1] in self.deleted_principals:
                del state[key]
                continue
            if entry.type == SYNCHRONIZATION_JOB:
                # synchronization_job_resource.go: enabled = (schedule.state == "Active").
                enabled = entry.name not in self.paused_jobs
                entry.outputs["schedules"] = [{**(entry.outputs.get("schedules") or [{}])[0],
                                               "state": "Active" if enabled else "Paused"}]
                entry.outputs["enabled"] = entry.inputs["enabled"] = enabled
            if entry.type == SYNCHRONIZATION_SECRET:
                # synchronization_secret_resource.go: Read keeps every key Graph returns.
                keys = self._keys(entry.inputs.get("credentials") or [], entry.name)
                entry.outputs["credentials"] = entry.inputs["credentials"] = keys

    def apply(self, deploy: Deploy, state: Mapping[str, Deployed]) -> None:
        """What the provider did for this deploy's changes: start or pause a job, wait for a secret's keys."""
        for change in deploy.changes:
            entry = state.get(_key(change.type, change.name))
            if entry is None or change.kind == "delete":
                continue
            if change.type == SYNCHRONIZATION_JOB and (change.kind != "update" or "enabled" in change.fields):
                # Create starts an enabled job; Update calls start or pause.
                (self.paused_jobs.discard if entry.inputs.get("enabled") else self.paused_jobs.add)(change.name)
            if change.type == SYNCHRONIZATION_SECRET and (change.kind != "update" or "credentials" in change.fields):
                # Create and Update PUT the configured keys, then wait (5 minutes) until the number of keys
                # Graph returns equals the number sent: keys the portal added never let that happen.  A PUT
                # keeps keys it does not name (modelled so: the provider's own Delete blanks each key's value
                # rather than PUT a shorter list; Graph's docs do not say).
                sent = list(entry.inputs.get("credentials") or [])
                if len(self._keys(sent, change.name)) != len(sent):
                    deploy.timeouts.append(f"{change.name}: waiting for synchronization secrets")

    def _keys(self, credentials: Iterable[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
        """The secret's keys as Graph returns them: the stack's, then the portal's (a key set once)."""
        keys = {str(c["key"]): dict(c) for c in credentials}
        for added in self.portal_secret_keys.get(name, []):
            keys.setdefault(added["key"], dict(added))
        return list(keys.values())
