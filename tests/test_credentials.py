"""Credentials: renewed secrets and generated certificates, bring-your-own certificates, federated.

The first half checks what one run registers.  The second half deploys the program again on one
stack with the deploy simulation (``tools/offline/deploys.py``), which keeps state, applies
``ignore_changes`` and aliases, and replaces what the real providers would replace.  Renewal over
two years of deploys, with pauses, is ``tests/test_credentials_renewal.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.credentials import certificate_thumbprint
from components.renewal import default_rotation_days
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, secret_client
from tools.offline.deploys import DeploySimulation
from tools.offline.entra import mock_guid
from tools.offline.values import go_time_text, self_signed_pem

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

def test_a_new_secret_client_gets_one_secret(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client(lifetimeDays=90)}})
    rotation = default_rotation_days(90)
    (password,) = run.of_type(PASSWORD)
    assert password.name == f"hr-secret-{NOW:%Y%m%d}", "named by the deploy that created it"
    assert password.inputs["endDate"] == whole_seconds(NOW + dt.timedelta(days=90))
    assert set(password.ignore_changes) == {"displayName", "endDate"}
    # Nothing a user may rename: not the client's display name, not the stack name.
    assert "inbound-provisioning-access-dev" not in password.inputs["displayName"]
    assert password.aliases == ()
    client = run.outputs["clients"]["hr"]
    assert client["credentialExpiresAt"] == whole_seconds(NOW + dt.timedelta(days=90))
    assert client["credentialRenewsAt"] == whole_seconds(NOW + dt.timedelta(days=rotation))
    exported = run.outputs["clientCredentials"]["hr"]["clientSecret"]
    assert exported == f"mock-secret-value-{mock_guid('key', password.name)}"
    assert exported not in plain_outputs(run)
    assert client["credentialKeyIds"] == [mock_guid("key", password.name)]
    assert client["credentials"] == [{"keyId": mock_guid("key", password.name), "type": "secret",
                                      "endDate": whole_seconds(NOW + dt.timedelta(days=90))}]
    assert client["renewal"] == {"scheme": 2, "form": "secret", "handedOut": {
        "generation": f"{NOW:%Y%m%d}", "keyId": mock_guid("key", password.name), "since": whole_seconds(NOW),
        "endDate": whole_seconds(NOW + dt.timedelta(days=90)), "fresh": True}}
    assert run.outputs["renewalLedger"] == {"hr": client["renewal"]}
    assert credential_types(run) == [PASSWORD]


def test_rotation_days_sets_when_it_renews(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client(lifetimeDays=90, rotationDays=28)}})
    assert run.outputs["clients"]["hr"]["credentialRenewsAt"] == whole_seconds(NOW + dt.timedelta(days=28))


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
    assert client["credentialKeyIds"] == [mock_guid("key", registered.name)]
    assert client["credentials"] == [{"keyId": mock_guid("key", registered.name), "type": "certificate",
                                      "thumbprint": thumb, "endDate": registered.inputs["endDate"]}]
    assert "renewal" not in client, "the owner of the key renews it"
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
    assert len([r for r in run.of_type(PASSWORD) if r.name.startswith("fine-")]) == 1, "the others deploy"
    assert run.outputs["clients"]["old"]["credentialExpiresAt"] == whole_seconds(NOW - dt.timedelta(days=2))
    warnings = " ".join(message for level, message in run.logs if level == "warning")
    assert f"clients.old.credential.pem (thumbprint {thumbprint_of(expired)}) expired" in warnings
    assert f"clients.soon.credential.pem (thumbprint {thumbprint_of(soon)}) expires" in warnings
    assert "within 30 days" in warnings


# -- generated certificates -------------------------------------------------------------------------

def test_generated_certificate(run_at: Any) -> None:
    run = run_at({"clients": {"hr": generated(validityDays=200)}})
    rotation = default_rotation_days(200)
    generation = f"{NOW:%Y%m%d}"
    assert credential_types(run) == sorted([PRIVATE_KEY, SELF_SIGNED, CERTIFICATE]), "one key pair"
    key = run.named(f"hr-key-{generation}").inputs
    assert key["algorithm"] == "RSA"
    assert key["rsaBits"] >= 2048
    self_signed = run.named(f"hr-cert-{generation}")
    assert self_signed.inputs["subject"] == {"commonName": "hr-sync"}
    assert self_signed.inputs["validityPeriodHours"] == 200 * 24
    assert "client_auth" in self_signed.inputs["allowedUses"]
    assert "subject" in self_signed.ignore_changes, "a new subject applies from the next renewal"
    app_cert = run.named(f"hr-certificate-{generation}").inputs
    material = run.outputs["clientCredentials"]["hr"]
    assert set(material) == {"certificatePem", "privateKeyPem"}
    assert app_cert["value"] == material["certificatePem"]
    # The certificate's own notAfter, in whole seconds, not tls's nanosecond validityEndTime.
    not_after = x509.load_pem_x509_certificate(material["certificatePem"].encode()).not_valid_after_utc
    assert app_cert["endDate"] == whole_seconds(not_after) == whole_seconds(NOW + dt.timedelta(days=200))
    client = run.outputs["clients"]["hr"]
    assert client["certificateThumbprint"] == certificate_thumbprint(material["certificatePem"])
    assert client["credentialExpiresAt"] == app_cert["endDate"]
    assert client["credentialRenewsAt"] == whole_seconds(NOW + dt.timedelta(days=rotation))
    assert client["renewal"]["form"] == "generatedCertificate"
    assert client["renewal"]["handedOut"]["endDate"] == app_cert["endDate"]
    assert client["credentials"] == [{"keyId": client["credentialKeyIds"][0], "type": "certificate",
                                      "thumbprint": client["certificateThumbprint"], "endDate": app_cert["endDate"]}]
    assert run.secret_outputs == {"clientCredentials"}, "the thumbprint must not make `clients` secret"
    assert "PRIVATE KEY" in material["privateKeyPem"]
    assert "PRIVATE KEY" not in plain_outputs(run)


def run_credential_id(run: Any) -> str:
    (federated,) = run.of_type(FEDERATED)
    return mock_guid(FEDERATED, federated.name)


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
    assert client["credentialKeyIds"] == [run_credential_id(run)], "the federated credential's id"
    assert client["credentials"] == [{"keyId": run_credential_id(run), "type": "federated",
                                      "issuer": "https://token.actions.githubusercontent.com",
                                      "subject": "repo:contoso/hr-sync:environment:prod",
                                      "audiences": ["api://AzureADTokenExchange"]}]
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
