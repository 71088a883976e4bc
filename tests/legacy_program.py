"""The stack program as it was before ``InboundProvisioningAccess`` (main at 6cbf1bc), for deploy tests.

A stack deployed with it holds the client components (and the provisioning app) as children of
the stack.  Only the registrations matter here, so of the outputs only the renewal ledger is kept, in
today's shape (the next deploy stops on history it cannot read: ``components/stack_history.py``); the blocks
themselves (``ServicePrincipalClient``, ``ManagedIdentityClient``, ``ProvisioningApp``) are
unchanged, so this registers exactly what that program registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pulumi

from components.directory import read_tenant
from components.graph_grants import role_ids_for
from components.managed_identity import ManagedIdentityClient, ManagedIdentityClientArgs
from components.microsoft import UPLOAD_OWNED_BY
from components.provisioning_app import ProvisioningApp, ProvisioningAppArgs
from components.service_principal_client import ServicePrincipalClient, ServicePrincipalClientArgs
from components.settings.model import ManagedIdentityClientSettings
from components.settings.parse import load_settings


def legacy_program_at(now: dt.datetime) -> Callable[[], None]:
    def program() -> None:
        settings = load_settings(now)
        tenant = read_tenant(settings)
        clients: dict[str, ServicePrincipalClient | ManagedIdentityClient] = {}
        for key, client in settings.clients.items():
            role_ids = role_ids_for(tenant.graph, client.graph_permissions)
            protect = settings.protect if client.protect is None else client.protect
            if isinstance(client, ManagedIdentityClientSettings):
                clients[key] = ManagedIdentityClient(key, ManagedIdentityClientArgs(
                    settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect,
                    existing=tenant.existing_identities.get(key)))
            else:
                clients[key] = ServicePrincipalClient(key, ServicePrincipalClientArgs(
                    settings=client, graph=tenant.graph, role_ids=role_ids, protect=protect, now=now))
        app = settings.provisioning_app
        if app is not None and app.create is not None and tenant.provisioning_template_id is not None:
            owners = {key: client.service_principal_object_id for key, client in clients.items()
                      if UPLOAD_OWNED_BY in settings.clients[key].graph_permissions}
            ProvisioningApp("provisioningApp", ProvisioningAppArgs(
                settings=app.create, template_id=tenant.provisioning_template_id, owners=owners,
                protect=settings.protect))
        pulumi.export("tenantId", tenant.tenant_id)
        pulumi.export("renewalLedger", {key: client.renewal for key, client in clients.items()
                                        if isinstance(client, ServicePrincipalClient) and client.renewal is not None})

    return program
