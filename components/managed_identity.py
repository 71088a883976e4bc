"""An HR client that is a managed identity: an existing one (a Logic App's), or a user-assigned one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

# Only the managedidentity submodule: importing all of azure-native would slow every run.
from pulumi_azure_native import managedidentity

from components.directory import FoundPrincipal, MicrosoftGraph
from components.graph_grants import grant_graph_permissions
from components.settings.model import ManagedIdentityClientSettings


@dataclass(frozen=True)
class DeferredPrincipal:
    """An existing identity whose object id is another resource's output (the component package's
    ``existing.objectId``): looked up, and checked like config, once that value is known."""

    object_id: pulumi.Output[str]
    client_id: pulumi.Output[str]
    display_name: pulumi.Output[str]


@dataclass(frozen=True)
class ManagedIdentityClientArgs:
    """Inputs of a :class:`ManagedIdentityClient`."""

    settings: ManagedIdentityClientSettings
    """The validated client config (exactly one of ``existing`` / ``user_assigned``)."""
    graph: MicrosoftGraph
    """Graph's service principal: the resource of every grant."""
    role_ids: Mapping[str, str]
    """App role ids to grant, by permission value."""
    protect: bool
    """Pulumi ``protect`` for the identity and the grants."""
    existing: FoundPrincipal | DeferredPrincipal | None = None
    """The looked-up principal, for an existing identity (deferred: its object id is another resource's output)."""


class ManagedIdentityClient(pulumi.ComponentResource):
    """Graph grants to a managed identity's service principal, creating the identity if asked."""

    client_id: pulumi.Output[str]
    """The identity's client id."""
    service_principal_object_id: pulumi.Output[str]
    """The object id of its service principal (the principal id): the principal of its grants."""
    display_name: pulumi.Output[str]
    """Its name in Entra."""
    resource_id: pulumi.Output[str] | None
    """The Azure resource id of a user-assigned identity."""
    grants: dict[str, azuread.AppRoleAssignment]
    """The app role assignments, by permission value."""

    def __init__(self, name: str, args: ManagedIdentityClientArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inbound-provisioning-access:index:ManagedIdentityClient", name, None, opts)
        user_assigned = args.settings.user_assigned
        principal: pulumi.Resource | None
        if user_assigned is not None:
            identity = managedidentity.UserAssignedIdentity(
                f"{name}-identity",
                resource_name_=user_assigned.name,
                resource_group_name=user_assigned.resource_group_name,
                location=user_assigned.location,
                tags=dict(user_assigned.tags) or None,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            principal = identity
            self.client_id = identity.client_id
            self.service_principal_object_id = identity.principal_id
            self.display_name = identity.name
            self.resource_id = identity.id
        else:
            if args.existing is None:
                raise ValueError(f"{name}: an existing identity needs its looked-up principal")
            # Nothing to create: the principal exists, so the grants wait on nothing.
            principal = None
            self.client_id = pulumi.Output.from_input(args.existing.client_id)
            self.service_principal_object_id = pulumi.Output.from_input(args.existing.object_id)
            self.display_name = pulumi.Output.from_input(args.existing.display_name)
            self.resource_id = None

        self.grants = grant_graph_permissions(
            name, self.service_principal_object_id, args.role_ids, args.graph,
            parent=self, principal=principal, protect=args.protect,
            adopted=args.settings.adopt.grants if args.settings.adopt else None,
        )
        self.register_outputs({
            "clientId": self.client_id,
            "servicePrincipalObjectId": self.service_principal_object_id,
        })
