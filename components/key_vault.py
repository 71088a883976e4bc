"""Key Vault delivery: the credential a client is handed, written to one secret that only its readers may read.

For a client with ``keyVault`` the stack writes the credential it hands out (the same value as
``clientCredentials.<key>``) to a secret in an RBAC-authorization vault, with the credential's
end date as the secret's expiry, and gives each reader *Key Vault Secrets User* on that one
secret.  A client secret is written as it is, content type ``text/plain``; a generated certificate
as one PEM, the private key then the certificate, content type ``application/x-pem-file`` (the
layout of a PEM Key Vault certificate's backing secret, and what azure-identity's
``CertificateCredential`` loads).

The stack never deletes the secret (``retain_on_delete``): azure-native's delete of a secret is a
data-plane soft delete the deployer's roles cannot perform, and a replace of a named resource deletes
first, so dropping it would cut its readers off, fail with 403, and leave the name "deleted but
recoverable".  Removing ``keyVault``, renaming ``secretName`` or moving ``vaultId`` leaves it where it
is (``make plan`` says so), to be removed by hand once nobody reads it.

Before anything is registered each vault is read (:func:`vault_problems`): one that does not exist or
cannot be read, uses access policies (the role assignments would be created and ignored), belongs to
another tenant, or sits in another subscription than azure-native deploys to is refused.

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

from components.microsoft import (
    KEY_VAULT_SECRETS_USER_ROLE_ID,
    PEM_CONTENT_TYPE,
    SECRET_CONTENT_TYPE,
    role_definition_id,
)
from components.renewal import parse
from components.settings.model import GUID_RE, KeyVaultSettings, ServicePrincipalClientSettings, Settings
from components.settings.problems import Problem

# Role assignment names are GUIDs the caller chooses: derived from what the assignment is, a rerun
# (or a second stack describing the same assignment) names the same one and replaces nothing.
ROLE_ASSIGNMENT_NAMESPACE = uuid.UUID("3a0d6c52-9f1e-4b7a-8c2d-5e6f7a8b9c0d")
# https://<vault host>/secrets/<name>[/<version>]: a secret's name may itself be 32 hex digits.
_SECRET_URI = re.compile(r"^(?P<base>https://[^/]+/secrets/[^/]+)(?:/[0-9a-fA-F]{32})?/?$")


def secret_value(material: dict[str, str]) -> str:
    """What the secret holds: the client secret, or the private key and certificate as one PEM."""
    if "clientSecret" in material:
        return material["clientSecret"]
    return material["privateKeyPem"].rstrip("\n") + "\n" + material["certificatePem"].rstrip("\n") + "\n"


def expires_epoch(end_date: str) -> int:
    """An RFC 3339 end date as Key Vault's ``exp`` attribute: whole seconds since the epoch."""
    return int(parse(end_date).timestamp())


def versionless(secret_uri: str) -> str:
    """The secret's URI without a version: what reads the newest version (a 32-hex *name* stays)."""
    match = _SECRET_URI.match(secret_uri)
    return match["base"] if match else secret_uri.rstrip("/")


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
            content_type=PEM_CONTENT_TYPE if credential_type == "certificate" else SECRET_CONTENT_TYPE,
            attributes=keyvault.SecretAttributesArgs(enabled=True, expires=expires_at.apply(expires_epoch)),
        ),
        tags={"managed-by": "inbound-provisioning-access", "client": name},
        # Never deleted by the stack (see the module's docstring): its readers move, then someone removes it.
        opts=pulumi.ResourceOptions(parent=parent, protect=protect, retain_on_delete=True),
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


# -- the vaults, read before anything is registered -------------------------------------------------------


