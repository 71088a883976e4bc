"""Config validation, tested without the Pulumi engine, and once through the real program."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.microsoft import DEFAULT_PERMISSIONS
from components.settings.model import (
    CertificateCredential,
    FederatedCredential,
    GeneratedCertificateCredential,
    ManagedIdentityClientSettings,
    SecretCredential,
    ServicePrincipalClientSettings,
)
from components.settings.parse import parse_settings
from components.settings.problems import Encrypted, SettingsError
from components.settings.stack_config import decode_config_text, misplaced_keys
from tests.conftest import NOW, RunProgram, job_for, secret_client
from tools.offline_run import LAST_RUN
from tools.offline_values import self_signed_pem

VALID_PEM = self_signed_pem("hr-sync.example.com", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200))
EXPIRED_PEM = self_signed_pem("old.example.com", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=35))
PRIVATE_KEY_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
)


def parse(raw: dict[str, Any], stack: str = "dev") -> Any:
    return parse_settings(raw, stack, NOW)


def problems_of(raw: dict[str, Any], stack: str = "dev") -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        parse(raw, stack)
    return caught.value


# -- defaults ----------------------------------------------------------------------------------

def test_minimal_secret_client_gets_tutorial_defaults() -> None:
    settings = parse({"clients": {"hr-sync": secret_client()}})
    client = settings.clients["hr-sync"]
    assert isinstance(client, ServicePrincipalClientSettings)
    assert client.graph_permissions == ("SynchronizationData-User.Upload", "AuditLog.Read.All")
    assert client.graph_permissions == DEFAULT_PERMISSIONS
    assert client.display_name == "inbound-provisioning-access-dev-hr-sync"
    # Renewed with overlap by default: the period is picked from the lifetime.
    assert client.credential == SecretCredential(lifetime_days=180, rotation_days=84, rotation_chosen=True)
    assert settings.protect is False
    assert settings.provisioning_app is None


@pytest.mark.parametrize(("stack", "expected"), [("prod", True), ("prod-eu", True), ("production", True),
                                                 ("Prod-eu", True), ("PROD", True), ("Production", True),
                                                 ("dev", False), ("test", False), ("preprod", False)])
def test_protect_defaults_on_for_prod_stacks(stack: str, expected: bool) -> None:
    assert parse({"clients": {"a": secret_client()}}, stack).protect is expected


def test_protect_can_be_set_explicitly() -> None:
    assert parse({"clients": {"a": secret_client()}, "protect": True}, "dev").protect is True
    assert parse({"clients": {"a": secret_client()}, "protect": False}, "prod").protect is False


def test_stack_permissions_apply_unless_a_client_overrides() -> None:
    settings = parse({
        "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
        "clients": {
            "a": secret_client(),
            "b": {**secret_client(), "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"]},
        },
    })
    assert settings.clients["a"].graph_permissions == ("SynchronizationData-User.Upload", "ProvisioningLog.Read.All")
    assert settings.clients["b"].graph_permissions == ("SynchronizationData-User.Upload.OwnedBy",)


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


def test_managed_identity_forms_parse() -> None:
    settings = parse({"clients": {
        "logic-app": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}},
        "uami": {"kind": "managedIdentity", "userAssigned": {
            "name": "id-hr-sync", "resourceGroupName": "rg-identity", "location": "westeurope",
            "tags": {"owner": "iam"}}},
    }})
    logic_app = settings.clients["logic-app"]
    assert isinstance(logic_app, ManagedIdentityClientSettings)
    assert logic_app.existing is not None
    assert (logic_app.existing.lookup, logic_app.existing.value) == ("displayName", "CSV2SCIMBulkUpload")
    uami = settings.clients["uami"]
    assert isinstance(uami, ManagedIdentityClientSettings)
    assert uami.user_assigned is not None
    assert uami.user_assigned.location == "westeurope"
    assert dict(uami.user_assigned.tags) == {"owner": "iam"}


def test_long_lifetimes_are_allowed_with_a_warning() -> None:
    settings = parse({"clients": {"a": secret_client(lifetimeDays=500)}})
    assert any("lifetimeDays is 500" in w and "12 months" in w for w in settings.warnings)
    assert parse({"clients": {"a": secret_client(lifetimeDays=365)}}).warnings == ()


def test_redundant_permission_pairs_warn() -> None:
    settings = parse({"clients": {"a": {**secret_client(), "graphPermissions": [
        "SynchronizationData-User.Upload", "AuditLog.Read.All", "ProvisioningLog.Read.All"]}}})
    assert any("AuditLog.Read.All and ProvisioningLog.Read.All" in w for w in settings.warnings)


# -- bad configuration -------------------------------------------------------------------------

SP = "servicePrincipal"
FED = {"type": "federated", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:main"}
UA = {"name": "id-hr", "resourceGroupName": "rg-identity", "location": "westeurope"}
JOB = job_for("72f988bf-0000-4000-8000-00000000e1d0")

BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("no clients", {}, "clients"),
    ("empty clients", {"clients": {}}, "clients"),
    ("clients not a map", {"clients": ["hr"]}, "clients"),
    ("unknown top-level key", {"clients": {"a": secret_client()}, "graphPermisions": []}, "graphPermisions"),
    ("bad client key", {"clients": {"HR_Sync": secret_client()}}, "clients.HR_Sync"),
    ("client key too long", {"clients": {"a" * 41: secret_client()}}, "clients." + "a" * 41),
    ("missing kind", {"clients": {"a": {"credential": {"type": "secret"}}}}, "clients.a.kind"),
    ("unknown kind", {"clients": {"a": {"kind": "user"}}}, "clients.a.kind"),
    ("typo in client key", {"clients": {"a": {**secret_client(), "displayname": "x"}}}, "clients.a.displayname"),
    ("display name too long", {"clients": {"a": {**secret_client(), "displayName": "x" * 121}}},
     "clients.a.displayName"),
    ("permission not allowed", {"graphPermissions": ["Directory.ReadWrite.All"], "clients": {"a": secret_client()}},
     "graphPermissions[0]"),
    ("client permission not allowed",
     {"clients": {"a": {**secret_client(), "graphPermissions": ["User.ReadWrite.All"]}}},
     "clients.a.graphPermissions[0]"),
    ("duplicate permission", {"graphPermissions": ["AuditLog.Read.All", "AuditLog.Read.All"],
                              "clients": {"a": secret_client()}}, "graphPermissions[1]"),
    ("empty permission list", {"graphPermissions": [], "clients": {"a": secret_client()}}, "graphPermissions"),
    ("permissions not a list", {"clients": {"a": {**secret_client(), "graphPermissions": "AuditLog.Read.All"}}},
     "clients.a.graphPermissions"),
    ("protect not a boolean", {"protect": "yes", "clients": {"a": secret_client()}}, "protect"),
    ("missing credential", {"clients": {"a": {"kind": SP}}}, "clients.a.credential"),
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
    ("two clients, one identity", {"clients": {
        "a": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}},
        "b": {"kind": "managedIdentity", "existing": {"displayName": "csv2scimbulkupload"}}}}, "clients.a"),
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
    ("managed identity with credential", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "CSV2SCIMBulkUpload"}, "credential": {"type": "secret"}}}}, "clients.a.credential"),
    ("managed identity with both forms", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "x"}, "userAssigned": UA}}}, "clients.a"),
    ("managed identity with neither", {"clients": {"a": {"kind": "managedIdentity"}}}, "clients.a"),
    ("existing with two lookups", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "displayName": "x", "objectId": "00000000-0000-0000-0000-000000000001"}}}}, "clients.a.existing"),
    ("existing objectId not a GUID", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "objectId": "CSV2SCIMBulkUpload"}}}}, "clients.a.existing.objectId"),
    ("existing clientId not a GUID", {"clients": {"a": {"kind": "managedIdentity", "existing": {
        "clientId": "123"}}}}, "clients.a.existing.clientId"),
    ("user-assigned bad name", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "name": "id hr!"}}}}, "clients.a.userAssigned.name"),
    ("user-assigned resource group ends with a period", {"clients": {"a": {"kind": "managedIdentity",
                                                                           "userAssigned": {
        **UA, "resourceGroupName": "rg-identity."}}}}, "clients.a.userAssigned.resourceGroupName"),
    ("user-assigned display-style location", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "location": "West Europe"}}}}, "clients.a.userAssigned.location"),
    ("user-assigned missing location", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        k: v for k, v in UA.items() if k != "location"}}}}, "clients.a.userAssigned.location"),
    ("user-assigned tags not strings", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": {
        **UA, "tags": {"cost": 12}}}}}, "clients.a.userAssigned.tags"),
    ("managed identity displayName", {"clients": {"a": {"kind": "managedIdentity", "userAssigned": UA,
                                                        "displayName": "x"}}}, "clients.a.displayName"),
    ("provisioning app with both lookups", {"clients": {"a": secret_client()}, "provisioningApp": {
        "servicePrincipalId": "00000000-0000-0000-0000-000000000001", "displayName": "x", "jobId": JOB}},
     "provisioningApp"),
    ("provisioning app bad job id", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x", "jobId": "API2AAD.123"}}, "provisioningApp.jobId"),
    ("provisioning app missing job id", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x"}}, "provisioningApp.jobId"),
    ("provisioning app id not a GUID", {"clients": {"a": secret_client()}, "provisioningApp": {
        "servicePrincipalId": "my-app", "jobId": JOB}}, "provisioningApp.servicePrincipalId"),
    ("provisioning app unknown key", {"clients": {"a": secret_client()}, "provisioningApp": {
        "displayName": "x", "jobId": JOB, "jobid": JOB}}, "provisioningApp.jobid"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    error = problems_of(raw)
    assert path in [p.path for p in error.problems], f"{case}: {error}"
    assert f"  - {path}: got " in str(error)
    assert "; " in str(error).split(f"  - {path}: got ", 1)[1]  # says what is allowed


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program(raw)
    assert path in str(caught.value)
    assert LAST_RUN[0].registrations == [], case
    assert LAST_RUN[0].calls == [], "nothing is read from the tenant either"


def test_every_problem_is_reported_at_once() -> None:
    error = problems_of({
        "graphPermissions": ["Directory.ReadWrite.All"],
        "protect": "sometimes",
        "clients": {
            "hr-sync": secret_client(lifetimeDays=900),
            "logic": {"kind": "managedIdentity"},
        },
        "provisioningApp": {"displayName": "x", "jobId": "nope"},
    })
    assert [p.path for p in error.problems] == [
        "graphPermissions[0]", "protect", "clients.hr-sync.credential.lifetimeDays", "clients.logic",
        "provisioningApp.jobId",
    ]
    message = str(error)
    assert message.startswith("Invalid configuration for stack 'dev' (5 problems)")
    assert "got 900; an integer from 51 to 730: the program renews" in message
    assert "SynchronizationData-User.Upload, SynchronizationData-User.Upload.OwnedBy, AuditLog.Read.All, " \
           "ProvisioningLog.Read.All" in message


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


def test_two_clients_for_one_identity_are_one_problem_naming_both() -> None:
    error = problems_of({"clients": {
        "a": {"kind": "managedIdentity", "userAssigned": UA},
        "b": {"kind": "managedIdentity", "userAssigned": {**UA, "tags": {"x": "y"}}}}})
    (problem,) = error.problems
    assert problem.path == "clients.a"
    assert "clients.b" in problem.shown


def test_secret_config_values_are_not_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"clients": {"a": secret_client(lifetimeDays=9999)}}, "dev", NOW, frozenset({"clients"}))
    assert "9999" not in str(caught.value)
    assert "<secret, not shown>" in str(caught.value)


def test_config_from_the_cli_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` passes config as JSON in PULUMI_CONFIG; secret key names in PULUMI_CONFIG_SECRET_KEYS."""
    import json

    import pulumi

    from components.settings.parse import load_settings

    pulumi.runtime.set_all_config({})
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({
        "inbound-provisioning-access:clients": json.dumps({"hr": {"kind": "servicePrincipal", "credential": {
            "type": "secret", "lifetimeDays": 9999}}}),
        "inbound-provisioning-access:protect": "true",
        "azure-native:location": "westeurope",
    }))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["inbound-provisioning-access:clients"]))
    with pytest.raises(SettingsError) as caught:
        load_settings(NOW)
    assert [p.path for p in caught.value.problems] == ["clients.hr.credential.lifetimeDays"]
    assert "9999" not in str(caught.value), "the clients key is secret"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({
        "inbound-provisioning-access:clients": json.dumps({"hr": secret_client()}),
        "inbound-provisioning-access:protect": "true",
    }))
    settings = load_settings(NOW)
    assert settings.protect is True
    assert list(settings.clients) == ["hr"]


