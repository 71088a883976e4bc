"""The policy pack as an allow-list: everything a real offline run of the program registers passes,
and resource types that carry access but are not the program's are refused, naming the type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.settings.parse import parse_settings
from policy import resource_types as t
from policy import rules
from policy.existing_identities import ADVISORY_POLICY, EXISTING_CONFIG
from policy.stack_file import STACK_FILE_CONFIG
from tests.conftest import LOGIC_APP, NOW, ROLE_ID, secret_client
from tests.test_policy import ALL_KINDS
from tests.test_policy_config import written_config
from tools.offline.entra import OfflineEntra
from tools.offline.run import ProgramRun, RecordingMonitor, program_at, run_offline
from tools.stack.declared import declaration

PROJECT = "inbound-provisioning-access"
POLICIES = {p.name: p for p in rules.policies(clock=lambda: NOW)}
RESOURCE_POLICIES = [p for p in POLICIES.values() if isinstance(p, ResourceValidationPolicy)]
[STACK_POLICY] = [p for p in POLICIES.values() if isinstance(p, StackValidationPolicy) and p.name == rules.STACK_POLICY]
ENGINE_PROVIDERS = {"azuread": "default_6_11_0", "azure-native": "default_3_10_0", "tls": "default_5_2_0",
                    "pulumi-python": "default", "pulumi": "default"}


def options(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect=protect, ignore_changes=[], delete_before_replace=None, aliases=[],
                                 custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
                                 parent=parent)


def collector(found: list[str]) -> ReportViolation:
    def report(message: str, _urn: str | None = None) -> None:
        found.append(message)

    return report


def urn(typ: str, name: str, parents: tuple[str, ...] = (), stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{'$'.join((*parents, typ))}::{name}"


def resource_violations(typ: str, props: dict[str, Any], *, parents: tuple[str, ...] = (), name: str = "x",
                        stack: str = "dev", protect: bool = False, graph_sp: str = "", parent: str | None = None,
                        config: dict[str, Any] | None = None) -> list[str]:
    """What every per-resource policy says about one resource, as the analyzer calls them (``parent``: its
    parent's URN; ``config``: each policy's, as tools/policy-config.sh writes it)."""
    found: list[str] = []
    for policy in RESOURCE_POLICIES:
        if policy.name == "graph-roles-allowlist" and not graph_sp:
            continue
        given = (config or {}).get(policy.name, {rules.GRAPH_SP_CONFIG: graph_sp} if graph_sp else {})
        args = ResourceValidationArgs(typ, props, urn(typ, name, parents, stack), name, options(protect, parent), None,
                                      given)
        assert policy.validate(args, collector(found)) is None
    return found


class OutputRecorder(RecordingMonitor):
    """The mock monitor, also keeping each resource's outputs (what a stack policy is handed)."""

    def __init__(self, mocks: OfflineEntra) -> None:
        super().__init__(mocks)
        self.outputs: dict[str, dict[str, Any]] = {}

    def respond(self, request: Any) -> Any:
        response = super().respond(request)
        self.outputs[response.urn] = rpc.deserialize_properties(response.object)
        return response


# Every kind of client (test_policy's), the OwnedBy permission, Key Vault delivery and the provisioning
# app the stack creates: every resource type the program registers today.
EVERYTHING: dict[str, Any] = {
    **ALL_KINDS,
    "clients": {
        **ALL_KINDS["clients"],
        "owner": {**secret_client(), "graphPermissions": ["SynchronizationData-User.Upload.OwnedBy"]},
        "delivered": {**secret_client(), "keyVault": {
            "vaultId": "/subscriptions/3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b/resourceGroups/hr-rg/providers/"
                       "Microsoft.KeyVault/vaults/hr-vault", "readers": [LOGIC_APP.object_id]}},
    },
    "provisioningApp": {"create": {"notificationEmail": "hr-ops@contoso.com"}},
}


def run_everything(entra: OfflineEntra, stack: str) -> tuple[ProgramRun, OutputRecorder]:
    monitor = OutputRecorder(entra)
    # At the policy's clock: a new secret ends exactly lifetimeDays after the deploy that creates it.
    return run_offline(entra, EVERYTHING, stack, monitor=monitor, program=program_at(NOW)), monitor


