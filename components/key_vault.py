"""Key Vault delivery: the credential a client is handed, written to one secret that only its readers may read.

For a client with ``keyVault`` the stack writes the credential it hands out (the same value as
``clientCredentials.<key>``) to a secret in an RBAC-authorization vault, with the credential's
end date as the secret's expiry, and gives each reader *Key Vault Secrets User* on that one
secret.  A client secret is written as it is; a generated certificate as one PEM, the private
key then the certificate, content type ``application/x-pem-file`` (the layout of a PEM Key Vault
certificate's backing secret, and what azure-identity's ``CertificateCredential`` loads).

Each renewal changes the value, which azure-native applies as an update of the secret (a PUT of
``Microsoft.KeyVault/vaults/secrets``; only the vault, group and secret names force a replace),
and Key Vault keeps every PUT as a new version: the versionless URI in ``keyVaultSecretUri``
always reads the newest, so an App Service Key Vault reference picks it up by itself.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

import pulumi

# Only these two submodules (loaded on first use): importing all of azure-native would slow every run.
from pulumi_azure_native import authorization, keyvault

from components.microsoft import KEY_VAULT_SECRETS_USER_ROLE_ID, PEM_CONTENT_TYPE, role_definition_id
from components.renewal import parse
from components.settings.model import KeyVaultSettings

# Role assignment names are GUIDs the caller chooses: derived from what the assignment is, a rerun
# (or a second stack describing the same assignment) names the same one and replaces nothing.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("3a0d6c52-9f1e-4b7a-8c2d-5e6f7a8b9c0d")
_VERSION_SUFFIX = re.compile(r"/[0-9a-fA-F]{32}/?$")


def secret_value(material: dict[str, str]) -> str:
    """What the secret holds: the client secret, or the private key and certificate as one PEM."""
    if "clientSecret" in material:
        return material["clientSecret"]
    return material["privateKeyPem"].rstrip("\n") + "\n" + material["certificatePem"].rstrip("\n") + "\n"


def expires_epoch(end_date: str) -> int:
    """An RFC 3339 end date as Key Vault's ``exp`` attribute: whole seconds since the epoch."""
    return int(parse(end_date).timestamp())


def versionless(secret_uri: str) -> str:
    """The secret's URI without a version: what reads the newest version."""
    return _VERSION_SUFFIX.sub("", secret_uri.rstrip("/"))


def reader_assignment_name(scope: str, principal_id: str) -> str:
    """The role assignment's name (a GUID), from its scope, role and principal."""
    identity = f"{scope.casefold()}|{KEY_VAULT_SECRETS_USER_ROLE_ID}|{principal_id.casefold()}"
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, identity))


def deliver_to_key_vault(name: str, settings: KeyVaultSettings, credential_type: str,
                         material: pulumi.Output[dict[str, str]], expires_at: pulumi.Output[str],
                         principal_types: Mapping[str, str], parent: pulumi.Resource,
                         protect: bool) -> pulumi.Output[str]:
    """Write the handed-out credential to the client's secret and let its readers read it; the versionless URI.

    ``material`` and ``expires_at`` are the outputs that feed ``clientCredentials.<key>`` and
    ``credentialExpiresAt``, so the secret follows every renewal of the credential.
    ``principal_types`` holds each reader's type as the tenant reports it: azure-native would send
    ``User`` for an unset ``principalType``, and Resource Manager refuses a type that does not match.
    """
    secret = keyvault.Secret(
        f"{name}-key-vault-secret",
        resource_group_name=settings.resource_group_name,
        vault_name=settings.vault_name,
        secret_name=settings.secret_name,
        properties=keyvault.SecretPropertiesArgs(
            value=pulumi.Output.secret(material.apply(secret_value)),
            content_type=PEM_CONTENT_TYPE if credential_type == "certificate" else None,
            attributes=keyvault.SecretAttributesArgs(enabled=True, expires=expires_at.apply(expires_epoch)),
        ),
        tags={"managed-by": "inbound-provisioning-access", "client": name},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    for reader in settings.readers:
        authorization.RoleAssignment(
            f"{name}-key-vault-reader-{reader}",
            principal_id=reader,
            principal_type=principal_types.get(reader, "ServicePrincipal"),
            role_definition_id=role_definition_id(settings.subscription_id, KEY_VAULT_SECRETS_USER_ROLE_ID),
            scope=settings.secret_scope,
            role_assignment_name=reader_assignment_name(settings.secret_scope, reader),
            description=f"Reads HR client {name}'s credential; managed by Pulumi (inbound-provisioning-access)",
            opts=pulumi.ResourceOptions(parent=parent, protect=protect, depends_on=[secret]),
        )
    # The URI holds no secret, but `properties` comes back secret whenever any part of it is (the value
    # the stack sent, should the provider echo it): unsecret the URI, or all of `clients` turns secret.
    return pulumi.Output.unsecret(secret.properties.apply(lambda properties: versionless(properties.secret_uri)))
