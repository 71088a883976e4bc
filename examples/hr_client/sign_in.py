"""How the HR client signs in to Microsoft Graph, and where its secret or certificate comes from.

Three sign-in forms, all azure-identity credentials for the client-credentials flow:
``secret`` (ClientSecretCredential), ``certificate`` (CertificateCredential, from one PEM with
the certificate and its private key) and ``managed-identity`` (ManagedIdentityCredential, on
the Azure resource that holds the identity).

The secret or certificate comes, in this order, from: Key Vault (the stack's
``keyVaultSecretUri``, read as a principal listed in the client's ``keyVault.readers``), an
environment variable (for example an App Service Key Vault reference), a file, or the stack's
``clientCredentials`` output.  No value read here is ever printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.identity import AzureCliCredential, CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PEM_CONTENT_TYPE = "application/x-pem-file"
SIGN_IN_FORMS = ("secret", "certificate", "managed-identity")
# credentialType in the stack's outputs -> sign-in form.
SIGN_IN_BY_CREDENTIAL_TYPE = {"secret": "secret", "certificate": "certificate", "managedIdentity": "managed-identity"}
# What `pulumi stack output --json` prints for a secret output without --show-secrets.
SECRET_PLACEHOLDER = "[secret]"  # noqa: S105 (a placeholder, not a secret)


class SignInError(Exception):
    """The client cannot sign in as configured; the message says why and holds no secret."""


@dataclass(frozen=True)
class KeyVaultSecret:
    """A credential read from Key Vault."""

    value: str
    content_type: str | None
    version: str | None


def read_key_vault_secret(uri: str, vault_credential: TokenCredential, **client_kwargs: Any) -> KeyVaultSecret:
    """The current version of the secret at ``uri`` (versionless, as the stack outputs it)."""
    # Imported here: only clients configured with Key Vault need the package.
    from azure.keyvault.secrets import KeyVaultSecretIdentifier, SecretClient  # noqa: PLC0415

    try:
        identifier = KeyVaultSecretIdentifier(uri)
    except ValueError as error:
        raise SignInError(f"{uri!r} is not a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>)"
                          ) from error
    client = SecretClient(identifier.vault_url, vault_credential, **client_kwargs)
    try:
        secret = client.get_secret(identifier.name, identifier.version)
    except ResourceNotFoundError as error:
        raise SignInError(f"Key Vault has no secret {identifier.name!r} in {identifier.vault_url}: has `make up` run "
                          "with this client's keyVault setting?") from error
    except HttpResponseError as error:
        hint = (": this identity is not one of the client's keyVault.readers (Key Vault Secrets User on the "
                "secret), or the role assignment has not replicated yet (allow a few minutes)"
                if error.status_code == 403 else "")
        raise SignInError(f"Key Vault refused to read {identifier.name!r} ({error.status_code}){hint}") from error
    except AzureError as error:
        raise SignInError(f"reading {identifier.name!r} from Key Vault failed ({type(error).__name__}): "
                          f"{str(error.message or error).splitlines()[0][:300]}") from error
    if secret.value is None:
        raise SignInError(f"Key Vault secret {identifier.name!r} has no value")
    return KeyVaultSecret(secret.value, secret.properties.content_type, secret.properties.version)


# Entra's answers to a credential it does not (yet) accept: invalid_client, AADSTS7000215 (invalid client secret),
# AADSTS700027 (a certificate it cannot match). Right after a renewal the new credential may not have reached every
# Entra replica; the previous Key Vault version stays valid through the stack's overlap (keptUntil, 14 days).
NOT_YET_ACCEPTED = ("invalid_client", "AADSTS7000215", "AADSTS700027")


def not_yet_accepted(error: Exception) -> bool:
    """Whether a failed sign-in is Entra refusing the credential itself (not the network, not the tenant)."""
    text = str(getattr(error, "message", "") or error)
    return any(mark in text for mark in NOT_YET_ACCEPTED)


def previous_key_vault_secret(uri: str, vault_credential: TokenCredential, current_version: str | None,
                              **client_kwargs: Any) -> KeyVaultSecret | None:
    """The version written before ``current_version`` (the newest enabled one created earlier), or None."""
    from azure.keyvault.secrets import KeyVaultSecretIdentifier, SecretClient  # noqa: PLC0415

    identifier = KeyVaultSecretIdentifier(uri)
    client = SecretClient(identifier.vault_url, vault_credential, **client_kwargs)
    try:
        created = {p.version: p.created_on for p in client.list_properties_of_secret_versions(identifier.name)
                   if p.enabled and p.created_on is not None and p.version is not None}
        newest = created.get(current_version or "")
        earlier = sorted((when, version) for version, when in created.items()
                         if version != current_version and when is not None and (newest is None or when < newest))
        if not earlier:
            return None
        secret = client.get_secret(identifier.name, earlier[-1][1])
    except AzureError:
        return None
    if secret.value is None:
        return None
    return KeyVaultSecret(secret.value, secret.properties.content_type, secret.properties.version)


def vault_credential(sign_in: str, identity_client_id: str | None, **kwargs: Any) -> TokenCredential:
    """Who reads Key Vault: the workload's managed identity, or the person signed in to the Azure CLI."""
    if sign_in == "azure-cli":
        return AzureCliCredential()
    return ManagedIdentityCredential(client_id=identity_client_id, **kwargs)


