"""Microsoft facts this program builds on, in one place.

Everything here is published by Microsoft; nothing is specific to a tenant.  Role ids
are listed for the permissions we allow so that the offline plan can label what it
*expects* Graph to answer; the program itself always resolves role ids by value from
Microsoft Graph's service principal in the tenant (looked up in ``components/directory.py``,
resolved by value in ``components/graph_grants.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

# The well-known appId of Microsoft Graph, the same in every tenant.
# https://learn.microsoft.com/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# The scope a client-credentials token for Graph asks for: all application permissions granted.
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"

# The audience a federated identity credential uses by default (workload identity federation).
FEDERATED_DEFAULT_AUDIENCE = "api://AzureADTokenExchange"


# Azure's built-in role "Key Vault Secrets User": read secret contents (dataActions
# secrets/getSecret/action and secrets/readMetadata/action, nothing else), RBAC vaults only.
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security#key-vault-secrets-user
KEY_VAULT_SECRETS_USER_ROLE_ID = "4633458b-17de-408a-b874-0445c86b69e6"
# The content type a Key Vault certificate's backing secret has when the certificate is PEM:
# the private key and the certificate in one PEM.
PEM_CONTENT_TYPE = "application/x-pem-file"
# A client secret's content type: the built-in Azure Policy "Secrets should have content type set"
# (75262d3e-ba4a-4f43-85f8-9f72c090e5e3, Azure/azure-policy Key Vault/Secrets_ContentTypeSet.json) audits or
# denies a secret without one.
SECRET_CONTENT_TYPE = "text/plain"  # noqa: S105 (a content type)


def role_definition_id(subscription_id: str, role_id: str) -> str:
    """A built-in role's definition id as a role assignment in that subscription names it."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


def token_endpoint(tenant_id: str) -> str:
    """The Microsoft identity platform v2.0 token endpoint of a tenant."""
    return f"https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"


def bulk_upload_url(service_principal_id: str, job_id: str) -> str:
    """The API-driven inbound provisioning endpoint of one provisioning job (POST, SCIM BulkRequest)."""
    return (
        f"{GRAPH_BASE_URL}/servicePrincipals/{service_principal_id}"
        f"/synchronization/jobs/{job_id}/bulkUpload"
    )


def provisioning_logs_url(job_id: str) -> str:
    """The provisioning logs of one job (needs AuditLog.Read.All or ProvisioningLog.Read.All)."""
    return f"{GRAPH_BASE_URL}/auditLogs/provisioning?$filter=jobid eq '{job_id}'"


@dataclass(frozen=True)
class GraphPermission:
    """A Microsoft Graph application permission an HR client may be granted."""

    value: str
    """The permission's value, as it appears in a token's ``roles`` claim."""
    published_role_id: str
    """The app role id Microsoft publishes for it (used only to label the offline plan)."""
    purpose: str
    """Why an inbound provisioning client needs it."""


# The least-privilege allow-list: the only Graph permissions this program grants.
# Ids from Microsoft Graph's permissions reference,
# https://learn.microsoft.com/graph/permissions-reference
ALLOWED_PERMISSIONS: dict[str, GraphPermission] = {
    p.value: p
    for p in (
        GraphPermission(
            "SynchronizationData-User.Upload",
            "db31e92a-b9ea-4d87-bf6a-75a37a9ca35a",
            "POST records to /bulkUpload of any API-driven provisioning job",
        ),
        GraphPermission(
            "SynchronizationData-User.Upload.OwnedBy",
            "25c32ff3-849a-494b-b94f-20a8ac4e6774",
            "POST records to /bulkUpload only of provisioning apps the client owns",
        ),
        GraphPermission(
            "AuditLog.Read.All",
            "b0afded3-3588-46d8-8b3d-9842eff778da",
            "read provisioning logs (the tutorial's choice)",
        ),
        GraphPermission(
            "ProvisioningLog.Read.All",
            "091937d3-3e38-47a1-8649-b2f99d3035f1",
            "read provisioning logs only (Microsoft's current least-privilege guidance)",
        ),
    )
}

