"""One pipeline identity: an app registration and its service principal, trusted by GitHub environments only.

No password, no certificate: the workflows sign in with GitHub's OIDC token, through one federated
credential per environment. Its Graph roles are app role assignments on Graph's own service
principal, with role ids resolved by value there (``components/graph_grants.py``); its Azure roles,
if the config names any, are assigned at exactly the scope the config names.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import authorization

from bootstrap.facts import AUDIENCES, GITHUB_ISSUER, NAMESPACE, PipelineIdentity, environment_subject
from bootstrap.settings import RoleAssignment
from components.directory import MicrosoftGraph
from components.graph_grants import grant_graph_permissions
from components.microsoft import GRAPH_APP_ID, role_definition_id

COMPONENT_TYPE = f"{NAMESPACE}:index:PipelineIdentity"
# Role assignment names are GUIDs; derived from what the assignment is, a rerun names the same one.
_ASSIGNMENT_NAMES = uuid.UUID("3d9b1f5e-7c2a-4e8b-9f10-5a6b7c8d9e0f")


@dataclass(frozen=True)
class PipelineIdentityArgs:
    """Inputs of a :class:`PipelineIdentityResource`."""

    identity: PipelineIdentity
    """Which identity: its environments and Graph roles (``bootstrap/facts.py``)."""
    repository: str
    """``owner/name``: the only repository whose environments it trusts."""
    graph: MicrosoftGraph
    """Graph's service principal in this tenant: the resource of every grant."""
    azure_roles: Sequence[RoleAssignment] = ()
    """Its Azure role assignments from the config."""
    azure_provider: pulumi.ProviderResource | None = None
    """The azure-native provider of those assignments (needed when there are any)."""


def assignment_resource_name(assignment: RoleAssignment) -> str:
    """The Pulumi name of an Azure role assignment: from its role and scope, never a list position."""
    digest = hashlib.sha256(assignment.scope.casefold().encode()).hexdigest()[:10]
    role = assignment.role.name.lower().replace(" ", "-")
    return f"{assignment.identity}-azure-{role}-{digest}"


class PipelineIdentityResource(pulumi.ComponentResource):
    """An app registration the pipeline signs in as, its service principal, federated credentials and roles."""

    client_id: pulumi.Output[str]
    """The application (client) id: AZURE_CLIENT_ID in its environments."""
    service_principal_object_id: pulumi.Output[str]
    """The principal of its Graph and Azure roles."""

    def __init__(self, args: PipelineIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        identity = args.identity
        name = identity.key
        super().__init__(COMPONENT_TYPE, name, None, opts)
        role_ids = {value: args.graph.app_role_ids[value] for value in identity.graph_roles}
        application = azuread.Application(
            f"{name}-app",
            display_name=f"{args.repository} pipeline: {identity.title}",
            sign_in_audience="AzureADMyOrg",
            # A second bootstrap (or one after the hand-made setup of older docs) fails here rather
            # than creating a look-alike next to an app that already holds these roles.
            prevent_duplicate_names=True,
            # Declared so the portal's "API permissions" blade shows the roles as granted. No owners:
            # an owner could add a secret and act with these roles.
            required_resource_accesses=[azuread.ApplicationRequiredResourceAccessArgs(
                resource_app_id=GRAPH_APP_ID,
                resource_accesses=[azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=role_id, type="Role")
                                   for role_id in role_ids.values()],
            )],
            notes=(f"GitHub Actions identity of {args.repository} ({identity.title}); signs in with OIDC only, "
                   f"from the environments {', '.join(identity.environments)}. Managed by Pulumi ({NAMESPACE})."),
            opts=pulumi.ResourceOptions(parent=self),
        )
        service_principal = azuread.ServicePrincipal(
            f"{name}-sp", client_id=application.client_id, opts=pulumi.ResourceOptions(parent=self))
        for environment in identity.environments:
            azuread.ApplicationFederatedIdentityCredential(
                f"{name}-github-{environment}",
                application_id=application.id,
                # Graph identifies a federated credential by this name; it is the environment's, which never changes.
                display_name=f"github-{environment}",
                description=f"GitHub Actions jobs of {args.repository} in the environment {environment}",
                issuer=GITHUB_ISSUER,
                subject=environment_subject(args.repository, environment),
                audiences=list(AUDIENCES),
                opts=pulumi.ResourceOptions(parent=self),
            )
        grant_graph_permissions(name, service_principal.object_id, role_ids, args.graph,
                                parent=self, principal=service_principal, protect=False)
        _assign_azure_roles(args.azure_roles, service_principal, self, args.azure_provider)

        self.client_id = application.client_id
        self.service_principal_object_id = service_principal.object_id
        self.register_outputs({"clientId": self.client_id,
                               "servicePrincipalObjectId": self.service_principal_object_id})


def _assign_azure_roles(assignments: Sequence[RoleAssignment], principal: azuread.ServicePrincipal,
                        parent: pulumi.Resource, provider: pulumi.ProviderResource | None) -> None:
    for assignment in assignments:
        role = assignment.role
        subscription_id = assignment.scope.split("/")[2]
        authorization.RoleAssignment(
            assignment_resource_name(assignment),
            principal_id=principal.object_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(subscription_id, role.role_id),
            scope=assignment.scope,
            role_assignment_name=str(uuid.uuid5(
                _ASSIGNMENT_NAMES, f"{assignment.scope.casefold()}|{role.role_id}|{assignment.identity}")),
            condition=role.condition,
            condition_version="2.0" if role.condition else None,
            description=f"{NAMESPACE} {assignment.identity}: {role.purpose}",
            # A new principal replaces the assignment under the same name: delete the old one first.
            opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[principal],
                                        delete_before_replace=True),
        )


def identity_client_ids(identities: Mapping[str, PipelineIdentityResource]) -> dict[str, pulumi.Output[str]]:
    """The client ids by identity key (the ``clientIds`` output)."""
    return {key: identity.client_id for key, identity in identities.items()}
