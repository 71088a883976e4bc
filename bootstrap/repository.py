"""The GitHub side: the workflows' environments, their variables and secrets, and the rule on main.

Each environment gets its identity's client id as ``AZURE_CLIENT_ID``; every environment but the
previews' accepts ``main`` only; ``preview-secrets`` and ``production`` wait for a reviewer who did not
trigger the run. ``main`` takes changes through pull requests only, with the workflows' checks
passed (as posted by GitHub Actions) and a code owner's review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_github as github

from bootstrap.facts import (
    BACKEND_VARIABLE,
    CLIENT_ID_VARIABLE,
    ENVIRONMENTS,
    GITHUB_ACTIONS_APP_ID,
    IDENTITY_OF_ENVIRONMENT,
    MAIN_BRANCH,
    NAMESPACE,
    PREVIEWS,
    REVIEWED_ENVIRONMENTS,
    SECRETS_PROVIDER_VARIABLE,
    SUBSCRIPTION_VARIABLE,
    TENANT_VARIABLE,
)
from bootstrap.settings import BootstrapSettings

COMPONENT_TYPE = f"{NAMESPACE}:index:RepositorySettings"
RULESET_NAME = f"{MAIN_BRANCH}: pull requests, checks and code owners ({NAMESPACE})"


@dataclass(frozen=True)
class RepositorySettingsArgs:
    """Inputs of :class:`RepositorySettings`."""

    settings: BootstrapSettings
    """The validated config: repository, reviewers, variables, secrets, checks."""
    client_ids: Mapping[str, pulumi.Input[str]]
    """Client ids by identity key: each environment's AZURE_CLIENT_ID."""


def repository_variables(settings: BootstrapSettings) -> dict[str, str]:
    """The repository variables the workflows read, those the config gives (empty ones are left out)."""
    variables = {TENANT_VARIABLE: settings.tenant_id, SUBSCRIPTION_VARIABLE: settings.subscription_id,
                 BACKEND_VARIABLE: settings.backend_url, SECRETS_PROVIDER_VARIABLE: settings.secrets_provider}
    return {name: value for name, value in variables.items() if value}


def environments_output(settings: BootstrapSettings) -> dict[str, dict[str, Any]]:
    """The ``environments`` output: which identity each trusts, which branches it takes, who reviews, what secrets."""
    return {env: {"identity": IDENTITY_OF_ENVIRONMENT[env],
                  "branches": "any" if IDENTITY_OF_ENVIRONMENT[env] == PREVIEWS else MAIN_BRANCH,
                  "requiredReviewers": env in REVIEWED_ENVIRONMENTS,
                  "secrets": sorted(settings.environment_secrets.get(env, {}))}
            for env in ENVIRONMENTS}


class RepositorySettings(pulumi.ComponentResource):
    """The repository's environments, variables, environment secrets and the ruleset on main."""

    def __init__(self, name: str, args: RepositorySettingsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        settings = args.settings
        repo = settings.name
        # The token comes from GITHUB_TOKEN (the provider's own default); the owner from the config.
        provider = github.Provider(f"{name}-provider", owner=settings.owner, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        for env in ENVIRONMENTS:
            main_only = IDENTITY_OF_ENVIRONMENT[env] != PREVIEWS
            reviewed = env in REVIEWED_ENVIRONMENTS
            environment = github.RepositoryEnvironment(
                f"{name}-environment-{env}",
                repository=repo,
                environment=env,
                # Custom policies (the one below), not "protected branches": a protected branch other
                # than main would otherwise reach the writer.
                deployment_branch_policy=github.RepositoryEnvironmentDeploymentBranchPolicyArgs(
                    protected_branches=False, custom_branch_policies=True) if main_only else None,
                reviewers=[github.RepositoryEnvironmentReviewerArgs(
                    teams=list(settings.reviewer_teams), users=list(settings.reviewer_users))] if reviewed else None,
                prevent_self_review=True if reviewed else None,
                # Otherwise a repository admin could skip the review, and run from another branch.
                can_admins_bypass=False,
                opts=child,
            )
            env_opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[environment])
            if main_only:
                github.RepositoryEnvironmentDeploymentPolicy(
                    f"{name}-environment-{env}-branch-{MAIN_BRANCH}", repository=repo, environment=env,
                    branch_pattern=MAIN_BRANCH, opts=env_opts)
            github.ActionsEnvironmentVariable(
                f"{name}-environment-{env}-{CLIENT_ID_VARIABLE}", repository=repo, environment=env,
                variable_name=CLIENT_ID_VARIABLE, value=args.client_ids[IDENTITY_OF_ENVIRONMENT[env]], opts=env_opts)
            for secret_name, value in sorted(settings.environment_secrets.get(env, {}).items()):
                github.ActionsEnvironmentSecret(
                    f"{name}-environment-{env}-secret-{secret_name}", repository=repo, environment=env,
                    secret_name=secret_name, value=pulumi.Output.secret(value), opts=env_opts)
        for variable, value in repository_variables(settings).items():
            github.ActionsVariable(f"{name}-variable-{variable}", repository=repo, variable_name=variable,
                                   value=value, opts=child)
        _main_ruleset(name, settings, child)
        self.register_outputs({})


def _main_ruleset(name: str, settings: BootstrapSettings, opts: pulumi.ResourceOptions) -> github.RepositoryRuleset:
    return github.RepositoryRuleset(
        f"{name}-ruleset-{MAIN_BRANCH}",
        name=RULESET_NAME,
        repository=settings.name,
        target="branch",
        enforcement="active",
        conditions=github.RepositoryRulesetConditionsArgs(ref_name=github.RepositoryRulesetConditionsRefNameArgs(
            includes=[f"refs/heads/{MAIN_BRANCH}"], excludes=[])),
        # No bypass actors: the rule binds administrators too.
        rules=github.RepositoryRulesetRulesArgs(
            deletion=True,
            non_fast_forward=True,
            pull_request=github.RepositoryRulesetRulesPullRequestArgs(
                required_approving_review_count=1,
                require_code_owner_review=True,
                dismiss_stale_reviews_on_push=True,
                # The last push must be approved by someone else than its author.
                require_last_push_approval=True,
            ),
            required_status_checks=github.RepositoryRulesetRulesRequiredStatusChecksArgs(
                required_checks=[github.RepositoryRulesetRulesRequiredStatusChecksRequiredCheckArgs(
                    context=check, integration_id=GITHUB_ACTIONS_APP_ID) for check in settings.required_checks],
                strict_required_status_checks_policy=True,
            ),
        ),
        opts=opts,
    )
