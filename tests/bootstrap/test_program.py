"""The bootstrap program under the mock engine with its example stack: identities, trust, grants, GitHub settings."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml

from bootstrap.facts import (
    AZURE_ROLES,
    BACKEND_VARIABLE,
    CLIENT_ID_VARIABLE,
    DEFAULT_REQUIRED_CHECKS,
    ENVIRONMENTS,
    GITHUB_ACTIONS_APP_ID,
    GITHUB_ISSUER,
    ONLY_SECRETS_USER_CONDITION,
    SECRETS_PROVIDER_VARIABLE,
    SUBSCRIPTION_VARIABLE,
    TENANT_VARIABLE,
)
from tests.bootstrap.conftest import SECRETS, example_config, project_file, run_bootstrap
from tests.conftest import PROJECT_SCHEMA, ROLE_ID, ROOT
from tools.offline.entra import OfflineEntra, mock_guid
from tools.offline.run import ProgramRun, Registration

Run = tuple[OfflineEntra, ProgramRun]
REPO = "contoso/inbound-provisioning-access"
SP_TYPE = "azuread:index/servicePrincipal:ServicePrincipal"
GRANT = "azuread:index/appRoleAssignment:AppRoleAssignment"
FEDERATED = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
EXPECTED_ROLES = {
    "previews": {"Application.Read.All"},
    "auditor": {"Application.Read.All", "Directory.Read.All", "RoleEligibilitySchedule.Read.Directory",
                "Synchronization.Read.All"},
    "writer": {"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"},
}
EXPECTED_ENVIRONMENTS = {"previews": ["preview", "preview-secrets"], "auditor": ["audit"],
                         "writer": ["deploy", "production", "rotation"]}


def sp_object_id(identity: str) -> str:
    """The object id the offline tenant gives an identity's service principal."""
    return mock_guid(SP_TYPE, f"{identity}-sp")


def owned(run: ProgramRun, typ: str, identity: str) -> list[Registration]:
    return [r for r in run.of_type(typ) if r.parent.endswith(f"::{identity}")]


@pytest.mark.parametrize("identity", EXPECTED_ROLES)
def test_each_identity_holds_exactly_its_graph_roles_on_graphs_service_principal(example_run: Run, identity: str
                                                                                 ) -> None:
    entra, run = example_run
    grants = owned(run, GRANT, identity)
    assert {g.inputs["appRoleId"] for g in grants} == {ROLE_ID[v] for v in EXPECTED_ROLES[identity]}
    assert len(grants) == len(EXPECTED_ROLES[identity])
    sp = run.named(f"{identity}-sp")
    for grant in grants:
        assert grant.inputs["resourceObjectId"] == entra.graph_object_id
        assert grant.inputs["principalObjectId"] == sp_object_id(identity)
        assert sp.urn in grant.dependencies, "a grant waits for its principal (Entra replicates it eventually)"
    app = run.named(f"{identity}-app")
    (declared,) = app.inputs["requiredResourceAccesses"]
    assert {a["id"] for a in declared["resourceAccesses"]} == {ROLE_ID[v] for v in EXPECTED_ROLES[identity]}
    assert app.inputs["signInAudience"] == "AzureADMyOrg"
    assert app.inputs["preventDuplicateNames"] is True
    assert sp.inputs["clientId"] == mock_guid("client-id", f"{identity}-app")


def test_graph_is_looked_up_once_by_its_app_id(example_run: Run) -> None:
    _, run = example_run
    assert run.graph_lookups == 1
    assert len(run.of_type(GRANT)) == sum(map(len, EXPECTED_ROLES.values()))


@pytest.mark.parametrize("identity", EXPECTED_ENVIRONMENTS)
def test_each_identity_trusts_its_environments_and_nothing_else(example_run: Run, identity: str) -> None:
    _, run = example_run
    credentials = owned(run, FEDERATED, identity)
    assert sorted(c.inputs["subject"] for c in credentials) == [
        f"repo:{REPO}:environment:{env}" for env in EXPECTED_ENVIRONMENTS[identity]]
    for credential in credentials:
        assert credential.inputs["issuer"] == GITHUB_ISSUER
        assert credential.inputs["audiences"] == ["api://AzureADTokenExchange"]
        assert credential.inputs["displayName"] == "github-" + credential.inputs["subject"].rsplit(":", 1)[-1]
    assert len(run.of_type(FEDERATED)) == 6, "no federated credential outside the three identities"


def test_no_identity_has_a_secret_or_a_certificate(example_run: Run) -> None:
    _, run = example_run
    assert not [r.type for r in run.registrations if "Password" in r.type or "Certificate" in r.type]
    assert all("password" not in app.inputs for app in run.of_type("azuread:index/application:Application"))


