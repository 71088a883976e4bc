"""Reads from the tenant, done once and before any resource is registered.

Microsoft Graph's service principal, the deployer, existing managed identities and the
provisioning app are looked up with azuread data sources.  Every lookup happens here,
up front, so that a name that matches nothing (or several things) fails the run the same
way bad config does: one error, nothing created.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from components.microsoft import GRAPH_APP_ID
from components.settings import (
    ExistingIdentity,
    ManagedIdentityClientSettings,
    Problem,
    ProvisioningAppSettings,
    Settings,
    SettingsError,
)


@dataclass(frozen=True)
class MicrosoftGraph:
    """Microsoft Graph's service principal in this tenant: the resource of every grant."""

    object_id: str
    """Its object id (the ``resource_object_id`` of every app role assignment)."""
    app_role_ids: Mapping[str, str]
    """App role ids by permission value, as the tenant publishes them."""


@dataclass(frozen=True)
class FoundPrincipal:
    """A service principal that already exists in the tenant."""

    object_id: str
    client_id: str
    display_name: str


@dataclass(frozen=True)
class Tenant:
    """Everything read from the tenant before resources are registered."""

    tenant_id: str
    deployer_object_id: str
    """The identity running ``pulumi up``; made owner of the app registrations it creates."""
    graph: MicrosoftGraph
    existing_identities: Mapping[str, FoundPrincipal]
    """Existing managed identities, by client key."""
    provisioning_app: FoundPrincipal | None


def lookup_microsoft_graph() -> MicrosoftGraph:
    """Look up Graph's service principal by its well-known appId (one read per stack)."""
    graph = azuread.get_service_principal(client_id=GRAPH_APP_ID)
    return MicrosoftGraph(object_id=graph.object_id, app_role_ids=dict(graph.app_role_ids))


def _find_by_display_name(display_name: str, path: str, what: str,
                          problems: list[Problem]) -> FoundPrincipal | None:
    # getServicePrincipal by display name fails on duplicates with a provider error; listing
    # all matches lets us say how many there are and what to use instead.
    found = azuread.get_service_principals(display_names=[display_name], ignore_missing=True)
    matches = list(found.service_principals or [])
    if len(matches) == 1:
        match = matches[0]
        return FoundPrincipal(match.object_id, match.client_id, match.display_name)
    if not matches:
        problems.append(Problem(path, repr(display_name),
                                f"no {what} has this display name in the tenant; check the name, "
                                "or use objectId"))
    else:
        ids = ", ".join(sorted(m.object_id for m in matches))
        problems.append(Problem(path, repr(display_name),
                                f"{len(matches)} service principals have this display name ({ids}); "
                                "use objectId to say which one"))
    return None


def _find_existing(key: str, existing: ExistingIdentity, problems: list[Problem]) -> FoundPrincipal | None:
    path = f"clients.{key}.existing.{existing.lookup}"
    if existing.lookup == "displayName":
        return _find_by_display_name(existing.value, path, "service principal (managed identity)", problems)
    if existing.lookup == "objectId":
        sp = azuread.get_service_principal(object_id=existing.value)
    else:
        sp = azuread.get_service_principal(client_id=existing.value)
    return FoundPrincipal(sp.object_id, sp.client_id, sp.display_name)


def _find_provisioning_app(app: ProvisioningAppSettings, problems: list[Problem]) -> FoundPrincipal | None:
    if app.display_name is not None:
        return _find_by_display_name(app.display_name, "provisioningApp.displayName",
                                     "provisioning app", problems)
    sp = azuread.get_service_principal(object_id=app.service_principal_id)
    return FoundPrincipal(sp.object_id, sp.client_id, sp.display_name)


def read_tenant(settings: Settings) -> Tenant:
    """Read what the program needs from the tenant, or raise one error listing what is missing."""
    problems: list[Problem] = []
    client_config = azuread.get_client_config()
    tenant_id = client_config.tenant_id
    graph = lookup_microsoft_graph()

    for key, client in settings.clients.items():
        for index, value in enumerate(client.graph_permissions):
            if value not in graph.app_role_ids:
                problems.append(Problem(f"clients.{key}.graphPermissions[{index}]", repr(value),
                                        "Microsoft Graph's service principal in this tenant has no app role "
                                        "with this value"))

    existing: dict[str, FoundPrincipal] = {}
    for key, client in settings.clients.items():
        if isinstance(client, ManagedIdentityClientSettings) and client.existing is not None:
            found = _find_existing(key, client.existing, problems)
            if found is not None:
                existing[key] = found

    provisioning_app = None
    if settings.provisioning_app is not None:
        provisioning_app = _find_provisioning_app(settings.provisioning_app, problems)
        job_tenant = settings.provisioning_app.job_tenant_id
        if job_tenant and job_tenant != tenant_id.lower():
            problems.append(Problem("provisioningApp.jobId", repr(settings.provisioning_app.job_id),
                                    f"this job belongs to tenant {job_tenant}, but the deployer is signed in "
                                    f"to tenant {tenant_id}; sign in to the job's tenant or fix the job id"))

    if problems:
        raise SettingsError(settings.stack, problems)
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return Tenant(tenant_id=tenant_id, deployer_object_id=client_config.object_id, graph=graph,
                  existing_identities=existing, provisioning_app=provisioning_app)
