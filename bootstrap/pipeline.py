"""The bootstrap program: validate the config, read the tenant, then build the identities and the repository's settings.

Everything that can fail (the config, the tenant signed in to, Graph's roles) is checked before the
first resource is registered, so a failed run creates, changes and deletes nothing.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native.provider import Provider as AzureNativeProvider

from bootstrap.facts import IDENTITIES
from bootstrap.identities import PipelineIdentityArgs, PipelineIdentityResource, identity_client_ids
from bootstrap.repository import RepositorySettings, RepositorySettingsArgs, environments_output
from bootstrap.settings import BootstrapSettings, load_bootstrap
from components.directory import MicrosoftGraph, lookup_microsoft_graph


def read_tenant(settings: BootstrapSettings) -> MicrosoftGraph:
    """Graph's service principal, after checking the sign-in is to the configured tenant and Graph has every role."""
    signed_in = azuread.get_client_config().tenant_id
    if signed_in.casefold() != settings.tenant_id.casefold():
        raise pulumi.RunError(f"signed in to tenant {signed_in}, but tenantId is {settings.tenant_id}: "
                              "`az login --tenant <tenantId>` (nothing was created, changed or deleted)")
    graph = lookup_microsoft_graph()
    missing = sorted({value for identity in IDENTITIES for value in identity.graph_roles
                      if value not in graph.app_role_ids})
    if missing:
        raise pulumi.RunError(f"Microsoft Graph in tenant {signed_in} publishes no application role "
                              f"{', '.join(missing)} (nothing was created, changed or deleted)")
    return graph


def build() -> dict[str, Any]:
    """Register every resource; the stack outputs."""
    settings = load_bootstrap()
    graph = read_tenant(settings)
    # Role assignments go through subscriptionId, so a sign-in without a default subscription
    # (`az login --allow-no-subscriptions`) works too.
    azure = (AzureNativeProvider("azure-native", subscription_id=settings.subscription_id)
             if settings.azure_roles else None)
    identities = {
        identity.key: PipelineIdentityResource(PipelineIdentityArgs(
            identity, settings.repository, graph,
            tuple(a for a in settings.azure_roles if a.identity == identity.key), azure))
        for identity in IDENTITIES
    }
    client_ids = identity_client_ids(identities)
    RepositorySettings("github", RepositorySettingsArgs(settings, client_ids))
    return {"repository": settings.repository, "clientIds": client_ids,
            "environments": environments_output(settings)}
