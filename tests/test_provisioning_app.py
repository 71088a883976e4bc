"""provisioningApp: the URLs handed to the downstream client, and the app the stack creates itself."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components import package
from components.microsoft import GALLERY_APP_NAMES, UPLOAD_OWNED_BY
from components.provisioning_app import ProvisioningApp, ProvisioningAppArgs, notification_settings
from components.settings.model import ProvisioningAppCreateSettings
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import (
    GRAPH_ROLES,
    LOGIC_APP,
    NOW,
    PROVISIONING_APP,
    RunProgram,
    existing_identity,
    job_for,
    secret_client,
)
from tests.test_package import construct_program, example, example_problems
from tools.offline.entra import APP_TEMPLATE_TOKEN, LIST_SPS_TOKEN, OfflineEntra, mock_guid
from tools.offline.run import LAST_RUN, ProgramRun, run_offline
from tools.plan import plan

TEMPLATE = "azuread:index/applicationFromTemplate:ApplicationFromTemplate"
JOB = "azuread:index/synchronizationJob:SynchronizationJob"
SECRET = "azuread:index/synchronizationSecret:SynchronizationSecret"
OWNER = "azuread:index/applicationOwner:ApplicationOwner"
GRAPH = "https://graph.microsoft.com/v1.0"
EMAIL = "hr-ops@contoso.com"
GUID = "8a7f3e0c-5d3b-4c2e-9f1a-2b3c4d5e6f70"
OWNED_BY = [UPLOAD_OWNED_BY, "ProvisioningLog.Read.All"]


# -- an existing app ------------------------------------------------------------------------------

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
    assert run.outputs["provisioningJobId"] == job
    assert {"bulkUploadUrl", "provisioningLogsUrl", "provisioningJobId"}.isdisjoint(run.secret_outputs)
    assert run.of_type(TEMPLATE) == [], "an existing app is only referenced"
    assert run.of_type(JOB) == []
    assert run.calls_to(APP_TEMPLATE_TOKEN) == []


def test_owned_by_permission_warns_with_the_fix(run_program: RunProgram, entra: OfflineEntra) -> None:
    config: dict[str, Any] = {"clients": {"hr": {**secret_client(), "graphPermissions": OWNED_BY}}}
    run = run_program(config)
    warnings = [m for level, m in run.logs if level == "warning"]
    assert any("clients.hr" in w and "owns" in w for w in warnings)


# -- provisioningApp.create: config, without Pulumi --------------------------------------------------

def create_config(clients: dict[str, Any] | None = None, **create: Any) -> dict[str, Any]:
    return {"clients": clients or {"hr": secret_client()},
            "provisioningApp": {"create": {"notificationEmail": EMAIL, **create}}}


def test_create_defaults() -> None:
    app = parse_settings(create_config(), "dev", NOW).provisioning_app
    assert app is not None
    assert app.create is not None
    assert app.create == ProvisioningAppCreateSettings(
        target="entraId", display_name="inbound-provisioning-access-dev", notification_email=EMAIL)
    assert app.create.job_template_id == "API2AAD"
    assert app.job_id == ""
    assert app.service_principal_id is None
    assert app.display_name is None


def test_create_for_active_directory_with_a_template_id() -> None:
    raw = create_config(target="activeDirectory", displayName="HR to AD", templateId=GUID.upper())
    create = parse_settings(raw, "prod", NOW).provisioning_app.create  # type: ignore[union-attr]
    assert create is not None
    assert (create.target, create.display_name, create.template_id) == ("activeDirectory", "HR to AD", GUID)
    assert create.job_template_id == "API2AD"


def _with(**provisioning_app: Any) -> dict[str, Any]:
    return {"clients": {"hr": secret_client()}, "provisioningApp": provisioning_app}


BAD_CREATE: list[tuple[str, dict[str, Any], str]] = [
    ("bad email", _with(create={"notificationEmail": "hr-ops"}), "provisioningApp.create.notificationEmail"),
    ("two emails", _with(create={"notificationEmail": "a@contoso.com;b@contoso.com"}),
     "provisioningApp.create.notificationEmail"),
    ("email not a string", _with(create={"notificationEmail": ["a@contoso.com"]}),
     "provisioningApp.create.notificationEmail"),
    ("missing email", _with(create={}), "provisioningApp.create.notificationEmail"),
    ("create with a job id", _with(create={"notificationEmail": EMAIL}, jobId=job_for(GUID)), "provisioningApp.jobId"),
    ("create with an app id", _with(create={"notificationEmail": EMAIL}, servicePrincipalId=GUID),
     "provisioningApp.servicePrincipalId"),
    ("create with an app name", _with(create={"notificationEmail": EMAIL}, displayName="HR"),
     "provisioningApp.displayName"),
    ("unknown target", _with(create={"notificationEmail": EMAIL, "target": "azureAd"}),
     "provisioningApp.create.target"),
    ("target not a string", _with(create={"notificationEmail": EMAIL, "target": ["entraId"]}),
     "provisioningApp.create.target"),
    ("template id not a GUID", _with(create={"notificationEmail": EMAIL, "templateId": "API2AAD"}),
     "provisioningApp.create.templateId"),
    ("unknown key in create", _with(create={"notificationEmail": EMAIL, "jobTemplate": "API2AAD"}),
     "provisioningApp.create.jobTemplate"),
    ("unknown key beside create", _with(create={"notificationEmail": EMAIL}, owners=["hr"]), "provisioningApp.owners"),
    ("create not a map", _with(create="yes"), "provisioningApp.create"),
    ("display name too long", _with(create={"notificationEmail": EMAIL, "displayName": "x" * 121}),
     "provisioningApp.create.displayName"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CREATE, ids=[c[0] for c in BAD_CREATE])
def test_bad_create_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "dev", NOW)
    assert path in [p.path for p in caught.value.problems], f"{case}: {caught.value}"
    assert "; " in str(caught.value).split(f"  - {path}: got ", 1)[1]  # says what is allowed


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CREATE[:6], ids=[c[0] for c in BAD_CREATE[:6]])
def test_bad_create_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program(raw)
    assert path in str(caught.value)
    assert LAST_RUN[0].registrations == [], case
    assert LAST_RUN[0].calls == [], "nothing is read from the tenant either"


def test_every_create_problem_at_once() -> None:
    raw = _with(create={"target": "cloud", "notificationEmail": "nope", "templateId": "x"}, jobId="API2AAD.1")
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw, "dev", NOW)
    assert [p.path for p in caught.value.problems] == [
        "provisioningApp.jobId", "provisioningApp.create.target", "provisioningApp.create.notificationEmail",
        "provisioningApp.create.templateId"]


create_values = st.none() | st.booleans() | st.integers() | st.text(max_size=40) | st.lists(st.text(max_size=5))


@given(create=st.dictionaries(st.sampled_from(["target", "displayName", "notificationEmail", "templateId", "x"]),
                              create_values | st.sampled_from(["entraId", "activeDirectory", EMAIL, GUID]),
                              max_size=5))
@settings(max_examples=200, deadline=None)
def test_any_create_is_validated_or_refused_never_crashes(create: dict[str, Any]) -> None:
    problems: list[Any] = []
    try:
        app = parse_settings(_with(create=create), "dev", NOW).provisioning_app
    except SettingsError as error:
        problems = error.problems
    if problems:
        assert all(p.path.startswith("provisioningApp.create") for p in problems)
    else:
        assert app is not None
        assert app.create is not None
        assert app.create.notification_email == EMAIL


def test_notification_settings_are_the_sync_notification_json() -> None:
    assert json.loads(notification_settings(EMAIL)) == {
        "Enabled": True, "Recipients": EMAIL, "DeleteThresholdEnabled": True, "DeleteThresholdValue": 500}


# -- provisioningApp.create: the whole program --------------------------------------------------------

def chain_config(target: str = "entraId", **create: Any) -> dict[str, Any]:
    """One OwnedBy client, one OwnedBy managed identity, one client with the broad upload permission."""
    return create_config({
        "hr": {**secret_client(), "graphPermissions": OWNED_BY},
        "logic": {**existing_identity(displayName=LOGIC_APP.display_name), "graphPermissions": OWNED_BY},
        "broad": secret_client(),
    }, target=target, **create)


def depends_on(run: ProgramRun, dependent: str, dependency: str) -> bool:
    return run.named(dependency).urn in run.named(dependent).dependencies


@pytest.mark.parametrize(("target", "job_template"), [("entraId", "API2AAD"), ("activeDirectory", "API2AD")])
def test_whole_chain_for_each_target(run_program: RunProgram, entra: OfflineEntra,
                                     target: str, job_template: str) -> None:
    run = run_program(chain_config(target), stack="staging")

    gallery_name = GALLERY_APP_NAMES[target][0]
    assert run.calls_to(APP_TEMPLATE_TOKEN) == [{"displayName": gallery_name}]
    app = run.named("provisioningApp-app")
    assert app.type == TEMPLATE
    assert app.inputs == {"displayName": "inbound-provisioning-access-staging",
                          "templateId": entra.gallery[gallery_name]}

    sp = run.outputs["provisioningAppServicePrincipalId"]
    job = run.named("provisioningApp-job")
    assert job.type == JOB
    assert job.inputs == {"servicePrincipalId": f"/servicePrincipals/{sp}", "templateId": job_template, "enabled": True}
    assert re.fullmatch(r"/servicePrincipals/[0-9a-f-]{36}", job.inputs["servicePrincipalId"])

    secret = run.named("provisioningApp-notification")
    assert secret.type == SECRET
    assert secret.inputs["servicePrincipalId"] == f"/servicePrincipals/{sp}"
    [credential] = secret.inputs["credentials"]
    assert credential["key"] == "SyncNotificationSettings"
    assert json.loads(credential["value"])["Recipients"] == EMAIL

    # Ordering: app -> (Entra answers for its service principal) -> notification email -> job.
    assert depends_on(run, "provisioningApp-notification", "provisioningApp-app")
    assert depends_on(run, "provisioningApp-job", "provisioningApp-notification")
    assert {"objectIds": [sp], "ignoreMissing": True} in run.calls_to(LIST_SPS_TOKEN), "the replication wait read it"
    assert not [r for r in run.registrations if r.type.startswith("pulumi-python:")], "nothing needs this repo"

    # Day 2 (docs/provisioning-app.md): a looked-up template, the job's state and the notification
    # settings are left alone after creation.
    assert app.ignore_changes == ("templateId",)
    assert job.ignore_changes == ("enabled", "templateId")
    assert secret.ignore_changes == ("credentials",)

    job_id = run.outputs["provisioningJobId"]
    assert re.fullmatch(rf"{job_template}\.[0-9a-f]{{32}}\.{entra.tenant_id}", job_id)
    assert run.outputs["bulkUploadUrl"] == f"{GRAPH}/servicePrincipals/{sp}/synchronization/jobs/{job_id}/bulkUpload"
    assert run.outputs["provisioningLogsUrl"] == f"{GRAPH}/auditLogs/provisioning?$filter=jobid eq '{job_id}'"
    assert {"bulkUploadUrl", "provisioningLogsUrl", "provisioningJobId",
            "provisioningAppServicePrincipalId"}.isdisjoint(run.secret_outputs)

    # OwnedBy clients, and only they, own the created application.
    owners = {r.name: r.inputs for r in run.of_type(OWNER)}
    # The application the offline engine instantiated from the template (its applicationId output).
    application_id = f"/applications/{mock_guid(TEMPLATE, 'provisioningApp-app', 'application')}"
    assert owners == {
        "provisioningApp-owner-hr": {"applicationId": application_id,
                                     "ownerObjectId": run.outputs["clients"]["hr"]["servicePrincipalObjectId"]},
        "provisioningApp-owner-logic": {"applicationId": application_id, "ownerObjectId": LOGIC_APP.object_id},
    }
    assert depends_on(run, "provisioningApp-owner-hr", "hr-sp"), "the owner waits for the client's principal"
    assert not any(r.protect for r in (app, job, *run.of_type(OWNER))), "protect is off outside prod"


def test_created_app_is_protected_on_prod(run_program: RunProgram) -> None:
    run = run_program(chain_config(), stack="prod")
    protected = {r.name for r in run.registrations if r.protect}
    assert {"provisioningApp-app", "provisioningApp-job", "provisioningApp-owner-hr",
            "provisioningApp-owner-logic"} <= protected
    assert "provisioningApp-notification" not in protected


def test_a_configured_template_id_skips_the_lookup_and_is_applied(run_program: RunProgram) -> None:
    run = run_program(chain_config(templateId=GUID))
    assert run.calls_to(APP_TEMPLATE_TOKEN) == []
    assert run.named("provisioningApp-app").inputs["templateId"] == GUID
    assert run.named("provisioningApp-app").ignore_changes == (), "a configured id is the deliberate way to move"
    assert run.named("provisioningApp-job").ignore_changes == ("enabled",)


def test_the_older_gallery_name_is_found_too() -> None:
    older = GALLERY_APP_NAMES["entraId"][1]
    entra = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP], now=NOW, gallery={older: GUID})
    run = run_offline(entra, chain_config())
    assert [c["displayName"] for c in run.calls_to(APP_TEMPLATE_TOKEN)] == list(GALLERY_APP_NAMES["entraId"])
    assert run.named("provisioningApp-app").inputs["templateId"] == GUID


def test_a_template_miss_is_a_config_error_before_anything_is_registered() -> None:
    entra = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP], now=NOW, gallery={})
    with pytest.raises(SettingsError) as caught:
        run_offline(entra, chain_config(target="activeDirectory"))
    [problem] = caught.value.problems
    assert problem.path == "provisioningApp.create.templateId"
    assert "API-driven provisioning to on-premises Active Directory" in problem.allowed
    assert "applicationTemplates" in problem.allowed
    assert "set provisioningApp.create.templateId" in problem.allowed
    assert LAST_RUN[0].registrations == []
    assert [args for token, args in entra.calls if token == APP_TEMPLATE_TOKEN] == [
        {"displayName": name} for name in GALLERY_APP_NAMES["activeDirectory"]], "every known name was tried"


def test_clients_without_owned_by_own_nothing(run_program: RunProgram) -> None:
    run = run_program(create_config())
    assert run.of_type(OWNER) == []
    assert run.named("provisioningApp-job").inputs["enabled"] is True


def test_renaming_the_app_replaces_nothing(run_program: RunProgram) -> None:
    # Only templateId replaces an ApplicationFromTemplate; the name is an in-place update, and nothing
    # else derives from it (resource names do not).
    first = run_program(chain_config())
    renamed = run_program(chain_config(displayName="HR inbound"))
    assert {r.urn for r in first.registrations} == {r.urn for r in renamed.registrations}
    assert renamed.named("provisioningApp-app").inputs["templateId"] == first.named("provisioningApp-app").inputs[
        "templateId"]


@pulumi.runtime.test
def test_component_derives_the_urls_from_the_jobs_id(fresh_runtime: OfflineEntra) -> pulumi.Output[Any]:
    component = ProvisioningApp("provisioningApp", ProvisioningAppArgs(
        settings=ProvisioningAppCreateSettings(target="activeDirectory", display_name="HR to AD",
                                               notification_email=EMAIL),
        template_id=GUID, owners={"hr": "client-sp-object-id"}, protect=True))
    assert list(component.owners) == ["hr"]

    def check(values: list[Any]) -> None:
        sp, job_id, bulk, logs, owner = values
        assert job_id.startswith("API2AD.")
        assert job_id.endswith(fresh_runtime.tenant_id)
        assert bulk == f"{GRAPH}/servicePrincipals/{sp}/synchronization/jobs/{job_id}/bulkUpload"
        assert logs.endswith(f"jobid eq '{job_id}'")
        assert owner == "client-sp-object-id"

    return pulumi.Output.all(component.service_principal_object_id, component.job_id, component.bulk_upload_url,
                             component.provisioning_logs_url,
                             component.owners["hr"].owner_object_id).apply(check)


# -- make plan ---------------------------------------------------------------------------------------

def run_plan(tmp_path: Path, stack: str, config: dict[str, Any]) -> tuple[int, str, str]:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"inbound-provisioning-access:{k}": v for k, v in config.items()}}))
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(["--stack", stack, "--config-file", str(path)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_plan_shows_the_chain(tmp_path: Path) -> None:
    config = create_config({"hr": {**secret_client(), "graphPermissions": OWNED_BY}})
    code, text, err = run_plan(tmp_path, "prod", config)
    assert code == 0, err
    chain = text.split("## Provisioning app (created by this stack, target `entraId`)", 1)[1].split("## Resources")[0]
    assert '"API-driven provisioning to Microsoft Entra ID"' in chain
    assert "`inbound-provisioning-access-prod` from the template" in chain
    assert f"`SyncNotificationSettings` to {EMAIL}" in chain
    assert "| 5. job | `API2AAD`, started" in chain
    # Day 2: what the stack will and will not touch after creation.
    assert "started when created; **never started or paused after** (the operator's: a pause stays)" in chain
    assert "a different answer is **reported, not applied**" in chain
    assert "written when the app is created; **not touched after**" in chain
    assert "| 6. owners of the application | hr | created on deploy |" in chain
    assert "| owners of the service principal | hr | **pending, manual**" in chain
    assert "provisioning agent" not in chain
    assert "`protect` is **on** for the app, the job and the ownerships" in chain
    for resource in ("`azuread:index/applicationFromTemplate:ApplicationFromTemplate` | `provisioningApp-app` | yes",
                     "`azuread:index/synchronizationJob:SynchronizationJob` | `provisioningApp-job` | yes",
                     "`azuread:index/synchronizationSecret:SynchronizationSecret` | `provisioningApp-notification`",
                     "`azuread:index/applicationOwner:ApplicationOwner` | `provisioningApp-owner-hr` | yes"):
        assert resource in text
    assert "looked-up-on-deploy" not in text


def test_plan_shows_the_on_premises_steps_as_pending(tmp_path: Path) -> None:
    code, text, err = run_plan(tmp_path, "dev", create_config(target="activeDirectory", templateId=GUID))
    assert code == 0, err
    assert f"| 1. template | `{GUID}` (configured) | applied: changing it replaces the app and its job" in text
    assert "| 5. job | `API2AD`" in text
    assert "| provisioning agent |" in text
    assert "needs delegated permissions" in text
    assert "| 6. owners of the application | none" in text
    assert "attribute mappings" in text
    assert "not managed" in text


def test_plan_refuses_bad_create_config(tmp_path: Path) -> None:
    code, text, err = run_plan(tmp_path, "dev", _with(create={"notificationEmail": "nope"}, jobId="x"))
    assert code == 1
    assert text == ""
    assert "provisioningApp.create.notificationEmail" in err
    assert "provisioningApp.jobId" in err


def test_one_owned_by_client_plans_and_runs_into_a_complete_chain(tmp_path: Path, run_program: RunProgram) -> None:
    config = create_config({"hr-sync": {**secret_client(), "graphPermissions": OWNED_BY}})
    code, text, err = run_plan(tmp_path, "dev", config)
    assert code == 0, err
    run = run_program(config)
    assert sorted(r.type for r in run.registrations if r.name.startswith("provisioningApp-")) == sorted(
        [TEMPLATE, SECRET, JOB, OWNER])
    assert run.named("provisioningApp-owner-hr-sync").inputs["ownerObjectId"] == (
        run.outputs["clients"]["hr-sync"]["servicePrincipalObjectId"])
    assert {"bulkUploadUrl", "provisioningLogsUrl", "provisioningJobId", "provisioningAppServicePrincipalId"} <= set(
        run.outputs)
    assert "| 6. owners of the application | hr-sync | created on deploy |" in text


# -- the YAML example -----------------------------------------------------------------------------------

def test_the_yaml_example_creates_the_provisioning_app_through_the_package(entra: OfflineEntra) -> None:
    """As a YAML program runs it: its properties, checked against the package schema, through construct."""
    program = example()
    assert example_problems(program, package.schema()) == []
    properties = program["resources"]["access"]["properties"]
    assert properties["provisioningApp"]["create"]["notificationEmail"]
    run = run_offline(entra, {}, "dev", program=construct_program(properties))
    built = sorted(r.type for r in run.registrations if r.name.startswith("provisioningApp-"))
    assert built == sorted([TEMPLATE, SECRET, JOB]), "no dynamic resource: nothing needs this repository"
    for output in ("bulkUploadUrl", "provisioningJobId"):
        assert f"${{access.{output}}}" == program["outputs"][output]
        assert run.outputs[output]