def stack_resources(run: ProgramRun, monitor: OutputRecorder, stack: str) -> list[PolicyResource]:
    """The stack as the engine hands it to a stack policy: the root stack, the default providers and
    every registration with its outputs and its parent."""
    root = PolicyResource(t.STACK, {}, urn(t.STACK, f"{PROJECT}-{stack}", stack=stack), f"{PROJECT}-{stack}",
                          options(), None, None, [], {})
    resources = [root] + [
        PolicyResource(f"{t.PROVIDER_PREFIX}{package}", {"version": "1.0.0"},
                       urn(f"{t.PROVIDER_PREFIX}{package}", name, stack=stack), name, options(), None, None, [], {})
        for package, name in ENGINE_PROVIDERS.items()
    ]
    by_urn = {}
    for registration in run.registrations:
        resource = PolicyResource(registration.type, monitor.outputs[registration.urn], registration.urn,
                                  registration.name, options(registration.protect), None, None, [], {})
        by_urn[registration.urn] = resource
        resources.append(resource)
    for registration in run.registrations:
        by_urn[registration.urn].parent = by_urn.get(registration.parent, root)
    return resources


def declared(stack: str = "dev", config: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a stack file holding ``config`` (default: :data:`EVERYTHING`) declares (tools/stack/declared.py)."""
    return declaration(parse_settings(EVERYTHING if config is None else config, stack, NOW), stack)


def stack_config(graph_sp: str, stack: str = "dev", **extra: Any) -> dict[str, Any]:
    """The whole-stack policy's config for :data:`EVERYTHING`, as tools/policy-config.sh writes it."""
    return {rules.GRAPH_SP_CONFIG: graph_sp, STACK_FILE_CONFIG: declared(stack),
            EXISTING_CONFIG: {"logic": LOGIC_APP.object_id}, **extra}


def stack_violations(resources: list[PolicyResource], graph_sp: str, config: dict[str, Any] | None = None) -> list[str]:
    found: list[str] = []
    stack = t.stack_of(resources[0].urn)
    args = StackValidationArgs(resources, stack_config(graph_sp, stack) if config is None else config)
    assert STACK_POLICY.validate(args, collector(found)) is None
    return found


def test_the_pack_has_one_mandatory_stack_policy_and_one_advisory() -> None:
    stack_policies = {p.name: p.enforcement_level for p in POLICIES.values() if isinstance(p, StackValidationPolicy)}
    assert stack_policies == {rules.STACK_POLICY: EnforcementLevel.MANDATORY,
                              ADVISORY_POLICY: EnforcementLevel.ADVISORY}
    assert {p.enforcement_level for p in RESOURCE_POLICIES} == {EnforcementLevel.MANDATORY}
    assert STACK_POLICY.config_schema is not None


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_type_the_program_registers_is_allowed_and_passes(entra: OfflineEntra, stack: str,
                                                                 tmp_path: Path) -> None:
    run, monitor = run_everything(entra, stack)
    registered = {r.type for r in run.registrations}
    # What today's program registers, read from the run itself: every one of them is on the list.
    assert registered <= set(t.ALLOWED_TYPES), registered - set(t.ALLOWED_TYPES)
    assert {t.APPLICATION_OWNER, t.SYNCHRONIZATION_JOB, t.USER_ASSIGNED_IDENTITY, t.SELF_SIGNED_CERT,
            t.FEDERATED_CREDENTIAL, t.KEY_VAULT_SECRET, t.ROLE_ASSIGNMENT} <= registered, \
        "the run covers the provisioning app, Key Vault delivery and every client kind"
    # The config tools/policy-config.sh writes for a stack file holding the very config the run used (the script
    # once, for dev: prod differs only in the stack's name, which the declaration states).
    if stack == "dev":
        config = written_config(tmp_path, stack, EVERYTHING, entra.graph_object_id, {"CSV2SCIMBulkUpload": LOGIC_APP})
        assert config[rules.STACK_POLICY][STACK_FILE_CONFIG] == declared(stack), "the script writes what it reads"
    else:
        whole = stack_config(entra.graph_object_id, stack)
        config = {rules.STACK_POLICY: whole, "stack-file": {k: whole[k] for k in (STACK_FILE_CONFIG, EXISTING_CONFIG)}}
    found = []
    for registration in run.registrations:
        found += resource_violations(registration.type, registration.inputs, name=registration.name,
                                     stack=stack, protect=registration.protect, graph_sp=entra.graph_object_id,
                                     parents=tuple(registration.urn.split("::")[2].split("$")[:-1]),
                                     parent=registration.parent or None, config=config)
    assert found == []
    assert stack_violations(stack_resources(run, monitor, stack), entra.graph_object_id,
                            config[rules.STACK_POLICY]) == []


@pytest.mark.parametrize(("package", "name"), sorted(ENGINE_PROVIDERS.items()))
def test_the_engines_default_providers_pass(package: str, name: str) -> None:
    assert resource_violations(f"{t.PROVIDER_PREFIX}{package}", {"version": "1.0.0"}, name=name) == []


def test_the_stack_itself_passes() -> None:
    assert resource_violations(t.STACK, {}, name=f"{PROJECT}-dev") == []


OWNER_ROLE = "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443d-a75c-2fe8c4bcb635"
SUB = "/subscriptions/00000000-0000-4000-8000-000000000000"
SP = t.SERVICE_PRINCIPAL_CLIENT
ACCESS = t.ACCESS
# Types that carry access and are not the program's, with what each would grant.
FOREIGN: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
     {"roleId": "62e90394-69f5-4237-9190-012177145e10", "principalObjectId": "p"}, (ACCESS, SP)),
    ("azuread:index/directoryRoleMember:DirectoryRoleMember", {"roleObjectId": "r", "memberObjectId": "m"},
     (ACCESS, SP)),
    ("azuread:index/directoryRoleEligibilityScheduleRequest:DirectoryRoleEligibilityScheduleRequest",
     {"roleDefinitionId": "r", "principalId": "p"}, (ACCESS, SP)),
    ("azuread:index/servicePrincipalDelegatedPermissionGrant:ServicePrincipalDelegatedPermissionGrant",
     {"claimValues": ["Directory.ReadWrite.All"], "resourceServicePrincipalObjectId": "g"}, (ACCESS, SP)),
    ("azuread:index/applicationApiAccess:ApplicationApiAccess",
     {"apiClientId": "00000003-0000-0000-c000-000000000000", "roleIds": [ROLE_ID["Directory.ReadWrite.All"]]},
     (ACCESS, SP)),
    ("azuread:index/servicePrincipalPassword:ServicePrincipalPassword", {"servicePrincipalId": "s"}, (ACCESS, SP)),
    ("azuread:index/servicePrincipalCertificate:ServicePrincipalCertificate", {"servicePrincipalId": "s"},
     (ACCESS, SP)),
    ("azuread:index/servicePrincipalTokenSigningCertificate:ServicePrincipalTokenSigningCertificate",
     {"servicePrincipalId": "s"}, (ACCESS, SP)),
    ("azuread:index/applicationFlexibleFederatedIdentityCredential:ApplicationFlexibleFederatedIdentityCredential",
     {"claimsMatchingExpression": "claims['sub'] matches 'repo:*'"}, (ACCESS, SP)),
    ("azuread:index/applicationRedirectUris:ApplicationRedirectUris", {"redirectUris": ["https://x"]}, (ACCESS, SP)),
    ("azuread:index/groupMember:GroupMember", {"groupObjectId": "g", "memberObjectId": "m"}, (ACCESS, SP)),
    ("azuread:index/group:Group", {"displayName": "admins", "assignableToRole": True}, (ACCESS, SP)),
    ("azuread:index/user:User", {"userPrincipalName": "x@contoso.com"}, (ACCESS,)),
    ("azuread:index/invitation:Invitation", {"userEmailAddress": "x@example.com"}, (ACCESS,)),
    ("azuread:index/accessPackageAssignmentPolicy:AccessPackageAssignmentPolicy", {}, (ACCESS,)),
    ("azuread:index/conditionalAccessPolicy:ConditionalAccessPolicy", {"state": "disabled"}, (ACCESS,)),
    ("azure-native:managedidentity:FederatedIdentityCredential",
     {"issuer": "https://example.com", "subject": "x"}, (ACCESS, t.MANAGED_IDENTITY_CLIENT)),
    ("azure-native:keyvault:Vault", {"properties": {"accessPolicies": []}}, (ACCESS,)),
    ("azure-native:keyvault:AccessPolicy", {"policy": {"permissions": {"secrets": ["get"]}}}, (ACCESS,)),
    ("azure-native:authorization:RoleDefinition", {"permissions": [{"actions": ["*"]}]}, (ACCESS,)),
    # A dynamic provider runs its own code with the deployer's credentials at deploy time.
    ("pulumi-python:dynamic:Resource", {"__provider": "pickled code"}, (ACCESS, t.PROVISIONING_APP)),
    ("aws:iam/role:Role", {}, ()),
    ("pulumi:providers:aws", {}, ()),
]


