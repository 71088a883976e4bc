"""How a problem shows a value: never a secret or an encrypted one, and a hint where quotes are the mistake."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.parse import parse_settings
from components.settings.problems import Encrypted, SettingsError
from tests.conftest import NOW, secret_client
from tests.settings.helpers import SP, problems_of


def test_secret_config_values_are_not_shown() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"clients": {"a": secret_client(lifetimeDays=9999)}}, "dev", NOW, frozenset({"clients"}))
    assert "9999" not in str(caught.value)
    assert "<secret, not shown>" in str(caught.value)


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


def test_an_encrypted_value_is_never_shown_nor_measured() -> None:
    error = problems_of({"clients": {"a": {"kind": SP, "displayName": Encrypted(),
                                           "credential": {"type": "certificate", "pem": Encrypted()}}}})
    shown = {p.path: str(p) for p in error.problems}
    assert shown["clients.a.credential.pem"].startswith("clients.a.credential.pem: got <encrypted, not shown>; ")
    assert "characters" not in shown["clients.a.credential.pem"]
    assert "make plan cannot check this one" in shown["clients.a.displayName"]


@pytest.mark.parametrize(("raw", "path", "says"), [
    ({"graphPermissions": ["SynchronizationData-User.Uplod"], "clients": {"a": secret_client()}},
     "graphPermissions[0]", "(did you mean `SynchronizationData-User.Upload`?)"),
    ({"graphPermissions": ["auditlog.read.all"], "clients": {"a": secret_client()}},
     "graphPermissions[0]", "(did you mean `AuditLog.Read.All`? names are case-sensitive)"),
    ({"clients": {"a": {**secret_client(), "kind": "serviceprincipal"}}},
     "clients.a.kind", "(did you mean `servicePrincipal`? names are case-sensitive)"),
    ({"clients": {"a": {"kind": SP, "credentials": {"type": "secret"}}}},
     "clients.a.credentials", "unknown key (did you mean `credential`?); allowed keys here: "),
    ({"clients": {"a": {"kind": SP, "credential": {"type": "secrets"}}}},
     "clients.a.credential.type", "not a known type (did you mean `secret`?); secret, certificate or federated"),
    ({"clients": {"a": {**secret_client(), "keyVault": {
        "vaultId": "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg/providers/"
                   "Microsoft.KeyVault/vaults/hr-vault", "readers": ["bob@contoso.com"]}}}},
     "clients.a.keyVault.readers[0]", "`az ad user show --id <name> --query id -o tsv`"),
    ({"clients": {"a": {**secret_client(), "protect": "yes"}}}, "clients.a.protect",
     "this client); YAML 1.2, which Pulumi reads, takes yes, no, on and off as strings, not booleans"),
])
def test_a_near_miss_names_what_was_meant(raw: dict[str, Any], path: str, says: str) -> None:
    problems = {p.path: p.allowed for p in problems_of(raw).problems}
    assert says in problems[path]


def test_no_near_miss_is_suggested_from_a_secret_value() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"clients": {"a": {**secret_client(), "kind": "serviceprincipal"}}}, "dev", NOW,
                       frozenset({"clients"}))
    assert "did you mean" not in str(caught.value)


def test_no_near_miss_for_a_value_far_from_every_choice() -> None:
    raw = {"graphPermissions": ["Directory.ReadWrite.All"], "clients": {"a": secret_client()}}
    [problem] = problems_of(raw).problems
    assert "did you mean" not in problem.allowed