# -- any input gets an answer, never a crash -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 2000) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12,
)
client_keys = st.sampled_from(["kind", "displayName", "graphPermissions", "credential", "existing", "userAssigned"])
credential_keys = st.sampled_from(["type", "lifetimeDays", "rotationDays", "pem", "generate", "issuer", "subject",
                                   "audiences"])


known_subkeys = st.dictionaries(
    st.sampled_from(["displayName", "objectId", "clientId", "name", "resourceGroupName", "location", "tags",
                     "subject", "validityDays", "servicePrincipalId", "jobId"]),
    json_values | st.sampled_from(["westeurope", "rg-x", "id-x", "00000000-0000-0000-0000-000000000001"]),
    max_size=4,
)


@given(
    top=st.dictionaries(st.sampled_from(["clients", "graphPermissions", "protect", "provisioningApp", "x"]),
                        json_values, max_size=4),
    nested=known_subkeys,
    client=st.dictionaries(client_keys, json_values | st.sampled_from(["servicePrincipal", "managedIdentity"]),
                           max_size=5),
    credential=st.dictionaries(credential_keys,
                               json_values | st.sampled_from(["secret", "certificate", "federated"]), max_size=4),
)
@settings(max_examples=300, deadline=None)
def test_any_config_is_validated_or_refused_never_crashes(top: dict[str, Any], nested: dict[str, Any],
                                                          client: dict[str, Any], credential: dict[str, Any]) -> None:
    mi = {"kind": "managedIdentity"}
    cert = {"type": "certificate", "generate": nested}
    for raw in (top, {"clients": {"c": client}}, {"clients": {"c": {**client, "credential": credential}}},
                {"clients": {"c": {**mi, "existing": nested}}}, {"clients": {"c": {**mi, "userAssigned": nested}}},
                {"clients": {"c": {"kind": "servicePrincipal", "credential": cert}}},
                {"clients": {"c": {"kind": "servicePrincipal", "credential": {"type": "secret"}}},
                 "provisioningApp": nested}):
        problems = problems_or_none(raw)
        assert problems is None or (problems and all(p.path and p.allowed for p in problems)), raw


