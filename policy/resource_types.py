"""The policy pack's allow-list: every resource type this program registers, and under which parent.

Anything else in a stack is refused (mandatory), whatever it is: a directory role assignment, a
delegated permission grant, a password on a service principal, an owner added by hand in code.
A type that carries access gets on this list only together with rules for every field of it that
carries access (``rules.py``, ``access_fields.py``, ``stack_rules.py``), in a reviewed change to
``main``, because the pipeline always loads the pack from the trusted checkout.

The parent is read from the URN, which the engine writes (``...::<parent types>$<type>::<name>``),
so a resource the program did not put under one of its components is refused too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs

PROJECT_PACKAGE = "inbound-provisioning-access"

# --- the program's components --------------------------------------------------------------------
STACK = "pulumi:pulumi:Stack"
ACCESS = f"{PROJECT_PACKAGE}:index:InboundProvisioningAccess"
SERVICE_PRINCIPAL_CLIENT = f"{PROJECT_PACKAGE}:index:ServicePrincipalClient"
MANAGED_IDENTITY_CLIENT = f"{PROJECT_PACKAGE}:index:ManagedIdentityClient"
PROVISIONING_APP = f"{PROJECT_PACKAGE}:index:ProvisioningApp"
COMPONENTS = frozenset({ACCESS, SERVICE_PRINCIPAL_CLIENT, MANAGED_IDENTITY_CLIENT, PROVISIONING_APP})

# --- azuread (pulumi-azuread 6.x) ----------------------------------------------------------------
APPLICATION = "azuread:index/application:Application"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
APP_ROLE_ASSIGNMENT = "azuread:index/appRoleAssignment:AppRoleAssignment"
APPLICATION_PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"  # noqa: S105 (a type token)
APPLICATION_CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
FEDERATED_CREDENTIAL = ("azuread:index/applicationFederatedIdentityCredential:"
                        "ApplicationFederatedIdentityCredential")
APPLICATION_FROM_TEMPLATE = "azuread:index/applicationFromTemplate:ApplicationFromTemplate"
SYNCHRONIZATION_SECRET = "azuread:index/synchronizationSecret:SynchronizationSecret"  # noqa: S105
SYNCHRONIZATION_JOB = "azuread:index/synchronizationJob:SynchronizationJob"
APPLICATION_OWNER = "azuread:index/applicationOwner:ApplicationOwner"

# --- pulumi-tls, azure-native, Pulumi itself -----------------------------------------------------
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
KEY_VAULT_SECRET = "azure-native:keyvault:Secret"  # noqa: S105 (Key Vault delivery, issue 24)
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"  # only Key Vault Secrets User on one secret
PROVIDER_PREFIX = "pulumi:providers:"
# The packages whose default providers the program uses.  ``pulumi-python`` ran the provisioning app's
# old replication wait, a dynamic resource: a stack deployed with it still holds that provider until
# the wait is deleted.  Dynamic *resources* (``pulumi-python:dynamic:Resource``), which run their own
# code with the deployer's credentials, are not on the list: the program registers none.
# ``pulumi`` is the engine's built-in provider, which answers the program's ``readStackOutputs``
# and ``readStackResourceOutputs`` invokes (its own last outputs and its component's, for renewal).
# A ``StackReference`` is not on the list: the program registers none, and one would copy every output
# of the stack it reads, secrets included, into state.
PROVIDER_PACKAGES = frozenset({"azuread", "azure-native", "tls", "pulumi-python", "pulumi"})


@dataclass(frozen=True)
class AllowedType:
    """A resource type the program registers."""

    parents: frozenset[str] | None
    """Types its immediate parent may have (``None``: any, for what the engine itself registers)."""
    why: str
    """What the program uses it for."""


_SP_CLIENT = frozenset({SERVICE_PRINCIPAL_CLIENT})
_CLIENTS = frozenset({SERVICE_PRINCIPAL_CLIENT, MANAGED_IDENTITY_CLIENT})
_PROV_APP = frozenset({PROVISIONING_APP})
# A component at the top of the stack: the engine leaves the root stack out of a child's URN, the
# mock engine writes it in; "" is no parent at all.
_TOP = frozenset({"", STACK})

ALLOWED_TYPES: Mapping[str, AllowedType] = {
    STACK: AllowedType(None, "the stack itself"),
    ACCESS: AllowedType(_TOP, "the program's component"),
    SERVICE_PRINCIPAL_CLIENT: AllowedType(frozenset({ACCESS}), "an API client signing in as its own app"),
    MANAGED_IDENTITY_CLIENT: AllowedType(frozenset({ACCESS}), "an API client that is a managed identity"),
    PROVISIONING_APP: AllowedType(frozenset({ACCESS}), "the provisioning app the stack creates"),
    APPLICATION: AllowedType(_SP_CLIENT, "a client's app registration"),
    SERVICE_PRINCIPAL: AllowedType(_SP_CLIENT, "a client's service principal"),
    APP_ROLE_ASSIGNMENT: AllowedType(_CLIENTS, "a client's Graph permission"),
    APPLICATION_PASSWORD: AllowedType(_SP_CLIENT, "a client secret"),
    APPLICATION_CERTIFICATE: AllowedType(_SP_CLIENT, "a client certificate"),
    FEDERATED_CREDENTIAL: AllowedType(_SP_CLIENT, "a client's federated credential"),
    PRIVATE_KEY: AllowedType(_SP_CLIENT, "a generated certificate's key"),
    SELF_SIGNED_CERT: AllowedType(_SP_CLIENT, "a generated certificate"),
    USER_ASSIGNED_IDENTITY: AllowedType(frozenset({MANAGED_IDENTITY_CLIENT}), "a user-assigned identity"),
    APPLICATION_FROM_TEMPLATE: AllowedType(_PROV_APP, "the gallery provisioning app"),
    SYNCHRONIZATION_SECRET: AllowedType(_PROV_APP, "the provisioning job's notification email"),
    SYNCHRONIZATION_JOB: AllowedType(_PROV_APP, "the provisioning job"),
    APPLICATION_OWNER: AllowedType(_PROV_APP, "an OwnedBy client as owner of the provisioning app"),
    # Key Vault delivery (issue 24): under whichever of the program's components writes it.
    KEY_VAULT_SECRET: AllowedType(COMPONENTS, "a client's credential delivered to its Key Vault secret"),
    ROLE_ASSIGNMENT: AllowedType(COMPONENTS, "Key Vault Secrets User on that one secret, for a reader"),
}


def stack_of(urn: str) -> str:
    """The stack name from a resource URN (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
    parts = urn.split(":", 3)
    if len(parts) < 4 or parts[:2] != ["urn", "pulumi"]:
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return parts[2]


def project_of(urn: str) -> str:
    """The project name from a resource URN."""
    return urn.split("::")[1] if urn.count("::") >= 3 else ""


def parent_type(urn: str) -> str:
    """The type of a resource's immediate parent, from its URN ("" at the top of the stack)."""
    parts = urn.split("::")
    if len(parts) < 4:
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    chain = parts[2].split("$")
    return chain[-2] if len(chain) > 1 else ""


def children(resources: Iterable[PolicyResource], parent: PolicyResource, typ: str) -> list[PolicyResource]:
    """The resources of type ``typ`` whose immediate parent is ``parent``."""
    return [r for r in resources if r.resource_type == typ and r.parent is not None and r.parent.urn == parent.urn]


def is_provider(resource_type: str) -> bool:
    return resource_type.startswith(PROVIDER_PREFIX)


def type_problem(resource_type: str, urn: str) -> str | None:
    """Why a resource of this type, at this place in the stack, is not one the program registers."""
    if is_provider(resource_type):
        package = resource_type.removeprefix(PROVIDER_PREFIX)
        if package not in PROVIDER_PACKAGES:
            return (f"{resource_type} is a provider of a package this program does not use "
                    f"(it uses {', '.join(sorted(PROVIDER_PACKAGES))})")
        return None
    allowed = ALLOWED_TYPES.get(resource_type)
    if allowed is None:
        return (f"{resource_type} is not a resource type this program registers, and the policy pack "
                "allows only those. If the program needs it, add it to policy/resource_types.py with "
                "rules for every field of it that carries access, in a reviewed change to main; to grant "
                "a client more, use the stack's config (the four Graph permissions) instead")
    parent = parent_type(urn)
    if allowed.parents is not None and parent not in allowed.parents:
        where = parent or "the top of the stack"
        allowed_parents = " or ".join(sorted(p or "the stack" for p in allowed.parents))
        return (f"{resource_type} is allowed only under {allowed_parents}, not under {where}: the program "
                "registers it nowhere else")
    return None


def validate_allowed_types(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Only the program's own resource types, each under the component that makes it."""
    problem = type_problem(args.resource_type, args.urn)
    if problem is not None:
        report_violation(f"{args.name}: {problem}", None)