@pytest.mark.parametrize(("typ", "props", "parents"), FOREIGN, ids=[f[0].rsplit(":", 1)[-1] for f in FOREIGN])
def test_a_type_that_is_not_the_programs_is_refused_naming_it(typ: str, props: dict[str, Any],
                                                               parents: tuple[str, ...]) -> None:
    found = resource_violations(typ, props, parents=parents)
    assert found
    assert all(typ in message for message in found), found
    assert any("policy/resource_types.py" in m or "does not use" in m for m in found), "and what to do"


# Allowed types, used the way the program never does: each refused, naming the type.
MISUSED: list[tuple[str, str, dict[str, Any], tuple[str, ...]]] = [
    ("an owner outside the provisioning app", t.APPLICATION_OWNER,
     {"applicationId": "/applications/a", "ownerObjectId": "attacker"}, (ACCESS, SP)),
    ("a grant at the top of the stack", t.APP_ROLE_ASSIGNMENT,
     {"appRoleId": ROLE_ID["AuditLog.Read.All"]}, ()),
    ("service principal owners", t.SERVICE_PRINCIPAL, {"clientId": "c", "owners": ["attacker"]}, (ACCESS, SP)),
    ("application owners", t.APPLICATION, {"displayName": "x", "owners": ["attacker"]}, (ACCESS, SP)),
    ("an inline password", t.APPLICATION, {"displayName": "x", "password": {"displayName": "forever"}}, (ACCESS, SP)),
    ("a multi-tenant app", t.APPLICATION, {"displayName": "x", "signInAudience": "AzureADMultipleOrgs"}, (ACCESS, SP)),
    ("a sign-in flow", t.APPLICATION, {"displayName": "x", "web": {"redirectUris": ["https://evil"]}}, (ACCESS, SP)),
    ("a takeover", t.SERVICE_PRINCIPAL, {"clientId": "c", "useExisting": True}, (ACCESS, SP)),
    ("a symmetric key", t.APPLICATION_CERTIFICATE,
     {"type": "Symmetric", "endDate": "2027-01-01T00:00:00Z"}, (ACCESS, SP)),
    ("a wildcard subject", t.FEDERATED_CREDENTIAL,
     {"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:*", "audiences": ["a"]}, (ACCESS, SP)),
    ("an http issuer", t.FEDERATED_CREDENTIAL,
     {"issuer": "http://idp.example.com", "subject": "s", "audiences": ["a"]}, (ACCESS, SP)),
    ("a CA certificate", t.SELF_SIGNED_CERT, {"validityPeriodHours": 24, "isCaCertificate": True}, (ACCESS, SP)),
    ("outbound provisioning credentials", t.SYNCHRONIZATION_SECRET,
     {"credentials": [{"key": "SyncNotificationSettings", "value": "{}"}, {"key": "SecretToken", "value": "t"}]},
     (ACCESS, t.PROVISIONING_APP)),
    ("a password among the synchronization secrets", t.SYNCHRONIZATION_SECRET,
     {"credentials": [{"key": "SyncNotificationSettings", "value": "{}"}, {"key": "password", "value": "t"}]},
     (ACCESS, t.PROVISIONING_APP)),
    ("another sync template", t.SYNCHRONIZATION_JOB, {"templateId": "AWSSingleAccount"}, (ACCESS, t.PROVISIONING_APP)),
    ("Owner on a subscription", t.ROLE_ASSIGNMENT,
     {"roleDefinitionId": f"{SUB}{OWNER_ROLE}", "scope": SUB, "principalId": "p"}, (ACCESS, SP)),
    ("Secrets User on a whole vault", t.ROLE_ASSIGNMENT,
     {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
      "scope": f"{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-hr", "principalId": "p"}, (ACCESS, SP)),
    ("an explicit provider", "pulumi:providers:azuread", {"clientSecret": "s"}, ()),
]


