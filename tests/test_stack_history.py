"""components/stack_history.py: the last deploy's record read back, once per program, failing closed; and several
components in one program, each renewing from its own part of the ledger."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.access import InboundProvisioningAccess
from components.stack_history import HistoryUnreadable
from tests.conftest import GRAPH_ROLES, secret_client
from tools.offline.deploys import CREDENTIAL_TYPES, DeploySimulation
from tools.offline.run import LAST_RUN, UNKNOWN

START = dt.datetime(2026, 11, 27, 6, 15, 42, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ROLES = [r for r in GRAPH_ROLES if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]
CONFIG = {"clients": {"hr": secret_client(lifetimeDays=90), "sync": secret_client(lifetimeDays=90)}}


@pytest.fixture(scope="module")
def deployed() -> DeploySimulation:
    """One stack deployed once (copied per test by :func:`stack`)."""
    simulation = DeploySimulation(ROLES)
    simulation.up(CONFIG, START)
    return simulation


def stack(deployed: DeploySimulation, **outputs: Any) -> DeploySimulation:
    """The deployed stack, its outputs changed as a partial update (or an older version) left them."""
    simulation = DeploySimulation(ROLES)
    simulation.state = dict(deployed.state.items())
    simulation.outputs = {**deployed.outputs, **outputs}
    for name in [name for name, value in outputs.items() if value is None]:
        del simulation.outputs[name]
    return simulation


@pytest.mark.parametrize(("outputs", "says"), [
    # An older version's stack (no renewalLedger) whose clients output a partial update stored as unknown: the SDK
    # reads an unknown output back as missing.
    ({"renewalLedger": None, "clients": UNKNOWN}, "neither `renewalLedger` nor `clients` reads back: the engine "
                                                  "stored them unknown"),
    ({"renewalLedger": UNKNOWN, "clients": UNKNOWN}, "neither `renewalLedger` nor `clients` reads back"),
    ({"renewalLedger": ["not", "a", "map"]}, "the `renewalLedger` output is a list"),
    ({"renewalLedger": {"hr": {"scheme": 2, "form": "secret"}}}, "clients.hr: a ledger entry without a generation"),
    ({"renewalLedger": None, "clients": {"hr": {"credentialType": "secret", "credentialKeyIds": ["k"]}}},
     "clients.hr: a deployed credential without its renewal record"),
    ({"renewalLedger": None, "clients": {"hr": "04"}}, "clients.hr: its entry in the `clients` output is a str"),
    # A foreign entry (or `{}` handed in as the arg) read as "no credential of this form": a new one, the old deleted.
    ({"renewalLedger": None, "clients": {"hr": {}}}, "clients.hr: its entry in the `clients` output has the "
                                                     "credentialType None"),
    ({"renewalLedger": {}}, "clients.hr: a deployed credential without its renewal record (not in `renewalLedger`)"),
    ({"renewalLedger": None, "clients": None}, "exports them under other names"),
])
def test_a_record_that_is_there_but_unreadable_stops_the_deploy_before_anything_is_registered(
        deployed: DeploySimulation, outputs: dict[str, Any], says: str) -> None:
    simulation = stack(deployed, **outputs)
    with pytest.raises(HistoryUnreadable) as stopped:
        simulation.up(CONFIG, START + 30 * DAY)
    message = str(stopped.value)
    assert message.startswith("stack organization/inbound-provisioning-access/dev: the last deploy's renewal record")
    assert says in message, message
    assert "restore the last good `renewalLedger` and `clients` outputs" in message, "the way out"
    assert LAST_RUN[0].registrations == [], "nothing registered, so nothing deleted"
    assert simulation.state == deployed.state


def _edited(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(ledger: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            ledger = ledger[part]
        ledger[last] = value
    return edit


@pytest.mark.parametrize(("edit", "says"), [
    # A generation names the resources declared: a foreign one created hr-secret-x and deleted the handed-out one.
    (_edited("handedOut.generation", "x"), "the generation 'x', not one the program names"),
    (_edited("handedOut.generation", "20261340"), "the generation '20261340'"),
    # An unknown form read as "another form of credential": no history, a new credential, the old one deleted.
    (_edited("form", "Secret"), "an unknown form 'Secret'"),
    # A superseded entry that is not one read as none: a credential in its 14 days deleted.
    (_edited("superseded", []), "a `superseded` entry that is a list"),
    (_edited("superseded", False), "a `superseded` entry that is a bool"),
    (_edited("scheme", True), "not a renewal ledger of scheme"),
    (_edited("handedOut.fresh", "true"), "`fresh` is 'true', not true or false"),
    (_edited("handedOut.since", "2026-11-27"), "since is '2026-11-27', not an RFC 3339 time with its offset"),
    (_edited("handedOut.since", 1764224142), "since is 1764224142.0, not an RFC 3339 time"),
    (_edited("handedOut.endDate", ""), "endDate is '', not an RFC 3339 time"),
    (_edited("handedOut.keyId", 7), "keyId is a float"),
    (_edited("handedOut.credential", "a value"), "the handed-out entry holds keys the program never writes"),
])
def test_a_ledger_is_read_as_an_allow_list(deployed: DeploySimulation, edit: Callable[[dict[str, Any]], None],
                                          says: str) -> None:
    """A hand-edited or foreign ledger: anything the program does not write stops the deploy, it is never guessed."""
    simulation = stack(deployed)
    simulation.outputs = copy.deepcopy(simulation.outputs)
    edit(simulation.outputs["renewalLedger"]["hr"])
    with pytest.raises(HistoryUnreadable) as stopped:
        simulation.up(CONFIG, START + 7 * DAY)
    message = str(stopped.value)
    assert "  - clients.hr: " in message, message
    assert says in message, message
    assert LAST_RUN[0].registrations == [], "nothing registered, so nothing deleted"


def test_only_a_stack_without_outputs_is_new(deployed: DeploySimulation) -> None:
    simulation = DeploySimulation(ROLES)
    first = simulation.up(CONFIG, START)
    assert len(first.of_kind("create", CREDENTIAL_TYPES)) == 2
    simulation.outputs = {}  # pulumi destroy: the stack has no outputs left
    simulation.state.clear()
    simulation.components.clear()
    again = simulation.up(CONFIG, START + DAY)
    assert len(again.of_kind("create", CREDENTIAL_TYPES)) == 2


def test_a_readable_ledger_beside_an_unknown_clients_output_is_enough(deployed: DeploySimulation) -> None:
    """The ledger's plain values survive what turned `clients` unknown; the handed-out credential was not fresh."""
    simulation = stack(deployed, clients=UNKNOWN)
    simulation.outputs["renewalLedger"]["hr"]["handedOut"]["fresh"] = False
    again = simulation.up(CONFIG, START + 7 * DAY)
    assert again.changes == [], "nothing due, nothing changed"