def _said(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[-1][:300]


def vault_problems(settings: Settings, tenant_id: str) -> list[Problem]:
    """Every ``keyVault.vaultId`` the stack cannot write to as promised, read from Resource Manager (azure-native's
    own sign-in: its subscription, the vault's permission model and tenant); each problem names the key path."""
    wanted = {key: client.key_vault for key, client in settings.clients.items()
              if isinstance(client, ServicePrincipalClientSettings) and client.key_vault is not None}
    if not wanted:
        return []
    provider = authorization.get_client_config()
    subscription = provider.subscription_id.lower()
    read: dict[str, keyvault.GetVaultResult | str] = {}
    problems = []
    for key, vault in wanted.items():
        path, why = f"clients.{key}.keyVault.vaultId", ""
        if GUID_RE.match(subscription) and vault.subscription_id != subscription:
            why = (f"this vault is in subscription {vault.subscription_id}, but azure-native deploys to subscription "
                   f"{subscription} (azure-native:subscriptionId, or az login's default), where the secret would "
                   f"be written by vault name; set azure-native:subscriptionId to {vault.subscription_id}, or use a "
                   f"vault in {subscription}")
        else:
            found = read.get(vault.vault_id.casefold())
            if found is None:
                try:
                    found = keyvault.get_vault(resource_group_name=vault.resource_group_name,
                                               vault_name=vault.vault_name)
                except Exception as error:  # a provider error, raised by the invoke: missing or forbidden
                    found = _said(error)
                read[vault.vault_id.casefold()] = found
            why = _vault_refusal(found, tenant_id)
        if why:
            problems.append(Problem.of(path, vault.vault_id, why))
    return problems


def _vault_refusal(vault: keyvault.GetVaultResult | str, tenant_id: str) -> str:
    if isinstance(vault, str):
        return ("this vault cannot be read: it does not exist, or the deployer may not read it (Reader on the "
                f"vault, which the previews' identity needs too); Resource Manager said: {vault}")
    properties = vault.properties
    if not properties.enable_rbac_authorization:
        return ("this vault uses access policies (enableRbacAuthorization is false): Key Vault ignores role "
                "assignments there, so the readers would get 403 for ever; switch it to the Azure RBAC permission "
                "model (`az keyvault update --enable-rbac-authorization true`, after granting RBAC roles to what "
                "its access policies allow), or use an RBAC vault")
    if GUID_RE.match(properties.tenant_id) and properties.tenant_id.lower() != tenant_id.lower():
        return (f"this vault belongs to tenant {properties.tenant_id}, but the clients and readers are in tenant "
                f"{tenant_id}: its role assignments cannot name them; use a vault of tenant {tenant_id}")
    return ""


def warn_of_existing(key: str, settings: KeyVaultSettings, principal_types: Mapping[str, str],
                     last_uri: str | None) -> None:
    """Warn, before the create fails, of a secret or reader assignment that exists though this stack's last
    outputs did not have it (``last_uri``: the client's ``keyVaultSecretUri`` then): retained by an earlier
    deploy, or another stack's.  azure-native GETs before it creates and refuses what exists."""
    uri = f"https://{settings.vault_name.lower()}.vault.azure.net/secrets/{settings.secret_name}"
    if last_uri is not None and last_uri.casefold() == uri.casefold():
        return
    how = ("import it into this stack (`pulumi import {typ} {name} '{id}' --parent <the urn of ServicePrincipalClient "
           f"{key}: `pulumi stack --show-urns`>`), or delete it (a secret: delete and purge), or give "
           f"clients.{key}.keyVault another secretName")
    try:
        found = keyvault.get_secret(resource_group_name=settings.resource_group_name, vault_name=settings.vault_name,
                                    secret_name=settings.secret_name)
        pulumi.log.warn(f"clients.{key}.keyVault: the secret {settings.secret_name!r} already exists in vault "
                        f"{settings.vault_name} though this stack's last deploy did not write it; azure-native "
                        "will refuse to create it (unless this stack created it in a deploy that failed after): "
                        + how.format(typ="azure-native:keyvault:Secret", name=f"{key}-key-vault-secret", id=found.id))
    except Exception:  # a provider error, raised by the invoke: not found, the usual case  # noqa: S110
        pass
    for reader in settings.readers:
        name = reader_assignment_name(settings.secret_scope, reader)
        try:
            assignment = authorization.get_role_assignment(role_assignment_name=name, scope=settings.secret_scope)
        except Exception:  # a provider error, raised by the invoke: not found  # noqa: S112
            continue
        pulumi.log.warn(f"clients.{key}.keyVault.readers: the role assignment of {principal_types.get(reader, '')} "
                        f"{reader} on the secret already exists; azure-native will refuse to create it: " + how.format(
                            typ="azure-native:authorization:RoleAssignment", name=f"{key}-key-vault-reader-{reader}",
                            id=assignment.id))
