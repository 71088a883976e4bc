"""parse_settings: a whole stack config → defaults, every problem in one error, and no input that crashes it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.microsoft import DEFAULT_PERMISSIONS
from components.settings.model import SecretCredential, ServicePrincipalClientSettings
from components.settings.problems import SettingsError
from components.settings.trusted_principals import TRUSTED_RULE
from tests.conftest import RunProgram, secret_client
from tests.settings.helpers import assert_names_the_key_path, assert_registers_nothing, parse, problems_of


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


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("no clients", {}, "clients"),
    ("empty clients", {"clients": {}}, "clients"),
    ("clients not a map", {"clients": ["hr"]}, "clients"),
    ("unknown top-level key", {"clients": {"a": secret_client()}, "graphPermisions": []}, "graphPermisions"),
    ("protect not a boolean", {"protect": "yes", "clients": {"a": secret_client()}}, "protect"),
]


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_names_the_key_path(case: str, raw: dict[str, Any], path: str) -> None:
    assert_names_the_key_path(case, raw, path)


@pytest.mark.parametrize(("case", "raw", "path"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_registers_nothing(run_program: RunProgram, case: str, raw: dict[str, Any], path: str) -> None:
    assert_registers_nothing(run_program, case, raw, path)


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
    assert "got 900; an integer from 51 to 730: 730 days is the 24 months Microsoft allows" in message
    assert "SynchronizationData-User.Upload, SynchronizationData-User.Upload.OwnedBy, AuditLog.Read.All, " \
           "ProvisioningLog.Read.All" in message


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


# -- a client one level too far out; trustedPrincipals (issue 32) ------------------------------------

def test_a_client_indented_one_level_too_far_out_is_named_as_a_client() -> None:
    error = problems_of({"clients": {"hr": secret_client()}, "payroll": secret_client(), "typo": {"x": 1}})
    by_path = {p.path: p.allowed for p in error.problems}
    assert by_path["payroll"].startswith("unknown key; looks like a client that belongs under `clients`: indent it "
                                         "one level further in, under `inbound-provisioning-access:clients`")
    assert by_path["typo"].startswith("unknown key; allowed keys here: clients, "), "not every unknown key is a client"


def test_trusted_principals_are_object_ids_each_listed_once() -> None:
    guid = "0f0e0d0c-0b0a-4908-8706-050403020100"
    assert parse({"clients": {"hr": secret_client()}}).trusted_principals == ()
    assert parse({"clients": {"hr": secret_client()}, "trustedPrincipals": [guid.upper()]}).trusted_principals == (
        guid,)
    error = problems_of({"clients": {"hr": secret_client()}, "trustedPrincipals": [guid, guid.upper(), "admin@x"]})
    assert [(p.path, p.allowed.split(";")[0]) for p in error.problems] == [
        ("trustedPrincipals[1]", "the same principal as trustedPrincipals[0]"),
        ("trustedPrincipals[2]", TRUSTED_RULE)]
    assert problems_of({"clients": {"hr": secret_client()}, "trustedPrincipals": guid}).problems[0].path == \
        "trustedPrincipals"
