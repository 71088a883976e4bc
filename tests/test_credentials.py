"""Credentials: renewed secrets and generated certificates, bring-your-own certificates, federated.

The first half checks what one run registers.  The second half deploys the program again and
again on one stack with the deploy simulation (``tools/deploys.py``), which keeps state, applies
``ignore_changes`` and aliases, and replaces what the real providers would replace, to show what
the *next* deploys do over two years of the weekly schedule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.credentials import certificate_thumbprint
from components.renewal import default_rotation_days, next_renewal, renewal_slots
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, secret_client
from tools.deploys import CREDENTIAL_TYPES, Deploy, Deployed, DeploySimulation
from tools.offline_entra import mock_guid
from tools.offline_values import go_time_text, self_signed_pem

PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
FEDERATED = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
APPLICATION = "azuread:index/application:Application"
ALL_CREDENTIAL_TYPES = {PASSWORD, CERTIFICATE, FEDERATED, PRIVATE_KEY, SELF_SIGNED}


def credential_types(run: Any) -> list[str]:
    return sorted(r.type for r in run.registrations if r.type in ALL_CREDENTIAL_TYPES)


def plain_outputs(run: Any) -> str:
    return json.dumps({k: v for k, v in run.outputs.items() if k not in run.secret_outputs})


def whole_seconds(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def pem_of(days_from: int, days_to: int, name: str = "hr-sync.contoso.com", at: dt.datetime = NOW) -> str:
    return self_signed_pem(name, at + dt.timedelta(days=days_from), at + dt.timedelta(days=days_to))


def thumbprint_of(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324


def byo(pem: Any) -> dict[str, Any]:
    return {"kind": "servicePrincipal", "credential": {"type": "certificate", "pem": pem}}


def generated(**generate: Any) -> dict[str, Any]:
    return {"kind": "servicePrincipal", "credential": {"type": "certificate",
                                                      "generate": {"subject": "hr-sync", **generate}}}


# -- secrets --------------------------------------------------------------------------------------

def test_a_secret_is_renewed_by_default(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client(lifetimeDays=90)}})
    rotation = default_rotation_days(90)
    newest, previous = renewal_slots(NOW, 90, rotation)
    passwords = {r.name: r for r in run.of_type(PASSWORD)}
    assert set(passwords) == {f"hr-secret-{newest.suffix}", f"hr-secret-{previous.suffix}"}
    for slot in (newest, previous):
        password = passwords[f"hr-secret-{slot.suffix}"]
        assert password.inputs["endDate"] == whole_seconds(slot.end_date)
        assert set(password.ignore_changes) == {"displayName", "endDate"}
        # Nothing a user may rename: not the client's display name, not the stack name.
        assert "inbound-provisioning-access-dev" not in password.inputs["displayName"]
    assert passwords[f"hr-secret-{previous.suffix}"].aliases == ("hr-secret",), "the pre-renewal secret"
    assert passwords[f"hr-secret-{newest.suffix}"].aliases == ()
    client = run.outputs["clients"]["hr"]
    assert client["credentialExpiresAt"] == whole_seconds(newest.end_date)
    assert client["credentialRenewsAt"] == whole_seconds(next_renewal(NOW, rotation))
    exported = run.outputs["clientCredentials"]["hr"]["clientSecret"]
    assert exported == f"mock-secret-value-{mock_guid('key', f'hr-secret-{newest.suffix}')}"
    assert exported not in plain_outputs(run)
    assert credential_types(run) == [PASSWORD, PASSWORD]


def test_rotation_days_sets_the_period(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client(lifetimeDays=90, rotationDays=28)}})
    newest, previous = renewal_slots(NOW, 90, 28)
    assert {r.name for r in run.of_type(PASSWORD)} == {f"hr-secret-{newest.suffix}", f"hr-secret-{previous.suffix}"}
    assert run.outputs["clients"]["hr"]["credentialRenewsAt"] == whole_seconds(newest.period_start
                                                                              + dt.timedelta(days=28))


# -- bring-your-own certificates --------------------------------------------------------------------

def test_bring_your_own_certificate(run_at: Any) -> None:
    pem = pem_of(-1, 100)
    cert = x509.load_pem_x509_certificate(pem.encode())
    thumb = thumbprint_of(pem)
    run = run_at({"clients": {"hr": byo(pem)}})
    registered = run.named(f"hr-certificate-{thumb[:16].lower()}")
    assert registered.inputs["value"] == pem
    assert registered.inputs["encoding"] == "pem"
    assert registered.inputs["type"] == "AsymmetricX509Cert"
    assert registered.inputs["endDate"] == whole_seconds(cert.not_valid_after_utc)
    assert registered.inputs["applicationId"].startswith("/applications/")
    assert registered.aliases == ("hr-certificate",), "the single certificate from before lists"
    client = run.outputs["clients"]["hr"]
    assert client["credentialType"] == "certificate"
    assert client["certificateThumbprint"] == thumb
    assert client["credentialExpiresAt"] == registered.inputs["endDate"]
    assert "credentialRenewsAt" not in client, "the owner of the key renews it"
    assert credential_types(run) == [CERTIFICATE]
    assert "hr" not in run.outputs["clientCredentials"], "no secret material for a public certificate"
    assert run.secret_outputs == {"clientCredentials"}


def test_what_is_sent_is_the_parsed_certificate_alone(run_at: Any) -> None:
    pem = pem_of(-1, 100)
    # Text around the block, Windows line ends: what a copy from a mail or a portal looks like.
    pasted = "subject=CN = hr-sync.contoso.com\r\n" + pem.replace("\n", "\r\n") + "\r\ntrailing note\r\n"
    run = run_at({"clients": {"hr": byo(pasted)}})
    (registered,) = run.of_type(CERTIFICATE)
    assert registered.inputs["value"] == pem
    assert registered.inputs["value"].count("-----BEGIN CERTIFICATE-----") == 1


def test_current_and_next_certificates_overlap(run_at: Any) -> None:
    current, upcoming = pem_of(-300, 40), pem_of(-1, 365, "hr-sync-2027.contoso.com")
    run = run_at({"clients": {"hr": byo([current, upcoming])}})
    values = {r.inputs["value"]: r for r in run.of_type(CERTIFICATE)}
    assert set(values) == {current, upcoming}
    assert values[current].aliases == ("hr-certificate",), "the older one carries the earlier name"
    assert values[upcoming].aliases == ()
    client = run.outputs["clients"]["hr"]
    assert client["certificateThumbprint"] == thumbprint_of(upcoming), "outputs describe the newest"
    assert client["credentialExpiresAt"] == whole_seconds(NOW + dt.timedelta(days=365))


def test_an_expired_certificate_does_not_stop_the_stack(run_at: Any) -> None:
    expired, soon = pem_of(-400, -2), pem_of(-300, 20, "other")
    run = run_at({"clients": {
        "old": byo(expired),
        "soon": byo(soon),
        "fine": secret_client(),
    }})
    assert not [r for r in run.of_type(CERTIFICATE) if r.name.startswith("old-")], "Entra refuses a past end date"
    assert [r for r in run.of_type(CERTIFICATE) if r.name.startswith("soon-")]
    assert len([r for r in run.of_type(PASSWORD) if r.name.startswith("fine-")]) == 2, "the others deploy"
    assert run.outputs["clients"]["old"]["credentialExpiresAt"] == whole_seconds(NOW - dt.timedelta(days=2))
    warnings = " ".join(message for level, message in run.logs if level == "warning")
    assert f"clients.old.credential.pem (thumbprint {thumbprint_of(expired)}) expired" in warnings
    assert f"clients.soon.credential.pem (thumbprint {thumbprint_of(soon)}) expires" in warnings
    assert "within 30 days" in warnings


# -- generated certificates -------------------------------------------------------------------------

def test_generated_certificate(run_at: Any) -> None:
    run = run_at({"clients": {"hr": generated(validityDays=200)}})
    rotation = default_rotation_days(200)
    newest, previous = renewal_slots(NOW, 200, rotation)
    assert credential_types(run) == sorted([PRIVATE_KEY, SELF_SIGNED, CERTIFICATE] * 2)
    key = run.named(f"hr-key-{newest.suffix}").inputs
    assert key["algorithm"] == "RSA"
    assert key["rsaBits"] >= 2048
    self_signed = run.named(f"hr-cert-{newest.suffix}")
    assert self_signed.inputs["subject"] == {"commonName": "hr-sync"}
    assert self_signed.inputs["validityPeriodHours"] == 200 * 24
    assert "client_auth" in self_signed.inputs["allowedUses"]
    assert "subject" in self_signed.ignore_changes, "a new subject applies from the next renewal"
    assert run.named(f"hr-cert-{previous.suffix}").aliases == ("hr-cert",)
    app_cert = run.named(f"hr-certificate-{newest.suffix}").inputs
    material = run.outputs["clientCredentials"]["hr"]
    assert set(material) == {"certificatePem", "privateKeyPem"}
    assert app_cert["value"] == material["certificatePem"]
    # The certificate's own notAfter, in whole seconds, not tls's nanosecond validityEndTime.
    not_after = x509.load_pem_x509_certificate(material["certificatePem"].encode()).not_valid_after_utc
    assert app_cert["endDate"] == whole_seconds(not_after) == whole_seconds(NOW + dt.timedelta(days=200))
    client = run.outputs["clients"]["hr"]
    assert client["certificateThumbprint"] == certificate_thumbprint(material["certificatePem"])
    assert client["credentialExpiresAt"] == app_cert["endDate"]
    assert run.secret_outputs == {"clientCredentials"}, "the thumbprint must not make `clients` secret"
    assert "PRIVATE KEY" in material["privateKeyPem"]
    assert "PRIVATE KEY" not in plain_outputs(run)


# -- federated --------------------------------------------------------------------------------------

def test_federated_credential(run_at: Any) -> None:
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/hr-sync:environment:prod"}}}})
    assert credential_types(run) == [FEDERATED]
    federated = run.named("hr-federated").inputs
    assert federated["issuer"] == "https://token.actions.githubusercontent.com"
    assert federated["subject"] == "repo:contoso/hr-sync:environment:prod"
    assert federated["audiences"] == ["api://AzureADTokenExchange"]
    assert federated["displayName"] == "hr-federated", "from the key, never the renameable display name"
    client = run.outputs["clients"]["hr"]
    assert client["credentialType"] == "federated"
    assert "credentialExpiresAt" not in client
    assert run.outputs["clientCredentials"] == {}


def test_custom_audience(run_at: Any) -> None:
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://oidc.prod-aks.azure.com/tenant/issuer/",
        "subject": "system:serviceaccount:hr:sync", "audiences": ["api://hr-sync"]}}}})
    assert run.named("hr-federated").inputs["audiences"] == ["api://hr-sync"]


# -- the deploy simulation is as strict as the providers ---------------------------------------------

# The grant roles the program can ask for: a real slice of Graph's roles keeps 100 deploys fast.
WALK_ROLES = [r for r in GRAPH_ROLES if r["value"].startswith(("SynchronizationData", "AuditLog", "Provisioning"))]
START = dt.datetime(2026, 11, 27, 6, 15, 42, 318207, tzinfo=dt.UTC)  # any hour, with a fraction


def test_the_simulation_replaces_a_certificate_dated_by_tls_every_run() -> None:
    """What the program did before: end date = pulumi-tls's validityEndTime (nanoseconds).
    Graph keeps whole seconds, so the provider sees a changed end date and replaces it."""
    assert go_time_text(START + dt.timedelta(days=1)).endswith(".318207789Z")

    def old_program() -> None:
        app = azuread.Application("hr-app", display_name="hr")
        key = tls.PrivateKey("hr-key", algorithm="RSA", rsa_bits=3072)
        cert = tls.SelfSignedCert("hr-cert", private_key_pem=key.private_key_pem,
                                  subject=tls.SelfSignedCertSubjectArgs(common_name="hr"),
                                  validity_period_hours=24 * 365, allowed_uses=["client_auth"])
        azuread.ApplicationCertificate("hr-certificate", application_id=app.id, type="AsymmetricX509Cert",
                                       encoding="pem", value=cert.cert_pem, end_date=cert.validity_end_time)
        pulumi.export("ok", True)

    simulation = DeploySimulation(WALK_ROLES)
    simulation.up({}, START, program=old_program)
    again = simulation.up({}, START + dt.timedelta(days=7), program=old_program)
    assert [(c.kind, c.name, c.fields) for c in again.changes] == [("replace", "hr-certificate", ("endDate",))]


# -- two years of weekly deploys --------------------------------------------------------------------

def byo_list_at(now: dt.datetime) -> list[str]:
    """A careful owner of bring-your-own certificates: a new one every 330 days, valid 400, listed
    from its first day and dropped once it has expired: 70 days of overlap."""
    issued = [START + dt.timedelta(days=330 * k - 20) for k in range(4)]
    return [BYO_PEMS[i] for i, start in enumerate(issued) if start <= now < start + dt.timedelta(days=400)][-2:]


BYO_PEMS = [self_signed_pem(f"hr-byo-{k}", START + dt.timedelta(days=330 * k - 20),
                            START + dt.timedelta(days=330 * k + 380)) for k in range(4)]

WALK_CLIENTS: dict[str, Callable[[dt.datetime], dict[str, Any]]] = {
    "secret": lambda now: secret_client(lifetimeDays=90),
    "rotating": lambda now: secret_client(lifetimeDays=60, rotationDays=21),
    "generated": lambda now: generated(validityDays=120),
    "byo": lambda now: byo(byo_list_at(now)),
}


def client_credentials(simulation: DeploySimulation, key: str) -> dict[str, Any]:
    return {d.name: d for d in simulation.credentials(key)}


def exported_credential(live: dict[str, Deployed], outputs: dict[str, Any], key: str) -> Deployed:
    """The credential the outputs hand to the consumer: by its secret value or its thumbprint."""
    secret = outputs["clientCredentials"].get(key, {}).get("clientSecret")
    thumb = outputs["clients"][key].get("certificateThumbprint")
    (found,) = [d for d in live.values()
                if (d.type == PASSWORD and d.outputs["value"] == secret)
                or (d.type == CERTIFICATE and certificate_thumbprint(d.inputs["value"]) == thumb)]
    return found


def test_two_years_of_weekly_deploys_never_cut_a_client_off() -> None:
    simulation = DeploySimulation(WALK_ROLES)
    first_deploy_of: dict[str, int] = {}
    handed_out: dict[str, list[str]] = {key: [] for key in WALK_CLIENTS}
    renewals = dict.fromkeys(WALK_CLIENTS, 0)
    deletions_checked = 0
    for week in range(105):
        now = START + dt.timedelta(days=7 * week)
        deploy = simulation.up({"clients": {k: make(now) for k, make in WALK_CLIENTS.items()}}, now)
        assert not [c for c in deploy.changes if c.kind in ("replace", "update")], (week, deploy.changes)
        outputs = deploy.run.outputs
        for key in WALK_CLIENTS:
            live = client_credentials(simulation, key)
            assert 1 <= len(live) <= 2, f"week {week}: {key} has {sorted(live)}"
            for name in live:
                first_deploy_of.setdefault(name, deploy.number)
            newest = exported_credential(live, outputs, key)
            expires = parse(outputs["clients"][key]["credentialExpiresAt"])
            assert expires == parse(newest.outputs["endDate"]), f"week {week}: {key} outputs the newest"
            assert expires - now >= dt.timedelta(days=14), f"week {week}: {key} newest expires {expires}"
            if newest.name not in handed_out[key]:
                handed_out[key].append(newest.name)
            for change in deploy.of_kind("delete", CREDENTIAL_TYPES):
                if not change.name.startswith(f"{key}-") or change.name not in handed_out[key]:
                    continue
                # Its successor (the next one handed out) existed in an earlier run, 14 days or more ago.
                order = handed_out[key]
                successor = order[order.index(change.name) + 1]
                created = simulation.deploys[first_deploy_of[successor] - 1]
                assert created.number < deploy.number, (week, key, change.name)
                assert now - created.now >= dt.timedelta(days=14), (week, key, change.name, successor)
                deletions_checked += 1
            renewals[key] += len([c for c in deploy.of_kind("create", CREDENTIAL_TYPES)
                                  if c.name.startswith(f"{key}-")]) if week else 0
        if _no_renewal_due(deploy, simulation):
            assert deploy.changes == [], f"week {week}: a steady-state run planned {deploy.changes}"
        if "secret" in outputs["clientCredentials"]:
            exported = outputs["clientCredentials"]["secret"]["clientSecret"]
            assert exported in {d.outputs["value"] for d in simulation.credentials("secret")}
    # Every form renewed again and again over the two years (the byo list twice).
    assert renewals["secret"] >= 700 // default_rotation_days(90) - 1
    assert renewals["rotating"] >= 700 // 21 - 1
    assert renewals["generated"] >= 700 // default_rotation_days(120) - 1
    assert renewals["byo"] == 2
    assert deletions_checked >= sum(renewals.values()) - 8


def _no_renewal_due(deploy: Deploy, simulation: DeploySimulation) -> bool:
    """No credential period started and no certificate entered or left the list since the last deploy."""
    if deploy.number == 1:
        return False
    previous = simulation.deploys[deploy.number - 2].now
    for rotation in (default_rotation_days(90), 21, default_rotation_days(120)):
        if next_renewal(previous, rotation) <= deploy.now:
            return False
    return byo_list_at(previous) == byo_list_at(deploy.now)


def test_renaming_the_client_or_the_stack_changes_no_credential() -> None:
    clients = {"secret": secret_client(lifetimeDays=90), "generated": generated(),
               "byo": byo([pem_of(-1, 300, at=START)]),
               "federated": {"kind": "servicePrincipal", "credential": {
                   "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
                   "subject": "repo:contoso/hr:environment:dev"}}}
    simulation = DeploySimulation(WALK_ROLES)
    simulation.up({"clients": clients}, START, stack="dev")
    renamed = {key: {**client, "displayName": f"HR {key} (renamed)"} for key, client in clients.items()}
    deploy = simulation.up({"clients": renamed}, START + dt.timedelta(hours=1), stack="dev-eu")
    assert deploy.changes, "the app registrations are renamed"
    assert {(c.kind, c.type) for c in deploy.changes} == {("update", APPLICATION)}
    assert {c.fields for c in deploy.changes} == {("displayName",)}


def test_a_secret_from_before_renewal_stays_until_the_next_renewal() -> None:
    """Upgrading: the stack holds one ``hr-secret`` from before renewal existed. The next deploy
    keeps it (as the previous slot, unchanged) beside a new current secret; nothing is replaced."""
    simulation = DeploySimulation(WALK_ROLES)
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation.up(config, START)
    application_id = simulation.of_type(APPLICATION)[0].id
    for entry in simulation.credentials("hr"):
        del simulation.state[f"{entry.type}::{entry.name}"]
    legacy_value = "the secret the HR client has today"
    legacy_end = "2027-01-10T06:15:42Z"
    simulation.state[f"{PASSWORD}::hr-secret"] = Deployed(
        PASSWORD, "hr-secret", f"{application_id}/password/legacy",
        {"applicationId": application_id, "displayName": "inbound-provisioning-access-dev-hr (managed by Pulumi)",
         "endDate": legacy_end},
        {"applicationId": application_id, "displayName": "inbound-provisioning-access-dev-hr (managed by Pulumi)",
         "endDate": legacy_end, "value": legacy_value, "keyId": "legacy"},
        1, START)
    later = START + dt.timedelta(days=3)
    deploy = simulation.up(config, later)
    newest, previous = renewal_slots(later, 90, default_rotation_days(90))
    assert [(c.kind, c.name) for c in deploy.changes] == [("create", f"hr-secret-{newest.suffix}")]
    kept = client_credentials(simulation, "hr")[f"hr-secret-{previous.suffix}"]
    assert kept.outputs["value"] == legacy_value, "the same secret, under its slot's name"
    assert kept.outputs["endDate"] == legacy_end


@pytest.mark.parametrize("client", [secret_client(lifetimeDays=90), generated(validityDays=120)])
def test_deploying_twice_changes_nothing(client: dict[str, Any]) -> None:
    simulation = DeploySimulation(WALK_ROLES)
    simulation.up({"clients": {"hr": client}}, START)
    again = simulation.up({"clients": {"hr": client}}, START + dt.timedelta(minutes=5))
    assert again.changes == []


def test_a_second_existing_client_for_the_same_identity_is_refused(run_program: Any) -> None:
    from components.settings.problems import SettingsError

    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {
            "logic-app": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}},
            "logic-app-by-id": {"kind": "managedIdentity", "existing": {"objectId": LOGIC_APP.object_id}},
        }})
    text = str(caught.value)
    assert "clients.logic-app:" in text
    assert "clients.logic-app-by-id" in text
    assert LOGIC_APP.object_id in text
    assert text.count("the same principal") == 1
