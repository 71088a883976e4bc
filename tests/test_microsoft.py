"""Microsoft facts: the allow-list's published role ids and the endpoint URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.microsoft import (
    ALLOWED_PERMISSIONS,
    DEFAULT_PERMISSIONS,
    GRAPH_APP_ID,
    ONE_STEP_PERMISSIONS,
    OWNED_APPS_PERMISSION,
    PROVISIONING_LOG_PERMISSION,
    bulk_upload_url,
    provisioning_logs_url,
    token_endpoint,
)
from tests.conftest import GRAPH_ROLES, GRAPH_ROLES_FIXTURE, PROJECT_SCHEMA, ROLE_ID, SHARED


def test_published_ids_match_graphs_real_roles() -> None:
    assert len(GRAPH_ROLES) == 716
    for value, permission in ALLOWED_PERMISSIONS.items():
        assert permission.published_role_id == ROLE_ID[value], value


def test_the_audits_permissions_are_graphs_real_application_roles() -> None:
    for value in (*ONE_STEP_PERMISSIONS, OWNED_APPS_PERMISSION, PROVISIONING_LOG_PERMISSION):
        assert value in ROLE_ID, value


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


@pytest.mark.parametrize(("ours", "shared"), [
    (GRAPH_ROLES_FIXTURE, SHARED / "fixtures" / "microsoft-graph-app-roles.json"),
    (PROJECT_SCHEMA, SHARED / "schemas" / "pulumi-project.schema.json"),
], ids=["graph-app-roles", "project-schema"])
def test_fixtures_match_the_shared_copies(ours: Path, shared: Path) -> None:
    if not shared.exists():
        pytest.skip(f"no shared copy at {shared} (a clone outside the team's workspace)")
    assert ours.read_bytes() == shared.read_bytes()


def test_every_module_the_code_cites_exists() -> None:
    """Docstrings and comments point readers at modules; each must be there (microsoft.py cited graph.py)."""
    root = Path(__file__).resolve().parent.parent
    sources = [p for folder in ("components", "tools", "benchmarks", "tests") for p in (root / folder).rglob("*.py")]
    cited = {(source.name, match) for source in sources
             for match in re.findall(r"\b((?:components|tools|benchmarks|tests)/[\w/]+\.py)\b", source.read_text())}
    assert cited, "the pattern finds citations"
    missing = sorted((name, path) for name, path in cited if not (root / path).exists())
    assert missing == []
