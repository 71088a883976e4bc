"""``InboundProvisioningAccess``'s args and outputs, as TypedDicts: the package schema is inferred from them.

The args are the stack config's shape (the same keys, camelCase); ``components/access.py`` takes
them and validates them as stack config (``components/checked_args.py``).

This module does not use ``from __future__ import annotations``: the package's schema is inferred
from these annotations at run time, and postponed (string) annotations would hide them.
"""

from typing import Any, TypedDict

import pulumi

# Every arg is optional in the schema (``total=False``): a missing value is reported by
# parse_settings, with every other problem, in the one error the stack program gives, rather
# than by the provider's first "Missing required input".  The docstrings say what is required.
# Keys are camelCase on purpose: they are the stack config's keys, so a config block and a
# package call read the same and the key paths in errors are the same.


class GeneratedCertificateArgs(TypedDict, total=False):
    """A self-signed certificate and RSA key the stack generates (pulumi-tls) and renews with overlap."""

    subject: str
    """Required. The certificate's common name (1-64 characters)."""
    validityDays: int
    """Days each certificate is valid for (default 365)."""
    rotationDays: int
    """A new certificate every this many days (default: picked from validityDays)."""


class CredentialArgs(TypedDict, total=False):
    """How a servicePrincipal client signs in: one object whose ``type`` says which form it is."""

    type: str
    """Required. ``secret``, ``certificate`` or ``federated``."""
    lifetimeDays: int
    """secret: days each secret is valid for (default 180)."""
    rotationDays: int
    """secret: a new secret every this many days (default: picked from lifetimeDays)."""
    pem: list[str]
    """certificate: the HR client's public certificates, PEM (current, then next); or generate instead."""
    generate: GeneratedCertificateArgs
    """certificate: generate the certificate instead (the private key is in the stack's secret state)."""
    issuer: str
    """federated: the external identity provider's issuer URL (https)."""
    subject: str
    """federated: the external workload's subject, for example ``repo:org/repo:environment:prod``."""
    audiences: list[str]
    """federated: exactly one token audience (default ``api://AzureADTokenExchange``)."""


class AdoptArgs(TypedDict, total=False):
    """Objects that exist already (made by the tutorial or in the portal), imported instead of created."""

    application: str
    """servicePrincipal clients: the object id of the app registration to import (with servicePrincipal)."""
    servicePrincipal: str
    """servicePrincipal clients: the object id of its service principal."""
    grants: dict[str, str]
    """App role assignment ids to import, by permission value."""


class ExistingIdentityArgs(TypedDict, total=False):
    """A managed identity that exists already, found by exactly one of these."""

    displayName: str
    """Its display name (must match exactly one service principal)."""
    objectId: pulumi.Input[str]
    """Its object id; may be another resource's output (a Logic App's principalId), then checked once known."""
    clientId: str
    """Its client id."""


class UserAssignedIdentityArgs(TypedDict, total=False):
    """A user-assigned managed identity the stack creates."""

    name: str
    """Required. 3-128 characters of letters, digits, - and _."""
    resourceGroupName: str
    """Required. An existing resource group."""
    location: str
    """Required. An Azure region as ARM spells it, for example ``westeurope``."""
    tags: dict[str, str]
    """Tags of the identity."""


class KeyVaultArgs(TypedDict, total=False):
    """Where the stack writes the credential it hands out: one secret of an RBAC-authorization Key Vault."""

    vaultId: str
    """Required. The vault's Azure resource id (``/subscriptions/…/providers/Microsoft.KeyVault/vaults/<name>``)."""
    secretName: str
    """The secret's name, 1-127 characters of 0-9, a-z, A-Z and - (default: the client key)."""
    readers: list[str]
    """Object ids given Key Vault Secrets User on this one secret (users, groups, service principals)."""


class ClientArgs(TypedDict, total=False):
    """One HR client: an app registration with its own credential, or a managed identity."""

    kind: str
    """Required. ``servicePrincipal`` or ``managedIdentity``."""
    displayName: str
    """servicePrincipal: the app registration's display name (default ``inbound-provisioning-access-<stack>-<key>``)."""
    graphPermissions: list[str]
    """Graph application permissions of this client (default: the top-level graphPermissions)."""
    credential: CredentialArgs
    """servicePrincipal: required; how it signs in."""
    existing: ExistingIdentityArgs
    """managedIdentity: an identity that exists (exactly one of existing and userAssigned)."""
    userAssigned: UserAssignedIdentityArgs
    """managedIdentity: a user-assigned identity to create."""
    adopt: AdoptArgs
    """Existing objects to import (see `make adopt`)."""
    protect: bool
    """Overrides the top-level protect for this client (``false`` first, to remove it from a protected stack)."""
    keyVault: KeyVaultArgs
    """servicePrincipal with a secret or generated certificate: also write the credential to this Key Vault secret."""


class ProvisioningAppCreateArgs(TypedDict, total=False):
    """A provisioning app this stack creates from the gallery, with its started job."""

    target: str
    """``entraId`` (default, cloud-only users) or ``activeDirectory`` (on-premises AD)."""
    displayName: str
    """The created app's display name (default ``inbound-provisioning-access-<stack>``)."""
    notificationEmail: str
    """Required. Where Entra sends quarantine and failure notices."""
    templateId: str
    """The gallery template's id (default: looked up by the gallery app's name)."""


