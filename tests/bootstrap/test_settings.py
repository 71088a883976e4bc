"""The bootstrap's config checks: every problem at once, with its key path, before anything is registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from bootstrap.settings import parse_bootstrap
from components.settings.problems import SettingsError
from tests.bootstrap.conftest import example_config, run_bootstrap
from tools.offline.run import LAST_RUN

SUB = "9c1d4e7f-2a3b-4c5d-8e6f-7a8b9c0d1e2f"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg-hr-identities"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-pulumi/providers/Microsoft.KeyVault/vaults/contoso-pulumi"


def problems(raw: dict[str, Any], secret_keys: frozenset[str] = frozenset(), **kwargs: Any) -> dict[str, str]:
    """Each problem's key path → its message, for a config that must be refused."""
    with pytest.raises(SettingsError) as error:
        parse_bootstrap(raw, "example", secret_keys, **kwargs)
    found = {p.path: str(p) for p in error.value.problems}
    assert len(found) == len(error.value.problems), "one problem per key path"
    return found


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**example_config(), **changes}


def test_the_example_parses() -> None:
    settings = parse_bootstrap(example_config(), "example")
    assert (settings.owner, settings.name) == ("contoso", "inbound-provisioning-access")
    assert settings.reviewer_teams == (4818112,)
    assert settings.required_checks == ("test and list the stacks", "access diff")
    assert len(settings.azure_roles) == 8


def test_defaults_leave_out_what_is_optional() -> None:
    raw = {k: v for k, v in example_config().items() if k in ("repository", "tenantId", "subscriptionId", "reviewers")}
    settings = parse_bootstrap(raw, "example")
    assert (settings.backend_url, settings.secrets_provider, settings.azure_roles) == (None, None, ())
    assert settings.required_checks == ("test and list the stacks", "access diff")


def test_a_repository_without_an_owner_is_refused() -> None:
    found = problems(with_changes(repository="inbound-provisioning-access"))
    assert list(found) == ["repository"]
    assert 'got "inbound-provisioning-access"' in found["repository"]
    assert "the owner is missing" in found["repository"]


@pytest.mark.parametrize("repository", ["-contoso/x", "contoso/..", "contoso/", "a/b/c", "contoso/has space"])
def test_a_malformed_repository_is_refused(repository: str) -> None:
    assert list(problems(with_changes(repository=repository))) == ["repository"]


def test_an_unknown_environment_is_refused_without_showing_the_secret() -> None:
    secrets = {"staging": {"PULUMI_ACCESS_TOKEN": "pul-0123456789"}, "deploy": {"GITHUB_TOKEN": "x", "OK": ""}}
    found = problems(with_changes(environmentSecrets=secrets), frozenset({"environmentSecrets"}))
    assert set(found) == {"environmentSecrets.staging", "environmentSecrets.deploy.GITHUB_TOKEN",
                          "environmentSecrets.deploy.OK"}
    assert "unknown environment; the workflows use: preview, preview-secrets, audit, deploy, production, rotation" \
        in found["environmentSecrets.staging"]
    assert "pul-0123456789" not in str(found)
    assert all("<secret, not shown>" in message for message in found.values())


def test_environment_secrets_must_be_set_as_secrets() -> None:
    found = problems(with_changes(environmentSecrets={"deploy": {"PULUMI_CONFIG_PASSPHRASE": "in-clear"}}))
    assert list(found) == ["environmentSecrets"]
    assert "pulumi config set --secret --path" in found["environmentSecrets"]
    assert "in-clear" not in found["environmentSecrets"], "never shown, secret or not"


@pytest.mark.parametrize(("reviewers", "path"), [
    ({"users": ["octocat"]}, "reviewers.users[0]"),
    ({"teams": ["4818112"]}, "reviewers.teams[0]"),
    ({"teams": [-1]}, "reviewers.teams[0]"),
    ({"teams": [True]}, "reviewers.teams[0]"),
])
def test_a_reviewer_that_is_not_a_numeric_id_is_refused(reviewers: dict[str, Any], path: str) -> None:
    found = problems(with_changes(reviewers=reviewers))
    assert path in found
    assert "a numeric GitHub id, not a name" in found[path]


