"""The stack-file policy, per resource as it is registered (policy/stack_file.py): only what Pulumi.<stack>.yaml
declares. The whole-stack exact match runs in tests/test_policy_stack_rules.py, on that module's one program run."""

from __future__ import annotations

from typing import Any

import pytest

from policy import resource_types as t
from policy.existing_identities import EXISTING_CONFIG
from policy.stack_file import POLICY, STACK_FILE_CONFIG
from tests.conftest import LOGIC_APP, ROLE_ID, secret_client
from tests.test_policy_allowlist import ACCESS, EVERYTHING, declared, resource_violations

SP, MI, APP = t.SERVICE_PRINCIPAL_CLIENT, t.MANAGED_IDENTITY_CLIENT, t.PROVISIONING_APP
ADOPTED_APP = "4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6c7d"
ADOPTED_SP = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e"
CONFIG: dict[str, Any] = {**EVERYTHING, "clients": {
    **EVERYTHING["clients"],
    "adopted": {**secret_client(), "adopt": {"application": ADOPTED_APP, "servicePrincipal": ADOPTED_SP}},
}}
# What tools/policy-config.sh writes for CONFIG's stack file (test_policy_allowlist runs the script itself).
POLICY_CONFIG = {POLICY: {STACK_FILE_CONFIG: declared("dev", CONFIG), EXISTING_CONFIG: {"logic": LOGIC_APP.object_id}}}


def parent(key: str, typ: str = SP) -> str:
    return f"urn:pulumi:dev::inbound-provisioning-access::{ACCESS}${typ}::{key}"


def judged(typ: str, props: dict[str, Any], *, name: str, under: str | None, kind: str = SP) -> list[str]:
    """What every resource policy says, with the config tools/policy-config.sh writes for CONFIG's stack file."""
    parents = (ACCESS,) if under is None else (ACCESS, kind if typ != t.APPLICATION_OWNER else APP)
    return resource_violations(typ, props, name=name, parents=parents, parent=parent(under, kind) if under else None,
                               config=POLICY_CONFIG)


def test_a_client_added_in_code_only_is_refused_naming_it() -> None:
    [message] = judged(SP, {}, name="sneaky", under=None)
    assert message.startswith("sneaky (")
    assert "client added in code only" in message
    assert "clients.sneaky" in message


def test_a_declared_client_of_another_kind_is_refused() -> None:
    [message] = judged(MI, {}, name="secret", under=None)
    assert "clients.secret.kind is 'servicePrincipal'" in message


def test_the_declared_clients_pass() -> None:
    assert judged(SP, {}, name="secret", under=None) == []
    assert judged(MI, {}, name="logic", under=None) == []


def test_a_grant_the_client_is_not_declared_to_hold_is_refused() -> None:
    grant = {"appRoleId": ROLE_ID["AuditLog.Read.All"], "principalObjectId": "p", "resourceObjectId": "g"}
    [message] = judged(t.APP_ROLE_ASSIGNMENT, grant, name="secret-grant-AuditLog.Read.All", under="secret")
    assert "grants AuditLog.Read.All, which clients.secret is not declared to hold" in message


def test_a_grant_of_an_existing_identity_to_a_foreign_principal_is_refused() -> None:
    foreign = "99999999-9999-4999-8999-999999999999"
    grant = {"appRoleId": ROLE_ID["ProvisioningLog.Read.All"], "principalObjectId": foreign}
    [message] = judged(t.APP_ROLE_ASSIGNMENT, grant, name="logic-grant-ProvisioningLog.Read.All", under="logic",
                       kind=MI)
    assert f"grants to principal {foreign}, not to client 'logic''s principal {LOGIC_APP.object_id}" in message
    grant["principalObjectId"] = LOGIC_APP.object_id
    assert judged(t.APP_ROLE_ASSIGNMENT, grant, name="logic-grant-ProvisioningLog.Read.All", under="logic",
                  kind=MI) == []


