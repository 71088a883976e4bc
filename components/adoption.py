"""Import ids of objects that exist already, for Pulumi's ``import`` resource option.

The formats are the azuread provider's own resource ids (terraform-provider-azuread, its
importers validate them with go-azure-sdk's ``stable.ApplicationId``,
``stable.ServicePrincipalId`` and ``stable.ServicePrincipalIdAppRoleAssignedToId``).
An ``import`` option on a resource already in the stack with that id is a no-op, so the
ids can stay in the stack file after the first deploy.
"""

from __future__ import annotations


def application_import_id(object_id: str) -> str:
    """An app registration, by its object id (not its client id)."""
    return f"/applications/{object_id}"


def service_principal_import_id(object_id: str) -> str:
    """A service principal, by its object id."""
    return f"/servicePrincipals/{object_id}"


def app_role_assignment_import_id(resource_object_id: str, assignment_id: str) -> str:
    """An app role assignment, under its *resource* (Microsoft Graph's service principal here)."""
    return f"/servicePrincipals/{resource_object_id}/appRoleAssignedTo/{assignment_id}"
