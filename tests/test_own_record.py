"""components/own_record.py: a program that uses the component and exports no ledger renews from the component's
own last registered outputs (the engine's ``readStackResourceOutputs``), failing closed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.access import TYPE, InboundProvisioningAccess
from components.stack_history import HistoryUnreadable
from tests.conftest import GRAPH_ROLES, secret_client
from tools.offline.deploys import CREDENTIAL_TYPES, Deploy, DeploySimulation
from tools.offline.run import LAST_RUN, UNKNOWN

START = dt.datetime(2026, 11, 27, 6, 15, 42, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
WEEK = 7 * DAY
ROLES = [r for r in GRAPH_ROLES if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]
READ_RESOURCES = "pulumi:pulumi:readStackResourceOutputs"
PARENT = "acme:index:Platform"


def silent_consumer(now: dt.datetime, parent: bool = False) -> Callable[[], None]:
    """A program that uses the component (as from the package) and exports nothing at all."""

    def program() -> None:
        opts = (pulumi.ResourceOptions(parent=pulumi.ComponentResource(PARENT, "platform")) if parent else None)
        args: dict[str, Any] = {"clients": {"hr": secret_client(lifetimeDays=90)}}
        InboundProvisioningAccess("access", args, opts, now=now)  # type: ignore[arg-type]

    return program


def ledger_of(simulation: DeploySimulation, urn: str, key: str) -> dict[str, Any]:
    ledger: dict[str, Any] = simulation.components[urn].outputs["renewalLedger"][key]
    return ledger


def walk(simulation: DeploySimulation, urn: str, key: str, program: Callable[[dt.datetime], Callable[[], None]],
         weeks: int) -> list[Deploy]:
    """Weekly deploys: no credential the component handed out is deleted before its successor has been handed
    out 14 days, and each deploy creates at most one (for the client ``key``)."""
    handed_since: dict[str, dt.datetime] = {}
    deploys = []
    for week in range(weeks):
        now = START + week * WEEK
        deploy = simulation.up({}, now, program=program(now))
        deploys.append(deploy)
        assert not deploy.failed, deploy.error
        handed = ledger_of(simulation, urn, key)["handedOut"]["generation"]
        handed_since.setdefault(handed, now)
        mine = [c for c in deploy.changes if c.type in CREDENTIAL_TYPES and c.name.startswith(f"{key}-")]
        for deleted in [c for c in mine if c.kind == "delete"]:
            assert deleted.name != f"{key}-secret-{handed}", "the credential handed out was deleted"
            assert now - handed_since[handed] >= 14 * DAY, f"{deleted.name} deleted before 14 days' overlap"
        assert len([c for c in mine if c.kind == "create"]) <= 1
    return deploys


@pytest.mark.parametrize("parent", [False, True], ids=["top-level", "under-a-parent"])
def test_a_program_that_exports_nothing_renews_from_the_components_own_record(parent: bool) -> None:
    simulation = DeploySimulation(ROLES)
    urn = f"{PARENT + '$' if parent else ''}{TYPE}::access"
    deploys = walk(simulation, urn, "hr", lambda now: silent_consumer(now, parent), weeks=12)
    assert simulation.outputs == {}, "the stack has no outputs"
    assert deploys[1].changes == [], "a deploy on a new day read its own record: nothing to do"
    assert deploys[1].run.calls_to(READ_RESOURCES) == [{"stackName": "organization/inbound-provisioning-access/dev"}]
    creates = [c.name for d in deploys for c in d.of_kind("create", CREDENTIAL_TYPES)]
    renewals = len(creates) - 1
    assert renewals >= 1, "the walk crosses a renewal"
    assert len(set(creates)) == len(creates), "exactly one new credential per renewal, never one recreated"
    assert len(simulation.credentials("hr")) <= 2


def one_exported(now: dt.datetime) -> Callable[[], None]:
    """Two components; only hr-access's ledger and clients are exported."""

    def program() -> None:
        hr_args: dict[str, Any] = {"clients": {"hr": secret_client(lifetimeDays=90)}}
        it_args: dict[str, Any] = {"clients": {"it": secret_client(lifetimeDays=120)}}
        hr = InboundProvisioningAccess("hr-access", hr_args, now=now)  # type: ignore[arg-type]
        InboundProvisioningAccess("it-access", it_args, now=now)  # type: ignore[arg-type]
        pulumi.export("clients", hr.clients)
        pulumi.export("renewalLedger", hr.renewal_ledger)

    return program


def test_two_instances_with_one_exported_each_renew_their_own() -> None:
    simulation = DeploySimulation(ROLES)
    deploys = walk(simulation, f"{TYPE}::it-access", "it", one_exported, weeks=10)
    assert set(simulation.outputs["renewalLedger"]) == {"hr"}
    assert deploys[1].changes == [], "it's clients read from it-access's own record: nothing replaced"
    it_creates = [c.name for d in deploys for c in d.of_kind("create", CREDENTIAL_TYPES) if c.name.startswith("it-")]
    assert len(set(it_creates)) == len(it_creates) >= 2, "renewed once, never recreated"


def deployed_silently() -> DeploySimulation:
    simulation = DeploySimulation(ROLES)
    simulation.up({}, START, program=silent_consumer(START))
    return simulation


@pytest.mark.parametrize(("edit", "says"), [
    ({"renewalLedger": UNKNOWN, "clients": UNKNOWN}, "neither `renewalLedger` nor `clients` reads back"),
    ({"renewalLedger": ["a"]}, "the `renewalLedger` output is a list"),
    ({"renewalLedger": {"hr": {"scheme": 2, "form": "secret"}}}, "clients.hr: a ledger entry without a generation"),
    ({"renewalLedger": {}}, "clients.hr: a deployed credential without its renewal record"),
])
def test_an_unreadable_own_record_stops_the_deploy(edit: dict[str, Any], says: str) -> None:
    simulation = deployed_silently()
    state = dict(simulation.state)
    component = simulation.components[f"{TYPE}::access"]
    component.outputs = {**component.outputs, **edit}
    with pytest.raises(HistoryUnreadable) as stopped:
        simulation.up({}, START + WEEK, program=silent_consumer(START + WEEK))
    message = str(stopped.value)
    assert f"the component's own last outputs (urn:pulumi:dev::inbound-provisioning-access::{TYPE}::access)" in message
    assert says in message, message
    assert LAST_RUN[0].registrations == [], "nothing registered, so nothing deleted"
    assert simulation.state == state


def test_a_component_record_with_no_outputs_is_not_confused_with_a_stack_with_other_outputs() -> None:
    """The stack has other outputs, and neither the stack nor the component holds a record: stopped, as before."""
    simulation = deployed_silently()
    simulation.components.clear()
    simulation.outputs = {"somethingElse": "x"}
    with pytest.raises(HistoryUnreadable, match="nor has the component"):
        simulation.up({}, START + WEEK, program=silent_consumer(START + WEEK))


def test_a_renamed_component_with_nothing_under_its_urn_is_not_taken_for_new() -> None:
    """Renamed with an alias, its record is under the old URN, which is not resolved: it stops rather than churn."""
    simulation = deployed_silently()

    def renamed() -> None:
        args: dict[str, Any] = {"clients": {"hr": secret_client(lifetimeDays=90)}}
        InboundProvisioningAccess("hr-access", args, pulumi.ResourceOptions(  # type: ignore[arg-type]
            aliases=[pulumi.Alias(name="access")]), now=START + WEEK)

    with pytest.raises(HistoryUnreadable, match="declares aliases"):
        simulation.up({}, START + WEEK, program=renamed)
    assert LAST_RUN[0].registrations == []