def material_from_outputs(outputs: Mapping[str, Any], key: str) -> str:
    """The client's secret or certificate PEM from ``pulumi stack output --json --show-secrets``."""
    every = outputs.get("clientCredentials")
    if every == SECRET_PLACEHOLDER or every is None:
        raise SignInError("the outputs hold no clientCredentials (written without --show-secrets?); read the "
                          "credential from Key Vault instead, or write the outputs with --show-secrets")
    material = every.get(key) if isinstance(every, Mapping) else None
    if not isinstance(material, Mapping):
        raise SignInError(f"the outputs' clientCredentials has no entry for client {key!r}")
    if isinstance(material.get("clientSecret"), str):
        return str(material["clientSecret"])
    if isinstance(material.get("certificatePem"), str) and isinstance(material.get("privateKeyPem"), str):
        return combined_pem(material["certificatePem"], material["privateKeyPem"])
    raise SignInError(f"clientCredentials.{key} holds neither clientSecret nor certificatePem and privateKeyPem")


def combined_pem(certificate_pem: str, private_key_pem: str) -> str:
    """One PEM, private key then certificate: what CertificateCredential and the stack's Key Vault secret hold."""
    return private_key_pem.rstrip("\n") + "\n" + certificate_pem.rstrip("\n") + "\n"


def graph_credential(sign_in: str, tenant_id: str | None, client_id: str | None, material: str | None,
                     *, managed_identity_client_id: str | None = None, **kwargs: Any) -> TokenCredential:
    """The azure-identity credential that gets this client's Graph token."""
    if sign_in == "managed-identity":
        # A user-assigned identity is named by its client id; a system-assigned one is the default.
        return ManagedIdentityCredential(client_id=managed_identity_client_id, **kwargs)
    if not tenant_id or not client_id:
        raise SignInError("signing in with a secret or certificate needs the tenant id and the client id "
                          "(--outputs, or --tenant-id and --client-id)")
    if material is None:
        raise SignInError(f"no {sign_in} to sign in with: give --key-vault-secret-uri, --credential-env, "
                          "--credential-file, or --outputs written with --show-secrets")
    looks_like_pem = "-----BEGIN" in material
    if sign_in == "secret":
        if looks_like_pem:
            raise SignInError("--sign-in secret, but the credential is a PEM: use --sign-in certificate")
        return ClientSecretCredential(tenant_id, client_id, material, **kwargs)
    if "PRIVATE KEY-----" not in material or "CERTIFICATE-----" not in material:
        raise SignInError("--sign-in certificate needs one PEM with the certificate and its private key")
    return CertificateCredential(tenant_id, client_id, certificate_data=material.encode(), **kwargs)
