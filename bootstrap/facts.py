"""What the bootstrap builds on: the three pipeline identities, the GitHub environments, Azure's built-in roles.

The identities' Graph roles are named here by value only; their ids are resolved from Microsoft
Graph's own service principal in the tenant at every run, never written down. Azure's built-in
role ids, GitHub's OIDC issuer and the GitHub Actions app id are published facts, cited where
they are defined.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.microsoft import FEDERATED_DEFAULT_AUDIENCE

NAMESPACE = "inbound-provisioning-access-bootstrap"
"""The bootstrap project's name, and so its config namespace (``bootstrap/Pulumi.yaml``)."""

# GitHub Actions' OIDC token issuer; its subject for a job with an environment is
# repo:<owner>/<repo>:environment:<name> (GitHub docs, "About security hardening with OpenID Connect").
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCES = (FEDERATED_DEFAULT_AUDIENCE,)
# The GitHub Actions app: a required check pinned to it cannot be satisfied by a status another
# app or a token posts under the same name.
GITHUB_ACTIONS_APP_ID = 15368
MAIN_BRANCH = "main"


def environment_subject(repository: str, environment: str) -> str:
    """The only kind of subject a pipeline identity trusts: a job in one GitHub environment."""
    return f"repo:{repository}:environment:{environment}"


# What `make audit` reads, by least Graph application permission (docs/audit.md#permissions):
#   Application.Read.All             apps, their credentials and owners; service principals, appRoleAssignedTo
#   Directory.Read.All               delegated grants (oauth2PermissionGrants), directory role assignments
#                                    (RoleManagement.Read.Directory is a subset), users, groups and members
#   RoleEligibilitySchedule.Read.Directory
#                                    PIM-eligible role assignments, which Directory.Read.All does not cover
#   Synchronization.Read.All         the provisioning job's state and notification settings (make verify
#                                    --deployer, run by the audit job: a quarantined job fails it)
# Read-only, every one: a value containing "ReadWrite" here fails the bootstrap's rules. Add a read
# the audit starts making to this tuple, and nowhere else.
AUDITOR_GRAPH_ROLES: tuple[str, ...] = (
    "Application.Read.All",
    "Directory.Read.All",
    "RoleEligibilitySchedule.Read.Directory",
    "Synchronization.Read.All",
)
# The two Graph roles that grant Graph application permissions: what `pulumi up` on an HR stack needs.
WRITER_GRAPH_ROLES: tuple[str, ...] = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")


@dataclass(frozen=True)
class PipelineIdentity:
    """One of the pipeline's identities: an app registration the workflows sign in as, through OIDC only."""

    key: str
    """``previews``, ``auditor`` or ``writer``: the resource name prefix and the output key."""
    title: str
    """What it is for, in its display name."""
    environments: tuple[str, ...]
    """The GitHub environments it trusts (one federated credential each) and whose AZURE_CLIENT_ID it is."""
    graph_roles: tuple[str, ...]
    """Microsoft Graph application permissions, by value."""


IDENTITIES: tuple[PipelineIdentity, ...] = (
    # Pull request previews run the pull request's code: read app registrations and service
    # principals, nothing else (no Directory.Read.All: it reads users and groups).
    PipelineIdentity("previews", "pull request previews (read-only)", ("preview", "preview-secrets"),
                     ("Application.Read.All",)),
    PipelineIdentity("auditor", "access audit (read-only)", ("audit",), AUDITOR_GRAPH_ROLES),
    # Deploys, the weekly rotation and the expiry check, from main only.
    PipelineIdentity("writer", "deploy", ("deploy", "production", "rotation"), WRITER_GRAPH_ROLES),
)
IDENTITY_BY_KEY = {identity.key: identity for identity in IDENTITIES}
PREVIEWS = "previews"
"""The only identity whose environments accept any branch (pull requests run there)."""

ENVIRONMENTS: tuple[str, ...] = tuple(env for identity in IDENTITIES for env in identity.environments)
"""Every GitHub environment the workflows (.github/workflows/) name."""
IDENTITY_OF_ENVIRONMENT = {env: identity.key for identity in IDENTITIES for env in identity.environments}
REVIEWED_ENVIRONMENTS = ("preview-secrets", "production")
"""Environments whose jobs wait for a required reviewer: a preview that decrypts a stack's secrets
runs the pull request's code; production applies to prod stacks."""

# Job names the workflows give their checks (GitHub names a check run after its job).
DEFAULT_REQUIRED_CHECKS: tuple[str, ...] = ("test and list the stacks", "access diff")

