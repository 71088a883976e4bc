"""The fields that carry access on each allowed type, beyond Graph roles, lifetimes, owners and protect.

``rules.py`` holds the four original rules (which Graph roles on which resource, credential
lifetimes, no owners on client apps, protect on prod); this module judges every other field of an
allowed type through which a code change could hand out access: inline credentials, sign-in flows,
taking over an existing principal, who may federate, what a synchronization secret holds, which
Azure role on which scope, and which providers run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlparse

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policy import resource_types as t
from policy.props import Reading, number
from policy.synchronization_secret import credential_keys

# Azure's built-in role "Key Vault Secrets User" (read secret contents), the same id in every tenant:
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-user
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
_ROLE_DEFINITION = re.compile(
    r"^(?:/subscriptions/[0-9a-f-]{36})?/providers/Microsoft\.Authorization/roleDefinitions/"
    rf"{KEY_VAULT_SECRETS_USER}$", re.IGNORECASE)
# One secret of one vault: the narrowest scope Key Vault's RBAC has.
SECRET_SCOPE = re.compile(
    r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.KeyVault/vaults/"
    r"(?P<vault>[a-z0-9-]{3,24})/secrets/(?P<secret>[a-z0-9-]{1,127})$", re.IGNORECASE)
JOB_TEMPLATES = frozenset({"API2AAD", "API2AD"})
MIN_RSA_BITS = 2048
SIGN_IN_AUDIENCE = "AzureADMyOrg"

_DEFAULT_PROVIDER = re.compile(r"^default(?:_\d+_\d+_\d+(?:_[0-9A-Za-z-]+)*)?$")
# Inputs of the azuread and azure-native providers that carry a credential of their own.
_PROVIDER_CREDENTIALS = frozenset(key.casefold() for key in (
    "clientSecret", "clientSecretFilePath", "clientCertificate", "clientCertificatePassword",
    "clientCertificatePath", "oidcToken", "oidcTokenFilePath", "oidcRequestToken", "adoPipelineServiceConnectionId",
    "msiEndpoint", "auxiliaryTenantIds"))
# The provider inputs a provider may hold at all (an allow-list: the providers grow new sign-in inputs,
# such as azuread's useAksWorkloadIdentity, clientIdFilePath, oidcRequestUrl and metadataHost, and
# azure-native's useDefaultAzureCredential). The engine gives a default provider its version and the
# stack's config for its package; the sign-in fields and flags are judged below.
_PROVIDER_INPUTS = frozenset(key.casefold() for key in (
    "version", "tenantId", "clientId", "subscriptionId", "useOidc", "useMsi", "useCli", "environment", "location",
    "partnerId", "disableTerraformPartnerId", "disablePulumiPartnerId"))
# Azure's global cloud, as each provider spells it: the pipeline signs in there, and nowhere else.
_GLOBAL_CLOUD = frozenset({"public", "global"})

# How the pipeline signs in (tools/policy-config.sh): a provider may name only these.
SIGN_IN_CONFIG = "signIn"
SIGN_IN_PROPERTY: dict[str, object] = {
    "type": "object",
    "properties": {k: {"type": "string"} for k in ("tenantId", "clientId", "subscriptionId")},
    "description": "The pipeline's tenant, client and subscription (ARM_*, or `az account show`).",
}
_SIGN_IN_FLAGS = (("useMsi", "with a managed identity"), ("useCli", "as the Azure CLI's signed-in account"))

Rule = Callable[[Reading, ResourceValidationArgs], list[str]]


def _application(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    problems = []
    if p.get("password"):
        problems.append("has an inline `password` block: a secret outside the program's renewal and lifetime "
                        "rules (the program adds ApplicationPassword resources instead)")
    audience = p.get("signInAudience")
    if audience not in (None, SIGN_IN_AUDIENCE):
        problems.append(f"signInAudience {audience!r}: client apps are single-tenant ({SIGN_IN_AUDIENCE})")
    if p.get("templateId"):
        problems.append("is instantiated from an application template: client apps are plain registrations")
    if p.items("web", "redirectUris") or p.items("publicClient", "redirectUris") \
            or p.items("singlePageApplication", "redirectUris") or p.get("fallbackPublicClientEnabled") \
            or p.get("web", "implicitGrant", "accessTokenIssuanceEnabled") \
            or p.get("web", "implicitGrant", "idTokenIssuanceEnabled"):
        problems.append("enables a user sign-in flow (redirect URIs, public client or implicit grant): "
                        "API clients sign in with client credentials only")
    if p.items("appRoles") or p.items("api", "oauth2PermissionScopes"):
        problems.append("exposes app roles or scopes: an API client exposes no API of its own")
    return problems


def _service_principal(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    if p.get("useExisting"):
        return ["sets useExisting: it would take over a service principal the program did not create"]
    return []


def _certificate(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    kind = p.get("type")
    if kind not in (None, "AsymmetricX509Cert"):
        return [f"key credential type {kind!r}: only certificates (AsymmetricX509Cert); a symmetric key is a "
                "secret outside the secret rules"]
    return []


def _federated(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    problems = []
    issuer = p.get("issuer")
    if issuer is not None and (urlparse(str(issuer)).scheme != "https" or not urlparse(str(issuer)).netloc):
        problems.append(f"issuer {issuer!r} is not an https URL")
    subject = p.get("subject")
    if subject is not None and (not str(subject).strip() or "*" in str(subject)):
        problems.append(f"subject {subject!r}: one exact subject, no wildcard")
    audiences = p.get("audiences")
    if audiences is not None and (not isinstance(audiences, list) or len(audiences) != 1):
        problems.append(f"audiences {audiences!r}: exactly one")
    return problems


def _private_key(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    algorithm, bits = p.get("algorithm"), number(p.get("rsaBits"))
    if algorithm not in (None, "RSA"):
        return [f"algorithm {algorithm!r}: the program generates RSA keys"]
    if bits is not None and not bits >= MIN_RSA_BITS:
        return [f"rsaBits {bits}: at least {MIN_RSA_BITS}"]
    return []


def _self_signed(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    if p.get("isCaCertificate"):
        return ["is a CA certificate: a client certificate signs nothing"]
    return []


def _sync_secret(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    # Setting keys the portal adds (SyncAll, ...) pass: a refresh brings them into the state
    # (policy/synchronization_secret.py says how each key is judged).
    given = (p.known(c.get("key")) for c in p.items("credentials") if isinstance(c, dict))
    held = credential_keys(str(key) for key in given if key is not None)
    if held:
        return [f"holds credentials {held} in the provisioning job's synchronization secrets: they sign in to "
                "another system; the program writes only settings there (SyncNotificationSettings, the notification "
                "email), and the portal may add more settings"]
    return []


def _sync_job(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    template = p.get("templateId")
    if template is not None and template not in JOB_TEMPLATES:
        return [f"job template {template!r}: only API-driven inbound provisioning ({', '.join(sorted(JOB_TEMPLATES))})"]
    return []


def _role_assignment(p: Reading, _args: ResourceValidationArgs) -> list[str]:
    problems = []
    role = p.get("roleDefinitionId")
    if role is not None and not _ROLE_DEFINITION.match(str(role)):
        problems.append(f"role {role}: only Key Vault Secrets User ({KEY_VAULT_SECRETS_USER}) may be assigned")
    scope = p.get("scope")
    if scope is not None and not SECRET_SCOPE.match(str(scope)):
        problems.append(f"scope {scope}: only one Key Vault secret "
                        "(/subscriptions/…/resourceGroups/…/providers/Microsoft.KeyVault/vaults/<vault>/secrets/<secret>)")
    if p.get("delegatedManagedIdentityResourceId"):
        problems.append("sets delegatedManagedIdentityResourceId: no cross-tenant delegation")
    return problems


def _provider(p: Reading, args: ResourceValidationArgs) -> list[str]:
    # The engine's default providers take their settings from the stack's config and the pipeline's
    # environment (OIDC); an explicit provider in code could sign in as someone else, or elsewhere.
    # The engine names them default[_<major>_<minor>_<patch>[_<pre-release or build>]] at the top of
    # the stack; code may pick any name, so a provider holding a credential is refused too.
    problems = []
    if not _DEFAULT_PROVIDER.match(args.name) or t.parent_type(args.urn) not in ("", t.STACK):
        problems.append(f"is an explicit provider ({args.name}): the program uses only the default providers, "
                        "configured by the stack and the pipeline's identity")
    held = sorted(key for key in p.data if key.casefold() in _PROVIDER_CREDENTIALS)
    if held:
        problems.append(f"holds sign-in credentials ({', '.join(held)}): providers sign in as the pipeline's "
                        "identity (OIDC, from the environment), never with a credential in the program or config")
    unknown = sorted(key for key in p.data if key.casefold() not in _PROVIDER_INPUTS | _PROVIDER_CREDENTIALS)
    if unknown:
        problems.append(f"sets {', '.join(unknown)}: a provider may set only "
                        f"{', '.join(sorted(_PROVIDER_INPUTS))} (the policy pack allows only inputs it knows do not "
                        "change how or where the provider signs in)")
    environment = p.get("environment")
    if environment not in (None, "") and str(environment).casefold() not in _GLOBAL_CLOUD:
        problems.append(f"signs in to cloud {environment!r}: the pipeline signs in to Azure's global cloud")
    return problems + _signs_in_elsewhere(p, args.get_config().get(SIGN_IN_CONFIG))


def _signs_in_elsewhere(p: Reading, sign_in: object) -> list[str]:
    """A provider that signs in otherwise than the pipeline: by other means, or another tenant, client, subscription."""
    problems = [f"sets {flag} (it would sign in {how}), not as the pipeline's identity" for flag, how in _SIGN_IN_FLAGS
                if str(p.get(flag)).casefold() == "true"]
    expected = sign_in if isinstance(sign_in, Mapping) else {}
    for field in ("tenantId", "clientId", "subscriptionId"):
        value, pipeline = p.get(field), expected.get(field) or ""
        if value not in (None, "") and str(value).casefold() != str(pipeline).casefold():
            problems.append(f"signs in with {field} {value}, not the pipeline's ({pipeline or 'none'}: the policy "
                            "config's signIn, from ARM_TENANT_ID, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID or `az account "
                            "show`)")
    return problems


RULES: dict[str, Rule] = {
    t.APPLICATION: _application,
    t.SERVICE_PRINCIPAL: _service_principal,
    t.APPLICATION_CERTIFICATE: _certificate,
    t.FEDERATED_CREDENTIAL: _federated,
    t.PRIVATE_KEY: _private_key,
    t.SELF_SIGNED_CERT: _self_signed,
    t.SYNCHRONIZATION_SECRET: _sync_secret,
    t.SYNCHRONIZATION_JOB: _sync_job,
    t.ROLE_ASSIGNMENT: _role_assignment,
}


def validate_access_fields(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every field of an allowed type that carries access holds only what the program sets."""
    rule = _provider if t.is_provider(args.resource_type) else RULES.get(args.resource_type)
    if rule is None:
        return
    reading = Reading(args.props)
    for problem in rule(reading, args):
        report_violation(f"{args.name} ({args.resource_type}): {problem}", None)
    reading.finish()
