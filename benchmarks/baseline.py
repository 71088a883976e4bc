"""The least Pulumi program that creates the same resources for N secret clients.

No validation, no lookups beyond Graph's service principal, no outputs beyond ids: the floor
the real program is measured against.  Like ``__main__.py``, it runs as a program file (N from
the BASELINE_CLIENTS environment variable), so both pay the same start-up frames.
"""

from __future__ import annotations

import os

import pulumi
import pulumi_azuread as azuread

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
PERMISSIONS = ("SynchronizationData-User.Upload", "AuditLog.Read.All")

graph = azuread.get_service_principal(client_id=GRAPH_APP_ID)
for i in range(int(os.environ.get("BASELINE_CLIENTS", "1"))):
    app = azuread.Application(f"c{i}-app", display_name=f"c{i}")
    sp = azuread.ServicePrincipal(f"c{i}-sp", client_id=app.client_id)
    # One secret per client: what a new client gets (a second exists only during a renewal's overlap).
    password = azuread.ApplicationPassword(f"c{i}-secret", application_id=app.id)
    for value in PERMISSIONS:
        azuread.AppRoleAssignment(f"c{i}-grant-{value}", app_role_id=graph.app_role_ids[value],
                                  principal_object_id=sp.object_id, resource_object_id=graph.object_id)
    pulumi.export(f"c{i}", password.id)
