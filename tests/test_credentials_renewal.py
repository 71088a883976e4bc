"""Renewal on a stack's state: the promises of ``components/renewal.py`` at every deploy.

The deploy simulation (``tools/offline/deploys.py``) keeps the stack's state between runs, replaces what
the providers would replace, and answers the program's ``StackReference`` to its own stack with
the last deploy's outputs, as the engine does: so each run reads the ledger the previous one
wrote.  One two-year timeline holds weekly stretches and pauses of 6, 9 and 30 weeks, and
several clients are checked at once (a walk per client would cost a walk's time per client), a
bring-your-own certificate list among them.  It also meets what else happens to a stack: a targeted
update, a ``--continue-on-error`` run whose renewal fails, and two runs killed while a new credential
was being created (one certificate, one secret), each resolved the way ``make up`` makes the operator
resolve it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.access import InboundProvisioningAccess
from components.credentials import certificate_thumbprint
from components.renewal import rfc3339 as text
from tests.calendar_schedule import next_renewal, renewal_slots
from tests.conftest import GRAPH_ROLES, secret_client
from tools.offline.deploys import CREDENTIAL_TYPES, Deploy, Deployed, DeploySimulation, RunMode
from tools.offline.values import self_signed_pem
from tools.stack import pending

PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
DAY = dt.timedelta(days=1)
WEEK = 7 * DAY
ROLES = [r for r in GRAPH_ROLES if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]
START = dt.datetime(2026, 11, 27, 6, 15, 42, 318207, tzinfo=dt.UTC)  # any hour, with a fraction


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def byo(pem: Any) -> dict[str, Any]:
    return {"kind": "servicePrincipal", "credential": {"type": "certificate", "pem": pem}}


def generated(**generate: Any) -> dict[str, Any]:
    return {"kind": "servicePrincipal", "credential": {"type": "certificate",
                                                      "generate": {"subject": "hr-sync", **generate}}}


def schedule() -> list[dt.datetime]:
    """Two years: weekly, a 6-week pause, weekly, a 9-week pause, weekly, a 30-week pause, weekly.
    Each deploy at another hour, as a delayed or re-run pipeline would."""
    gaps = [1] * 12 + [6] + [1] * 12 + [9] + [1] * 10 + [30] + [1] * 25
    moments, now = [START], START
    for i, weeks in enumerate(gaps):
        now += weeks * WEEK
        moments.append(now + dt.timedelta(hours=(i * 5) % 13))
    return moments


def byo_list_at(now: dt.datetime) -> list[str]:
    """A careful owner of bring-your-own certificates: a new one every 330 days, valid 400, listed
    from its first day and dropped once it has expired: 70 days of overlap."""
    issued = [START + dt.timedelta(days=330 * k - 20) for k in range(4)]
    return [BYO_PEMS[i] for i, start in enumerate(issued) if start <= now < start + dt.timedelta(days=400)][-2:]


BYO_PEMS = [self_signed_pem(f"hr-byo-{k}", START + dt.timedelta(days=330 * k - 20),
                            START + dt.timedelta(days=330 * k + 380)) for k in range(4)]
CHANGE_AT = START + 20 * WEEK
WALK_CLIENTS: dict[str, Callable[[dt.datetime], dict[str, Any]]] = {
    "default": lambda now: secret_client(),  # 180 days, renewed every 84
    "ninety": lambda now: secret_client(lifetimeDays=90),  # renewed every 28
    "generated": lambda now: generated(validityDays=90, rotationDays=28),
    # rotationDays and lifetimeDays change at once, mid-rotation: the new rule is due at once.
    "changing": lambda now: (secret_client(lifetimeDays=180, rotationDays=84) if now < CHANGE_AT
                             else secret_client(lifetimeDays=90, rotationDays=21)),
}


def byo_deletions_are_of_expired_certificates(simulation: DeploySimulation, deploy: Deploy,
                                              ends: dict[str, dt.datetime]) -> int:
    """The program renews no bring-your-own certificate: it drops one only when the list does (here: expired)."""
    live = simulation.credentials("byo")
    assert 1 <= len(live) <= 2
    ends.update({d.name: parse(d.outputs["endDate"]) for d in live})
    gone = [c.name for c in deploy.of_kind("delete", CREDENTIAL_TYPES) if c.name.startswith("byo-")]
    assert all(ends[name] <= deploy.now for name in gone), (deploy.now, gone)
    return len(gone)


def owned(simulation: DeploySimulation, key: str) -> dict[str, Deployed]:
    return {d.name: d for d in simulation.credentials(key)}


def handed_out(live: dict[str, Deployed], outputs: dict[str, Any], key: str) -> Deployed:
    """The credential the outputs hand to the consumer: by its secret value or its thumbprint."""
    secret = outputs["clientCredentials"].get(key, {}).get("clientSecret")
    thumb = outputs["clients"][key].get("certificateThumbprint")
    (found,) = [d for d in live.values()
                if (d.type == PASSWORD and d.outputs["value"] == secret)
                or (d.type == CERTIFICATE and certificate_thumbprint(d.inputs["value"]) == thumb)]
    return found


def next_due(outputs: dict[str, Any]) -> dt.datetime:
    """The earliest moment the last deploy's outputs say anything is due: a renewal, or a superseded one going."""
    moments = []
    for client in outputs["clients"].values():
        if "renewal" not in client:
            continue
        moments.append(parse(client["credentialRenewsAt"]))
        superseded = client["renewal"].get("superseded")
        if superseded:
            moments.append(parse(superseded["keptUntil"]))
    return min(moments)