def problems_or_none(raw: dict[str, Any]) -> list[Any] | None:
    """None when the config is valid, else the problems reported; any other exception propagates."""
    try:
        parse(raw)
    except SettingsError as error:
        return error.problems
    return None


# -- input paths: kinds, long-lived certificates, misplaced namespaces -----------------------------

def test_an_unknown_kind_is_not_called_missing() -> None:
    error = problems_of({"clients": {"a": {"kind": "app"}, "b": {"credential": {"type": "secret"}}}})
    by_path = {p.path: p for p in error.problems}
    assert str(by_path["clients.a.kind"]) == \
        'clients.a.kind: got "app"; not a known kind; servicePrincipal or managedIdentity'
    assert str(by_path["clients.b.kind"]) == \
        "clients.b.kind: got (missing); required; servicePrincipal or managedIdentity"


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


@pytest.mark.parametrize("key", ["inbound_provisioning_access:clients", "Inbound-Provisioning-Access:clients",
                                 "inbound-provisoning-access:clients", "inboundprovisioningaccess:protect",
                                 "inbound-provisioning:clients", "provisioning-access:clients",
                                 "inbound-provisioning-access-dev:clients"])
def test_a_misplaced_namespace_is_named(key: str) -> None:
    assert misplaced_keys([key, "azure-native:location", "azuread:useOidc", "inbound-provisioning-access:protect",
                           "pulumi:tags", "inbound:clients", "provisioning:clients", "azure:location"]) == [key]


