"""Renewal across what can happen to a stack besides a good deploy: a deploy that fails half-way, a retry,
``pulumi destroy`` then ``up``, ``pulumi stack rename``.

A failed deploy (``DeploySimulation.up(fail_at=…)``) keeps in the state what it created before the failure
(a credential, a new Key Vault secret version) and leaves the stack's outputs, and so the ledger, as the
last good deploy wrote them.  The retry must declare the credential it made, not a third one: a consumer may
already hold it from Key Vault.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from components.stack_history import HistoryUnreadable
from tests.conftest import GRAPH_ROLES, LOGIC_APP, PROVISIONING_APP, secret_client
from tests.test_credentials_renewal import package_consumer
from tools.offline.azure import SECRET_TYPE
from tools.offline.deploys import CREDENTIAL_TYPES, Deploy, DeploySimulation
from tools.offline.run import LAST_RUN

VAULT = ("/subscriptions/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b/resourceGroups/hr-rg/providers/"
         "Microsoft.KeyVault/vaults/hr-vault")
START = dt.datetime(2026, 11, 27, 6, 15, 42, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED = "tls:index/selfSignedCert:SelfSignedCert"


def vault_client(*readers: str, generate: bool = False) -> dict[str, Any]:
    credential = ({"type": "certificate", "generate": {"subject": "hr-sync", "validityDays": 90}} if generate
                  else {"type": "secret", "lifetimeDays": 90})
    return {"kind": "servicePrincipal", "credential": credential,
            "keyVault": {"vaultId": VAULT, "readers": [LOGIC_APP.object_id, *readers]}}


def names(simulation: DeploySimulation, key: str = "hr") -> list[str]:
    return sorted(d.name for d in simulation.credentials(key))


def vault_value(simulation: DeploySimulation) -> str:
    (secret,) = simulation.of_type(SECRET_TYPE)
    return str(secret.inputs["properties"]["value"])


def password_value(simulation: DeploySimulation, name: str) -> str:
    return str(simulation.state[f"{PASSWORD}::{name}"].outputs["value"])


SECOND_READER = PROVISIONING_APP.object_id
FAILING = f"hr-key-vault-reader-{SECOND_READER}"


def failed_renewal(generate: bool = False) -> tuple[DeploySimulation, Deploy, str, str, dict[str, Any]]:
    """A stack deployed at START, then a deploy at its renewal that also adds a Key Vault reader whose role
    assignment Resource Manager refuses (the deployer may not assign roles on the secret): after the new
    credential was created and written to Key Vault.  Also the config to retry with (the permission fixed)."""
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP, PROVISIONING_APP])
    first = simulation.up({"clients": {"hr": vault_client(generate=generate)}}, START)
    (handed_out,) = names(simulation)
    due = dt.datetime.fromisoformat(first.run.outputs["clients"]["hr"]["credentialRenewsAt"])
    before = simulation.outputs
    config = {"clients": {"hr": vault_client(SECOND_READER, generate=generate)}}
    failed = simulation.up(config, due + dt.timedelta(hours=3), fail_at=FAILING)
    assert failed.failed == FAILING
    assert simulation.outputs is before, "a failed deploy leaves the stack's outputs as they were"
    (made,) = [c.name for c in failed.of_kind("create", CREDENTIAL_TYPES)]
    assert failed.of_kind("update", [SECRET_TYPE]), "the failed deploy wrote the new one to Key Vault"
    assert not failed.of_kind("delete"), "the engine deletes only after a successful run"
    assert names(simulation) == sorted([handed_out, made])
    return simulation, failed, handed_out, made, config


@pytest.mark.parametrize("retry_after", [dt.timedelta(hours=2), 13 * DAY])
def test_a_retry_keeps_the_credential_the_failed_deploy_wrote_to_key_vault(retry_after: dt.timedelta) -> None:
    simulation, failed, handed_out, made, config = failed_renewal()
    assert vault_value(simulation) == password_value(simulation, made), "Key Vault already hands it out"

    retry = simulation.up(config, failed.now + retry_after)  # the permission fixed
    assert not retry.failed
    assert not [c for c in retry.changes if c.type in CREDENTIAL_TYPES], "no third credential, none dropped"
    assert not retry.of_kind("update", [SECRET_TYPE]), "Key Vault keeps the value it was given"
    assert [c.name for c in retry.of_kind("create")] == [FAILING]
    client = retry.run.outputs["clients"]["hr"]
    assert client["renewal"]["handedOut"]["generation"] == made.removeprefix("hr-secret-")
    assert client["renewal"]["superseded"]["generation"] == handed_out.removeprefix("hr-secret-")
    assert retry.run.outputs["clientCredentials"]["hr"]["clientSecret"] == password_value(simulation, made)
    assert dt.datetime.fromisoformat(client["credentialExpiresAt"]) - retry.now >= 30 * DAY

    # The superseded one goes 14 days after the retry handed its successor out in the outputs, not before.
    for week in (1, 2, 3):
        simulation.up(config, retry.now + week * 7 * DAY)
        assert names(simulation) == (sorted([handed_out, made]) if week < 2 else [made]), week


def test_a_retry_keeps_the_key_pair_the_failed_deploy_made() -> None:
    simulation, failed, _, made, config = failed_renewal(generate=True)
    keys = sorted(d.name for d in simulation.of_type(KEY))
    assert len(keys) == 2
    retry = simulation.up(config, failed.now + 7 * DAY)
    assert not [c for c in retry.changes if c.type in (*CREDENTIAL_TYPES, KEY, SELF_SIGNED, SECRET_TYPE)]
    assert sorted(d.name for d in simulation.of_type(KEY)) == keys
    assert retry.run.outputs["clients"]["hr"]["renewal"]["handedOut"]["generation"] == made.removeprefix(
        "hr-certificate-")


def test_a_retry_more_than_three_weeks_after_the_due_day_drops_the_failed_deploys_credential() -> None:
    """The documented limit: a credential made then may be too close to its end to hand out, so another is made."""
    simulation, failed, handed_out, made, config = failed_renewal()
    retry = simulation.up(config, failed.now + 22 * DAY)
    (created,) = [c.name for c in retry.of_kind("create", CREDENTIAL_TYPES)]
    assert [c.name for c in retry.of_kind("delete", CREDENTIAL_TYPES)] == [made]
    assert names(simulation) == sorted([handed_out, created]), "the last good deploy's one stays its 14 days"
    assert vault_value(simulation) == password_value(simulation, created)


def test_a_failed_first_deploy_then_a_retry_is_still_one_credential() -> None:
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    failed = simulation.up(config, START, fail_at="hr-grant-AuditLog.Read.All")
    assert failed.failed
    assert simulation.outputs == {}
    assert len(names(simulation)) == 1
    retry = simulation.up(config, START + DAY)
    assert len(names(simulation)) == 1, "the first deploy's orphan is dropped: no consumer had it"
    assert not [c for c in retry.changes if c.type == "azuread:index/application:Application"], "the app is kept"


def test_destroy_then_up_is_a_new_stack_and_a_renamed_stack_keeps_its_history() -> None:
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    simulation.up(config, START)
    renamed = simulation.up(config, START + 7 * DAY, stack="hr-dev")  # pulumi stack rename dev hr-dev
    # The StackReference follows the stack's new name, and its outputs moved with it.  (The default display
    # name holds the stack's name: the app is updated in place.)
    assert [(c.kind, c.name) for c in renamed.changes] == [("update", "hr-app")]
    # pulumi destroy: every resource deleted, and the root stack resource with its outputs.
    simulation.state.clear()
    simulation.outputs = {}
    again = simulation.up(config, START + 30 * DAY, stack="hr-dev")
    assert len(again.of_kind("create", CREDENTIAL_TYPES)) == 1, "no history: one new credential"
    assert "superseded" not in again.run.outputs["clients"]["hr"]["renewal"]


def test_a_package_consumer_that_exports_the_clients_under_another_name_is_stopped_not_renewed_blind() -> None:
    """Without the ledger every deploy on a new day would replace the credential: the component stops instead,
    and says how to hand the ledger in."""
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    simulation.up({}, START, program=package_consumer("hrAccess", False, START))
    with pytest.raises(HistoryUnreadable, match="none named `renewalLedger` or `clients`") as stopped:
        simulation.up({}, START + DAY, program=package_consumer("hrAccess", False, START + DAY))
    assert "pass `renewalLedger: {}`" in str(stopped.value)
    assert LAST_RUN[0].registrations == [], "stopped before anything was registered"
    passed = simulation.up({}, START + 2 * DAY, program=package_consumer("hrAccess", True, START + 2 * DAY))
    assert passed.changes == [], "its own ledger, handed in"
