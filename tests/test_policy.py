"""The policy pack's rules, called the way the analyzer calls them (never through PolicyPack,
which starts a server), and run over everything the real program registers."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy import resource_types as t
from policy import rules
from tests.conftest import NOW, ROLE_ID, ROOT, existing_identity, secret_client
from tools.offline.run import ProgramRun

GRAPH_SP = "6a4c9a3e-0000-4000-8000-000000000001"
CONFIG = {rules.GRAPH_SP_CONFIG: GRAPH_SP}
POLICIES = {p.name: p for p in rules.policies(clock=lambda: NOW) if isinstance(p, ResourceValidationPolicy)}


def args(typ: str, props: dict[str, Any], *, stack: str = "dev", name: str = "hr-sync-x", protect: bool = False,
         config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    urn = f"urn:pulumi:{stack}::inbound-provisioning-access::{typ}::{name}"
    opts = PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])
    return ResourceValidationArgs(typ, props, urn, name, opts, None, CONFIG if config is None else config)


def collector(found: list[str]) -> ReportViolation:
    def report(message: str, _urn: str | None = None) -> None:
        found.append(message)

    return report


def violations(policy: str, validation: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    result = POLICIES[policy].validate(validation, collector(found))
    assert result is None, "the rules are synchronous"
    return found


def grant(role: str, resource: str = GRAPH_SP) -> dict[str, Any]:
    return {"appRoleId": role, "principalObjectId": "11111111-1111-4111-8111-111111111111",
            "resourceObjectId": resource}


def test_every_policy_is_mandatory() -> None:
    assert set(POLICIES) == {"allowed-resource-types", "access-fields", "graph-roles-allowlist",
                             "credential-lifetime", "no-client-owners", "protect-prod", "stack-file"}
    assert all(isinstance(p, ResourceValidationPolicy) for p in POLICIES.values())
    assert {p.enforcement_level for p in POLICIES.values()} == {EnforcementLevel.MANDATORY}


def test_allowed_role_ids_are_graphs_published_ids() -> None:
    # Independent of components/microsoft.py: the ids of the real Graph service principal (fixture).
    allowed = ["SynchronizationData-User.Upload", "SynchronizationData-User.Upload.OwnedBy",
               "AuditLog.Read.All", "ProvisioningLog.Read.All"]
    assert dict(rules.ALLOWED_ROLE_IDS) == {ROLE_ID[v]: v for v in allowed}


@pytest.mark.parametrize("permission", ["SynchronizationData-User.Upload", "AuditLog.Read.All",
                                        "ProvisioningLog.Read.All", "SynchronizationData-User.Upload.OwnedBy"])
def test_the_four_roles_on_graph_pass(permission: str) -> None:
    assert violations("graph-roles-allowlist", args(t.APP_ROLE_ASSIGNMENT, grant(ROLE_ID[permission]))) == []


@pytest.mark.parametrize("permission", ["Directory.ReadWrite.All", "Application.ReadWrite.All",
                                        "AppRoleAssignment.ReadWrite.All", "User.ReadWrite.All"])
def test_any_other_graph_role_is_refused(permission: str) -> None:
    [message] = violations("graph-roles-allowlist", args(t.APP_ROLE_ASSIGNMENT, grant(ROLE_ID[permission])))
    assert ROLE_ID[permission] in message
    assert "not one of the allowed Graph permissions" in message


def test_an_allowed_role_id_on_another_resource_is_refused() -> None:
    # Any app can declare a role with Graph's id; the grant must be on Graph's service principal.
    other = "22222222-2222-4222-8222-222222222222"
    [message] = violations("graph-roles-allowlist",
                           args(t.APP_ROLE_ASSIGNMENT, grant(ROLE_ID["AuditLog.Read.All"], resource=other)))
    assert other in message
    assert GRAPH_SP in message


def test_graph_object_id_compares_case_insensitively() -> None:
    props = grant(ROLE_ID["AuditLog.Read.All"], resource=GRAPH_SP.upper())
    assert violations("graph-roles-allowlist", args(t.APP_ROLE_ASSIGNMENT, props)) == []


@pytest.mark.parametrize("config", [{}, {rules.GRAPH_SP_CONFIG: "graph"}])
def test_grants_fail_closed_without_the_graph_object_id(config: dict[str, Any]) -> None:
    [message] = violations("graph-roles-allowlist",
                           args(t.APP_ROLE_ASSIGNMENT, grant(ROLE_ID["AuditLog.Read.All"]), config=config))
    assert rules.GRAPH_SP_CONFIG in message


def test_a_new_principal_unknown_during_preview_does_not_stop_the_grant_rule() -> None:
    # Props as the analyzer passes them: unknowns are sentinels behind a proxy that raises on access.
    props = unknown_checking_proxy({"appRoleId": ROLE_ID["Directory.ReadWrite.All"],
                                    "principalObjectId": UNKNOWN_STRING_VALUE, "resourceObjectId": GRAPH_SP})
    [message] = violations("graph-roles-allowlist", args(t.APP_ROLE_ASSIGNMENT, props))
    assert "not one of the allowed Graph permissions" in message


def test_app_registration_declares_only_the_allowed_graph_roles() -> None:
    good = {"requiredResourceAccesses": [{"resourceAppId": "00000003-0000-0000-c000-000000000000",
                                          "resourceAccesses": [{"id": ROLE_ID["AuditLog.Read.All"], "type": "Role"}]}]}
    assert violations("graph-roles-allowlist", args(t.APPLICATION, good)) == []
    bad = {"requiredResourceAccesses": [
        {"resourceAppId": "00000003-0000-0000-c000-000000000000",
         "resourceAccesses": [{"id": ROLE_ID["Directory.ReadWrite.All"], "type": "Role"},
                              {"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]},
        {"resourceAppId": "00000002-0000-0000-c000-000000000000", "resourceAccesses": []},
    ]}
    found = violations("graph-roles-allowlist", args(t.APPLICATION, bad))
    assert len(found) == 3
    assert any("00000002-0000-0000-c000-000000000000" in m for m in found)


def password(end: str | None, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"applicationId": "/applications/x", "displayName": "hr-sync", **extra}
    if end is not None:
        props["endDate"] = end
    return props


@pytest.mark.parametrize("days", [1, 180, 730])
def test_secret_within_730_days_passes(days: int) -> None:
    end = (NOW + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert violations("credential-lifetime", args(t.APPLICATION_PASSWORD, password(end))) == []


def test_secret_over_730_days_is_refused() -> None:
    end = (NOW + dt.timedelta(days=733)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [message] = violations("credential-lifetime", args(t.APPLICATION_PASSWORD, password(end)))
    assert "more than 730 days" in message


def test_secret_without_end_date_is_refused() -> None:
    [message] = violations("credential-lifetime", args(t.APPLICATION_PASSWORD, password(None)))
    assert "no end date" in message


@pytest.mark.parametrize(("relative", "ok"), [("17520h", True), ("2160h", True), ("17545h", False),
                                               ("forever", False)])
def test_relative_end_dates(relative: str, ok: bool) -> None:
    found = violations("credential-lifetime",
                       args(t.APPLICATION_PASSWORD, password(None, endDateRelative=relative)))
    assert (found == []) is ok


def test_end_date_counts_from_a_later_start_date() -> None:
    start = (NOW + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (NOW + dt.timedelta(days=739)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert violations("credential-lifetime",
                      args(t.APPLICATION_PASSWORD, password(end, startDate=start))) == []


def test_unknown_end_date_of_a_generated_certificate_is_checked_on_the_certificate() -> None:
    # During preview the certificate's end date is unknown: the analyzer reports "can't run during
    # preview" (advisory) for it, and the generated certificate's own validity is checked instead.
    cert = unknown_checking_proxy({"applicationId": "/applications/x", "type": "AsymmetricX509Cert",
                                   "value": UNKNOWN_STRING_VALUE, "endDate": UNKNOWN_STRING_VALUE})
    with pytest.raises(UnknownValueError):
        violations("credential-lifetime", args(t.APPLICATION_CERTIFICATE, cert))
    assert violations("credential-lifetime", args(t.SELF_SIGNED_CERT, {"validityPeriodHours": 730 * 24})) == []
    [message] = violations("credential-lifetime", args(t.SELF_SIGNED_CERT, {"validityPeriodHours": 731 * 24}))
    assert "validityPeriodHours" in message


def test_certificate_needs_an_end_date() -> None:
    [message] = violations("credential-lifetime",
                           args(t.APPLICATION_CERTIFICATE, {"applicationId": "/applications/x", "value": "pem"}))
    assert "no end date" in message


@pytest.mark.parametrize("typ", [t.APPLICATION, t.SERVICE_PRINCIPAL])
def test_client_apps_have_no_owners(typ: str) -> None:
    assert violations("no-client-owners", args(typ, {"displayName": "x"})) == []
    assert violations("no-client-owners", args(typ, {"displayName": "x", "owners": []})) == []
    [message] = violations("no-client-owners", args(typ, {"displayName": "x", "owners": ["attacker-object-id"]}))
    assert "attacker-object-id" in message


@pytest.mark.parametrize("stack", ["prod", "prod-eu", "production", "Prod-eu", "PROD"])
@pytest.mark.parametrize("typ", sorted(rules.PROTECTED_TYPES))
def test_prod_stacks_protect_what_carries_access(stack: str, typ: str) -> None:
    assert violations("protect-prod", args(typ, {}, stack=stack, protect=True)) == []
    [message] = violations("protect-prod", args(typ, {}, stack=stack, protect=False))
    assert "protect" in message


@pytest.mark.parametrize("stack", ["dev", "test", "preprod"])
def test_other_stacks_may_leave_protect_off(stack: str) -> None:
    assert violations("protect-prod", args(t.APPLICATION, {}, stack=stack, protect=False)) == []


def test_credentials_need_no_protect_so_rotation_can_delete_them() -> None:
    assert violations("protect-prod", args(t.APPLICATION_PASSWORD, {}, stack="prod")) == []


def test_stack_name_comes_from_the_urn() -> None:
    assert t.stack_of("urn:pulumi:prod-eu::inbound-provisioning-access::azuread:index/application:"
                          "Application::a") == "prod-eu"
    with pytest.raises(ValueError, match="not a Pulumi URN"):
        t.stack_of("prod")


# --- the real program passes every rule; a program change that breaks one is caught ------------

def check_run(run: ProgramRun, graph_sp: str) -> list[str]:
    found: list[str] = []
    for registration in run.registrations:
        if not registration.custom:
            continue
        opts = PolicyResourceOptions(protect=registration.protect, ignore_changes=list(registration.ignore_changes),
                                     delete_before_replace=None, aliases=[],
                                     custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])
        validation = ResourceValidationArgs(registration.type, registration.inputs, registration.urn,
                                            registration.name, opts, None, {rules.GRAPH_SP_CONFIG: graph_sp})
        for policy in POLICIES.values():
            policy.validate(validation, collector(found))
    return found


ALL_KINDS: dict[str, Any] = {
    "clients": {
        "secret": secret_client(lifetimeDays=730),
        "rotated": secret_client(lifetimeDays=67, rotationDays=30),
        "generated": {"kind": "servicePrincipal",
                      "credential": {"type": "certificate", "generate": {"subject": "hr", "validityDays": 730}}},
        "federated": {"kind": "servicePrincipal",
                      "credential": {"type": "federated", "issuer": "https://token.actions.githubusercontent.com",
                                     "subject": "repo:contoso/hr:environment:prod"}},
        "logic": existing_identity(displayName="CSV2SCIMBulkUpload"),
        "uami": {"kind": "managedIdentity",
                 "userAssigned": {"name": "id-hr", "resourceGroupName": "rg", "location": "westeurope"}},
    },
    "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_passes_every_policy(run_at: Any, entra: Any, stack: str) -> None:
    # At the policy's clock: a new secret ends exactly lifetimeDays after the deploy that creates it.
    run = run_at(ALL_KINDS, stack=stack)
    assert run.of_type(t.APP_ROLE_ASSIGNMENT), "the run registered grants to check"
    assert check_run(run, entra.graph_object_id) == []


def test_a_prod_stack_with_protect_turned_off_is_refused(run_at: Any, entra: Any) -> None:
    run = run_at({**ALL_KINDS, "protect": False}, stack="prod")
    found = check_run(run, entra.graph_object_id)
    assert found
    assert all("must have protect set" in m for m in found)


def test_grants_on_another_tenants_graph_are_refused(run_at: Any) -> None:
    found = check_run(run_at(ALL_KINDS), GRAPH_SP)
    assert len(found) == 2 * len(ALL_KINDS["clients"])  # two grants per client, none on GRAPH_SP


def test_the_pack_wires_the_rules_without_being_imported() -> None:
    main = (ROOT / "policy" / "__main__.py").read_text()
    assert "from policy.rules import policies" in main
    assert "PolicyPack(" in main
    pack: dict[str, Any] = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert pack["runtime"]["options"]["virtualenv"] == "../venv", "the hashed runtime venv of the same checkout"


def test_the_pack_starts_as_the_cli_would_start_it() -> None:
    # Run the pack's __main__ from its own directory, as Pulumi's analyzer host does: it must
    # import the rules (and components/) and start serving, announcing its port on stdout.
    process = subprocess.Popen([sys.executable, "__main__.py"], cwd=ROOT / "policy",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
    finally:
        process.kill()
        _, stderr = process.communicate(timeout=30)
    assert port.isdigit(), stderr
