"""An HR client that signs in as its own app registration (secret, certificate or federated)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azuread as azuread

from components.adoption import application_import_id, service_principal_import_id
from components.credentials import attach_credential
from components.directory import MicrosoftGraph
from components.graph_grants import grant_graph_permissions
from components.key_vault import deliver_to_key_vault
from components.microsoft import GRAPH_APP_ID
from components.renewal import Ledger
from components.settings.model import ServicePrincipalClientSettings

# What the program sets on every app registration, created or adopted (`make adopt` and
# `make plan` show an adopted app's differences from these).
SIGN_IN_AUDIENCE = "AzureADMyOrg"
APPLICATION_NOTES = "Inbound provisioning API client; managed by Pulumi (inbound-provisioning-access)."


@dataclass(frozen=True)
class ServicePrincipalClientArgs:
    """Inputs of a :class:`ServicePrincipalClient`."""

    settings: ServicePrincipalClientSettings
    """The validated client config."""
    graph: MicrosoftGraph
    """Graph's service principal: the resource of every grant."""
    role_ids: Mapping[str, str]
    """App role ids to grant, by permission value."""
    protect: bool
    """Pulumi ``protect`` for the app registration, service principal and grants."""
    now: dt.datetime
    """The time of this deploy: renewals are decided, and end dates computed, from it."""
    principal_types: Mapping[str, str] = field(default_factory=dict)
    """Key Vault readers' types (``User``, ``Group``, ``ServicePrincipal``), by object id."""
    ledger: Ledger | None = None
    """What the last deploy handed out (``components/stack_history.py``); None: a new credential."""


class ServicePrincipalClient(pulumi.ComponentResource):
    """A single-tenant app registration, its service principal, its credential and its Graph grants."""

    client_id: pulumi.Output[str]
    """The application (client) id the HR client signs in with."""
    display_name: pulumi.Output[str]
    """The app registration's display name."""
    service_principal_object_id: pulumi.Output[str]
    """The object id of its service principal: the principal of its grants."""
    credential_type: str
    """``secret``, ``certificate`` or ``federated``."""
    credential_expires_at: pulumi.Output[str] | None
    """RFC 3339 end date of the newest credential (secrets and certificates)."""
    credential_renews_at: str | None
    """RFC 3339 time the handed-out credential is due for renewal (secrets and generated certificates)."""
    credential_key_ids: list[pulumi.Output[str]]
    """Graph key ids of every credential the stack keeps for this client, the handed-out one first."""
    credentials: list[dict[str, Any]]
    """Per key id: its kind, end date, thumbprint or federation (``clients.<key>.credentials``, for make audit)."""
    renewal: dict[str, Any] | None
    """The renewal ledger output (secrets and generated certificates)."""
    certificate_thumbprint: pulumi.Output[str] | None
    """SHA-1 thumbprint, upper-case hex (certificates)."""
    secret_material: pulumi.Output[dict[str, str]] | None
    """Secret values for ``clientCredentials`` (an ``Output.secret``), if any."""
    key_vault_secret_uri: pulumi.Output[str] | None
    """With ``keyVault``: the versionless URI of the secret the credential is delivered to."""
    grants: dict[str, azuread.AppRoleAssignment]
    """The app role assignments, by permission value."""

    def __init__(self, name: str, args: ServicePrincipalClientArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inbound-provisioning-access:index:ServicePrincipalClient", name, None, opts)
        settings = args.settings
        adopt = settings.adopt

        application = azuread.Application(
            f"{name}-app",
            display_name=settings.display_name,
            sign_in_audience=SIGN_IN_AUDIENCE,
            # No owners: an owner can add credentials to the app and so act with its Graph
            # permissions. Deployers manage it through their directory role or Graph permissions.
            # Declaring the granted roles makes the portal's "API permissions" blade show them
            # as granted, instead of as "other permissions granted for <tenant>".
            required_resource_accesses=[
                azuread.ApplicationRequiredResourceAccessArgs(
                    resource_app_id=GRAPH_APP_ID,
                    resource_accesses=[
                        azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=role_id, type="Role")
                        for role_id in args.role_ids.values()
                    ],
                )
            ],
            notes=APPLICATION_NOTES,
            # An adopted (hand-made) app is imported: it keeps its client id and its credentials.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, import_=(
                application_import_id(adopt.application) if adopt and adopt.application else None)),
        )
        service_principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, import_=(
                service_principal_import_id(adopt.service_principal) if adopt and adopt.service_principal else None)),
        )
        credential = attach_credential(name, settings.credential, application, self, args.now, args.ledger)
        self.grants = grant_graph_permissions(
            name, service_principal.object_id, args.role_ids, args.graph,
            parent=self, principal=service_principal, protect=args.protect,
            adopted=adopt.grants if adopt else None,
        )

        self.client_id = application.client_id
        self.display_name = application.display_name
        self.service_principal_object_id = service_principal.object_id
        self.credential_type = credential.credential_type
        self.credential_expires_at = credential.expires_at
        self.credential_renews_at = credential.renews_at
        self.certificate_thumbprint = credential.thumbprint
        self.secret_material = credential.secret_material
        self.credential_key_ids = credential.key_ids
        self.credentials = credential.details
        self.renewal = credential.renewal
        # Key Vault gets the very value clientCredentials hands out, and its expiry.
        self.key_vault_secret_uri = None
        if (settings.key_vault is not None and credential.secret_material is not None
                and credential.expires_at is not None):
            self.key_vault_secret_uri = deliver_to_key_vault(
                name, settings.key_vault, credential.credential_type, credential.secret_material,
                credential.expires_at, args.principal_types, parent=self, protect=args.protect)
        self.register_outputs({
            "clientId": self.client_id,
            "servicePrincipalObjectId": self.service_principal_object_id,
        })