# Repository variables the workflows read (`vars.*`), besides AZURE_CLIENT_ID per environment.
TENANT_VARIABLE = "AZURE_TENANT_ID"
SUBSCRIPTION_VARIABLE = "AZURE_SUBSCRIPTION_ID"
BACKEND_VARIABLE = "PULUMI_BACKEND_URL"
SECRETS_PROVIDER_VARIABLE = "PULUMI_SECRETS_PROVIDER"
CLIENT_ID_VARIABLE = "AZURE_CLIENT_ID"

# -- Azure ----------------------------------------------------------------------------------------

# Scopes as Resource Manager ids; a role is assigned only at the kinds its row allows, so never wider.
_SUB = r"/subscriptions/[0-9a-fA-F-]{36}"
_GROUP = _SUB + r"/resourceGroups/[\w\-.()]{1,90}"
SCOPE_PATTERNS: dict[str, str] = {
    "resource group": _GROUP,
    "blob container": _GROUP + r"/providers/Microsoft\.Storage/storageAccounts/[a-z0-9]{3,24}"
                               r"/blobServices/default/containers/[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?",
    "key vault": _GROUP + r"/providers/Microsoft\.KeyVault/vaults/[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]",
}
SCOPE_PATTERNS["key"] = SCOPE_PATTERNS["key vault"] + r"/keys/[0-9A-Za-z-]{1,127}"
SCOPE_FORMS: dict[str, str] = {
    "resource group": "/subscriptions/<GUID>/resourceGroups/<group>",
    "blob container": ("/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts"
                       "/<account>/blobServices/default/containers/<container>"),
    "key vault": "/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<vault>",
    "key": "/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<vault>/keys/<key>",
}

# Key Vault Secrets User, the only role the writer may hand out on a vault (components/microsoft.py).
_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
# Azure's "constrain roles" condition: role assignments written or deleted under this assignment
# must be of Key Vault Secrets User (Azure docs, "Delegate Azure role assignment management to
# others with conditions").
_ASSIGNMENT_ROLE = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
ONLY_SECRETS_USER_CONDITION = (
    "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
    f"(@Request[{_ASSIGNMENT_ROLE}] ForAnyOfAnyValues:GuidEquals {{{_SECRETS_USER}}}))"
    " AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
    f"(@Resource[{_ASSIGNMENT_ROLE}] ForAnyOfAnyValues:GuidEquals {{{_SECRETS_USER}}}))"
)


@dataclass(frozen=True)
class AzureRole:
    """An Azure built-in role a pipeline identity may be given, and where."""

    name: str
    role_id: str
    """The built-in role's id, the same in every tenant (Azure docs, "Azure built-in roles")."""
    scopes: tuple[str, ...]
    """The scope kinds it may be assigned at (:data:`SCOPE_PATTERNS`)."""
    identities: tuple[str, ...]
    """The identities that may hold it."""
    purpose: str
    condition: str | None = None
    """An ABAC condition (version 2.0) that narrows what the role allows."""


AZURE_ROLES: dict[str, AzureRole] = {role.name: role for role in (
    AzureRole("Managed Identity Contributor", "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", ("resource group",),
              ("writer",), "user-assigned identities the HR stacks create"),
    AzureRole("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", ("resource group",),
              ("previews", "auditor"), "reading the user-assigned identities in a preview or an audit"),
    AzureRole("Storage Blob Data Contributor", "ba92f5b4-2d11-453d-a403-e96b0029c9fe", ("blob container",),
              ("writer",), "an azblob:// state backend"),
    AzureRole("Storage Blob Data Reader", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", ("blob container",),
              ("previews", "auditor"), "reading an azblob:// state backend"),
    # Key Vault rights belong to an identity, not an environment: given to the previews' identity,
    # every pull request preview could decrypt every stack.
    AzureRole("Key Vault Crypto User", "12338af0-0e69-4776-bea7-57ae8d297424", ("key vault", "key"),
              ("writer",), "an azurekeyvault:// secrets provider"),
    AzureRole("Key Vault Contributor", "f25e0fa2-a7c8-4377-a976-54943a77a395", ("key vault",),
              ("writer",), "keyVault delivery: writing an HR client's credential to its vault"),
    AzureRole("Role Based Access Control Administrator", "f58310d9-a9f6-439a-9e8d-f62e7b41a168", ("key vault",),
              ("writer",), "giving keyVault readers Key Vault Secrets User, and no other role",
              condition=ONLY_SECRETS_USER_CONDITION),
)}
