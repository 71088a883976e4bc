"""make verify --deployer reports the provisioning job as Graph has it (tools/verify/job.py): paused (reported),
quarantined (a failure, which fails the weekly run), and its notification settings."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GRAPH_ROLES
from tests.fake_graph import FakeCredential, FakeGraph, Tenant, assignment, graph_principal
from tools.offline.entra import mock_guid
from tools.verify import verify

GRAPH = graph_principal(mock_guid("graph-in-fake-tenant"), GRAPH_ROLES)
UPLOAD_ROLE = next(r["id"] for r in GRAPH_ROLES if r["value"] == "SynchronizationData-User.Upload")
APP_SP = mock_guid("provisioning-app-sp")
JOB = f"API2AAD.0123456789abcdef0123456789abcdef.{mock_guid('tenant')}"
EMAIL = "hr-ops@contoso.com"
CLIENT: dict[str, Any] = {"kind": "servicePrincipal", "clientId": mock_guid("hr-client"),
          "servicePrincipalObjectId": mock_guid("hr-sp"), "displayName": "hr",
          "graphPermissions": ["SynchronizationData-User.Upload"], "credentialType": "secret",
          "credentialKeyIds": []}
OUTPUTS = {"tenantId": mock_guid("tenant"), "clients": {"hr": CLIENT}, "clientCredentials": "[secret]",
           "provisioningAppServicePrincipalId": APP_SP, "provisioningJobId": JOB}
NOTIFY = {"key": "SyncNotificationSettings",
          "value": json.dumps({"Enabled": True, "Recipients": EMAIL, "DeleteThresholdEnabled": True})}


def job(code: str, schedule: str = "Active", quarantine: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": JOB, "templateId": "API2AAD", "schedule": {"interval": "PT40M", "state": schedule},
            "status": {"code": code, "quarantine": quarantine, "lastExecution": None}}


def tenant(state: dict[str, Any] | None, secrets: list[dict[str, Any]] | None = None) -> Tenant:
    principal: dict[str, Any] = {"id": CLIENT["servicePrincipalObjectId"], "appId": CLIENT["clientId"],
                                 "displayName": "hr"}
    found = Tenant(service_principals=[GRAPH, principal],
                   assignments={principal["id"]: [assignment(mock_guid("grant"), principal, GRAPH, UPLOAD_ROLE)]})
    if state is not None:
        found.jobs[f"{APP_SP}/{JOB}"] = state
    found.synchronization_secrets[APP_SP] = [NOTIFY] if secrets is None else secrets
    return found


def run(tmp_path: Path, graph: FakeGraph, outputs: dict[str, Any] = OUTPUTS) -> tuple[int, str]:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    out = io.StringIO()
    code = verify.main(["--outputs", str(path), "--deployer"], transport=graph, out=out, credential=FakeCredential())
    return code, out.getvalue()


def job_row(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(JOB))


def test_a_running_job_with_its_notification_email_passes(tmp_path: Path) -> None:
    code, text = run(tmp_path, FakeGraph(tenant(job("Active"))))
    assert code == 0, text
    assert job_row(text).split()[2:] == ["Active", "enabled,", "1", "recipient", "OK"]
    assert EMAIL not in text, "the recipients are counted, never shown"


def test_a_paused_job_is_reported_not_failed(tmp_path: Path) -> None:
    code, text = run(tmp_path, FakeGraph(tenant(job("Paused", schedule="Paused"))))
    assert code == 0, text
    assert job_row(text).rstrip().endswith("PAUSED")
    assert "job: the job is paused (an operator's choice" in text


def test_a_quarantined_job_fails_with_its_reason(tmp_path: Path) -> None:
    quarantine = {"currentBegan": "2026-11-26T03:00:00Z", "reason": "EncounteredQuarantineException",
                  "error": {"code": "SystemForCrossDomainIdentityManagementCredentialsInvalid", "message": "bad"}}
    code, text = run(tmp_path, FakeGraph(tenant(job("Quarantine", quarantine=quarantine))))
    assert code == 1, text
    assert job_row(text).rstrip().endswith("QUARANTINED")
    assert "quarantined since 2026-11-26T03:00:00Z (reason EncounteredQuarantineException: bad)" in text
    assert "/start" in text


@pytest.mark.parametrize("secrets", [
    [], [{"key": "SyncNotificationSettings", "value": '{"Enabled":false}'}],
    [{"key": "SyncNotificationSettings", "value": '{"Enabled":true,"Recipients":""}'}],
], ids=["missing", "disabled", "no recipient"])
def test_emptied_notification_settings_fail(tmp_path: Path, secrets: list[dict[str, Any]]) -> None:
    code, text = run(tmp_path, FakeGraph(tenant(job("Active"), [{"key": "SyncAll", "value": "false"}, *secrets])))
    assert code == 1, text
    assert job_row(text).rstrip().endswith("NO-NOTIFY")
    assert "Provisioning > Settings > Notification Email" in text


def test_the_job_read_refused_names_the_permission(tmp_path: Path) -> None:
    graph = FakeGraph(tenant(job("Active")), refuse=(r"/servicePrincipals/[0-9a-f-]+/synchronization/.*",))
    code, text = run(tmp_path, graph)
    assert code == 2
    assert "Synchronization.Read.All" in text


def test_a_gone_job_is_a_failure_naming_the_recovery(tmp_path: Path) -> None:
    code, text = run(tmp_path, FakeGraph(tenant(None)))
    assert code == 1
    assert "A deleted service principal" in text


def test_without_a_provisioning_app_no_job_is_read(tmp_path: Path) -> None:
    graph = FakeGraph(tenant(None))
    outputs = {k: v for k, v in OUTPUTS.items() if not k.startswith("provisioning")}
    code, text = run(tmp_path, graph, outputs)
    assert code == 0, text
    assert not any("synchronization" in r for r in graph.requests)


def test_the_deployer_reads_the_outputs_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []

    def stack_output(stack: str, extra: list[str]) -> dict[str, Any]:
        asked.append(list(extra))
        return OUTPUTS

    monkeypatch.setattr(verify, "pulumi_stack_output", stack_output)
    assert verify.read_outputs("dev", None, secrets=False) == OUTPUTS
    assert asked == [[]], "no --show-secrets: the weekly run's auditor holds no passphrase"


@pytest.mark.parametrize("outputs", [
    {**OUTPUTS, "provisioningJobId": None},
    {k: v for k, v in OUTPUTS.items() if k != "provisioningAppServicePrincipalId"},
], ids=["a job id lost by an errored run", "no service principal id"])
def test_a_provisioning_app_without_both_ids_is_not_passed_unchecked(tmp_path: Path, outputs: dict[str, Any]) -> None:
    code, text = run(tmp_path, FakeGraph(tenant(job("Active"))), outputs)
    assert code == 1, text
    assert "UNKNOWN" in text
    assert "the job was not checked" in text


def test_a_job_whose_state_graph_does_not_say_is_a_failure(tmp_path: Path) -> None:
    code, text = run(tmp_path, FakeGraph(tenant({"id": JOB, "templateId": "API2AAD"})))
    assert code == 1, text
    assert job_row(text).rstrip().endswith("UNKNOWN")
