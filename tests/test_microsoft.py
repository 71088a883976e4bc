"""Microsoft facts: the allow-list's published role ids and the endpoint URLs."""

from __future__ import annotations

from components.microsoft import (
    ALLOWED_PERMISSIONS,
    DEFAULT_PERMISSIONS,
    GRAPH_APP_ID,
    bulk_upload_url,
    provisioning_logs_url,
    token_endpoint,
)
from tests.conftest import GRAPH_ROLES, ROLE_ID


def test_published_ids_match_graphs_real_roles() -> None:
    assert len(GRAPH_ROLES) == 716
    for value, permission in ALLOWED_PERMISSIONS.items():
        assert permission.published_role_id == ROLE_ID[value], value


def test_defaults_are_the_tutorials_pair_and_allowed() -> None:
    assert DEFAULT_PERMISSIONS == ("SynchronizationData-User.Upload", "AuditLog.Read.All")
    assert set(DEFAULT_PERMISSIONS) <= set(ALLOWED_PERMISSIONS)
    assert GRAPH_APP_ID == "00000003-0000-0000-c000-000000000000"


def test_urls() -> None:
    assert token_endpoint("t") == "https://login.microsoftonline.com/t/oauth2/v2.0/token"
    assert bulk_upload_url("sp", "API2AAD.x") == (
        "https://graph.microsoft.com/v1.0/servicePrincipals/sp/synchronization/jobs/API2AAD.x/bulkUpload")
    assert provisioning_logs_url("API2AAD.x") == (
        "https://graph.microsoft.com/v1.0/auditLogs/provisioning?$filter=jobid eq 'API2AAD.x'")
