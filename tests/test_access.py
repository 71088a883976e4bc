"""InboundProvisioningAccess: the stack program's component, its args checked as config, and existing stacks kept."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from typing import Any, cast

import pulumi
import pytest

from components import access
from components.access import InboundProvisioningAccess
from components.access_args import InboundProvisioningAccessArgs
from components.microsoft import UPLOAD_OWNED_BY
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, ROLE_ID, existing_identity, secret_client
from tests.legacy_program import legacy_program_at
from tools.offline.deploys import DeploySimulation
from tools.offline.entra import LIST_SPS_TOKEN, OfflineEntra
from tools.offline.run import LAST_RUN, program_at, run_offline

COMPONENT = "inbound-provisioning-access:index:InboundProvisioningAccess"
GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
START = dt.datetime(2026, 11, 27, 6, 15, 42, tzinfo=dt.UTC)

# Every kind of client and the created provisioning app: each block the old program put at the top.
EVERYTHING: dict[str, Any] = {
    "clients": {
        "secret": secret_client(lifetimeDays=90),
        "generated": {"kind": "servicePrincipal", "graphPermissions": [UPLOAD_OWNED_BY, "ProvisioningLog.Read.All"],
                      "credential": {"type": "certificate", "generate": {"subject": "hr", "validityDays": 120}}},
        "federated": {"kind": "servicePrincipal", "credential": {
            "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:contoso/hr:environment:dev"}},
        "logic-app": existing_identity(displayName=LOGIC_APP.display_name),
        "created-identity": {"kind": "managedIdentity", "userAssigned": {
            "name": "hr-sync-identity", "resourceGroupName": "rg-hr", "location": "westeurope"}},
    },
    "provisioningApp": {"create": {"notificationEmail": "hr-ops@contoso.com"}},
}


def component_program(args: Any, now: dt.datetime = NOW) -> Any:
    """A Python consumer's program: the component built from args (not stack config), outputs exported."""

    def program() -> None:
        component = InboundProvisioningAccess("access", cast(InboundProvisioningAccessArgs, args), now=now)
        for name, value in component.stack_outputs().items():
            pulumi.export(name, value)

    return program


# -- existing stacks ---------------------------------------------------------------------------------


def test_a_stack_deployed_by_the_old_program_plans_no_change() -> None:
    simulation = DeploySimulation(_roles(), directory=[LOGIC_APP])
    first = simulation.up(EVERYTHING, START, program=legacy_program_at(START))
    assert {c.kind for c in first.changes} == {"create"}
    assert not first.run.of_type(COMPONENT)
    deployed = sorted(d.name for d in simulation.state.values())
    assert len(deployed) >= 20

    after = simulation.up(EVERYTHING, START + dt.timedelta(hours=1))
    assert after.run.of_type(COMPONENT), "the new program builds the component"
    assert after.changes == []
    assert sorted(d.name for d in simulation.state.values()) == deployed
    # Every resource now lives under the component: its URN changed, its state came along.
    assert all(d.urn.startswith(f"{COMPONENT}$") for d in simulation.state.values())


def test_without_the_alias_every_resource_would_be_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    simulation = DeploySimulation(_roles(), directory=[LOGIC_APP])
    simulation.up(EVERYTHING, START, program=legacy_program_at(START))
    deployed = sorted(d.name for d in simulation.state.values())
    monkeypatch.setattr(access, "former_parent_aliases", list)
    after = simulation.up(EVERYTHING, START + dt.timedelta(hours=1))
    assert sorted(c.name for c in after.of_kind("delete")) == deployed
    assert sorted(c.name for c in after.of_kind("create")) == deployed


def _roles() -> list[dict[str, Any]]:
    # The roles the program can ask for: a slice of Graph's keeps the simulation fast.
    return [r for r in GRAPH_ROLES if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]


def test_the_stack_program_builds_one_component_around_every_client(entra: OfflineEntra) -> None:
    run = run_offline(entra, EVERYTHING, "dev")
    (component,) = run.of_type(COMPONENT)
    blocks = [r for r in run.registrations if r.type.startswith("inbound-provisioning-access:") and r is not component]
    assert sorted(r.name for r in blocks) == sorted([*EVERYTHING["clients"], "provisioningApp"])
    assert all(r.parent == component.urn for r in blocks)
    assert run.registrations[0] is component, "registered after every check and read, before its children"


# -- args are checked as config -------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    {"clients": {"hr": {"kind": "servicePrincipal"}}, "protect": "yes"},
    {"clients": {"Bad_Key": secret_client(lifetimeDays=5)}, "graphPermissions": ["Directory.ReadWrite.All"]},
    {"clients": {}, "provisioningApp": {"create": {}}, "unknownKey": 1},
], ids=["missing-credential", "key-and-permission", "empty"])
def test_bad_args_fail_as_the_same_config_would(entra: OfflineEntra, args: dict[str, Any]) -> None:
    with pytest.raises(SettingsError) as expected:
        parse_settings(args, "dev", NOW)
    with pytest.raises(SettingsError) as caught:
        run_offline(entra, {}, "dev", program=component_program(args))
    assert str(caught.value) == str(expected.value)
    assert len(caught.value.problems) >= 2
    assert LAST_RUN[0].registrations == [], "nothing registered, the component included"


