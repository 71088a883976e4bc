"""The provisioning app after its first deploy: the deploy simulation, with what an operator does in the portal.

Each deploy runs as the pipeline runs it (``pulumi up --refresh``): the providers' Read first brings
what the tenant holds into the state (tools/offline/deploys.py, ``ProvisioningTenant``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest

from components import replication_wait
from components.microsoft import GALLERY_APP_NAMES, UPLOAD_OWNED_BY
from tests.conftest import GRAPH_ROLES, LOGIC_APP, secret_client
from tools.offline.deploys import Deploy, Deployed, DeploySimulation
from tools.offline.entra import LIST_SPS_TOKEN, default_gallery

START = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)
TEMPLATE = "azuread:index/applicationFromTemplate:ApplicationFromTemplate"
JOB = "azuread:index/synchronizationJob:SynchronizationJob"
SECRET = "azuread:index/synchronizationSecret:SynchronizationSecret"
EMAIL = "hr-ops@contoso.com"
OTHER_TEMPLATE = "0b9e5f4c-1d2a-4e3b-8c7d-6e5f4a3b2c1d"


def config(**create: Any) -> dict[str, Any]:
    return {"clients": {"hr": {**secret_client(), "graphPermissions": [UPLOAD_OWNED_BY]}},
            "provisioningApp": {"create": {"notificationEmail": EMAIL, **create}}}


def first_deploy(**create: Any) -> DeploySimulation:
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    first = simulation.up(config(**create), START)
    assert {c.type for c in first.of_kind("create")} >= {TEMPLATE, JOB, SECRET}
    assert simulation.tenant.paused_jobs == set(), "the job is started when it is created"
    return simulation


def provisioning_changes(deploy: Deploy) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.kind, c.name, c.fields) for c in deploy.changes if c.name.startswith("provisioningApp-")]


def warnings(deploy: Deploy) -> list[str]:
    return [message for level, message in deploy.run.logs if level == "warning"]


def test_a_second_deploy_changes_nothing_and_reads_the_principal_once() -> None:
    simulation = first_deploy()
    again = simulation.up(config(), START + WEEK, refresh=True)
    assert provisioning_changes(again) == []
    assert again.timeouts == []
    sp = again.run.outputs["provisioningAppServicePrincipalId"]
    assert again.run.calls_to(LIST_SPS_TOKEN).count({"objectIds": [sp], "ignoreMissing": True}) == 1


def test_another_gallery_answer_is_reported_not_applied() -> None:
    simulation = first_deploy()
    created = simulation.deploys[0].run.outputs
    entra_name = GALLERY_APP_NAMES["entraId"][0]
    old = default_gallery()[entra_name]
    simulation.tenant.gallery = {**default_gallery(), entra_name: OTHER_TEMPLATE}

    again = simulation.up(config(), START + WEEK, refresh=True)

    assert provisioning_changes(again) == [], "no replace, no delete: same app, job and bulkUploadUrl"
    assert again.run.outputs["bulkUploadUrl"] == created["bulkUploadUrl"]
    [warning] = [w for w in warnings(again) if "gallery now answers" in w]
    assert OTHER_TEMPLATE in warning
    assert old in warning
    assert f"provisioningApp.create.templateId: {OTHER_TEMPLATE}" in warning, "names the deliberate way"


def test_a_configured_template_id_moves_the_app_on_purpose() -> None:
    simulation = first_deploy()
    moved = simulation.up(config(templateId=OTHER_TEMPLATE), START + WEEK, refresh=True)
    kinds = {(c.kind, c.type) for c in moved.changes}
    assert ("replace", TEMPLATE) in kinds
    assert ("replace", JOB) in kinds, "the job follows its new service principal"
    assert not [w for w in warnings(moved) if "gallery now answers" in w]


def test_a_target_change_with_a_looked_up_template_is_reported_not_applied() -> None:
    simulation = first_deploy()
    again = simulation.up(config(target="activeDirectory"), START + WEEK, refresh=True)
    assert provisioning_changes(again) == []
    assert [w for w in warnings(again) if "created as API2AAD" in w]
    assert [w for w in warnings(again) if "gallery now answers" in w]


def test_a_job_paused_in_the_portal_stays_paused() -> None:
    simulation = first_deploy()
    simulation.tenant.paused_jobs.add("provisioningApp-job")  # an HR data incident: the operator pauses it

    for week in (1, 2):
        again = simulation.up(config(), START + week * WEEK, refresh=True)
        assert provisioning_changes(again) == [], "no start call"
        assert simulation.tenant.paused_jobs == {"provisioningApp-job"}

    simulation.tenant.paused_jobs.clear()  # the operator starts it again
    resumed = simulation.up(config(), START + 3 * WEEK, refresh=True)
    assert provisioning_changes(resumed) == []
    assert simulation.tenant.paused_jobs == set()


def test_the_notification_secret_is_stable_after_the_portal_adds_a_key() -> None:
    simulation = first_deploy()
    simulation.tenant.portal_secret_keys["provisioningApp-notification"] = [{"key": "SyncAll", "value": "false"}]

    again = simulation.up(config(), START + WEEK, refresh=True)

    assert provisioning_changes(again) == []
    assert again.timeouts == [], "no update, so no wait for a key count that cannot match"
    assert not [w for w in warnings(again) if "notificationEmail" in w]


def test_a_changed_notification_email_is_reported_not_applied() -> None:
    simulation = first_deploy()
    again = simulation.up(config(notificationEmail="payroll-ops@contoso.com"), START + WEEK, refresh=True)
    assert provisioning_changes(again) == []
    [warning] = [w for w in warnings(again) if "notificationEmail" in w]
    assert "payroll-ops@contoso.com" not in warning, "the configured address may be a --secret value: not echoed"
    assert EMAIL not in warning, "the stored settings are a secret output: not echoed"
    assert "differs from the address in the job's notification settings" in warning
    assert "Provisioning > Settings" in warning


def test_a_slow_replica_is_waited_for_before_the_secret_and_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replication_wait, "POLL_SECONDS", 0.0)
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    simulation.tenant.replication_misses = 2
    first = simulation.up(config(), START)
    sp = first.run.outputs["provisioningAppServicePrincipalId"]
    reads = first.run.calls_to(LIST_SPS_TOKEN).count({"objectIds": [sp], "ignoreMissing": True})
    assert reads == 2 + replication_wait.SIGHTINGS, "two misses, then consecutive sightings"
    assert first.run.named("provisioningApp-job").inputs["servicePrincipalId"] == f"/servicePrincipals/{sp}"


def test_upgrading_a_stack_with_the_old_wait_deletes_only_the_wait() -> None:
    """A stack deployed before issue 21 holds the dynamic resource; nothing else changes on upgrade."""
    simulation = first_deploy()
    app = simulation.of_type(TEMPLATE)[0]
    legacy = "pulumi-python:dynamic:Resource"
    simulation.state[f"{legacy}::provisioningApp-replication-wait"] = Deployed(
        legacy, "provisioningApp-replication-wait", app.outputs["servicePrincipalObjectId"],
        {"servicePrincipalObjectId": app.outputs["servicePrincipalObjectId"], "seconds": 60}, {}, 1, START)
    upgraded = simulation.up(config(), START + WEEK, refresh=True)
    assert provisioning_changes(upgraded) == [("delete", "provisioningApp-replication-wait", ())]


# The SDK leaves an output's secrecy check pending when a program raises mid-run (pulumi/runtime/stack.py).
@pytest.mark.filterwarnings("ignore:coroutine 'Output.is_secret' was never awaited:RuntimeWarning")
def test_a_deleted_service_principal_fails_at_once_naming_the_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    # Someone deleted the created app's service principal: the app's Read checks only the application, the
    # job and the secret drop out of the state. The wait would poll for 300 s and say "run again", forever.
    monkeypatch.setattr(replication_wait, "POLL_SECONDS", 3600.0)  # a poll would hang the test: none may happen
    simulation = first_deploy()
    sp = simulation.deploys[0].run.outputs["provisioningAppServicePrincipalId"]
    simulation.tenant.deleted_principals.add(sp)
    started = time.monotonic()
    with pytest.raises(Exception, match="is gone from Entra") as failure:
        simulation.up(config(), START + WEEK, refresh=True)
    assert time.monotonic() - started < 5
    message = str(failure.value)
    assert sp in message
    # The app's URN as the engine hands it to the program (the mock engine writes the parent's type alone).
    unprotect = re.search(r"pulumi state unprotect --stack dev --yes '(urn:pulumi:dev::[^']+)'", message)
    assert unprotect is not None, message
    assert unprotect.group(1).endswith(f"${TEMPLATE}::provisioningApp-app")
    assert "make up STACK=dev ARGS='--replace **::provisioningApp-app'" in message
    assert not simulation.of_type(JOB), "the refresh dropped the job, as the provider's Read does"
