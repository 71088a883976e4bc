"""The whole-stack policy: imported and read resources (which per-resource policies never see), rules
between resources, and unknown values during preview."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy import resource_types as t
from policy.access_fields import KEY_VAULT_SECRETS_USER
from policy.stack_file import STACK_FILE_CONFIG
from tests.conftest import ROLE_ID, new_entra
from tests.test_policy import POLICIES, args
from tests.test_policy_allowlist import (
    STACK_POLICY,
    collector,
    options,
    run_everything,
    stack_config,
    stack_resources,
    stack_violations,
    urn,
)
from tools.offline.entra import OfflineEntra

ACCESS_FIELDS = POLICIES["access-fields"]


@pytest.fixture(scope="module")
def dev_stack() -> list[PolicyResource]:
    """The whole dev stack, from one run of the program per module (the tests change only copies)."""
    run, monitor = run_everything(new_entra(), "dev")
    return stack_resources(run, monitor, "dev")


@pytest.fixture
def stack(dev_stack: list[PolicyResource]) -> list[PolicyResource]:
    return copy.deepcopy(dev_stack)


def named(resources: list[PolicyResource], name: str) -> PolicyResource:
    [found] = [r for r in resources if r.name == name]
    return found


def with_props(resource: PolicyResource, **props: Any) -> None:
    resource.props = {**copy.deepcopy(dict(resource.props)), **props}


def test_an_imported_foreign_resource_is_refused_by_the_stack_policy(stack: list[PolicyResource],
                                                                     entra: OfflineEntra) -> None:
    # `import` skips the per-resource analysis: only the stack policy sees it.
    client = named(stack, "secret")
    typ = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
    imported = PolicyResource(typ, {"roleId": "62e90394-69f5-4237-9190-012177145e10"},
                              urn(typ, "ga", (t.ACCESS, t.SERVICE_PRINCIPAL_CLIENT)), "ga", options(), None, client,
                              [], {})
    [message] = stack_violations([*stack, imported], entra.graph_object_id)
    assert typ in message


def test_a_read_stack_reference_to_another_stack_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    typ = "pulumi:pulumi:StackReference"
    reference = PolicyResource(typ, {"name": "organization/payroll/prod", "outputs": {}},
                               urn(typ, "organization/payroll/prod"), "organization/payroll/prod",
                               options(), None, None, [], {})
    [message] = stack_violations([*stack, reference], entra.graph_object_id)
    assert "StackReference" in message
    assert "payroll" in message


def test_a_grant_to_another_clients_principal_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    other = named(stack, "rotated-sp").props["objectId"]
    with_props(named(stack, "secret-grant-ProvisioningLog.Read.All"), principalObjectId=other)
    [message] = stack_violations(stack, entra.graph_object_id)
    assert f"grants to principal {other}" in message


def test_a_grant_to_another_principal_than_the_user_assigned_identity_is_refused(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    with_props(named(stack, "uami-grant-ProvisioningLog.Read.All"), principalObjectId="someone-else")
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "someone-else" in message


def test_a_secret_on_another_app_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    password = next(r for r in stack if r.resource_type == t.APPLICATION_PASSWORD and r.name.startswith("secret-"))
    with_props(password, applicationId="/applications/the-deployers-own-app")
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "the-deployers-own-app" in message


def test_a_service_principal_of_another_app_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    with_props(named(stack, "secret-sp"), clientId="another-app")
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "another-app" in message


def test_an_owner_of_the_provisioning_app_must_hold_owned_by(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    owner = next(r for r in stack if r.resource_type == t.APPLICATION_OWNER)
    with_props(owner, ownerObjectId="attacker")
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "attacker" in message
    assert "OwnedBy" in message


def test_the_job_on_another_service_principal_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    job = next(r for r in stack if r.resource_type == t.SYNCHRONIZATION_JOB)
    with_props(job, servicePrincipalId="/servicePrincipals/elsewhere")
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "elsewhere" in message


SUB = "/subscriptions/00000000-0000-4000-8000-000000000000"


def key_vault(stack: list[PolicyResource], secret_scope: str) -> list[PolicyResource]:
    client = named(stack, "secret")
    parents = (t.ACCESS, t.SERVICE_PRINCIPAL_CLIENT)
    secret = PolicyResource(t.KEY_VAULT_SECRET, {"vaultName": "kv-hr", "secretName": "secret",
                                                 "resourceGroupName": "rg-hr", "properties": {"value": "s"}},
                            urn(t.KEY_VAULT_SECRET, "secret-kv", parents), "secret-kv", options(), None, client, [], {})
    role = PolicyResource(t.ROLE_ASSIGNMENT, {
        "roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_SECRETS_USER}",
        "scope": f"{SUB}/resourceGroups/rg-hr/providers/Microsoft.KeyVault/vaults/kv-hr/secrets/{secret_scope}",
        "principalId": "11111111-1111-4111-8111-111111111111"},
        urn(t.ROLE_ASSIGNMENT, "secret-reader", parents), "secret-reader", options(), None, client, [], {})
    return [*stack, secret, role]


def key_vault_config(entra: OfflineEntra) -> dict[str, Any]:
    """The stack file of key_vault(): client `secret` delivers to secret `secret` of vault kv-hr, for one reader."""
    config = stack_config(entra.graph_object_id)
    config[STACK_FILE_CONFIG]["clients"]["secret"]["keyVault"] = {
        "vaultId": f"{SUB}/resourceGroups/rg-hr/providers/Microsoft.KeyVault/vaults/kv-hr", "vaultName": "kv-hr",
        "resourceGroupName": "rg-hr", "secretName": "secret", "readers": ["11111111-1111-4111-8111-111111111111"]}
    return config


def test_key_vault_delivery_passes(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    assert stack_violations(key_vault(stack, "secret"), entra.graph_object_id, key_vault_config(entra)) == []


def test_a_reader_of_a_secret_the_stack_does_not_write_is_refused(stack: list[PolicyResource],
                                                                  entra: OfflineEntra) -> None:
    found = stack_violations(key_vault(stack, "payroll-db-password"), entra.graph_object_id, key_vault_config(entra))
    assert any("which this stack does not write" in m for m in found), found
    assert all("payroll-db-password" in m for m in found), found


def test_grants_are_checked_again_over_the_whole_stack(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    # An imported grant of a role the program never grants: per-resource policies never saw it.
    with_props(named(stack, "logic-grant-ProvisioningLog.Read.All"), appRoleId=ROLE_ID["Directory.ReadWrite.All"])
    found = stack_violations(stack, entra.graph_object_id)
    assert any("not one of the allowed Graph permissions" in m for m in found), found


def test_an_adopted_app_is_judged_by_the_programs_inputs_not_the_portals_outputs(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    # Previewing an adoption: the imported app still has its portal owner and User.Read; the program's
    # inputs (no owners, the granted roles only) are applied right after the import.
    with_props(named(stack, "secret-app"), owners=["the-person-who-registered-it"], requiredResourceAccesses=[
        {"resourceAppId": "00000003-0000-0000-c000-000000000000",
         "resourceAccesses": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}])
    assert stack_violations(stack, entra.graph_object_id) == []
    named(stack, "secret-app").urn = named(stack, "secret-app").urn.replace(t.SERVICE_PRINCIPAL_CLIENT, t.ACCESS)
    [message] = stack_violations(stack, entra.graph_object_id)
    assert "allowed only under" in message, "the allow-list still holds for them"


def test_unknown_values_leave_the_known_checks_mandatory_and_the_rest_advisory(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    # During preview a new client's ids are unknown: what is known is still judged, then the
    # analyzer is told what could not be (it reports that as advisory).
    named(stack, "secret-sp").props = unknown_checking_proxy({"clientId": UNKNOWN_STRING_VALUE,
                                                              "objectId": UNKNOWN_STRING_VALUE})
    for grant in _grants_of(stack, "secret"):  # computed from that principal, so unknown too
        grant.props = unknown_checking_proxy({**dict(grant.props), "principalObjectId": UNKNOWN_STRING_VALUE})
    with_props(named(stack, "rotated-sp"), clientId="another-app")
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        STACK_POLICY.validate(StackValidationArgs(stack, stack_config(entra.graph_object_id)),
                              collector(found))
    assert len(found) == 1
    assert "another-app" in found[0]


def test_unknown_fields_of_one_resource_leave_its_other_fields_mandatory() -> None:
    props = unknown_checking_proxy({"displayName": "x", "signInAudience": UNKNOWN_STRING_VALUE,
                                    "password": {"displayName": "forever"}})
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        ACCESS_FIELDS.validate(args(t.APPLICATION, props), collector(found))
    assert len(found) == 1
    assert "inline `password`" in found[0]


def _grants_of(resources: list[PolicyResource], client: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == t.APP_ROLE_ASSIGNMENT and r.parent is not None
            and r.parent.name == client]


def _without(resources: list[PolicyResource], typ: str, client: str) -> list[PolicyResource]:
    return [r for r in resources if not (r.resource_type == typ and r.parent is not None and r.parent.name == client)]


def test_a_service_principal_of_a_foreign_app_with_no_app_registration_beside_it_is_refused(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    # Without its client's app, nothing said whose app the service principal was: one of another
    # tenant's multi-tenant apps would have received the client's Graph roles.
    [sp] = [r for r in stack if r.resource_type == t.SERVICE_PRINCIPAL and r.parent is not None
            and r.parent.name == "secret"]
    with_props(sp, clientId="11111111-2222-3333-4444-555555555555")
    found = stack_violations(_without(stack, t.APPLICATION, "secret"), entra.graph_object_id)
    assert any("no app registration" in message for message in found), found


def test_a_grant_in_a_client_with_no_service_principal_is_refused(stack: list[PolicyResource],
                                                                  entra: OfflineEntra) -> None:
    with_props(named(stack, "secret-grant-ProvisioningLog.Read.All"), principalObjectId="someone-else")
    found = stack_violations(_without(stack, t.SERVICE_PRINCIPAL, "secret"), entra.graph_object_id)
    assert any("someone-else" in message for message in found), found


def _preview(stack: list[PolicyResource], grant_principal: object, depends_on: str | None,
             entra: OfflineEntra) -> list[str]:
    """A new client during preview: its service principal's ids are unknown."""
    sp = named(stack, "secret-sp")
    sp.props = unknown_checking_proxy({**dict(sp.props), "clientId": UNKNOWN_STRING_VALUE,
                                       "objectId": UNKNOWN_STRING_VALUE})
    for grant in _grants_of(stack, "secret"):
        wrong = grant.name == "secret-grant-ProvisioningLog.Read.All"
        grant.props = unknown_checking_proxy({**dict(grant.props),
                                              "principalObjectId": grant_principal if wrong else UNKNOWN_STRING_VALUE})
        source = depends_on if wrong else "secret-sp"
        grant.property_dependencies = {"principalObjectId": [named(stack, source)]} if source else {}
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        STACK_POLICY.validate(StackValidationArgs(stack, stack_config(entra.graph_object_id)),
                              collector(found))
    return [message for message in found if "secret-grant" in message]


