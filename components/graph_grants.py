"""Microsoft Graph application permission grants (app role assignments).

For an application permission, the app role assignment *is* the admin consent: once it
exists, a client-credentials token for Graph carries the permission in its ``roles`` claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_azuread as azuread

from components.adoption import app_role_assignment_import_id
from components.directory import MicrosoftGraph


def role_ids_for(graph: MicrosoftGraph, permissions: Sequence[str]) -> dict[str, str]:
    """App role ids by permission value, resolved from Graph's own service principal.

    ``read_tenant`` has already refused any value Graph does not publish.
    """
    return {value: graph.app_role_ids[value] for value in permissions}


def grant_graph_permissions(
    name: str,
    principal_object_id: pulumi.Input[str],
    role_ids: Mapping[str, str],
    graph: MicrosoftGraph,
    parent: pulumi.Resource,
    principal: pulumi.Resource | None,
    protect: bool,
    adopted: Mapping[str, str] | None = None,
) -> dict[str, azuread.AppRoleAssignment]:
    """One app role assignment per permission, named ``<name>-grant-<permission value>``.

    The principal is always the client's service principal and the resource is Graph's.
    (Microsoft's tutorial script passes the client's id as both ``-ServicePrincipalId``
    and ``-PrincipalId``; that works only because the cmdlet's path parameter is the
    principal, and it is easy to misread as "resource".)

    ``adopted`` maps permissions that are granted already (by the tutorial's script, or in the
    portal) to their assignment ids: those are imported, because Graph refuses a second
    assignment of the same role to the same principal.
    """
    adopted = adopted or {}
    grants: dict[str, azuread.AppRoleAssignment] = {}
    for value, app_role_id in role_ids.items():
        grants[value] = azuread.AppRoleAssignment(
            f"{name}-grant-{value}",
            app_role_id=app_role_id,
            principal_object_id=principal_object_id,
            resource_object_id=graph.object_id,
            # Entra replicates a new service principal eventually; the grant must wait for
            # it explicitly (the provider then retries the brief 404s that remain).
            opts=pulumi.ResourceOptions(
                parent=parent, depends_on=[principal] if principal else [], protect=protect,
                import_=app_role_assignment_import_id(graph.object_id, adopted[value]) if value in adopted else None,
            ),
        )
    return grants