# -- two components in one program ----------------------------------------------------------------------------


def two_instances(now: dt.datetime) -> Callable[[], None]:
    """A consumer with two components (client keys differ), exporting their outputs merged under the names the
    components read back."""

    def program() -> None:
        hr_args: dict[str, Any] = {"clients": {"hr": secret_client(lifetimeDays=90)}}
        it_args: dict[str, Any] = {"clients": {"it": secret_client(lifetimeDays=120)}}
        hr = InboundProvisioningAccess("hr-access", hr_args, now=now)  # type: ignore[arg-type]
        it = InboundProvisioningAccess("it-access", it_args, now=now)  # type: ignore[arg-type]
        pulumi.export("clients", pulumi.Output.all(hr.clients, it.clients).apply(lambda c: {**c[0], **c[1]}))
        pulumi.export("renewalLedger", {**hr.renewal_ledger, **it.renewal_ledger})  # type: ignore[dict-item]
        pulumi.export("clientCredentials", pulumi.Output.all(hr.client_credentials, it.client_credentials).apply(
            lambda c: {**c[0], **c[1]}))

    return program


def test_two_components_in_one_program_read_once_and_renew_each_its_own() -> None:
    simulation = DeploySimulation(ROLES)
    first = simulation.up({}, START, program=two_instances(START))
    assert first.run.calls_to("pulumi:pulumi:readStackOutputs") == [
        {"name": "organization/inbound-provisioning-access/dev"}], "one read, shared"
    handed = {key: simulation.outputs["renewalLedger"][key]["handedOut"]["generation"] for key in ("hr", "it")}
    due = {key: dt.datetime.fromisoformat(simulation.outputs["clients"][key]["credentialRenewsAt"])
           for key in ("hr", "it")}
    assert due["hr"] < due["it"]
    # The first renewal is hr's alone; then it's; each keeps its old credential beside the new one.
    at = due["hr"] + DAY
    renewed = simulation.up({}, at, program=two_instances(at))
    assert [c.name for c in renewed.of_kind("create", CREDENTIAL_TYPES)] == [f"hr-secret-{due['hr']:%Y%m%d}"]
    assert not renewed.of_kind("delete")
    ledger = simulation.outputs["renewalLedger"]
    assert ledger["hr"]["superseded"]["generation"] == handed["hr"]
    assert ledger["it"]["handedOut"]["generation"] == handed["it"]
    assert "superseded" not in ledger["it"]
    at = due["it"] + DAY
    simulation.up({}, at, program=two_instances(at))
    assert {d.name for d in simulation.credentials("it")} == {f"it-secret-{handed['it']}",
                                                             f"it-secret-{due['it']:%Y%m%d}"}
    assert f"hr-secret-{handed['hr']}" not in {d.name for d in simulation.credentials("hr")}, "its 14 days are over"
    assert len(simulation.credentials("hr")) <= 2


def test_the_engine_refuses_two_resources_of_one_urn() -> None:
    """What two components reading through a child StackReference of one name did: the second read collides."""

    def program() -> None:
        for parent in ("a", "b"):
            component = pulumi.ComponentResource("inbound-provisioning-access:index:InboundProvisioningAccess", parent)
            pulumi.StackReference("organization/inbound-provisioning-access/dev",
                                  opts=pulumi.ResourceOptions(parent=component))

    with pytest.raises(Exception, match="Duplicate resource URN"):
        DeploySimulation(ROLES).up({}, START, program=program)