def test_environments_branch_policies_and_reviewers(example_run: Run) -> None:
    _, run = example_run
    environments = {r.inputs["environment"]: r.inputs for r in run.of_type(ENVIRONMENT)}
    assert sorted(environments) == sorted(env for envs in EXPECTED_ENVIRONMENTS.values() for env in envs)
    assert all(e["repository"] == "inbound-provisioning-access" for e in environments.values())
    main_only = {"protectedBranches": False, "customBranchPolicies": True}
    for env, inputs in environments.items():
        if env.startswith("preview"):
            assert "deploymentBranchPolicy" not in inputs, "pull requests run in the previews' environments"
        else:
            assert inputs["deploymentBranchPolicy"] == main_only
    for env in ("production", "preview-secrets"):
        assert environments[env]["reviewers"] == [{"teams": [4818112], "users": []}]
        assert environments[env]["preventSelfReview"] is True
    assert not any("reviewers" in environments[e] for e in ("preview", "audit", "deploy", "rotation"))
    assert all(inputs["canAdminsBypass"] is False for inputs in environments.values())
    policies = {r.inputs["environment"]: r.inputs for r in
                run.of_type("github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy")}
    assert sorted(policies) == ["audit", "deploy", "production", "rotation"]
    assert {p["branchPattern"] for p in policies.values()} == {"main"}


