"""``trustedPrincipals``: object ids, each once; every bad entry named with its index, value and what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.problems import SettingsError
from tests.settings.helpers import FED, SP, parse, problems_of

CLIENTS: dict[str, Any] = {"hr": {"kind": SP, "credential": FED}}
DEPLOYER = "0A1B2C3D-0000-4000-8000-000000000001"
BREAK_GLASS = "0a1b2c3d-0000-4000-8000-000000000002"


def test_trusted_principals_are_lower_cased_in_config_order_and_default_to_none() -> None:
    assert parse({"clients": CLIENTS}).trusted_principals == ()
    settings = parse({"clients": CLIENTS, "trustedPrincipals": [DEPLOYER, BREAK_GLASS]})
    assert settings.trusted_principals == (DEPLOYER.lower(), BREAK_GLASS)


def test_every_bad_entry_is_named_with_its_index_in_one_error() -> None:
    error = problems_of({"clients": CLIENTS, "trustedPrincipals": [
        DEPLOYER, "ops@contoso.com", 42, DEPLOYER.lower(), "not-a-guid"]})
    assert [p.path for p in error.problems] == [
        "trustedPrincipals[1]", "trustedPrincipals[2]", "trustedPrincipals[3]", "trustedPrincipals[4]"]
    text = str(error)
    assert '  - trustedPrincipals[1]: got "ops@contoso.com"; an object id (a GUID)' in text
    assert "`az ad user show --id <name> --query id -o tsv`" in text
    assert "the same principal as trustedPrincipals[0]; list each principal once" in text


@pytest.mark.parametrize("value", ["0a1b2c3d-0000-4000-8000-000000000002", {"id": BREAK_GLASS}, True])
def test_anything_but_a_list_is_refused(value: Any) -> None:
    with pytest.raises(SettingsError, match=r"trustedPrincipals: got .*; a list, each entry an object id"):
        parse({"clients": CLIENTS, "trustedPrincipals": value})


def test_a_near_miss_of_the_key_is_named() -> None:
    error = problems_of({"clients": CLIENTS, "trustedPrincipal": [BREAK_GLASS]})
    assert "(did you mean `trustedPrincipals`?)" in str(error)