def test_a_password_on_another_app_than_the_adopted_one_is_refused() -> None:
    password = {"applicationId": "/applications/the-deployers-own-app", "endDate": "2027-01-01T00:00:00Z"}
    [message] = judged(t.APPLICATION_PASSWORD, password, name="adopted-secret-20261127", under="adopted")
    assert "the-deployers-own-app" in message
    assert ADOPTED_APP in message
    password["applicationId"] = f"/applications/{ADOPTED_APP}"
    assert judged(t.APPLICATION_PASSWORD, password, name="adopted-secret-20261127", under="adopted") == []


def test_a_grant_of_an_adopted_client_to_another_principal_is_refused() -> None:
    grant = {"appRoleId": ROLE_ID["ProvisioningLog.Read.All"], "principalObjectId": LOGIC_APP.object_id}
    [message] = judged(t.APP_ROLE_ASSIGNMENT, grant, name="adopted-grant-ProvisioningLog.Read.All", under="adopted")
    assert ADOPTED_SP in message


@pytest.mark.parametrize(("typ", "under"), [(t.APPLICATION_PASSWORD, "federated"),
                                            (t.FEDERATED_CREDENTIAL, "secret"),
                                            (t.PRIVATE_KEY, "secret"), (t.APPLICATION_CERTIFICATE, "secret")])
def test_a_credential_of_another_form_than_declared_is_refused(typ: str, under: str) -> None:
    found = judged(typ, {"endDate": "2027-01-01T00:00:00Z"}, name=f"{under}-extra", under=under)
    assert any(f"clients.{under}.credential is" in m for m in found), found


def test_a_federated_credential_trusting_another_subject_is_refused() -> None:
    props = {"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:attacker/any:ref:main",
             "audiences": ["api://AzureADTokenExchange"]}
    [message] = judged(t.FEDERATED_CREDENTIAL, props, name="federated-federated", under="federated")
    assert "repo:attacker/any:ref:main" in message
    assert "repo:contoso/hr:environment:prod" in message


def test_a_reader_the_stack_file_does_not_list_is_refused() -> None:
    vault = EVERYTHING["clients"]["delivered"]["keyVault"]["vaultId"]
    reader = {"principalId": "99999999-9999-4999-8999-999999999999", "scope": f"{vault}/secrets/delivered",
              "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                                  "4633458b-17de-408a-b874-0445c86b69e6"}
    [message] = judged(t.ROLE_ASSIGNMENT, reader, name="delivered-key-vault-reader-x", under="delivered")
    assert "keyVault.readers does not list it" in message
    reader["principalId"] = LOGIC_APP.object_id
    assert judged(t.ROLE_ASSIGNMENT, reader, name="delivered-key-vault-reader-x", under="delivered") == []
    [elsewhere] = judged(t.ROLE_ASSIGNMENT, {**reader, "scope": f"{vault}/secrets/payroll"}, name="r",
                         under="delivered")
    assert "not to clients.delivered.keyVault's secret" in elsewhere


def test_a_key_vault_secret_of_a_client_without_key_vault_is_refused() -> None:
    [message] = judged(t.KEY_VAULT_SECRET, {"vaultName": "kv", "secretName": "s"}, name="secret-kv", under="secret")
    assert "clients.secret declares no keyVault" in message


def test_an_owner_of_the_provisioning_app_must_be_a_declared_owned_by_client() -> None:
    owner = {"applicationId": "/applications/app", "ownerObjectId": "p"}
    [message] = judged(t.APPLICATION_OWNER, owner, name="provisioningApp-owner-secret", under="provisioningApp",
                       kind=APP)
    assert "clients.secret is not declared to hold SynchronizationData-User.Upload.OwnedBy" in message
    assert judged(t.APPLICATION_OWNER, owner, name="provisioningApp-owner-owner", under="provisioningApp",
                  kind=APP) == []


def test_without_the_declaration_the_resource_policy_leaves_it_to_the_whole_stack() -> None:
    assert resource_violations(SP, {}, name="sneaky", parents=(ACCESS,)) == []