@pytest.mark.parametrize(("why", "typ", "props", "parents"), MISUSED, ids=[m[0] for m in MISUSED])
def test_an_allowed_type_used_the_way_the_program_never_does_is_refused(why: str, typ: str, props: dict[str, Any],
                                                                        parents: tuple[str, ...]) -> None:
    found = resource_violations(typ, props, parents=parents)
    assert found, why
    assert all(typ.rsplit(":", 1)[-1] in message for message in found), found


def test_the_secrets_user_role_on_one_secret_passes() -> None:
    props = {"roleDefinitionId": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                                 "4633458b-17de-408a-b874-0445c86b69e6",
             "scope": f"{SUB}/resourceGroups/rg-hr/providers/Microsoft.KeyVault/vaults/kv-hr/secrets/hr-sync",
             "principalId": "11111111-1111-4111-8111-111111111111", "principalType": "ServicePrincipal"}
    assert resource_violations(t.ROLE_ASSIGNMENT, props, parents=(ACCESS, SP)) == []


STACK_REFERENCE = "pulumi:pulumi:StackReference"


@pytest.mark.parametrize("name", ["organization/inbound-provisioning-access/dev", "organization/payroll/prod", "dev"])
def test_a_stack_reference_is_refused_even_to_the_stack_itself(name: str) -> None:
    # The program reads its own last outputs with the readStackOutputs invoke; a StackReference would copy
    # every output of the stack it names, secrets included, into this stack's state.
    found = resource_violations(STACK_REFERENCE, {"name": name})
    assert found
    assert all(STACK_REFERENCE in message for message in found), found


