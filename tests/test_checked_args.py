"""CheckedArgs: the settings looked up before the deferred identities are known keep everything else parsed."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pulumi

from components.checked_args import CheckedArgs
from components.settings.model import ManagedIdentityClientSettings
from components.settings.parse import parse_settings

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
OBJECT_ID = "11111111-2222-3333-4444-555555555555"


def test_settings_to_look_up_drops_only_the_deferred_identity() -> None:
    raw: dict[str, Any] = {"clients": {
        "later": {"kind": "managedIdentity", "existing": {"objectId": OBJECT_ID}},
        "logic": {"kind": "managedIdentity", "existing": {"displayName": "CSV2SCIMBulkUpload"}},
    }}
    secret_keys = frozenset({"clients"})
    settings = parse_settings(raw, "dev", NOW, secret_keys)
    deferred = {"later": cast(pulumi.Output[Any], object())}  # only its key is read here
    looked_up = CheckedArgs(raw, "dev", NOW, secret_keys, (), settings, deferred).settings_to_look_up()
    later = looked_up.clients["later"]
    assert isinstance(later, ManagedIdentityClientSettings)
    assert (later.existing, later.user_assigned) == (None, None), "looked up once its object id is known"
    assert looked_up.clients["logic"] == settings.clients["logic"]
    assert looked_up.secret_keys == secret_keys, "tenant errors keep hiding values under --secret keys"
    assert (looked_up.protect, looked_up.warnings, looked_up.stack) == (settings.protect, settings.warnings, "dev")
