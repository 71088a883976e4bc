"""Key Vault delivery (components/key_vault.py, components/settings/key_vault.py): the config it takes, the secret
and role assignments it registers, and what a renewal does to them in the deploy simulation."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.key_vault import ROLE_ASSIGNMENT_NAMESPACE, expires_epoch, reader_assignment_name, versionless
from components.settings.model import ServicePrincipalClientSettings
from components.settings.parse import parse_settings
from components.settings.problems import SettingsError
from tests.conftest import GRAPH_ROLES, LOGIC_APP, NOW, RunProgram, secret_client
from tools.offline.azure import ROLE_ASSIGNMENT_TYPE, SECRET_TYPE, OfflineVault
from tools.offline.deploys import DeploySimulation
from tools.offline.entra import OfflineEntra
from tools.offline.run import LAST_RUN, ProgramRun, run_offline
from tools.offline.values import self_signed_pem
from tools.plan import plan_diff
from tools.plan.key_vault import left_behind

SUBSCRIPTION = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
VAULT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/hr-rg/providers/Microsoft.KeyVault/vaults/hr-vault"
GROUP = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
READER = LOGIC_APP.object_id  # a managed identity: a service principal in the tenant
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
PEM = self_signed_pem("byo.example.com", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200))


def key_vault(**overrides: Any) -> dict[str, Any]:
    return {"vaultId": VAULT_ID, "readers": [READER], **overrides}


def problems_of(clients: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"clients": clients}, "dev", NOW)
    return [str(p) for p in caught.value.problems]


def run(config: dict[str, Any], stack: str = "dev") -> ProgramRun:
    entra = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP], now=NOW, people={GROUP: "Group"})
    return run_offline(entra, config, stack)


# -- config -------------------------------------------------------------------------------------------


def test_key_vault_settings_and_their_defaults() -> None:
    settings = parse_settings({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault(
        readers=[READER.upper(), GROUP])}}}, "dev", NOW)
    client = settings.clients["hr-sync"]
    assert isinstance(client, ServicePrincipalClientSettings)
    vault = client.key_vault
    assert vault is not None
    assert (vault.subscription_id, vault.resource_group_name, vault.vault_name) == (SUBSCRIPTION, "hr-rg", "hr-vault")
    assert vault.secret_name == "hr-sync", "the client key by default"
    assert vault.readers == (READER.lower(), GROUP)
    assert vault.secret_scope == f"{VAULT_ID}/secrets/hr-sync"


@pytest.mark.parametrize(("client", "path", "says"), [
    ({**secret_client(), "keyVault": key_vault(vaultId="hr-vault")}, "clients.c.keyVault.vaultId",
     "/subscriptions/<subscription GUID>/resourceGroups/<group>"),
    ({**secret_client(), "keyVault": key_vault(vaultId=VAULT_ID.replace(SUBSCRIPTION, "my-sub"))},
     "clients.c.keyVault.vaultId", "the subscription 'my-sub' is not a GUID"),
    ({**secret_client(), "keyVault": key_vault(vaultId=VAULT_ID.replace("hr-vault", "hr--vault"))},
     "clients.c.keyVault.vaultId", "breaks Azure's rule"),
    ({**secret_client(), "keyVault": key_vault(vaultId=VAULT_ID + "/secrets/x")}, "clients.c.keyVault.vaultId",
     "the vault's Azure resource id"),
    ({**secret_client(), "keyVault": {"readers": [READER]}}, "clients.c.keyVault.vaultId", "required"),
    ({**secret_client(), "keyVault": key_vault(secretName="hr_sync")}, "clients.c.keyVault.secretName",
     "1-127 characters of 0-9, a-z, A-Z and -"),
    ({**secret_client(), "keyVault": key_vault(secretName="x" * 128)}, "clients.c.keyVault.secretName",
     "1-127 characters"),
    ({**secret_client(), "keyVault": key_vault(readers=["logic-app"])}, "clients.c.keyVault.readers[0]",
     "an object id (a GUID)"),
    ({**secret_client(), "keyVault": key_vault(readers=[READER, READER.upper()])}, "clients.c.keyVault.readers[1]",
     "the same principal as readers[0]"),
    ({**secret_client(), "keyVault": key_vault(readers=READER)}, "clients.c.keyVault.readers", "a list"),
    ({**secret_client(), "keyVault": key_vault(vault="x")}, "clients.c.keyVault.vault", "unknown key"),
    ({**secret_client(), "keyVault": VAULT_ID}, "clients.c.keyVault", "expected an object"),
    ({"kind": "servicePrincipal", "keyVault": key_vault(), "credential": {
        "type": "federated", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:main"}},
     "clients.c.keyVault", "a federated credential has no secret"),
    ({"kind": "servicePrincipal", "keyVault": key_vault(), "credential": {"type": "certificate", "pem": [PEM]}},
     "clients.c.keyVault", "a bring-your-own certificate's private key never reaches the stack"),
    ({"kind": "managedIdentity", "existing": {"displayName": "x"}, "keyVault": key_vault()}, "clients.c.keyVault",
     "a managed identity has no secret material"),
])
def test_bad_key_vault_config_names_the_key_path(client: dict[str, Any], path: str, says: str) -> None:
    problems = problems_of({"c": client})
    assert any(p.startswith(f"{path}: ") and says in p for p in problems), problems


def test_two_clients_writing_one_secret_is_one_problem_naming_both() -> None:
    problems = problems_of({
        "a": {**secret_client(), "keyVault": key_vault(secretName="HR-Feed")},
        "b": {**secret_client(), "keyVault": key_vault(vaultId=VAULT_ID.upper(), secretName="hr-feed")},
        "c": {**secret_client(), "keyVault": key_vault(secretName="other")},
    })
    assert len(problems) == 1
    assert problems[0].startswith("clients.a.keyVault: got the same secret 'hr-feed' in the same vault as clients.b")


def test_one_vault_named_through_two_resource_ids_is_still_one_secret() -> None:
    # Vault names are global, and the secret is written by vault name in azure-native's subscription:
    # ids that differ only in subscription or group still name the one vault (and the one secret).
    other_subscription = VAULT_ID.replace(SUBSCRIPTION, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    problems = problems_of({
        "a": {**secret_client(), "keyVault": key_vault(secretName="hr-feed")},
        "b": {**secret_client(), "keyVault": key_vault(vaultId=other_subscription, secretName="hr-feed")},
    })
    assert len(problems) == 1
    assert problems[0].startswith("clients.a.keyVault: got the same secret 'hr-feed' in the same vault as clients.b")


def test_every_key_vault_problem_is_reported_at_once_and_nothing_is_registered(run_program: RunProgram) -> None:
    config = {"clients": {
        "a": {**secret_client(), "keyVault": key_vault(vaultId="nope", secretName="a b", readers=["x", 3])},
        "b": {"kind": "managedIdentity", "existing": {"displayName": "x"}, "keyVault": key_vault()},
    }}
    with pytest.raises(SettingsError) as caught:
        run_program(config)
    paths = [p.path for p in caught.value.problems]
    assert paths == ["clients.a.keyVault.vaultId", "clients.a.keyVault.secretName", "clients.a.keyVault.readers[0]",
                     "clients.a.keyVault.readers[1]", "clients.b.keyVault"]
    assert "nothing was created, changed or deleted" in str(caught.value)
    assert LAST_RUN[0].registrations == []
    assert LAST_RUN[0].calls == [], "nothing is read from the tenant either"


def test_a_reader_the_tenant_does_not_know_is_a_config_problem() -> None:
    unknown = "0d0c0b0a-0908-4706-8504-030201000000"
    with pytest.raises(SettingsError) as caught:
        run({"clients": {"a": {**secret_client(), "keyVault": key_vault(readers=[READER, unknown])}}})
    (problem,) = caught.value.problems
    assert problem.path == "clients.a.keyVault.readers[1]"
    assert "no user, group or service principal with this object id" in problem.allowed


# -- what it registers --------------------------------------------------------------------------------


def test_a_secret_client_is_written_to_its_secret_with_its_expiry() -> None:
    result = run({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault(readers=[READER, GROUP])}}})
    (secret,) = result.of_type(SECRET_TYPE)
    client = result.outputs["clients"]["hr-sync"]
    assert secret.name == "hr-sync-key-vault-secret"
    assert (secret.inputs["resourceGroupName"], secret.inputs["vaultName"], secret.inputs["secretName"]) == (
        "hr-rg", "hr-vault", "hr-sync")
    properties = secret.inputs["properties"]
    assert properties["value"] == result.outputs["clientCredentials"]["hr-sync"]["clientSecret"]
    assert properties["contentType"] == "text/plain", "vaults under Azure Policy's 'content type set' take it"
    assert properties["attributes"] == {"enabled": True, "expires": expires_epoch(client["credentialExpiresAt"])}
    assert secret.secret_inputs == {"properties"}, "the value is stored encrypted"
    assert secret.parent.endswith("ServicePrincipalClient::hr-sync")
    # The versionless URI, as the secret reports it, and not a secret output.
    assert client["keyVaultSecretUri"] == "https://hr-vault.vault.azure.net/secrets/hr-sync"
    assert "clients" not in result.secret_outputs


def test_a_generated_certificate_is_written_as_one_pem() -> None:
    result = run({"clients": {"hr-cert": {"kind": "servicePrincipal", "keyVault": key_vault(secretName="HrCert"),
                                          "credential": {"type": "certificate", "generate": {"subject": "hr"}}}}})
    (secret,) = result.of_type(SECRET_TYPE)
    material = result.outputs["clientCredentials"]["hr-cert"]
    value = secret.inputs["properties"]["value"]
    assert value == material["privateKeyPem"].rstrip("\n") + "\n" + material["certificatePem"].rstrip("\n") + "\n"
    assert value.splitlines()[0].endswith("PRIVATE KEY-----"), "the key first"
    assert secret.inputs["properties"]["contentType"] == "application/x-pem-file"
    assert secret.inputs["properties"]["attributes"]["expires"] == expires_epoch(
        result.outputs["clients"]["hr-cert"]["credentialExpiresAt"])
    assert result.outputs["clients"]["hr-cert"]["keyVaultSecretUri"].endswith("/secrets/HrCert")


def test_each_reader_gets_secrets_user_on_that_one_secret() -> None:
    result = run({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault(readers=[READER, GROUP])}}},
                 stack="prod")
    assignments = {r.inputs["principalId"]: r for r in result.of_type(ROLE_ASSIGNMENT_TYPE)}
    assert set(assignments) == {READER, GROUP}
    scope = f"{VAULT_ID}/secrets/hr-sync"
    for principal, expected_type in ((READER, "ServicePrincipal"), (GROUP, "Group")):
        assignment = assignments[principal]
        assert assignment.inputs["scope"] == scope, "the secret, never the vault"
        assert assignment.inputs["roleDefinitionId"] == (
            f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}")
        assert assignment.inputs["principalType"] == expected_type, "the tenant's type, not azure-native's User"
        assert assignment.inputs["roleAssignmentName"] == str(uuid.uuid5(
            ROLE_ASSIGNMENT_NAMESPACE, f"{scope.casefold()}|{SECRETS_USER}|{principal}"))
        assert assignment.protect, "a prod stack protects grants"
        assert any(d.endswith("::hr-sync-key-vault-secret") for d in assignment.dependencies)
    assert result.named("hr-sync-key-vault-secret").protect


def test_role_assignment_names_are_stable_and_case_blind() -> None:
    scope = f"{VAULT_ID}/secrets/hr-sync"
    assert reader_assignment_name(scope, READER) == reader_assignment_name(scope.upper(), READER.upper())
    assert reader_assignment_name(scope, READER) != reader_assignment_name(scope, GROUP)


def test_a_client_without_key_vault_registers_neither_type() -> None:
    result = run({"clients": {"hr-sync": secret_client()}})
    assert result.of_type(SECRET_TYPE) == result.of_type(ROLE_ASSIGNMENT_TYPE) == []
    assert "keyVaultSecretUri" not in result.outputs["clients"]["hr-sync"]


def test_versionless_strips_a_version() -> None:
    uri = "https://hr-vault.vault.azure.net/secrets/hr-sync"
    assert versionless(uri) == uri
    assert versionless(f"{uri}/0123456789abcdef0123456789abcdef") == uri
    assert versionless(f"{uri}/") == uri


# -- across a renewal, in the deploy simulation --------------------------------------------------------


def test_a_renewal_writes_a_new_version_and_replaces_nothing() -> None:
    config = {"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault()}}}
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    first = simulation.up(config, NOW)
    (secret,) = simulation.of_type(SECRET_TYPE)
    (assignment,) = simulation.of_type(ROLE_ASSIGNMENT_TYPE)
    secret_id, assignment_id = secret.id, assignment.id
    version_1 = secret.outputs["properties"]["secretUriWithVersion"]
    assert "value" not in secret.outputs["properties"], "Resource Manager never returns the value"

    # Within the period: nothing changes.
    again = simulation.up(config, NOW + dt.timedelta(days=7))
    assert again.of_kind("update") == again.of_kind("replace") == again.of_kind("create") == []

    renews_at = dt.datetime.fromisoformat(first.run.outputs["clients"]["hr-sync"]["credentialRenewsAt"])
    renewal = simulation.up(config, renews_at + dt.timedelta(days=1))
    kinds = {(c.kind, c.type) for c in renewal.changes}
    assert ("update", SECRET_TYPE) in kinds
    assert not {c for c in renewal.changes if c.type in (SECRET_TYPE, ROLE_ASSIGNMENT_TYPE)
                and c.kind in ("create", "replace", "delete")}
    (update,) = renewal.of_kind("update", [SECRET_TYPE])
    assert update.fields == ("properties",)
    (secret,) = simulation.of_type(SECRET_TYPE)
    (assignment,) = simulation.of_type(ROLE_ASSIGNMENT_TYPE)
    assert (secret.id, assignment.id) == (secret_id, assignment_id)
    version_2 = secret.outputs["properties"]["secretUriWithVersion"]
    assert version_2 != version_1
    assert versionless(version_2) == versionless(version_1)
    outputs = renewal.run.outputs
    assert secret.inputs["properties"]["value"] == outputs["clientCredentials"]["hr-sync"]["clientSecret"]
    assert secret.inputs["properties"]["attributes"]["expires"] == expires_epoch(
        outputs["clients"]["hr-sync"]["credentialExpiresAt"])
    assert outputs["clients"]["hr-sync"]["keyVaultSecretUri"] == first.run.outputs["clients"]["hr-sync"][
        "keyVaultSecretUri"]


class _EchoingAzure(OfflineEntra):
    """azure-native answering the secret's ``properties`` with a value in it. Resource Manager returns none;
    whether azure-native keeps the value it sent in its outputs is not verified. If it does, the engine marks
    it secret (pulumi's ``annotateSecrets``: an output whose input held a secret), and the SDK then makes all
    of ``properties`` secret."""

    def new_resource(self, args: Any) -> tuple[str | None, dict[str, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ == SECRET_TYPE:
            state["properties"] = {**state["properties"], "value": pulumi.Output.secret("the value sent")}
        return resource_id, state


def test_the_uri_stays_a_plain_output_when_the_secret_comes_back_secret() -> None:
    entra = _EchoingAzure(GRAPH_ROLES, directory=[LOGIC_APP], now=NOW, people={GROUP: "Group"})
    result = run_offline(entra, {"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault()}}})
    # One secret part would otherwise make all of `clients` secret: `pulumi stack output --json` would print
    # "[secret]" for it, and make audit, adopt, verify and the example client could not read their ids.
    assert "clients" not in result.secret_outputs
    assert result.outputs["clients"]["hr-sync"]["keyVaultSecretUri"] == "https://hr-vault.vault.azure.net/secrets/hr-sync"


# -- failing closed: the vault read first, the secret never deleted ------------------------------------------------


OTHER = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


@pytest.mark.parametrize(("vault", "subscription", "says"), [
    (OfflineVault(rbac=False), SUBSCRIPTION, "this vault uses access policies (enableRbacAuthorization is false)"),
    (None, SUBSCRIPTION, "this vault cannot be read: it does not exist"),
    (OfflineVault(readable=False), SUBSCRIPTION, "Microsoft.KeyVault/vaults/read"),
    (OfflineVault(tenant_id=OTHER), SUBSCRIPTION, f"this vault belongs to tenant {OTHER}"),
    (OfflineVault(), OTHER, f"this vault is in subscription {OTHER}, but azure-native deploys to subscription"),
])
def test_a_vault_that_would_not_keep_the_promise_is_refused_before_anything_is_registered(
        vault: OfflineVault | None, subscription: str, says: str) -> None:
    entra = OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP], now=NOW)
    entra.azure.vaults = {"hr-vault": vault}
    config = {"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault(
        vaultId=VAULT_ID.replace(SUBSCRIPTION, subscription))}}}
    with pytest.raises(SettingsError) as caught:
        run_offline(entra, config)
    (problem,) = caught.value.problems
    assert problem.path == "clients.hr-sync.keyVault.vaultId"
    assert says in problem.allowed, problem.allowed
    assert LAST_RUN[0].registrations == []


def test_a_secret_named_with_32_hex_digits_keeps_its_name_in_its_uri() -> None:
    name = "0123456789abcdef0123456789abcdef"
    assert versionless(f"https://hr-vault.vault.azure.net/secrets/{name}") == (
        f"https://hr-vault.vault.azure.net/secrets/{name}")
    assert versionless(f"https://hr-vault.vault.azure.net/secrets/{name}/{'f' * 32}") == (
        f"https://hr-vault.vault.azure.net/secrets/{name}")
    result = run({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault(secretName=name)}}})
    assert result.outputs["clients"]["hr-sync"]["keyVaultSecretUri"].endswith(f"/secrets/{name}")


@pytest.mark.parametrize("change", ["remove", "rename"])
def test_the_secret_readers_read_is_left_in_its_vault_never_deleted(change: str) -> None:
    """azure-native deletes a secret through the data plane, which the deployer may not: without retainOnDelete
    the deploy that drops it fails with 403 (and, on a rename, after the readers were cut off)."""
    simulation = DeploySimulation(GRAPH_ROLES, directory=[LOGIC_APP])
    first = simulation.up({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault()}}}, NOW)
    (secret,) = simulation.of_type(SECRET_TYPE)
    client = secret_client() if change == "remove" else {**secret_client(), "keyVault": key_vault(secretName="hr-2")}
    dropped = simulation.up({"clients": {"hr-sync": client}}, NOW + dt.timedelta(days=1))
    assert not dropped.failed, dropped.error
    assert [c.name for c in dropped.of_kind("retain")] == [secret.name]
    assert secret in simulation.unmanaged, "still in its vault, with the last credential written to it"
    # Its readers lose it now: their assignments are deleted (or, on a rename, moved to the new secret).
    assert [c.type for c in dropped.changes if c.kind in ("delete", "replace") and c.type != SECRET_TYPE] == [
        ROLE_ASSIGNMENT_TYPE]
    uri = first.run.outputs["clients"]["hr-sync"]["keyVaultSecretUri"]
    behind = left_behind(first.run.outputs["clients"], dropped.run.outputs["clients"])
    assert [(b.client, b.uri) for b in behind] == [("hr-sync", uri)]
    assert ("must read the new secret, https://hr-vault.vault.azure.net/secrets/hr-2" if change == "rename"
            else "must read the credential elsewhere") in behind[0].sentence()

    # Back to the first name: the secret left behind exists, which azure-native refuses to create over; the deploy
    # says so first, with how to import it.
    back = simulation.up({"clients": {"hr-sync": {**secret_client(), "keyVault": key_vault()}}},
                         NOW + dt.timedelta(days=2))
    assert back.failed == "hr-sync-key-vault-secret"
    assert "cannot create already existing resource" in back.error
    (warning,) = [m for level, m in back.run.logs if level == "warning" and "already exists" in m]
    assert f"pulumi import azure-native:keyvault:Secret hr-sync-key-vault-secret '{secret.id}'" in warning


def test_make_plan_diff_names_the_secret_left_behind(tmp_path: Path) -> None:
    base = tmp_path / "base" / "Pulumi.dev.yaml"
    head = tmp_path / "Pulumi.dev.yaml"
    for path, client in ((base, {**secret_client(), "keyVault": key_vault()}), (head, secret_client())):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({"config": {"inbound-provisioning-access:clients": {"hr-sync": client}}}))
    out = io.StringIO()
    plan_diff.main(["--base", str(base), "--pr", str(head), "--code-commit", "c"], out=out)
    assert "Key Vault secret left behind**: hr-sync: https://hr-vault.vault.azure.net/secrets/hr-sync is left" in (
        out.getvalue())
