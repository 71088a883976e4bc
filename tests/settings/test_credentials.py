"""clients.<key>.credential: secrets, certificates (pem and generated), federated, and their renewal bounds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from components.settings.model import (
    CertificateCredential,
    FederatedCredential,
    GeneratedCertificateCredential,
    SecretCredential,
    ServicePrincipalClientSettings,
)
from tests.conftest import NOW, RunProgram, secret_client
from tests.settings.helpers import (
    EXPIRED_PEM,
    FED,
    PRIVATE_KEY_PEM,
    SP,
    VALID_PEM,
    assert_names_the_key_path,
    assert_registers_nothing,
    parse,
    problems_of,
)
from tools.offline.values import self_signed_pem


def test_every_credential_form_parses() -> None:
    settings = parse({"clients": {
        "rotating": secret_client(lifetimeDays=120, rotationDays=30),
        "byo": {"kind": "servicePrincipal", "credential": {"type": "certificate", "pem": VALID_PEM}},
        "gen": {"kind": "servicePrincipal", "credential": {"type": "certificate", "generate": {"subject": "hr"}}},
        "fed": {"kind": "servicePrincipal", "credential": {
            "type": "federated", "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:contoso/hr-sync:environment:prod"}},
    }})
    creds = {k: c.credential for k, c in settings.clients.items() if isinstance(c, ServicePrincipalClientSettings)}
    assert creds["rotating"] == SecretCredential(lifetime_days=120, rotation_days=30, rotation_chosen=False)
    byo = creds["byo"]
    assert isinstance(byo, CertificateCredential)
    assert byo.newest.not_after == (NOW + dt.timedelta(days=200)).replace(microsecond=0)
    assert byo.certificates[0].pem == VALID_PEM
    assert creds["gen"] == GeneratedCertificateCredential(subject="hr", validity_days=365, rotation_days=168)
    assert creds["fed"] == FederatedCredential(issuer="https://token.actions.githubusercontent.com",
                                               subject="repo:contoso/hr-sync:environment:prod",
                                               audiences=("api://AzureADTokenExchange",))


def test_long_lifetimes_are_allowed_with_a_warning() -> None:
    settings = parse({"clients": {"a": secret_client(lifetimeDays=500)}})
    assert any("lifetimeDays is 500" in w and "12 months" in w for w in settings.warnings)
    assert parse({"clients": {"a": secret_client(lifetimeDays=365)}}).warnings == ()


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown credential type", {"clients": {"a": {"kind": SP, "credential": {"type": "password"}}}},
     "clients.a.credential.type"),
    ("lifetime too long", {"clients": {"a": secret_client(lifetimeDays=731)}}, "clients.a.credential.lifetimeDays"),
    ("lifetime zero", {"clients": {"a": secret_client(lifetimeDays=0)}}, "clients.a.credential.lifetimeDays"),
    ("lifetime not an integer", {"clients": {"a": secret_client(lifetimeDays="90")}},
     "clients.a.credential.lifetimeDays"),
    ("typo lifetimedays", {"clients": {"a": secret_client(lifetimedays=90)}}, "clients.a.credential.lifetimedays"),
    ("rotation too short a lifetime", {"clients": {"a": secret_client(lifetimeDays=50, rotationDays=30)}},
     "clients.a.credential.lifetimeDays"),
    ("rotation zero", {"clients": {"a": secret_client(rotationDays=0)}}, "clients.a.credential.rotationDays"),
    ("secret key on a certificate", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "generate": {"subject": "x"}, "lifetimeDays": 30}}}},
     "clients.a.credential.lifetimeDays"),
    ("certificate with pem and generate", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": VALID_PEM, "generate": {"subject": "x"}}}}}, "clients.a.credential"),
    ("certificate with neither", {"clients": {"a": {"kind": SP, "credential": {"type": "certificate"}}}},
     "clients.a.credential"),
    ("pem that does not parse", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}}}},
     "clients.a.credential.pem"),
    ("certificate bundle", {"clients": {"a": {"kind": SP, "credential": {"type": "certificate",
                                                                         "pem": VALID_PEM + EXPIRED_PEM}}}},
     "clients.a.credential.pem"),
    ("bundle in a list", {"clients": {"a": {"kind": SP, "credential": {"type": "certificate",
                                                                       "pem": [VALID_PEM, VALID_PEM + EXPIRED_PEM]}}}},
     "clients.a.credential.pem[1]"),
    ("three certificates", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": [VALID_PEM, EXPIRED_PEM, VALID_PEM]}}}}, "clients.a.credential.pem"),
    ("one certificate twice", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": [VALID_PEM, VALID_PEM]}}}}, "clients.a.credential.pem"),
    ("rotation faster than the weekly schedule", {"clients": {"a": secret_client(rotationDays=1)}},
     "clients.a.credential.rotationDays"),
    ("rotation below the overlap", {"clients": {"a": secret_client(lifetimeDays=90, rotationDays=14)}},
     "clients.a.credential.rotationDays"),
    ("lifetime too short to renew", {"clients": {"a": secret_client(lifetimeDays=30)}},
     "clients.a.credential.lifetimeDays"),
    ("generated validity too short to renew", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "generate": {"subject": "x", "validityDays": 50}}}}},
     "clients.a.credential.generate.validityDays"),
    ("generated rotation too short", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "generate": {"subject": "x", "rotationDays": 7}}}}},
     "clients.a.credential.generate.rotationDays"),
    ("private key pasted", {"clients": {"a": {"kind": SP, "credential": {"type": "certificate",
                                                                         "pem": PRIVATE_KEY_PEM}}}},
     "clients.a.credential.pem"),
    ("generate without subject", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "generate": {"validityDays": 30}}}}}, "clients.a.credential.generate.subject"),
    ("generate validity too long", {"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "generate": {"subject": "x", "validityDays": 1000}}}}},
     "clients.a.credential.generate.validityDays"),
    ("federated http issuer", {"clients": {"a": {"kind": SP, "credential": {**FED, "issuer": "http://idp.example"}}}},
     "clients.a.credential.issuer"),
    ("federated without subject", {"clients": {"a": {"kind": SP, "credential": {
        k: v for k, v in FED.items() if k != "subject"}}}}, "clients.a.credential.subject"),
    ("federated two audiences", {"clients": {"a": {"kind": SP, "credential": {**FED, "audiences": ["a", "b"]}}}},
     "clients.a.credential.audiences"),
    ("federated rotation key", {"clients": {"a": {"kind": SP, "credential": {**FED, "rotationDays": 30}}}},
     "clients.a.credential.rotationDays"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    assert_names_the_key_path(case, raw, path)


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    assert_registers_nothing(run_program, case, raw, path)


@pytest.mark.parametrize("credential", [
    {"type": "secret", "lifetimeDays": 30, "rotationDays": 3},
    {"type": "certificate", "generate": {"subject": "x", "validityDays": 30, "rotationDays": 3}},
])
def test_a_bad_lifetime_and_a_bad_rotation_are_both_reported(credential: dict[str, Any]) -> None:
    error = problems_of({"clients": {"a": {"kind": SP, "credential": credential}}})
    base = "clients.a.credential" + (".generate" if "generate" in credential else "")
    lifetime = "validityDays" if "generate" in credential else "lifetimeDays"
    assert [p.path for p in error.problems] == [f"{base}.{lifetime}", f"{base}.rotationDays"]
    assert "got 3; an integer from 21 to" in str(error)


def test_key_material_is_never_echoed() -> None:
    error = problems_of({"clients": {"a": {"kind": SP, "credential": {"type": "certificate",
                                                                      "pem": PRIVATE_KEY_PEM}}}})
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" not in str(error)
    assert "BEGIN PRIVATE KEY" not in str(error)
    assert "private key" in str(error)
    error = problems_of({"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": [VALID_PEM + EXPIRED_PEM]}}}})
    assert EXPIRED_PEM.splitlines()[1] not in str(error)
    assert VALID_PEM.splitlines()[1] not in str(error)
    assert "found 2 (a bundle)" in str(error)


def test_an_expired_certificate_warns_and_is_left_out() -> None:
    settings = parse({"clients": {"a": {"kind": SP, "credential": {
        "type": "certificate", "pem": [EXPIRED_PEM, VALID_PEM]}}}})
    credential = settings.clients["a"].credential
    assert isinstance(credential, CertificateCredential)
    assert [c.pem for c in credential.registered] == [VALID_PEM]
    assert credential.newest.pem == VALID_PEM
    assert any(w.startswith("clients.a.credential.pem[0] (thumbprint ") and "expired at" in w
               for w in settings.warnings)
    assert EXPIRED_PEM.splitlines()[1] not in " ".join(settings.warnings)


@pytest.mark.parametrize(("years", "says"), [(3, "longer than the 730 days"), (10, "longer than the 730 days"),
                                             (1.5, "recommends certificates valid for under 12 months")])
def test_a_long_lived_certificate_is_allowed_with_a_warning(years: float, says: str) -> None:
    pem = self_signed_pem("hr", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=int(365 * years)))
    settings = parse({"clients": {"a": {"kind": SP, "credential": {"type": "certificate", "pem": pem}}}})
    [warning] = settings.warnings
    assert warning.startswith("clients.a.credential.pem is valid for ")
    assert says in warning
    assert pem.splitlines()[1] not in warning


def test_a_certificate_within_a_year_gets_no_warning() -> None:
    byo = {"kind": SP, "credential": {"type": "certificate", "pem": VALID_PEM}}
    assert parse({"clients": {"a": byo}}).warnings == ()


# -- why the range is what it is (issue 32) --------------------------------------------------------

@pytest.mark.parametrize(("credential", "key"), [
    ({"type": "secret", "lifetimeDays": 1000}, "lifetimeDays"),
    ({"type": "certificate", "generate": {"subject": "hr", "validityDays": 800}}, "validityDays"),
])
def test_a_lifetime_above_the_maximum_says_why_the_maximum_is_730(credential: dict[str, Any], key: str) -> None:
    [problem] = problems_of({"clients": {"a": {"kind": SP, "credential": credential}}}).problems
    assert problem.path.endswith(key)
    assert problem.allowed.startswith("an integer from 51 to 730: 730 days is the 24 months Microsoft allows a "
                                      "client secret at most")
    # Below the minimum, the minimum's reason.
    [low] = problems_of({"clients": {"a": secret_client(lifetimeDays=20)}}).problems
    assert "renews the credential on the weekly schedule" in low.allowed
    assert "24 months" not in low.allowed