class Promises:
    """Checks every promise for one client at every deploy, remembering when each credential was handed out."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.first_handed_out: dict[str, dt.datetime] = {}
        self.order: list[str] = []
        self.ends: dict[str, dt.datetime] = {}
        self.renewals = 0
        self.removals_in_use_checked = 0

    def check(self, simulation: DeploySimulation, deploy: Deploy, handed_out_now: bool = True) -> None:
        """Every promise after ``deploy``; ``handed_out_now``: it handed out what its outputs say (a partial or
        failed run hands out nothing new: its consumer keeps what it had)."""
        key, now = self.key, deploy.now
        live = owned(simulation, key)
        credentials = [d for d in live.values() if d.type in CREDENTIAL_TYPES]
        in_entra = simulation.credentials_in_entra(key)
        assert 1 <= len(in_entra) <= 2, f"{now}: Entra holds {sorted(d.name for d in in_entra)} for {key}"
        for d in credentials:
            self.ends[d.name] = parse(d.outputs["endDate"])
        if handed_out_now:
            self.check_handout(live, credentials, deploy)
        else:
            assert self.order[-1] in live, f"{now}: {key} lost the credential its consumer holds"
        for change in deploy.of_kind("delete", CREDENTIAL_TYPES):
            if change.name not in self.first_handed_out:
                continue
            assert change.name in self.order[:-1], f"{now}: {key} removed {change.name}, still handed out"
            successor = self.order[self.order.index(change.name) + 1]
            expired = self.ends[change.name] <= now
            assert expired or now - self.first_handed_out[successor] >= 14 * DAY, (now, key, change.name)
            self.removals_in_use_checked += 1

    def check_handout(self, live: dict[str, Deployed], credentials: list[Deployed], deploy: Deploy) -> None:
        key, now, outputs = self.key, deploy.now, deploy.run.outputs
        current = handed_out(live, outputs, key)
        client = outputs["clients"][key]
        expires = parse(current.outputs["endDate"])
        assert parse(client["credentialExpiresAt"]) == expires
        assert expires - now >= 30 * DAY, f"{now}: {key} hands out one that ends {expires}"
        # The ledger and the key ids describe exactly what the stack keeps, the handed-out one first.
        assert client["renewal"]["handedOut"]["keyId"] == current.outputs["keyId"]
        assert outputs["renewalLedger"][key] == client["renewal"]
        assert client["credentialKeyIds"][0] == current.outputs["keyId"]
        assert sorted(client["credentialKeyIds"]) == sorted(d.outputs["keyId"] for d in credentials)
        if current.name not in self.first_handed_out:
            self.first_handed_out[current.name] = now
            self.order.append(current.name)
            self.renewals += deploy.number > 1


# -- what else happens to a stack over two years: partial updates and a runner killed mid-create ------------------

# The walk's nth deploy from which each happens, at the first deploy there that renews the client named.
EVENTS = {8: ("target", "changing"), 22: ("continue", "ninety"), 40: ("cancel", "generated"), 52: ("cancel", "ninety")}


def successor(outputs: dict[str, Any], key: str, now: dt.datetime) -> str | None:
    """The resource name of the credential a deploy at ``now`` would create for ``key`` (None: nothing due)."""
    client = outputs["clients"][key]
    due = parse(client["credentialRenewsAt"])
    if now < due:
        return None
    named = due if now - due <= 21 * DAY else now
    kind = "secret" if client["credentialType"] == "secret" else "certificate"
    return f"{key}-{kind}-{named:%Y%m%d}"


def event_mode(simulation: DeploySimulation, index: int, now: dt.datetime,
               pending_events: dict[int, tuple[str, str]]) -> RunMode | None:
    """The partial run this deploy is, if an event is waiting and its client is due (it is then used up)."""
    for start, (kind, key) in sorted(pending_events.items()):
        name = successor(simulation.outputs, key, now) if start <= index else None
        if name is None:
            continue
        del pending_events[start]
        if kind == "target":
            return RunMode(targets={f"{key}-app"})
        return (RunMode(fail_at=name, continue_on_error=True) if kind == "continue" else RunMode(cancel_at=name))
    return None


def recover_from_interrupted_creates(simulation: DeploySimulation) -> int:
    """What `make up` makes the operator do first (tools/stack/pending.py): `make audit` names what the run left by
    key id; a certificate is imported, a secret (nobody has its value) deleted; then the records are cleared."""
    pending_creates = pending.pending_creates(simulation.export())
    for create in pending_creates:
        orphan = next(d for d in simulation.unmanaged if d.name == create.name)
        if create.type == CERTIFICATE:
            # A bare `pulumi up` first: the provider refuses the certificate's key id again (no third one).
            simulation.import_pending_create(create.name, orphan.id)
        else:
            simulation.unmanaged.remove(orphan)
    simulation.clear_pending_creates()
    return len(pending_creates)


@pytest.mark.first
def test_two_years_with_pauses_keep_every_promise() -> None:
    simulation = DeploySimulation(ROLES)
    promises = {key: Promises(key) for key in WALK_CLIENTS}
    byo_ends: dict[str, dt.datetime] = {}
    byo_removed = recovered = 0
    waiting = dict(EVENTS)
    last_full = True
    for index, now in enumerate(schedule()):
        previous = simulation.outputs
        config = {k: make(now) for k, make in WALK_CLIENTS.items()}
        recovered += recover_from_interrupted_creates(simulation)
        mode = event_mode(simulation, index, now, waiting) if index else None
        deploy = simulation.up({"clients": {**config, "byo": byo(byo_list_at(now))}}, now, mode=mode)
        full = mode is None and not deploy.failed
        assert not [c for c in deploy.changes if c.kind in ("replace", "update")], (now, deploy.changes)
        last = simulation.deploys[-2].now if deploy.number > 1 else now
        if deploy.number == 1:
            assert len(deploy.of_kind("create", CREDENTIAL_TYPES)) == len(WALK_CLIENTS) + 1, "one credential each"
        elif (full and last_full and now < next_due(previous) and not now >= CHANGE_AT > last
              and byo_list_at(now) == byo_list_at(last)):
            assert deploy.changes == [], f"{now}: nothing was due, yet {deploy.changes}"
        for promise in promises.values():
            promise.check(simulation, deploy, handed_out_now=full)
        byo_removed += byo_deletions_are_of_expired_certificates(simulation, deploy, byo_ends)
        last_full = full
    assert waiting == {}, "every partial run happened"
    assert recovered == 2, "both killed runs were found in the state and resolved"
    # Every client renewed again and again, and every removal of a once-handed-out credential was checked.
    assert promises["default"].renewals >= 4, "one renewal fewer: the targeted update put it off by a deploy"
    assert promises["ninety"].renewals >= 14
    assert promises["generated"].renewals >= 14
    assert promises["changing"].renewals >= 16
    assert sum(p.removals_in_use_checked for p in promises.values()) >= 45
    assert byo_removed >= 1, "the bring-your-own list rolled over too"


def test_a_new_secret_client_is_five_resources_and_one_credential() -> None:
    simulation = DeploySimulation(ROLES)
    deploy = simulation.up({"clients": {"hr": secret_client(lifetimeDays=90)}}, START)
    custom = sorted(r.type.rsplit(":", 1)[-1] for r in deploy.run.registrations if r.custom)
    assert custom == ["AppRoleAssignment", "AppRoleAssignment", "Application", "ApplicationPassword",
                      "ServicePrincipal"]
    (password,) = deploy.run.of_type(PASSWORD)
    assert password.name == f"hr-secret-{START:%Y%m%d}"
    assert password.inputs["endDate"] == text(START + 90 * DAY)
    assert set(password.ignore_changes) == {"displayName", "endDate"}
    ledger = deploy.run.outputs["clients"]["hr"]["renewal"]
    assert ledger["handedOut"] == {"generation": f"{START:%Y%m%d}", "keyId": password.inputs.get("keyId")
                                   or simulation.credentials("hr")[0].outputs["keyId"],
                                   "since": text(START), "endDate": text(START + 90 * DAY), "fresh": True}
    assert "superseded" not in ledger
    assert deploy.run.outputs["renewalLedger"] == {"hr": ledger}, "the same ledger, in an output of its own"
    again = simulation.up({"clients": {"hr": secret_client(lifetimeDays=90)}}, START + 6 * DAY)
    assert again.changes == [], "a week later nothing is due"
    assert [r.inputs for r in again.run.of_type(PASSWORD)] == [password.inputs], "the very same inputs"


def test_a_new_generated_certificate_is_one_key_pair() -> None:
    simulation = DeploySimulation(ROLES)
    deploy = simulation.up({"clients": {"hr": generated(validityDays=120)}}, START)
    assert [len(deploy.run.of_type(t)) for t in (PRIVATE_KEY, SELF_SIGNED, CERTIFICATE)] == [1, 1, 1]


# -- upgrade from the calendar version ---------------------------------------------------------------


def calendar_stack(simulation: DeploySimulation, key: str, lifetime: int, rotation: int, at: dt.datetime) -> None:
    """Turn a client's credential into what the calendar version left: two secrets named by period,
    and its outputs without a ledger."""
    application_id = simulation.of_type("azuread:index/application:Application")[0].id
    for entry in simulation.credentials(key):
        del simulation.state[f"{entry.type}::{entry.name}"]
    for slot in renewal_slots(at, lifetime, rotation):
        inputs = {"applicationId": application_id, "endDate": text(slot.end_date),
                  "displayName": f"renewal {slot.period_start:%Y-%m-%d} (managed by Pulumi)"}
        key_id = f"calendar-{slot.suffix}"
        simulation.state[f"{PASSWORD}::{key}-secret-{slot.suffix}"] = Deployed(
            PASSWORD, f"{key}-secret-{slot.suffix}", f"{application_id}/password/{key_id}", inputs,
            {**inputs, "value": f"calendar secret {slot.suffix}", "keyId": key_id}, 0, slot.period_start)
    client = dict(simulation.outputs["clients"][key])
    for field in ("renewal", "credentialKeyIds"):
        client.pop(field)
    newest = renewal_slots(at, lifetime, rotation)[0]
    client.update(credentialExpiresAt=text(newest.end_date), credentialRenewsAt=text(next_renewal(at, rotation)))
    kept = {k: v for k, v in simulation.outputs.items() if k != "renewalLedger"}  # the calendar version had none
    simulation.outputs = {**kept, "clients": {key: client},
                          "clientCredentials": {key: {"clientSecret": f"calendar secret {newest.suffix}"}}}


@pytest.mark.parametrize("first_deploy_after", [3 * DAY, 26 * DAY, 9 * WEEK])
def test_a_stack_the_calendar_version_deployed_keeps_both_until_the_rules_retire_one(
        first_deploy_after: dt.timedelta) -> None:
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(ROLES)
    simulation.up(config, START)
    calendar_stack(simulation, "hr", 90, 28, START)
    newest, previous = renewal_slots(START, 90, 28)
    promise = Promises("hr")
    promise.first_handed_out = {f"hr-secret-{previous.suffix}": previous.period_start,
                                f"hr-secret-{newest.suffix}": newest.period_start}
    promise.order = list(promise.first_handed_out)
    promise.ends = {f"hr-secret-{s.suffix}": s.end_date for s in (newest, previous)}
    upgrade = simulation.up(config, START + first_deploy_after)
    kinds = {(c.kind, c.name) for c in upgrade.changes}
    if first_deploy_after < 2 * WEEK:
        assert upgrade.changes == [], "the first deploy of the new code keeps both, unchanged"
    else:
        assert ("delete", f"hr-secret-{newest.suffix}") not in kinds, "the one handed out stays"
    promise.check(simulation, upgrade)
    for week in range(1, 9):
        promise.check(simulation, simulation.up(config, upgrade.now + week * WEEK))
    assert promise.renewals >= 1


def test_a_changed_rotation_on_the_upgrade_deploy_is_refused_not_guessed() -> None:
    simulation = DeploySimulation(ROLES)
    simulation.up({"clients": {"hr": secret_client(lifetimeDays=90)}}, START)
    calendar_stack(simulation, "hr", 90, 28, START)
    with pytest.raises(Exception, match="another rotation period"):
        simulation.up({"clients": {"hr": secret_client(lifetimeDays=180)}}, START + DAY)


# -- the component package ------------------------------------------------------------------------


def package_consumer(export_as: str, pass_ledger: bool, now: dt.datetime) -> Callable[[], None]:
    """A consumer program of the component: it exports the component's clients under ``export_as``
    and, with ``pass_ledger``, hands its own last outputs back as ``renewalLedger``."""

    def program() -> None:
        args: dict[str, Any] = {"clients": {"hr": secret_client(lifetimeDays=90)}}
        if pass_ledger:
            own = pulumi.StackReference(f"organization/{pulumi.get_project()}/{pulumi.get_stack()}")
            args["renewalLedger"] = own.get_output(export_as)
        access = InboundProvisioningAccess("access", args, now=now)  # type: ignore[arg-type]
        pulumi.export(export_as, access.clients)
        pulumi.export("secrets", access.client_credentials)

    return program


@pytest.mark.parametrize(("export_as", "pass_ledger"), [("clients", False), ("hrAccess", True)])
def test_the_package_keeps_the_promise(export_as: str, pass_ledger: bool) -> None:
    simulation = DeploySimulation(ROLES)
    names = []
    for week in range(0, 12):
        now = START + week * WEEK + (6 * WEEK if week > 6 else 0 * DAY)  # with a pause
        deploy = simulation.up({}, now, program=package_consumer(export_as, pass_ledger, now))
        live = owned(simulation, "hr")
        assert 1 <= len(live) <= 2
        ledger = deploy.run.outputs[export_as]["hr"]["renewal"]
        names.append(ledger["handedOut"]["generation"])
        if week in (1, 2):
            assert deploy.changes == [], "it read its own history"
    assert len(set(names)) >= 3, "renewed, not recreated on every deploy"
    assert len(set(names)) < len(names)


def test_a_secret_from_before_renewal_carries_over_under_its_name() -> None:
    """The version before renewal left one ``hr-secret`` and no ``credentialRenewsAt``: it stays, handed
    out, until it is due; then it is superseded and kept 14 days."""
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(ROLES)
    simulation.up(config, START)
    application_id = simulation.of_type("azuread:index/application:Application")[0].id
    for entry in simulation.credentials("hr"):
        del simulation.state[f"{entry.type}::{entry.name}"]
    inputs = {"applicationId": application_id, "displayName": "inbound-provisioning-access-dev-hr (managed by Pulumi)",
              "endDate": "2027-06-01T00:00:00Z"}
    simulation.state[f"{PASSWORD}::hr-secret"] = Deployed(
        PASSWORD, "hr-secret", f"{application_id}/password/legacy", inputs,
        {**inputs, "value": "the secret the HR client has today", "keyId": "legacy"}, 0, START)
    client = {k: v for k, v in simulation.outputs["clients"]["hr"].items()
              if k not in ("renewal", "credentialKeyIds", "credentialRenewsAt")}
    kept = {k: v for k, v in simulation.outputs.items() if k != "renewalLedger"}  # that version had none
    simulation.outputs = {**kept, "clients": {"hr": {**client, "credentialExpiresAt": inputs["endDate"]}},
                          "clientCredentials": {"hr": {"clientSecret": "the secret the HR client has today"}}}
    upgrade = simulation.up(config, START + DAY)
    assert upgrade.changes == [], "kept, unchanged, under its own name"
    assert upgrade.run.outputs["clients"]["hr"]["renewal"]["handedOut"]["generation"] == ""
    renewed = simulation.up(config, START + DAY + 28 * DAY)
    assert [(c.kind, c.name) for c in renewed.changes] == [("create", f"hr-secret-{START + 29 * DAY:%Y%m%d}")]
    assert simulation.up(config, START + 36 * DAY).changes == [], "the old one stays its 14 days"
    gone = simulation.up(config, START + 43 * DAY)
    assert [(c.kind, c.name) for c in gone.changes] == [("delete", "hr-secret")]