def test_a_cut_off_namespace_is_named_with_the_fix() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({}, "dev", NOW, misplaced=misplaced_keys(["inbound-provisioning:clients"]))
    assert str(caught.value.problems[0]) == (
        "inbound-provisioning:clients: got (ignored); not in this project's namespace; its keys are "
        "`inbound-provisioning-access:<key>`, so this is `inbound-provisioning-access:clients`")


@pytest.mark.parametrize(("raw", "path", "says"), [
    ({"clients": {"a": secret_client(lifetimeDays="90")}}, "clients.a.credential.lifetimeDays",
     "drop the quotes: a quoted number is a string to YAML, not an integer"),
    ({"clients": {"a": {**secret_client(), "protect": "true"}}}, "clients.a.protect",
     "drop the quotes: a quoted true or false is a string to YAML, not a boolean"),
    ({"protect": "True", "clients": {"a": secret_client()}}, "protect",
     "drop the quotes: a quoted true or false is a string to YAML, not a boolean"),
])
def test_a_quoted_boolean_or_number_says_to_drop_the_quotes(raw: dict[str, Any], path: str, says: str) -> None:
    [problem] = problems_of(raw).problems
    assert problem.path == path
    assert problem.allowed.endswith(says)


@pytest.mark.parametrize(("raw", "path"), [
    ({"clients": {"a": secret_client(lifetimeDays="ninety")}}, "clients.a.credential.lifetimeDays"),
    ({"clients": {"a": secret_client(lifetimeDays=9000)}}, "clients.a.credential.lifetimeDays"),
    ({"clients": {"a": {**secret_client(), "protect": "yes"}}}, "clients.a.protect"),
])
def test_no_quote_hint_where_quotes_are_not_the_problem(raw: dict[str, Any], path: str) -> None:
    [problem] = problems_of(raw).problems
    assert problem.path == path
    assert "quote" not in problem.allowed