def test_numbers_sent_as_floats_are_whole_numbers(entra: OfflineEntra) -> None:
    run = run_offline(entra, {}, "dev", program=component_program(
        {"clients": {"hr": secret_client(lifetimeDays=90.0, rotationDays=30.0)}}))
    as_config = run_offline(entra, {"clients": {"hr": secret_client(lifetimeDays=90, rotationDays=30)}}, "dev",
                            program=program_at(NOW))
    assert run.outputs["clients"] == as_config.outputs["clients"]
    with pytest.raises(SettingsError, match=r"clients\.hr\.credential\.lifetimeDays: got 90\.5"):
        run_offline(entra, {}, "dev", program=component_program({"clients": {"hr": secret_client(lifetimeDays=90.5)}}))


def test_an_output_where_a_plain_value_is_needed_is_one_more_problem(entra: OfflineEntra) -> None:
    def program() -> None:
        args = {"clients": {"hr": {"kind": "servicePrincipal", "displayName": pulumi.Output.from_input("HR"),
                                   "credential": {"type": "secrett"}}}}
        InboundProvisioningAccess("access", cast(InboundProvisioningAccessArgs, args), now=NOW)

    with pytest.raises(SettingsError) as caught:
        run_offline(entra, {}, "dev", program=program)
    assert [p.path for p in caught.value.problems] == ["clients.hr.credential.type", "clients.hr.displayName"]
    assert "clients.hr.displayName: got an output (another resource's, or a secret); a plain value" in str(caught.value)
    assert LAST_RUN[0].registrations == []


# -- an existing identity's object id from another resource ----------------------------------------------


def identity_program(object_id: pulumi.Output[str]) -> Any:
    def program() -> None:
        args = {"clients": {"logic-app": {"kind": "managedIdentity", "existing": {"objectId": object_id},
                                          "graphPermissions": ["SynchronizationData-User.Upload"]}}}
        component = InboundProvisioningAccess("access", cast(InboundProvisioningAccessArgs, args), now=NOW)
        pulumi.export("clients", component.clients)

    return program


def test_an_object_id_output_is_looked_up_once_known(entra: OfflineEntra) -> None:
    def program() -> None:
        identity_program(pulumi.Output.from_input(LOGIC_APP.object_id).apply(str))()

    run = run_offline(entra, {}, "dev", program=program)
    (grant,) = run.of_type(GRANT)
    assert grant.inputs["principalObjectId"] == LOGIC_APP.object_id
    assert grant.inputs["appRoleId"] == ROLE_ID["SynchronizationData-User.Upload"]
    assert run.outputs["clients"]["logic-app"]["clientId"] == LOGIC_APP.client_id
    assert {"objectIds": [LOGIC_APP.object_id], "ignoreMissing": True} in run.calls_to(LIST_SPS_TOKEN)


# A failed run leaves the mock engine's secretness check of the outputs unawaited.
@pytest.mark.filterwarnings("ignore:coroutine 'Output.is_secret' was never awaited")
@pytest.mark.parametrize(("value", "message"), [
    ("not-a-guid", 'clients.logic-app.existing.objectId: got "not-a-guid"; a GUID'),
    ("00000000-0000-4000-8000-000000000404",
     "clients.logic-app.existing.objectId: got \"00000000-0000-4000-8000-000000000404\"; no service principal "
     "has this object id"),
])
def test_a_bad_object_id_output_fails_with_the_configs_message(entra: OfflineEntra, value: str, message: str) -> None:
    config = {"clients": {"logic-app": existing_identity(objectId=value)}}
    with pytest.raises(SettingsError) as as_config:
        run_offline(entra, config, "dev")
    assert message in str(as_config.value)

    def program() -> None:
        identity_program(pulumi.Output.from_input(value).apply(str))()

    with pytest.raises(SettingsError) as caught:
        run_offline(entra, {}, "dev", program=program)
    assert str(caught.value) == str(as_config.value)
    assert LAST_RUN[0].of_type(GRANT) == [], "the grant waits for the checked principal, which never comes"
    # The failed run's outputs hold the error unretrieved; collect them now, not in the middle of
    # a later import (CPython 3.11 then fails the AST compiler's recursion check).
    gc.collect()


def test_an_unknown_object_id_is_not_looked_up_during_a_preview(entra: OfflineEntra) -> None:
    def program() -> None:
        loop = asyncio.get_event_loop()
        value: asyncio.Future[str] = loop.create_future()
        value.set_result(cast(str, None))  # an unknown output's value
        known: asyncio.Future[bool] = loop.create_future()
        known.set_result(False)
        identity_program(pulumi.Output(set(), value, known))()

    run = run_offline(entra, {}, "dev", program=program)
    assert len(run.of_type(GRANT)) == 1
    assert not [c for c in run.calls_to(LIST_SPS_TOKEN) if c.get("objectIds")], "nothing to look up yet"
