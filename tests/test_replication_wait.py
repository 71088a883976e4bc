"""The replication wait's own provider: it waits on create, and again only for a new service principal."""

from __future__ import annotations

import pytest

from components.replication_wait import _ReplicationWaitProvider


def test_it_waits_once_and_again_only_for_a_new_principal(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("components.replication_wait.time.sleep", slept.append)
    provider = _ReplicationWaitProvider()
    created = provider.create({"servicePrincipalObjectId": "sp-1", "seconds": 60})
    assert slept == [60]
    assert created.id == "sp-1"
    same = provider.diff("sp-1", {"servicePrincipalObjectId": "sp-1", "seconds": 60},
                         {"servicePrincipalObjectId": "sp-1", "seconds": 60})
    assert same.changes is False
    assert not same.replaces, "a later run does not wait"
    replaced = provider.diff("sp-1", {"servicePrincipalObjectId": "sp-1", "seconds": 60},
                             {"servicePrincipalObjectId": "sp-2", "seconds": 60})
    assert replaced.replaces == ["servicePrincipalObjectId"], "a replaced app waits again"
    longer = provider.diff("sp-1", {"servicePrincipalObjectId": "sp-1", "seconds": 60},
                           {"servicePrincipalObjectId": "sp-1", "seconds": 90})
    assert longer.changes is True
    assert not longer.replaces, "a new duration applies to the next new principal, without waiting now"
    assert slept == [60]
