"""provisioningApp: the bulkUpload and provisioning-log URLs handed to the downstream client."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PROVISIONING_APP, RunProgram, job_for, secret_client
from tools.offline import OfflineEntra


@pytest.mark.parametrize("lookup", ["servicePrincipalId", "displayName"])
def test_endpoint_outputs(run_program: RunProgram, entra: OfflineEntra, lookup: str) -> None:
    job = job_for(entra.tenant_id)
    value = PROVISIONING_APP.object_id if lookup == "servicePrincipalId" else PROVISIONING_APP.display_name
    run = run_program({"clients": {"hr": secret_client()}, "provisioningApp": {lookup: value, "jobId": job}})
    sp = PROVISIONING_APP.object_id
    assert run.outputs["bulkUploadUrl"] == (
        f"https://graph.microsoft.com/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/bulkUpload")
    assert run.outputs["provisioningLogsUrl"] == (
        f"https://graph.microsoft.com/v1.0/auditLogs/provisioning?$filter=jobid eq '{job}'")
    assert run.outputs["provisioningAppServicePrincipalId"] == sp
    assert {"bulkUploadUrl", "provisioningLogsUrl"}.isdisjoint(run.secret_outputs)


def test_owned_by_permission_warns_with_the_fix(run_program: RunProgram, entra: OfflineEntra) -> None:
    config: dict[str, Any] = {"clients": {"hr": {**secret_client(), "graphPermissions": [
        "SynchronizationData-User.Upload.OwnedBy", "ProvisioningLog.Read.All"]}}}
    run = run_program(config)
    warnings = [m for level, m in run.logs if level == "warning"]
    assert any("clients.hr" in w and "owns" in w for w in warnings)
