"""The whole program: read the tenant, build one client component per config entry, shape the outputs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi

from components.directory import Tenant, read_tenant
from components.graph_grants import role_ids_for
from components.managed_identity import ManagedIdentityClient, ManagedIdentityClientArgs
from components.microsoft import (
    GRAPH_SCOPE,
    UPLOAD_OWNED_BY,
    bulk_upload_url,
    provisioning_logs_url,
    token_endpoint,
)
from components.provisioning_app import ProvisioningApp, ProvisioningAppArgs
from components.service_principal_client import ServicePrincipalClient, ServicePrincipalClientArgs
from components.settings import ManagedIdentityClientSettings, Settings

Client = ServicePrincipalClient | ManagedIdentityClient


def build(settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Register every resource for ``settings`` and return the stack outputs by name."""
    now = now or dt.datetime.now(dt.UTC)
    tenant = read_tenant(settings)

    clients: dict[str, Client] = {}
    for key, client in settings.clients.items():
        role_ids = role_ids_for(tenant.graph, client.graph_permissions)
        # A client's own protect wins: `false` on one client is the first step of removing it from a prod stack.
        protect = settings.protect if client.protect is None else client.protect
        if isinstance(client, ManagedIdentityClientSettings):
            clients[key] = ManagedIdentityClient(key, ManagedIdentityClientArgs(
                settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect,
                existing=tenant.existing_identities.get(key),
            ))
        else:
            clients[key] = ServicePrincipalClient(key, ServicePrincipalClientArgs(
                settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect, now=now,
            ))
        if UPLOAD_OWNED_BY in client.graph_permissions:
            _warn_owned_by(settings, key)

    created = _create_provisioning_app(settings, tenant, clients)

    outputs: dict[str, Any] = {
        "tenantId": tenant.tenant_id,
        "tokenEndpoint": token_endpoint(tenant.tenant_id),
        "graphScope": GRAPH_SCOPE,
        "clients": {key: _client_output(settings, key, client) for key, client in clients.items()},
        "clientCredentials": pulumi.Output.secret({
            key: client.secret_material
            for key, client in clients.items()
            if isinstance(client, ServicePrincipalClient) and client.secret_material is not None
        }),
    }
    outputs.update(_provisioning_outputs(settings, tenant, created))
    return outputs


def _warn_owned_by(settings: Settings, key: str) -> None:
    app = settings.provisioning_app
    if app is not None and app.create is not None:
        pulumi.log.warn(
            f"clients.{key} is granted {UPLOAD_OWNED_BY}: the stack makes it an owner of the created "
            "provisioning app's application; owning its service principal is one manual command. See the "
            "README, 'Least privilege: the OwnedBy permission'."
        )
        return
    pulumi.log.warn(
        f"clients.{key} is granted {UPLOAD_OWNED_BY}: it can upload only to provisioning apps "
        "whose service principal it owns. See the README, 'Least privilege: the OwnedBy permission'."
    )


def _create_provisioning_app(settings: Settings, tenant: Tenant,
                             clients: dict[str, Client]) -> ProvisioningApp | None:
    """The provisioning app, its job and the OwnedBy clients' ownership, with ``provisioningApp.create``."""
    app = settings.provisioning_app
    if app is None or app.create is None or tenant.provisioning_template_id is None:
        return None
    owners = {key: client.service_principal_object_id for key, client in clients.items()
              if UPLOAD_OWNED_BY in settings.clients[key].graph_permissions}
    # Named with a capital letter, which client keys cannot have: no client's resources can share it.
    return ProvisioningApp("provisioningApp", ProvisioningAppArgs(
        settings=app.create, template_id=tenant.provisioning_template_id, owners=owners,
        protect=settings.protect,
    ))


def _client_output(settings: Settings, key: str, client: Client) -> dict[str, Any]:
    config = settings.clients[key]
    shown: dict[str, Any] = {
        "kind": config.kind,
        "displayName": client.display_name,
        "clientId": client.client_id,
        "servicePrincipalObjectId": client.service_principal_object_id,
        "graphPermissions": list(config.graph_permissions),
    }
    if isinstance(client, ManagedIdentityClient):
        shown["credentialType"] = "managedIdentity"
        if client.resource_id is not None:
            shown["resourceId"] = client.resource_id
        return shown
    shown["credentialType"] = client.credential_type
    if client.credential_expires_at is not None:
        shown["credentialExpiresAt"] = client.credential_expires_at
    if client.credential_renews_at is not None:
        shown["credentialRenewsAt"] = client.credential_renews_at
    if client.certificate_thumbprint is not None:
        shown["certificateThumbprint"] = client.certificate_thumbprint
    return shown


def _provisioning_outputs(settings: Settings, tenant: Tenant,
                          created: ProvisioningApp | None) -> dict[str, pulumi.Input[str]]:
    app = settings.provisioning_app
    if created is not None:
        return {
            "provisioningAppServicePrincipalId": created.service_principal_object_id,
            "provisioningJobId": created.job_id,
            "bulkUploadUrl": created.bulk_upload_url,
            "provisioningLogsUrl": created.provisioning_logs_url,
        }
    if app is None or tenant.provisioning_app is None:
        return {}
    return {
        "provisioningAppServicePrincipalId": tenant.provisioning_app.object_id,
        "provisioningJobId": app.job_id,
        "bulkUploadUrl": bulk_upload_url(tenant.provisioning_app.object_id, app.job_id),
        "provisioningLogsUrl": provisioning_logs_url(app.job_id),
    }
