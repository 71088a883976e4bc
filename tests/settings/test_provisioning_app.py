"""provisioningApp: the lookups and job id of an existing API-driven provisioning app."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunProgram, secret_client
from tests.settings.helpers import JOB, assert_names_the_key_path, assert_registers_nothing

BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("provisioning app with both lookups", {"clients": {"a": secret_client()}, "provisioningApp": {
        "servicePrincipalId": "00000000-0000-0000-0000-000000000001", "displayName": "x", "jobId": JOB}},
     "provisioningApp"),
    ("provisioning app bad job id", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x", "jobId": "API2AAD.123"}}, "provisioningApp.jobId"),
    ("provisioning app missing job id", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x"}}, "provisioningApp.jobId"),
    ("provisioning app id not a GUID", {"clients": {"a": secret_client()}, "provisioningApp": {
        "servicePrincipalId": "my-app", "jobId": JOB}}, "provisioningApp.servicePrincipalId"),
    ("provisioning app unknown key", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x", "jobId": JOB, "jobid": JOB}}, "provisioningApp.jobid"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    assert_names_the_key_path(case, raw, path)


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    assert_registers_nothing(run_program, case, raw, path)
