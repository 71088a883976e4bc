"""A deploy simulation: the program run again and again on one stack, as ``pulumi up`` would.

The mock engine alone forgets everything between runs, so it cannot show what the *next*
deploy does to a stack that exists.  :class:`DeploySimulation` keeps the stack's state between
runs and decides, for each registration, what the engine and the real providers would do:

* a resource that is new is **created**;
* one whose replace-forcing input differs from its state is **replaced** (create-before-delete),
  with the rules of ``../shared/PROVIDER-FACTS.md`` (``REPLACED_BY`` below);
* one whose other inputs differ is **updated** in place, keeping its id and outputs;
* one that is no longer registered is **deleted** at the end of the run;
* ``ignore_changes`` keeps the state's value of the named inputs, and ``aliases`` carry a
  resource's state over to a new name, as Pulumi's engine does.

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

from tools.offline import (
    DirectoryEntry,
    OfflineEntra,
    ProgramRun,
    RecordingMonitor,
    _unwrap_secrets,
    parse_time,
    program_at,
    run_offline,
)

# Inputs whose change replaces the resource. Sources: terraform-provider-azuread v3 (`ForceNew`
# in each resource's schema), terraform-provider-tls (`RequiresReplace` on every certificate and
# key attribute), azure-native (the ARM resource's name, group and location).
REPLACED_BY: dict[str, frozenset[str]] = {
    "azuread:index/applicationPassword:ApplicationPassword": frozenset(
        {"applicationId", "displayName", "startDate", "endDate", "endDateRelative", "rotateWhenChanged"}),
    "azuread:index/applicationCertificate:ApplicationCertificate": frozenset(
        {"applicationId", "type", "encoding", "value", "startDate", "endDate", "endDateRelative", "keyId"}),
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential": frozenset(
        {"applicationId", "displayName"}),
    "azuread:index/appRoleAssignment:AppRoleAssignment": frozenset(
        {"appRoleId", "principalObjectId", "resourceObjectId"}),
    "azuread:index/servicePrincipal:ServicePrincipal": frozenset({"clientId"}),
    "azuread:index/synchronizationJob:SynchronizationJob": frozenset({"servicePrincipalId", "templateId"}),
    "azuread:index/applicationFromTemplate:ApplicationFromTemplate": frozenset({"templateId"}),
    "tls:index/privateKey:PrivateKey": frozenset({"algorithm", "rsaBits", "ecdsaCurve"}),
    "tls:index/selfSignedCert:SelfSignedCert": frozenset(
        {"privateKeyPem", "subject", "validityPeriodHours", "allowedUses", "dnsNames", "ipAddresses", "uris",
         "isCaCertificate", "setSubjectKeyId", "setAuthorityKeyId"}),
    "azure-native:managedidentity:UserAssignedIdentity": frozenset(
        {"resourceName", "resourceGroupName", "location"}),
}

CREDENTIAL_TYPES = frozenset({
    "azuread:index/applicationPassword:ApplicationPassword",
    "azuread:index/applicationCertificate:ApplicationCertificate",
})

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

    def of_kind(self, kind: ChangeKind, types: Iterable[str] | None = None) -> list[Change]:
        wanted = None if types is None else set(types)
        return [c for c in self.changes if c.kind == kind and (wanted is None or c.type in wanted)]


def _key(typ: str, name: str) -> str:
    return f"{typ}::{name}"


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

    def respond(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack" or not request.custom:
            return super().respond(request)
        state = self.simulation.state
        key = _key(request.type, request.name)
        old = state.get(key)
        if old is None:
            for alias in request.aliases:
                alias_key = _key(alias.spec.type or request.type, alias.spec.name)
                if alias.HasField("spec") and alias.spec.name and alias_key in state:
                    old = state.pop(alias_key)
                    break
        inputs = _unwrap_secrets(rpc.deserialize_properties(request.object))
        self.seen.add(key)
        if old is None:
            return self._create(request, key, inputs, "create", ())
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
            return self._create(request, key, inputs, "replace", forcing)
        changed = tuple(sorted(f for f in set(effective) | set(old.inputs)
                               if effective.get(f) != old.inputs.get(f)))
        if changed:
            self.deploy.changes.append(Change("update", request.type, request.name, changed))
            old.inputs = effective
            old.outputs = {**old.outputs, **effective}
        old.name = request.name
        state[key] = old
        return self._answer(request, old)

    def _create(self, request: Any, key: str, inputs: dict[str, Any], kind: ChangeKind,
                fields: tuple[str, ...]) -> Any:
        self.entra.generation = f"deploy-{self.deploy.number}"
        resource_id, outputs = self.entra.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=True))
        entry = Deployed(request.type, request.name, resource_id or "", dict(inputs), outputs,
                         self.deploy.number, self.deploy.now)
        self.simulation.state[key] = entry
        self.deploy.changes.append(Change(kind, request.type, request.name, fields))
        return self._answer(request, entry)

    def _answer(self, request: Any, entry: Deployed) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, entry.id, entry.outputs)
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

    def up(self, config: Mapping[str, Any], now: dt.datetime, stack: str = "dev",
           program: Callable[[], None] | None = None) -> Deploy:
        """Run the program (by default this one, at ``now``) against the stack's state, as ``pulumi up`` does."""
        mocks = OfflineEntra(self.graph_app_roles, tenant_id=self.tenant_id, directory=self.directory, now=now)
        deploy = Deploy(number=len(self.deploys) + 1, now=now, run=ProgramRun([], [], []))
        monitor = _SimulatingMonitor(mocks, self, deploy)
        deploy.run = run_offline(mocks, config, stack, program=program or program_at(now), monitor=monitor)
        for key in [k for k in self.state if k not in monitor.seen]:
            gone = self.state.pop(key)
            deploy.changes.append(Change("delete", gone.type, gone.name))
        self.deploys.append(deploy)
        return deploy

    def of_type(self, typ: str) -> list[Deployed]:
        return [d for d in self.state.values() if d.type == typ]

    def credentials(self, client: str) -> list[Deployed]:
        """The key and password credentials of one client's app registration, as they stand."""
        return [d for d in self.state.values()
                if d.type in CREDENTIAL_TYPES and d.name.startswith(f"{client}-")]
