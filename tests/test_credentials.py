"""Credentials: rotating secrets, bring-your-own and generated certificates, federated credentials."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from components.credentials import certificate_thumbprint, rotation_slots
from tests.conftest import NOW, secret_client
from tools.offline import mock_guid, self_signed_pem

PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
FEDERATED = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"
CREDENTIAL_TYPES = {PASSWORD, CERTIFICATE, FEDERATED, PRIVATE_KEY, SELF_SIGNED}


def credential_types(run: Any) -> list[str]:
    return sorted(r.type for r in run.registrations if r.type in CREDENTIAL_TYPES)


def plain_outputs(run: Any) -> str:
    return json.dumps({k: v for k, v in run.outputs.items() if k not in run.secret_outputs})


# -- rotating secrets ---------------------------------------------------------------------------

def parse_rfc3339(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_rotation_slots_are_deterministic_within_a_period() -> None:
    first = rotation_slots(NOW, 90, 30)
    assert first == rotation_slots(NOW + dt.timedelta(hours=5), 90, 30)
    newest, previous = first
    assert newest.period_start <= NOW < newest.period_start + dt.timedelta(days=30)
    assert previous.period_start == newest.period_start - dt.timedelta(days=30)
    assert newest.end_date == newest.period_start + dt.timedelta(days=90)


def test_rotation_overlaps_across_many_periods() -> None:
    """Walk every day of ten periods: a valid secret always exists, and a superseded secret
    stays in place and valid for at least a whole rotation period after its successor appears."""
    lifetime, rotation = 60, 30
    first_seen: dict[str, dt.datetime] = {}
    superseded_at: dict[str, dt.datetime] = {}
    removed_at: dict[str, dt.datetime] = {}
    previous_newest: str | None = None
    live_before: set[str] = set()
    for day in range(300):
        now = NOW + dt.timedelta(days=day)
        slots = rotation_slots(now, lifetime, rotation)
        live = {s.suffix for s in slots}
        newest = slots[0]
        assert newest.end_date > now + dt.timedelta(days=lifetime - rotation), "exported secret is fresh"
        assert all(s.end_date > now for s in slots), "nothing kept is expired"
        assert max(slots, key=lambda s: s.period_start) is newest, "the exported one is the newest"
        for suffix in live - live_before:
            first_seen[suffix] = now
        for suffix in live_before - live:
            removed_at[suffix] = now
        if previous_newest is not None and newest.suffix != previous_newest:
            superseded_at[previous_newest] = now
        previous_newest = newest.suffix
        live_before = live
    assert len(superseded_at) >= 9
    for suffix, when in superseded_at.items():
        if suffix in removed_at:
            assert removed_at[suffix] - when >= dt.timedelta(days=rotation), suffix


def test_rotating_secret_resources_and_outputs(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client(lifetimeDays=90, rotationDays=30)}})
    passwords = {r.name: r for r in run.of_type(PASSWORD)}
    newest, previous = rotation_slots(NOW, 90, 30)
    assert set(passwords) == {f"hr-secret-{newest.suffix}", f"hr-secret-{previous.suffix}"}
    for slot in (newest, previous):
        password = passwords[f"hr-secret-{slot.suffix}"]
        assert password.inputs["endDate"] == slot.end_date.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert password.ignore_changes == ("endDate",), "a changed lifetimeDays applies from the next rotation"
    assert run.outputs["clients"]["hr"]["credentialExpiresAt"] == newest.end_date.strftime("%Y-%m-%dT%H:%M:%SZ")
    exported = run.outputs["clientCredentials"]["hr"]["clientSecret"]
    assert exported == f"mock-secret-value-{mock_guid('key', f'hr-secret-{newest.suffix}')}"
    assert credential_types(run) == [PASSWORD, PASSWORD]


def test_rotation_advances_when_a_new_period_starts(run_at: Any) -> None:
    config = {"clients": {"hr": secret_client(lifetimeDays=60, rotationDays=30)}}
    newest, _ = rotation_slots(NOW, 60, 30)
    next_start = newest.period_start + dt.timedelta(days=30)
    before = run_at(config, now=next_start - dt.timedelta(seconds=1))
    after = run_at(config, now=next_start)
    names_before = {r.name for r in before.of_type(PASSWORD)}
    names_after = {r.name for r in after.of_type(PASSWORD)}
    assert names_before & names_after == {f"hr-secret-{newest.suffix}"}, "the old newest stays, as previous"
    assert f"hr-secret-{next_start:%Y%m%d}" in names_after
    assert (before.outputs["clientCredentials"]["hr"]["clientSecret"]
            != after.outputs["clientCredentials"]["hr"]["clientSecret"])


# -- bring-your-own certificate -------------------------------------------------------------------

def test_bring_your_own_certificate(run_at: Any) -> None:
    pem = self_signed_pem("hr-sync.contoso.com", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=100))
    cert = x509.load_pem_x509_certificate(pem.encode())
    expected_thumbprint = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {"type": "certificate", "pem": pem}}}})
    registered = run.named("hr-certificate").inputs
    assert registered["value"] == pem
    assert registered["encoding"] == "pem"
    assert registered["type"] == "AsymmetricX509Cert"
    assert registered["endDate"] == cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert registered["applicationId"].startswith("/applications/")
    client = run.outputs["clients"]["hr"]
    assert client["credentialType"] == "certificate"
    assert client["certificateThumbprint"] == expected_thumbprint
    assert len(expected_thumbprint) == 40
    assert client["credentialExpiresAt"] == registered["endDate"]
    assert credential_types(run) == [CERTIFICATE]
    assert "hr" not in run.outputs["clientCredentials"], "no secret material for a public certificate"
    assert run.secret_outputs == {"clientCredentials"}


# -- generated certificate -----------------------------------------------------------------------

def test_generated_certificate(run_at: Any) -> None:
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "certificate", "generate": {"subject": "hr-sync-dev", "validityDays": 200}}}}})
    assert credential_types(run) == sorted([PRIVATE_KEY, SELF_SIGNED, CERTIFICATE])
    key = run.named("hr-key").inputs
    assert key["algorithm"] == "RSA"
    assert key["rsaBits"] >= 2048
    self_signed = run.named("hr-cert").inputs
    assert self_signed["subject"] == {"commonName": "hr-sync-dev"}
    assert self_signed["validityPeriodHours"] == 200 * 24
    assert "client_auth" in self_signed["allowedUses"]
    app_cert = run.named("hr-certificate").inputs
    material = run.outputs["clientCredentials"]["hr"]
    assert set(material) == {"certificatePem", "privateKeyPem"}
    assert app_cert["value"] == material["certificatePem"]
    assert app_cert["endDate"] == (NOW + dt.timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    client = run.outputs["clients"]["hr"]
    assert client["certificateThumbprint"] == certificate_thumbprint(material["certificatePem"])
    assert client["credentialExpiresAt"] == app_cert["endDate"]
    assert run.secret_outputs == {"clientCredentials"}, "the thumbprint must not make `clients` secret"
    assert "PRIVATE KEY" in material["privateKeyPem"]
    assert material["privateKeyPem"] not in plain_outputs(run)
    assert "PRIVATE KEY" not in plain_outputs(run)


# -- federated -----------------------------------------------------------------------------------

def test_federated_credential(run_at: Any) -> None:
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:contoso/hr-sync:environment:prod"}}}})
    assert credential_types(run) == [FEDERATED]
    federated = run.named("hr-federated").inputs
    assert federated["issuer"] == "https://token.actions.githubusercontent.com"
    assert federated["subject"] == "repo:contoso/hr-sync:environment:prod"
    assert federated["audiences"] == ["api://AzureADTokenExchange"]
    assert federated["applicationId"].startswith("/applications/")
    client = run.outputs["clients"]["hr"]
    assert client["credentialType"] == "federated"
    assert "credentialExpiresAt" not in client
    assert run.outputs["clientCredentials"] == {}


def test_custom_audience(run_at: Any) -> None:
    run = run_at({"clients": {"hr": {"kind": "servicePrincipal", "credential": {
        "type": "federated", "issuer": "https://oidc.prod-aks.azure.com/tenant/issuer/",
        "subject": "system:serviceaccount:hr:sync", "audiences": ["api://hr-sync"]}}}})
    assert run.named("hr-federated").inputs["audiences"] == ["api://hr-sync"]


def test_plain_secret_creates_no_other_credential(run_at: Any) -> None:
    run = run_at({"clients": {"hr": secret_client()}})
    assert credential_types(run) == [PASSWORD]