@pytest.mark.parametrize("name", ["default_0_17_7_dev_1555435978_gb7030aa4_dirty", "default_3_0_0_alpha-1"])
def test_the_engines_names_for_pre_release_providers_pass(name: str) -> None:
    # pkg/resource/deploy/providers/provider.go, DefaultName: default_<major>_<minor>_<patch>_<pre>_<build>
    assert resource_violations("pulumi:providers:azuread", {"version": "1.0.0"}, name=name) == []


@pytest.mark.parametrize(("name", "props", "parents"), [
    ("default_evil", {"version": "6.11.0"}, ()),
    ("default_6_11_0", {"version": "6.11.0"}, (ACCESS, SP)),
    ("default_6_11_0", {"version": "6.11.0", "clientSecret": "s", "tenantId": "another-tenant"}, ()),
    ("default", {"clientCertificatePassword": "p", "clientCertificate": "MII..."}, ()),
], ids=["a made-up default name", "under a component", "a client secret", "a certificate"])
def test_an_explicit_provider_passing_for_a_default_one_is_refused(name: str, props: dict[str, Any],
                                                                    parents: tuple[str, ...]) -> None:
    # The engine names its default providers default[_<version>] at the top of the stack, and they
    # sign in as the pipeline's identity (environment), with no credential in their inputs.
    found = resource_violations("pulumi:providers:azuread", props, name=name, parents=parents)
    assert any("provider" in message for message in found), found


def test_an_end_date_beside_a_short_relative_one_is_still_judged() -> None:
    props = {"endDateRelative": "1h", "endDate": "2099-01-01T00:00:00Z"}
    found = resource_violations(t.APPLICATION_PASSWORD, props, parents=(ACCESS, SP))
    assert any("2099" in message for message in found), found


@pytest.mark.parametrize(("typ", "props"), [
    (t.SELF_SIGNED_CERT, {"validityPeriodHours": "1000000"}),
    (t.PRIVATE_KEY, {"algorithm": "RSA", "rsaBits": "1024"}),
], ids=["a validity as text", "key bits as text"])
def test_a_number_given_as_text_is_judged_as_the_number(typ: str, props: dict[str, Any]) -> None:
    # The bridged providers turn "1000000" into the number it spells; the rules must too.
    assert resource_violations(typ, props, parents=(ACCESS, SP))


PIPELINE_SIGN_IN = {"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    "clientId": "2c3d4e5f-6071-4283-9495-b6c7d8e9f0a1",
                    "subscriptionId": "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2"}


@pytest.mark.parametrize(("props", "said"), [
    ({"tenantId": "11111111-2222-4333-8444-555555555555"}, "signs in with tenantId 11111111"),
    ({"clientId": "11111111-2222-4333-8444-555555555555"}, "signs in with clientId 11111111"),
    ({"subscriptionId": "11111111-2222-4333-8444-555555555555"}, "signs in with subscriptionId 11111111"),
    ({"useMsi": "true"}, "sets useMsi"),
    ({"useCli": True}, "sets useCli"),
], ids=["another tenant", "another client", "another subscription", "useMsi", "useCli"])
def test_a_default_named_provider_signing_in_otherwise_than_the_pipeline_is_refused(props: dict[str, Any],
                                                                                   said: str) -> None:
    config = {"access-fields": {"signIn": PIPELINE_SIGN_IN}}
    found = resource_violations("pulumi:providers:azure-native", {"version": "3.10.0", **props},
                                name="default_3_10_0", config=config)
    assert any(said in message for message in found), found


def test_a_default_provider_signing_in_as_the_pipeline_passes() -> None:
    props = {"version": "6.11.0", "useOidc": "true", "useMsi": "false", **PIPELINE_SIGN_IN}
    config = {"access-fields": {"signIn": {k: v.upper() for k, v in PIPELINE_SIGN_IN.items()}}}
    assert resource_violations("pulumi:providers:azuread", props, name="default_6_11_0", config=config) == []