def test_misplaced_keys_are_refused_with_the_expected_namespace() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({}, "dev", NOW, misplaced=["inbound_provisioning_access:clients",
                                                  "inbound_provisioning_access:protect"])
    message = str(caught.value)
    assert [p.path for p in caught.value.problems] == [
        "inbound_provisioning_access:clients", "inbound_provisioning_access:protect", "clients"]
    assert ("inbound_provisioning_access:clients: got (ignored); not in this project's namespace; its keys are "
            "`inbound-provisioning-access:<key>`, so this is `inbound-provisioning-access:clients`") in message
    assert "clients: got (missing); required under `inbound-provisioning-access:clients`" in message


def test_the_program_names_a_misplaced_namespace(run_program: RunProgram) -> None:
    """The CLI hands the program every namespace's keys; the program points at the near miss."""
    with pytest.raises(SettingsError) as caught:
        run_program({}, cli_config={
            "inbound_provisioning_access:clients": json.dumps({"hr": secret_client()}),
            "azure-native:location": "westeurope",
        })
    assert [p.path for p in caught.value.problems] == ["inbound_provisioning_access:clients", "clients"]
    assert "`inbound-provisioning-access:clients`" in str(caught.value)
    assert LAST_RUN[0].registrations == []


@pytest.mark.parametrize(("text", "expected"), [
    ("true", True), ("false", False), ("90", 90), ('["a"]', ["a"]), ('{"a": 1}', {"a": 1}),
    ("yes", "yes"), ("", ""), ("{", "{"), ("hr-sync", "hr-sync"),
])
def test_top_level_values_are_decoded_as_the_cli_hands_them_over(text: str, expected: Any) -> None:
    assert decode_config_text(text) == expected


def test_protect_given_as_the_cli_string_is_accepted(run_program: RunProgram) -> None:
    """`pulumi config set protect true` writes "true"; the CLI hands the program the string "true"."""
    base = {"inbound-provisioning-access:clients": json.dumps({"hr": secret_client()})}
    run = run_program({}, "dev", cli_config={**base, "inbound-provisioning-access:protect": "true"})
    assert all(r.protect for r in run.registrations if r.type == "azuread:index/application:Application")
    with pytest.raises(SettingsError) as caught:
        run_program({}, "dev", cli_config={**base, "inbound-provisioning-access:protect": "yes"})
    assert str(caught.value.problems[0]) == 'protect: got "yes"; true or false'


def test_an_encrypted_value_is_never_shown_nor_measured() -> None:
    error = problems_of({"clients": {"a": {"kind": SP, "displayName": Encrypted(),
                                           "credential": {"type": "certificate", "pem": Encrypted()}}}})
    shown = {p.path: str(p) for p in error.problems}
    assert shown["clients.a.credential.pem"].startswith("clients.a.credential.pem: got <encrypted, not shown>; ")
    assert "characters" not in shown["clients.a.credential.pem"]
    assert "make plan cannot check this one" in shown["clients.a.displayName"]
