"""The provisioning app's side of a simulated tenant between deploys: the gallery, paused jobs, portal-added keys.

What terraform-provider-azuread's Read and write functions do with objects an operator changed in the portal
(../shared/PROVIDER-FACTS.md, "Day 2 and after"; docs/provisioning-app.md names the source); the deploy
simulation (``tools/offline/deploys.py``) applies it around each run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.offline.entra import OfflineEntra

if TYPE_CHECKING:
    from tools.offline.deploys import Deploy, Deployed

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
            entry = state.get(f"{change.type}::{change.name}")
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