def test_at_preview_a_grant_to_a_known_principal_while_its_client_is_new_is_refused(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    # The client's service principal does not exist yet, so no principal known today can be it.
    [message] = _preview(stack, "11111111-2222-3333-4444-555555555555", None, entra)
    assert "11111111-2222-3333-4444-555555555555" in message


def test_at_preview_a_grant_computed_from_another_principal_is_refused(stack: list[PolicyResource],
                                                                       entra: OfflineEntra) -> None:
    [message] = _preview(stack, UNKNOWN_STRING_VALUE, "rotated-sp", entra)
    assert "rotated-sp" in message


def test_at_preview_a_grant_computed_from_its_own_principal_passes(stack: list[PolicyResource],
                                                                   entra: OfflineEntra) -> None:
    assert _preview(stack, UNKNOWN_STRING_VALUE, "secret-sp", entra) == []


def _preview_owner(stack: list[PolicyResource], source: str, entra: OfflineEntra) -> list[str]:
    """A new OwnedBy client during preview: the owner's object id is computed from a principal."""
    owner = next(r for r in stack if r.resource_type == t.APPLICATION_OWNER)
    owner.props = unknown_checking_proxy({**dict(owner.props), "ownerObjectId": UNKNOWN_STRING_VALUE})
    owner.property_dependencies = {"ownerObjectId": [named(stack, source)]}
    found: list[str] = []
    with pytest.raises(UnknownValueError):
        STACK_POLICY.validate(StackValidationArgs(stack, stack_config(entra.graph_object_id)),
                              collector(found))
    return found


def test_at_preview_an_owner_computed_from_a_client_without_owned_by_is_refused(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    [message] = _preview_owner(stack, "secret-sp", entra)
    assert "secret-sp" in message
    assert "OwnedBy" in message


def test_at_preview_an_owner_computed_from_the_owned_by_clients_principal_passes(
        stack: list[PolicyResource], entra: OfflineEntra) -> None:
    assert _preview_owner(stack, "owner-sp", entra) == []


# -- the synchronization secret after a refresh (policy/synchronization_secret.py) --------------------------

def _notification(stack: list[PolicyResource]) -> PolicyResource:
    return named(stack, "provisioningApp-notification")


def test_a_refreshed_secret_with_the_portals_sync_all_passes_the_whole_stack(stack: list[PolicyResource],
                                                                            entra: OfflineEntra) -> None:
    # After the portal saved the settings, a refresh brings its keys into the state (the provider's Read).
    notification = _notification(stack)
    refreshed = [*notification.props["credentials"], {"key": "SyncAll", "value": "false"}]
    with_props(notification, credentials=refreshed)
    assert stack_violations(stack, entra.graph_object_id) == []


def test_a_credential_in_the_refreshed_secret_is_refused_by_the_whole_stack(stack: list[PolicyResource],
                                                                           entra: OfflineEntra) -> None:
    notification = _notification(stack)
    with_props(notification, credentials=[*notification.props["credentials"], {"key": "SyncAll", "value": "false"},
                                          {"key": "SecretToken", "value": "t"}])
    [message] = stack_violations(stack, entra.graph_object_id)
    assert message.startswith("provisioningApp-notification")
    assert "SecretToken" in message


# -- the stack holds exactly what its stack file declares (policy/stack_file.py), on this module's one run ---------

def _client_in_code_only(stack: list[PolicyResource]) -> list[PolicyResource]:
    """A pull request's Python-only client: component, app, service principal, upload grant, federated credential."""
    access = next(r for r in stack if r.resource_type == t.ACCESS)
    parents = (t.ACCESS, t.SERVICE_PRINCIPAL_CLIENT)
    client = PolicyResource(t.SERVICE_PRINCIPAL_CLIENT, {}, urn(t.SERVICE_PRINCIPAL_CLIENT, "sneaky", (t.ACCESS,)),
                            "sneaky", options(), None, access, [], {})
    app = PolicyResource(t.APPLICATION, {"objectId": "app-oid", "clientId": "app-cid"},
                         urn(t.APPLICATION, "sneaky-app", parents), "sneaky-app", options(), None, client, [], {})
    sp = PolicyResource(t.SERVICE_PRINCIPAL, {"objectId": "sp-oid", "clientId": "app-cid"},
                        urn(t.SERVICE_PRINCIPAL, "sneaky-sp", parents), "sneaky-sp", options(), None, client, [], {})
    graph = named(stack, "secret-grant-ProvisioningLog.Read.All").props["resourceObjectId"]
    grant = PolicyResource(t.APP_ROLE_ASSIGNMENT, {"appRoleId": ROLE_ID["SynchronizationData-User.Upload"],
                                                   "principalObjectId": "sp-oid", "resourceObjectId": graph},
                           urn(t.APP_ROLE_ASSIGNMENT, "sneaky-grant", parents), "sneaky-grant", options(), None,
                           client, [], {})
    federated = PolicyResource(t.FEDERATED_CREDENTIAL, {
        "applicationId": "/applications/app-oid", "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:someone/else:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]},
        urn(t.FEDERATED_CREDENTIAL, "sneaky-federated", parents), "sneaky-federated", options(), None, client, [], {})
    return [*stack, client, app, sp, grant, federated]


def test_a_client_added_in_code_only_is_refused_with_everything_it_holds(stack: list[PolicyResource],
                                                                       entra: OfflineEntra) -> None:
    found = stack_violations(_client_in_code_only(stack), entra.graph_object_id)
    refused = {m.split(" ", 1)[0].rstrip(":") for m in found}
    assert refused == {"sneaky", "sneaky-app", "sneaky-sp", "sneaky-grant", "sneaky-federated"}, found
    assert all("sneaky" in m and "does not declare" in m for m in found), found


def test_a_declared_client_the_code_no_longer_builds_is_refused(stack: list[PolicyResource],
                                                              entra: OfflineEntra) -> None:
    kept = [r for r in stack if r.name != "uami" and (r.parent is None or r.parent.name != "uami")]
    [message] = stack_violations(kept, entra.graph_object_id)
    assert "clients.uami is declared in Pulumi.dev.yaml, but the stack has no client component for it" in message


def test_a_declared_grant_the_stack_lacks_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    kept = [r for r in stack if r.name != "rotated-grant-ProvisioningLog.Read.All"]
    [message] = stack_violations(kept, entra.graph_object_id)
    assert message.startswith("rotated: holds no grant of ProvisioningLog.Read.All")


def test_a_second_federated_credential_is_refused(stack: list[PolicyResource], entra: OfflineEntra) -> None:
    twin = copy.deepcopy(named(stack, "federated-federated"))
    twin.name, twin.urn = "federated-federated-2", twin.urn + "-2"
    twin.parent = named(stack, "federated")
    found = stack_violations([*stack, twin], entra.graph_object_id)
    assert any("has 2 federated credentials; clients.federated declares one" in m for m in found), found


@pytest.mark.parametrize("declaration", [None, "prod"], ids=["none", "another stack's"])
def test_without_the_stack_files_declaration_the_stack_is_refused(stack: list[PolicyResource], entra: OfflineEntra,
                                                                   declaration: str | None) -> None:
    config = stack_config(entra.graph_object_id)
    if declaration is None:
        del config[STACK_FILE_CONFIG]
    else:
        config[STACK_FILE_CONFIG]["stack"] = declaration
    [message] = stack_violations(stack, entra.graph_object_id, config)
    assert "tools/policy-config.sh OUTPUT.json dev" in message