# Microsoft's tutorial "Grant access to the inbound provisioning API" grants this pair.
DEFAULT_PERMISSIONS: tuple[str, ...] = ("SynchronizationData-User.Upload", "AuditLog.Read.All")

UPLOAD_OWNED_BY = "SynchronizationData-User.Upload.OwnedBy"
UPLOAD_PERMISSIONS = frozenset({"SynchronizationData-User.Upload", UPLOAD_OWNED_BY})
LOG_PERMISSIONS = frozenset({"AuditLog.Read.All", "ProvisioningLog.Read.All"})

# Client credential lifetimes: Entra refuses more than 24 months; Microsoft recommends under 12.
MAX_CREDENTIAL_DAYS = 730
RECOMMENDED_MAX_CREDENTIAL_DAYS = 365

# The Enterprise gallery apps that carry API-driven inbound provisioning, by target, as Microsoft's
# tutorial "Configure API-driven inbound provisioning app" names them
# (https://learn.microsoft.com/entra/identity/app-provisioning/inbound-provisioning-api-configure-app,
# step "Enter API-driven in the search field": "API-driven provisioning to Microsoft Entra ID" and
# "API-driven provisioning to on-premises Active Directory"). Earlier revisions of the same page
# (https://learn.microsoft.com/azure/active-directory/app-provisioning/inbound-provisioning-api-configure-app)
# call them "API-driven Inbound User Provisioning to Microsoft Entra ID" / "... to On-Premises AD".
# The template is looked up by display name (exact match, Graph's `displayName eq`), newest name first;
# the template ids themselves are not published, so `provisioningApp.create.templateId` overrides.
GALLERY_APP_NAMES: dict[str, tuple[str, ...]] = {
    "entraId": (
        "API-driven provisioning to Microsoft Entra ID",
        "API-driven Inbound User Provisioning to Microsoft Entra ID",
    ),
    "activeDirectory": (
        "API-driven provisioning to on-premises Active Directory",
        "API-driven Inbound User Provisioning to On-Premises AD",
    ),
}

# Lists the gallery's API-driven templates with their ids (as the deployer: `az rest` signs in with `az login`).
FIND_TEMPLATE_COMMAND = (
    "az rest --method GET --uri \"https://graph.microsoft.com/v1.0/applicationTemplates"
    "?\\$filter=startswith(displayName,'API-driven')&\\$select=id,displayName\""
)


def job_bulk_upload_url(job_resource_id: str) -> str:
    """bulkUpload from a job's resource id ``/servicePrincipals/{sp}/synchronization/jobs/{jobId}``."""
    return f"{GRAPH_BASE_URL}{job_resource_id}/bulkUpload"

# -- who can upload (make audit): Graph's permission model, from its references -----------------------
# Application permissions one step from the upload: each grants itself (or any client) an app role,
# adds a credential to an app, assigns a directory role, or rewrites a synchronization job's schema
# and secrets (https://learn.microsoft.com/graph/permissions-reference; BloodHound's Azure edges).
ONE_STEP_PERMISSIONS = ("AppRoleAssignment.ReadWrite.All", "Application.ReadWrite.All",
                        "RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All",
                        "Synchronization.ReadWrite.All")
# The same, but only over the apps and service principals it owns.
OWNED_APPS_PERMISSION = "Application.ReadWrite.OwnedBy"
PROVISIONING_LOG_PERMISSION = "ProvisioningLog.Read.All"
# The bulkUpload reference: "admin users with the User Administrator role can call the API" with the
# delegated permission SynchronizationData-User.Upload
# (https://learn.microsoft.com/graph/api/synchronization-synchronizationjob-post-bulkupload).
USER_ADMINISTRATOR = "User Administrator"
# Directory roles that control a client, the provisioning job or role grants, by template id (a role
# definition's id is its template id): "Microsoft Entra built-in roles",
# https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
DIRECTORY_ROLES = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2": "Hybrid Identity Administrator",
    "fe930be7-5e62-47db-91af-98c3a49a38b1": USER_ADMINISTRATOR,
}
