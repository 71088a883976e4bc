"""Reading stack config: PULUMI_CONFIG from the CLI, values as the CLI hands them over, misplaced namespaces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from components.settings.stack_config import decode_config_text, misplaced_keys
from tests.conftest import NOW, RunProgram, secret_client
from tools.offline.run import LAST_RUN


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
    assert str(caught.value.problems[0]) == ('protect: got "yes"; true or false; YAML 1.2, which Pulumi reads, '
                                             'takes yes, no, on and off as strings, not booleans')
