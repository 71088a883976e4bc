"""Renewal across what can happen to a stack besides a good deploy: a deploy that fails half-way, a retry,
``pulumi destroy`` then ``up``, ``pulumi stack rename``, a targeted update, ``--continue-on-error``, a run killed
mid-create.

A failed deploy (``DeploySimulation.up(fail_at=…)``) keeps in the state what it created before the failure
(a credential, a new Key Vault secret version) and leaves the stack's outputs, and so the ledger, as the
last good deploy wrote them.  The retry must declare the credential it made, not a third one: a consumer may
already hold it from Key Vault.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from components.renewal import certificate_key_id
from components.stack_history import HistoryUnreadable
from tests.conftest import GRAPH_ROLES, LOGIC_APP, PROVISIONING_APP, secret_client
from tests.test_credentials_renewal import package_consumer
from tools.audit.model import Finding, Section
from tools.audit.orphans import mark_orphans
from tools.offline.azure import SECRET_TYPE
from tools.offline.deploys import CREDENTIAL_TYPES, Deploy, DeploySimulation, RunMode
from tools.offline.run import LAST_RUN, UNKNOWN
from tools.stack import pending

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
    simulation.state.clear()  # pulumi destroy: no resources (components included), no outputs
    simulation.components.clear()
    simulation.outputs = {}
    again = simulation.up(config, START + 30 * DAY, stack="hr-dev")
    assert len(again.of_kind("create", CREDENTIAL_TYPES)) == 1, "no history: one new credential"
    assert "superseded" not in again.run.outputs["clients"]["hr"]["renewal"]


def test_a_package_consumer_that_exports_the_clients_under_another_name_renews_from_the_components_own_record(
        ) -> None:
    """The component's own registered outputs hold its ledger whatever the program exports; only with neither that
    nor the stack's outputs holding a record, in a stack that has other outputs, does it stop, and say how to hand
    the ledger in."""
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    simulation.up({}, START, program=package_consumer("hrAccess", False, START))
    again = simulation.up({}, START + DAY, program=package_consumer("hrAccess", False, START + DAY))
    assert again.changes == [], "its own record read back: nothing replaced"
    simulation.components.clear()  # as if the component had never been deployed in this stack
    with pytest.raises(HistoryUnreadable, match="exports them under other names") as stopped:
        simulation.up({}, START + 2 * DAY, program=package_consumer("hrAccess", False, START + 2 * DAY))
    assert "`renewalLedger: {}` on the component's first deploy" in str(stopped.value)
    assert "nor has the component (urn:pulumi:dev::" in str(stopped.value)
    assert LAST_RUN[0].registrations == [], "stopped before anything was registered"
    passed = simulation.up({}, START + 2 * DAY, program=package_consumer("hrAccess", True, START + 2 * DAY))
    assert passed.changes == [], "its own ledger, handed in"


# -- partial runs: --target, --continue-on-error, a run killed mid-create -----------------------------------------


def renewal_due(simulation: DeploySimulation, config: dict[str, Any]) -> tuple[dt.datetime, str, str]:
    """A stack deployed at START: when its credential is due, the one handed out, and its successor's name."""
    first = simulation.up(config, START)
    due = dt.datetime.fromisoformat(first.run.outputs["clients"]["hr"]["credentialRenewsAt"])
    (handed_out,) = names(simulation)
    return due, handed_out, f"hr-secret-{due:%Y%m%d}"


@pytest.mark.parametrize("partial", [RunMode(targets={"hr-app"}), "continue-on-error"], ids=["target", "continue"])
def test_a_partial_update_at_renewal_keeps_the_credential_in_use_14_days_from_the_real_handout(
        partial: RunMode | str) -> None:
    """``--target`` skips the successor's create, ``--continue-on-error`` lets it fail: either way the outputs are
    written over it (the `clients` output unknown, the ledger readable), and the next deploy must neither take the
    stack for new nor count the 14 days from a handout that never happened."""
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    due, handed_out, successor = renewal_due(simulation, config)
    mode = partial if isinstance(partial, RunMode) else RunMode(fail_at=successor, continue_on_error=True)
    skipped = simulation.up(config, due + DAY, mode=mode)
    assert not skipped.of_kind("create", CREDENTIAL_TYPES)
    assert not skipped.of_kind("delete", CREDENTIAL_TYPES)
    assert simulation.outputs["clients"] == UNKNOWN, "what the engine stores over a skipped or failed create"
    ledger = simulation.outputs["renewalLedger"]["hr"]
    assert ledger["handedOut"]["generation"] == successor.removeprefix("hr-secret-")
    assert ledger["handedOut"]["fresh"]
    assert ledger["handedOut"]["keyId"] == UNKNOWN, "only the key id is unknown"

    after = simulation.up(config, due + 8 * DAY)
    assert [(c.kind, c.name) for c in after.changes if c.type in CREDENTIAL_TYPES] == [("create", successor)]
    assert names(simulation) == sorted([handed_out, successor]), "no third, the one in use kept"
    kept_until = dt.datetime.fromisoformat(simulation.outputs["renewalLedger"]["hr"]["superseded"]["keptUntil"])
    assert kept_until == after.now.replace(microsecond=0) + 14 * DAY, "14 days from the deploy that handed it out"
    simulation.up(config, after.now + 13 * DAY)
    assert names(simulation) == sorted([handed_out, successor])
    simulation.up(config, after.now + 14 * DAY)
    assert names(simulation) == [successor]