def test_reviewers_are_required_and_at_most_six() -> None:
    raw = example_config()
    del raw["reviewers"]
    assert "production waits for one of them" in problems(raw)["reviewers"]
    assert "1 to 6 reviewers" in problems(with_changes(reviewers={"users": list(range(1, 8))}))["reviewers"]
    assert "1 to 6 reviewers" in problems(with_changes(reviewers={}))["reviewers"]


def test_every_problem_is_listed_at_once_with_its_key_path() -> None:
    raw = with_changes(tenantId="contoso.onmicrosoft.com", subscriptionId="", colour="blue",
                       pulumiBackendUrl="file:///tmp/state", pulumiSecretsProvider="vault://x", requiredChecks=[],
                       azureRoles={"deployer": []})
    found = problems(raw)
    assert set(found) == {"tenantId", "subscriptionId", "colour", "pulumiBackendUrl", "pulumiSecretsProvider",
                          "requiredChecks", "azureRoles.deployer"}
    assert 'tenantId: got "contoso.onmicrosoft.com"; a GUID' in found["tenantId"]
    assert "unknown key" in found["colour"]
    assert "one of previews, auditor, writer" in found["azureRoles.deployer"]


@pytest.mark.parametrize(("identity", "entry", "expected"), [
    ("writer", {"role": "Managed Identity Contributor", "scope": f"/subscriptions/{SUB}"}, "and no wider"),
    ("writer", {"role": "Key Vault Crypto User", "scope": GROUP}, "and no wider"),
    ("writer", {"role": "Owner", "scope": GROUP}, "the writer's Azure roles: Managed Identity Contributor"),
    ("writer", {"role": "Managed identity contributor", "scope": GROUP}, "did you mean `Managed Identity Contributor`"),
    ("previews", {"role": "Key Vault Crypto User", "scope": VAULT}, "Key Vault Crypto User is not for the previews"),
    ("auditor", {"role": "Storage Blob Data Contributor", "scope": GROUP}, "is not for the auditor"),
    ("previews", {"role": "Reader"}, "required; Reader is given at a resource group"),
])
def test_azure_roles_only_for_their_identity_and_no_wider_than_named(identity: str, entry: dict[str, str],
                                                                     expected: str) -> None:
    found = problems(with_changes(azureRoles={identity: [entry]}))
    assert len(found) == 1
    (message,) = found.values()
    assert expected in message, message


def test_the_same_role_twice_at_one_scope_is_refused() -> None:
    entry = {"role": "Managed Identity Contributor", "scope": GROUP}
    assert list(problems(with_changes(azureRoles={"writer": [entry, entry]}))) == ["azureRoles.writer[1]"]


def test_keys_of_the_hr_stacks_are_refused() -> None:
    found = problems(example_config(), hr_keys=("inbound-provisioning-access:clients",))
    assert "the HR stacks' namespace" in found["inbound-provisioning-access:clients"]


def test_a_bad_config_fails_the_run_before_anything_is_registered() -> None:
    config = with_changes(repository="inbound-provisioning-access", reviewers={"users": ["octocat"]},
                          environmentSecrets={"staging": {"TOKEN": "hidden-value"}})
    with pytest.raises(SettingsError) as error:
        run_bootstrap(config, secret_keys=["environmentSecrets"])
    assert {p.path for p in error.value.problems} == {"repository", "reviewers.users[0]", "environmentSecrets.staging"}
    assert "hidden-value" not in str(error.value)
    assert LAST_RUN[0].registrations == []
    assert LAST_RUN[0].calls == [], "not even a read of the tenant"


def test_a_sign_in_to_another_tenant_fails_before_anything_is_registered() -> None:
    with pytest.raises(pulumi.RunError, match=r"signed in to tenant 72f988bf-.*but tenantId is 5a8c7c1e-") as error:
        run_bootstrap(example_config(), tenant_id="72f988bf-0000-4000-8000-00000000e1d0")
    assert "az login --tenant" in str(error.value)
    assert LAST_RUN[0].registrations == []
