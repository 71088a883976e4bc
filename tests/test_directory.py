"""Reads from the tenant before anything is registered: lookups that match nothing, or several."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings.problems import SettingsError
from tests.conftest import (
    DUPLICATE_A,
    DUPLICATE_B,
    LOGIC_APP,
    PROVISIONING_APP,
    RunProgram,
    existing_identity,
    job_for,
    secret_client,
)
from tools.offline.entra import DirectoryEntry, OfflineEntra, mock_guid
from tools.offline.run import LAST_RUN

GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"




def test_display_name_matching_nothing_says_use_object_id(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"logic-app": existing_identity(displayName="CSV2SCIMBulkUplod")}})
    message = str(caught.value)
    assert "clients.logic-app.existing.displayName: got \"CSV2SCIMBulkUplod\"" in message
    assert "no service principal has this display name in the tenant; check it, or use objectId" in message
    assert LAST_RUN[0].registrations == []


def test_display_name_matching_several_says_use_object_id(run_program: RunProgram) -> None:
    assert DUPLICATE_A.display_name == DUPLICATE_B.display_name
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"feed": existing_identity(displayName="hr-feed")}})
    message = str(caught.value)
    assert "clients.feed.existing.displayName: got \"hr-feed\"; several service principals have this display name; " \
           "use objectId to say which one" in message
    assert LAST_RUN[0].registrations == []


def test_a_duplicate_name_among_many_is_pinned_to_its_client(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"feed": existing_identity(displayName="hr-feed"),
                                 "logic-app": existing_identity(displayName=LOGIC_APP.display_name)}})
    assert [p.path for p in caught.value.problems] == ["clients.feed.existing.displayName"]


def test_unknown_object_id_fails_before_registration(run_program: RunProgram) -> None:
    with pytest.raises(SettingsError, match=r"clients\.x\.existing\.objectId: .*no service principal has this "
                                            r"object id"):
        run_program({"clients": {"x": existing_identity(objectId="00000000-0000-4000-8000-000000000404")}})
    assert LAST_RUN[0].registrations == []


def test_existing_identities_are_looked_up_in_one_read_per_lookup_kind(run_program: RunProgram,
                                                                       entra: OfflineEntra) -> None:
    entra.directory += [DirectoryEntry(f"logic-{i}", mock_guid("la", str(i)), mock_guid("lac", str(i)))
                        for i in range(5)]
    clients: dict[str, Any] = {f"la-{i}": existing_identity(displayName=f"logic-{i}") for i in range(5)}
    clients["by-id"] = existing_identity(objectId=LOGIC_APP.object_id)
    run = run_program({"clients": clients})
    lists = run.calls_to("azuread:index/getServicePrincipals:getServicePrincipals")
    assert len(lists) == 2
    assert sorted(lists[0].get("displayNames") or lists[1]["displayNames"]) == [f"logic-{i}" for i in range(5)]
    assert len(run.of_type(GRANT)) == 12


def test_job_from_another_tenant_is_refused(run_program: RunProgram) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(SettingsError, match=f"belongs to tenant {other}"):
        run_program({"clients": {"hr": secret_client()},
                     "provisioningApp": {"displayName": PROVISIONING_APP.display_name, "jobId": job_for(other)}})
    assert LAST_RUN[0].registrations == []


def test_unknown_provisioning_app_name_is_refused(run_program: RunProgram, entra: OfflineEntra) -> None:
    with pytest.raises(SettingsError, match=r"provisioningApp\.displayName: got \"Workday inbound\"; no service "
                                            r"principal has this display name"):
        run_program({"clients": {"hr": secret_client()},
                     "provisioningApp": {"displayName": "Workday inbound", "jobId": job_for(entra.tenant_id)}})
    assert LAST_RUN[0].registrations == []


def test_a_lookup_miss_under_a_secret_key_does_not_show_the_value(run_program: Any) -> None:
    """`pulumi config set --secret` on `clients`: a tenant lookup that fails names the path, not the value."""

    with pytest.raises(SettingsError) as caught:
        run_program({"clients": {"mi": {"kind": "managedIdentity",
                                        "existing": {"displayName": "confidential-logic-app-name"}}}},
                    secret_keys=["clients"])
    text = str(caught.value)
    assert "clients.mi.existing.displayName: got <secret, not shown>; no service principal" in text
    assert "confidential-logic-app-name" not in text