def test_a_run_killed_while_creating_a_secret_stops_the_next_make_up_until_the_orphan_is_gone() -> None:
    config = {"clients": {"hr": secret_client(lifetimeDays=90)}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    due, handed_out, successor = renewal_due(simulation, config)
    before = simulation.outputs
    killed = simulation.up(config, due + DAY, mode=RunMode(cancel_at=successor))
    assert killed.cancelled
    assert simulation.outputs is before
    (orphan,) = [d for d in simulation.credentials_in_entra("hr") if d.name not in names(simulation)]
    assert len(simulation.credentials_in_entra("hr")) == 2, "Entra: the one in use and the orphan"

    # `make up` reads the state's pending create and refuses, saying what to do.
    err = io.StringIO()
    export = Path(tempfile.mkstemp(suffix=".json")[1])
    export.write_text(json.dumps(simulation.export()))
    assert pending.main(["--stack", "dev", "--export", str(export)], err=err) == pending.EXIT_PENDING
    assert successor in err.getvalue()
    assert "make audit" in err.getvalue()
    # make audit names the orphan, by its key id, among what the stack did not register.
    section = Section("client hr", "hr", findings=[Finding("secret", "app registration", "'renewal'",
                                                           str(orphan.outputs["keyId"]), "hr's principal")])
    mark_orphans([section], pending.pending_creates(simulation.export()))
    assert (section.findings[0].kind, section.findings[0].object_id) == ("orphan", orphan.outputs["keyId"])

    # A bare `pulumi up` would warn and make it again: a third credential. The operator deletes the orphan and
    # clears the record instead; then the deploy renews as if nothing had happened.
    simulation.unmanaged.remove(orphan)
    simulation.clear_pending_creates()
    export.write_text(json.dumps(simulation.export()))
    assert pending.main(["--stack", "dev", "--export", str(export)]) == pending.EXIT_NONE
    retry = simulation.up(config, due + 2 * DAY)
    assert not retry.warnings
    assert names(simulation) == sorted([handed_out, successor])
    export.unlink()


def test_a_run_killed_while_registering_a_certificate_cannot_be_followed_by_a_third() -> None:
    """A generated certificate's key id is the program's: the retry meets the one Entra holds and the provider
    refuses to register it again; importing the pending create adopts it with the key pair the state holds."""
    config = {"clients": {"hr": vault_client(generate=True)}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    first = simulation.up(config, START)
    due = dt.datetime.fromisoformat(first.run.outputs["clients"]["hr"]["credentialRenewsAt"])
    successor = f"hr-certificate-{due:%Y%m%d}"
    simulation.up(config, due + DAY, mode=RunMode(cancel_at=successor))
    (orphan,) = [d for d in simulation.credentials_in_entra("hr") if d.name == successor]
    assert orphan.outputs["keyId"] == certificate_key_id("hr", successor.removeprefix("hr-certificate-"))

    retry = simulation.up(config, due + 2 * DAY)  # a bare `pulumi up`: the engine warns and goes on
    assert retry.warnings
    assert retry.failed == successor
    assert "already exists" in retry.error
    assert len(simulation.credentials_in_entra("hr")) == 2, "no third certificate"
    simulation.import_pending_create(successor, orphan.id)
    adopted = simulation.up(config, due + 3 * DAY)
    assert not adopted.failed
    assert not [c for c in adopted.changes if c.type in CREDENTIAL_TYPES]
    assert adopted.run.outputs["clients"]["hr"]["credentialKeyIds"][0] == orphan.outputs["keyId"]
    assert len(names(simulation)) == 2