class ProvisioningAppConfigArgs(TypedDict, total=False):
    """The API-driven provisioning app the clients upload to: an existing one, or ``create``."""

    servicePrincipalId: str
    """An existing app's object id (exactly one of servicePrincipalId and displayName)."""
    displayName: str
    """An existing app's display name."""
    jobId: str
    """An existing app's job id: ``API2AAD.<32 hex>.<tenant id>`` or ``API2AD.…``."""
    create: ProvisioningAppCreateArgs
    """Create the app instead (then set nothing else here)."""


class InboundProvisioningAccessArgs(TypedDict, total=False):
    """The stack config's keys, as the component's args."""

    clients: dict[str, ClientArgs]
    """Required. The HR clients, by key (1-40 characters of a-z, 0-9 and -): every resource name derives from it."""
    graphPermissions: list[str]
    """Graph application permissions of every client that sets none (default: upload and read provisioning logs)."""
    protect: bool
    """Pulumi protect for every app, principal, identity and grant (default: true on stacks named prod*)."""
    provisioningApp: ProvisioningAppConfigArgs
    """The provisioning app; its endpoint and logs become outputs."""
    trustedPrincipals: list[str]
    """Object ids make audit lists as expected holders of a path to the upload (the deploy identity, break-glass)."""
    renewalLedger: pulumi.Input[dict[str, Any]]
    """This component's last ``renewalLedger`` (or ``clients``) output, which renewal decides from (default: the
    stack's own outputs of those names); ``{}`` for no history."""


class RenewalCredentialOutput(TypedDict, total=False):
    """One credential in the renewal ledger."""

    generation: str
    """Its resource name suffix, a UTC date (``YYYYMMDD``): see ``components/renewal.py``."""
    keyId: str
    """Its Graph key id (null when the deploy that wrote the ledger did not learn it)."""
    fresh: bool
    """Handed out by the deploy that wrote the ledger (the handed-out credential): counts once its key id is known."""
    since: str
    """RFC 3339: when a deploy first handed it out (the handed-out credential)."""
    endDate: str
    """RFC 3339 end date (null for a superseded credential from the calendar version)."""
    keptUntil: str
    """RFC 3339: the first deploy at or after this removes it (the superseded credential)."""


class RenewalLedgerOutput(TypedDict, total=False):
    """What this deploy handed out, read back by the next deploy to decide renewals."""

    scheme: int
    """The ledger's format (2; see ``components/ledger.py``)."""
    form: str
    """``secret`` or ``generatedCertificate``."""
    handedOut: RenewalCredentialOutput
    """The credential in the outputs (``clientCredentials``, ``credentialExpiresAt``)."""
    superseded: RenewalCredentialOutput
    """The one it superseded, kept for its 14 days of overlap (absent when none)."""


class CredentialOutput(TypedDict, total=False):
    """One credential the stack keeps for a client, as make audit tells it from a look-alike."""

    keyId: str
    """Its Graph key id (a federated credential's id)."""
    type: str
    """``secret``, ``certificate`` or ``federated``."""
    endDate: str
    """RFC 3339 end date (secrets and certificates)."""
    thumbprint: str
    """SHA-1 thumbprint, upper-case hex (certificates)."""
    issuer: str
    """The federated credential's issuer."""
    subject: str
    """The federated credential's subject."""
    audiences: list[str]
    """The federated credential's audiences."""


class ClientOutput(TypedDict, total=False):
    """What a consumer configures an HR client with."""

    kind: str
    """``servicePrincipal`` or ``managedIdentity``."""
    displayName: str
    """The app registration's (or identity's) display name."""
    clientId: str
    """The client id the HR client signs in with."""
    servicePrincipalObjectId: str
    """The object id of its service principal: the principal of its grants."""
    graphPermissions: list[str]
    """The Graph application permissions granted."""
    credentialType: str
    """``secret``, ``certificate``, ``federated`` or ``managedIdentity``."""
    credentialExpiresAt: str
    """RFC 3339 end date of the handed-out credential (secrets and certificates; a ``pem`` list: the newest)."""
    credentialRenewsAt: str
    """RFC 3339: the first deploy at or after this renews the credential (secrets and generated certificates)."""
    credentialKeyIds: list[str]
    """Graph key ids of every credential the stack keeps for this client, handed-out first (not managed identities)."""
    credentials: list[CredentialOutput]
    """Every credential the stack keeps for this client: key id, kind, end date, thumbprint or federation."""
    renewal: RenewalLedgerOutput
    """The renewal ledger (secrets and generated certificates)."""
    certificateThumbprint: str
    """SHA-1 thumbprint of the newest certificate, upper-case hex."""
    resourceId: str
    """The Azure resource id of a user-assigned identity."""
    keyVaultSecretUri: str
    """With keyVault: the secret's versionless URI, which always reads the newest credential."""


class ClientCredentialOutput(TypedDict, total=False):
    """A client's secret material."""

    clientSecret: str
    """The newest client secret (secret clients)."""
    certificatePem: str
    """The newest generated certificate, PEM (generated-certificate clients)."""
    privateKeyPem: str
    """The newest generated certificate's private key, PEM (generated-certificate clients)."""