def test_each_environment_gets_its_identitys_client_id(example_run: Run) -> None:
    _, run = example_run
    client_ids = run.outputs["clientIds"]
    variables = {r.inputs["environment"]: r.inputs for r in
                 run.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")}
    for identity, environments in EXPECTED_ENVIRONMENTS.items():
        assert client_ids[identity] == mock_guid("client-id", f"{identity}-app")
        for env in environments:
            assert variables[env]["variableName"] == "AZURE_CLIENT_ID"
            assert variables[env]["value"] == client_ids[identity]
    assert len(variables) == 6


def test_repository_variables_are_the_configs(example_run: Run) -> None:
    _, run = example_run
    config = example_config()
    variables = {r.inputs["variableName"]: r.inputs["value"]
                 for r in run.of_type("github:index/actionsVariable:ActionsVariable")}
    assert variables == {"AZURE_TENANT_ID": config["tenantId"], "AZURE_SUBSCRIPTION_ID": config["subscriptionId"],
                         "PULUMI_BACKEND_URL": config["pulumiBackendUrl"],
                         "PULUMI_SECRETS_PROVIDER": config["pulumiSecretsProvider"]}
    (provider,) = run.of_type("pulumi:providers:github")
    assert provider.inputs["owner"] == "contoso"


def test_environment_secrets_stay_secret(example_run: Run) -> None:
    _, run = example_run
    secrets = run.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret")
    assert {(s.inputs["environment"], s.inputs["secretName"]): s.inputs["value"] for s in secrets} == {
        (env, name): value for env, by_name in SECRETS.items() for name, value in by_name.items()}
    assert all(s.secret_inputs == {"value"} for s in secrets), "stored encrypted"
    shown = json.dumps(run.outputs) + json.dumps([m for _, m in run.logs])
    assert not any(value in shown for by_name in SECRETS.values() for value in by_name.values())
    assert run.secret_outputs == frozenset()
    assert run.outputs["environments"]["deploy"]["secrets"] == ["PULUMI_CONFIG_PASSPHRASE"]


def test_main_takes_pull_requests_with_checks_and_code_owner_review(example_run: Run) -> None:
    _, run = example_run
    (ruleset,) = run.of_type("github:index/repositoryRuleset:RepositoryRuleset")
    inputs: dict[str, Any] = ruleset.inputs
    assert (inputs["target"], inputs["enforcement"]) == ("branch", "active")
    assert inputs["conditions"]["refName"] == {"includes": ["refs/heads/main"], "excludes": []}
    assert "bypassActors" not in inputs
    rules = inputs["rules"]
    assert rules["pullRequest"]["requireCodeOwnerReview"] is True
    assert rules["pullRequest"]["requiredApprovingReviewCount"] >= 1
    assert rules["requiredStatusChecks"]["requiredChecks"] == [
        {"context": check, "integrationId": GITHUB_ACTIONS_APP_ID} for check in example_config()["requiredChecks"]]
    assert (rules["deletion"], rules["nonFastForward"]) == (True, True)


def test_azure_roles_are_assigned_at_exactly_the_configured_scope(example_run: Run) -> None:
    _, run = example_run
    assignments = run.of_type("azure-native:authorization:RoleAssignment")
    configured = {(identity, entry["role"], entry["scope"])
                  for identity, entries in example_config()["azureRoles"].items() for entry in entries}
    found = set()
    for assignment in assignments:
        identity = assignment.parent.rsplit("::", 1)[-1]
        role = next(r for r in AZURE_ROLES.values() if assignment.inputs["roleDefinitionId"].endswith(r.role_id))
        found.add((identity, role.name, assignment.inputs["scope"]))
        subscription = assignment.inputs["scope"].split("/")[2]
        assert assignment.inputs["roleDefinitionId"] == (
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role.role_id}")
        assert assignment.inputs["principalId"] == sp_object_id(identity)
        assert assignment.inputs["principalType"] == "ServicePrincipal"
        assert assignment.inputs.get("condition") == role.condition
    assert found == configured
    assert len(assignments) == len(configured)
    (provider,) = run.of_type("pulumi:providers:azure-native")
    assert provider.inputs["subscriptionId"] == example_config()["subscriptionId"]
    (rbac,) = [a for a in assignments if a.inputs.get("condition")]
    assert (rbac.inputs["condition"], rbac.inputs["conditionVersion"]) == (ONLY_SECRETS_USER_CONDITION, "2.0")


def test_outputs_are_the_client_ids_and_the_environments(example_run: Run) -> None:
    _, run = example_run
    assert set(run.outputs) == {"repository", "clientIds", "environments"}
    assert set(run.outputs["clientIds"]) == {"previews", "auditor", "writer"}
    environments = run.outputs["environments"]
    assert {env: e["identity"] for env, e in environments.items()} == {
        env: identity for identity, envs in EXPECTED_ENVIRONMENTS.items() for env in envs}
    assert environments["preview"]["branches"] == "any"
    assert environments["production"] == {"identity": "writer", "branches": "main", "requiredReviewers": True,
                                          "secrets": ["PULUMI_CONFIG_PASSPHRASE"]}


def test_main_is_short_wiring() -> None:
    code = [line for line in (ROOT / "bootstrap" / "__main__.py").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith(("#", '"""', "import", "from"))]
    assert code == ["sys.path.insert(0, str(Path(__file__).resolve().parent.parent))",
                    "for name, value in build().items():", "    pulumi.export(name, value)"]


def test_project_and_stack_files() -> None:
    project = project_file()
    jsonschema.Draft202012Validator(json.loads(PROJECT_SCHEMA.read_text())).validate(project)
    assert project["name"] == "inbound-provisioning-access-bootstrap"
    assert project["runtime"]["options"]["virtualenv"] == "../venv"


def test_the_bootstrap_sets_up_what_the_workflows_use() -> None:
    """Environments, variables and check names, read from .github/workflows/, so neither side drifts."""
    workflows = {path.name: path.read_text() for path in (ROOT / ".github" / "workflows").glob("*.yml")}
    text = "\n".join(workflows.values())
    named = set(re.findall(r"^\s+environment: ([\w-]+)\s*$", text, re.MULTILINE))
    # The previews' environment comes from the stack list (tools/stack/stacks.py): one of the two.
    assert "environment: ${{ matrix.previewEnvironment }}" in workflows["pull-request.yml"]
    assert named | {"preview", "preview-secrets"} == set(ENVIRONMENTS)
    assert set(re.findall(r"vars\.(\w+)", text)) == {
        CLIENT_ID_VARIABLE, TENANT_VARIABLE, SUBSCRIPTION_VARIABLE, BACKEND_VARIABLE, SECRETS_PROVIDER_VARIABLE}
    test_job = yaml.safe_load(workflows["pull-request.yml"])["jobs"]["test"]
    access_diff_job = yaml.safe_load(workflows["access-plan.yml"])["jobs"]["access-diff"]
    assert [test_job["name"], access_diff_job["name"]] == list(DEFAULT_REQUIRED_CHECKS)


def test_a_minimal_stack_sets_only_what_it_names() -> None:
    required = ("repository", "tenantId", "subscriptionId", "reviewers")
    config = {k: v for k, v in example_config().items() if k in required}
    _, run = run_bootstrap(config)
    assert run.of_type("azure-native:authorization:RoleAssignment") == []
    assert run.of_type("pulumi:providers:azure-native") == [], "no Azure roles, no subscription needed"
    assert run.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret") == []
    assert sorted(r.inputs["variableName"] for r in run.of_type("github:index/actionsVariable:ActionsVariable")) == [
        "AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID"]
    assert len(run.of_type(GRANT)) == sum(map(len, EXPECTED_ROLES.values()))
