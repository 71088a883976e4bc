"""The bootstrap's config → :class:`BootstrapSettings`, or one error listing every problem with its key path.

Checked the way the HR program checks its own (``components/settings/``, whose checker this
reuses): every problem at once, each with its key path, the value given and what is allowed;
unknown keys refused; values under a secret key never shown. :func:`parse_bootstrap` is pure, so
every rule is tested without Pulumi; :func:`load_bootstrap` reads the stack's config.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from bootstrap.facts import (
    AZURE_ROLES,
    DEFAULT_REQUIRED_CHECKS,
    ENVIRONMENTS,
    IDENTITY_BY_KEY,
    NAMESPACE,
    SCOPE_FORMS,
    SCOPE_PATTERNS,
    AzureRole,
)
from components.settings.model import GUID_RE
from components.settings.problems import MISSING, Checker, Problem, SettingsError, quoted_hint
from components.settings.stack_config import NAMESPACE as HR_NAMESPACE
from components.settings.stack_config import config_env, read_raw_config, secret_keys_of

TOP_LEVEL_KEYS = ("repository", "tenantId", "subscriptionId", "reviewers", "requiredChecks", "pulumiBackendUrl",
                  "pulumiSecretsProvider", "environmentSecrets", "azureRoles")
SECRETS_KEY = "environmentSecrets"

# GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not at either end; a
# repository name is 1-100 letters, digits, '.', '-' or '_', and not '.' or '..'.
OWNER_RE = re.compile(r"^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$")
REPO_NAME_RE = re.compile(r"^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$")
REPOSITORY_FORM = "owner/name of the GitHub repository, e.g. contoso/inbound-provisioning-access"
# GitHub: secret names are letters, digits and _, not starting with a digit or GITHUB_; values up to 48 KB.
SECRET_NAME_RE = re.compile(r"^(?!GITHUB_)[A-Z_][A-Z0-9_]*$", re.IGNORECASE)
MAX_SECRET_CHARS = 48 * 1024
MAX_REVIEWERS = 6  # GitHub's limit of required reviewers per environment
BACKEND_SCHEMES = ("azblob://", "s3://", "gs://", "https://")
SECRETS_PROVIDERS = ("azurekeyvault://", "awskms://", "gcpkms://", "hashivault://", "passphrase")


@dataclass(frozen=True)
class RoleAssignment:
    """An Azure role a pipeline identity gets, at exactly one scope."""

    identity: str
    role: AzureRole
    scope: str


@dataclass(frozen=True)
class BootstrapSettings:
    """The validated bootstrap config."""

    owner: str
    """The repository's owner (user or organization): the GitHub provider's ``owner``."""
    name: str
    """The repository's name."""
    tenant_id: str
    subscription_id: str
    reviewer_teams: tuple[int, ...]
    reviewer_users: tuple[int, ...]
    required_checks: tuple[str, ...]
    backend_url: str | None = None
    secrets_provider: str | None = None
    environment_secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Secret values by environment and name: plain here, wrapped in ``Output.secret`` where used."""
    azure_roles: tuple[RoleAssignment, ...] = ()

    @property
    def repository(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_bootstrap(raw: Mapping[str, Any], stack: str, secret_keys: frozenset[str] = frozenset(),
                    hr_keys: tuple[str, ...] = ()) -> BootstrapSettings:
    """Validate raw config (keys without the namespace); raise :class:`SettingsError` listing every problem.

    ``hr_keys`` are keys in the HR program's namespace, which a bootstrap stack file must not hold.
    """
    # environmentSecrets is never shown, whether or not it was set with --secret.
    check = Checker(dt.datetime.now(dt.UTC), secret_keys | {SECRETS_KEY})
    for key in hr_keys:
        check.problems.append(Problem(key, "(ignored)", f"the HR stacks' namespace; the bootstrap's keys are "
                                                        f"`{NAMESPACE}:<key>`"))
    check.only_keys(raw, "", TOP_LEVEL_KEYS)
    owner, name = _repository(check, raw)
    guid = "a GUID (`az account show --query {} -o tsv`)"
    tenant_id = check.string(raw, "tenantId", "", pattern=GUID_RE, allowed=guid.format("tenantId"))
    subscription_id = check.string(raw, "subscriptionId", "", pattern=GUID_RE, allowed=guid.format("id"))
    teams, users = _reviewers(check, raw.get("reviewers", MISSING))
    checks = _required_checks(check, raw.get("requiredChecks", list(DEFAULT_REQUIRED_CHECKS)))
    backend = _url(check, raw, "pulumiBackendUrl", BACKEND_SCHEMES, "empty for Pulumi Cloud")
    provider = _url(check, raw, "pulumiSecretsProvider", SECRETS_PROVIDERS, "empty for the backend's default")
    secrets = _environment_secrets(check, raw.get(SECRETS_KEY, {}), secret_keys)
    roles = _azure_roles(check, raw.get("azureRoles", {}))
    # With no problem, every required value was read (the None tests are for the type checker).
    if check.problems or owner is None or name is None or tenant_id is None or subscription_id is None:
        raise SettingsError(stack, [_relabel(p) for p in check.problems])
    return BootstrapSettings(owner, name, tenant_id, subscription_id, teams, users, checks, backend, provider,
                             secrets, roles)


def _relabel(problem: Problem) -> Problem:
    # Checker.add names top-level keys ".key" when given an empty path.
    return Problem(problem.path.lstrip("."), problem.shown, problem.allowed)


def _repository(check: Checker, raw: Mapping[str, Any]) -> tuple[str | None, str | None]:
    value = raw.get("repository", MISSING)
    if value is MISSING:
        check.add("repository", value, f"required; {REPOSITORY_FORM}")
        return None, None
    owner, slash, name = value.partition("/") if isinstance(value, str) else ("", "", "")
    if not slash:
        check.add("repository", value, f"{REPOSITORY_FORM}: the owner is missing")
    elif not OWNER_RE.match(owner) or not REPO_NAME_RE.match(name):
        check.add("repository", value, f"{REPOSITORY_FORM} (an owner is 1-39 letters, digits or hyphens; "
                                       "a name 1-100 letters, digits, '.', '-' or '_')")
    else:
        return owner, name
    return None, None


def _reviewers(check: Checker, value: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    path = "reviewers"
    how = {"teams": "gh api orgs/<org>/teams/<team-slug> --jq .id", "users": "gh api users/<login> --jq .id"}
    if value is MISSING:
        check.add(path, value, "required: production waits for one of them; {teams: [<team id>], users: "
                               "[<user id>]}, numeric GitHub ids")
        return (), ()
    obj = check.mapping(value, path)
    if obj is None:
        return (), ()
    check.only_keys(obj, path, ("teams", "users"))
    found: dict[str, tuple[int, ...]] = {}
    for kind, command in how.items():
        ids = obj.get(kind, [])
        if not isinstance(ids, list):
            check.add(f"{path}.{kind}", ids, "a list of numeric GitHub ids")
            continue
        good = []
        for i, item in enumerate(ids):
            if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
                check.add(f"{path}.{kind}[{i}]", item,
                          f"a numeric GitHub id, not a name (`{command}`){quoted_hint(item, int)}")
            else:
                good.append(item)
        found[kind] = tuple(good)
    total = sum(len(ids) for ids in (obj.get("teams", []), obj.get("users", [])) if isinstance(ids, list))
    if total == 0 or total > MAX_REVIEWERS:
        check.add(path, value, f"1 to {MAX_REVIEWERS} reviewers in all (GitHub's limit): production needs one")
    return found.get("teams", ()), found.get("users", ())


def _required_checks(check: Checker, value: Any) -> tuple[str, ...]:
    allowed = "a non-empty list of check names (a workflow job's `name:`), each at most 255 characters"
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v.strip() and len(v) <= 255 for v in value)):
        check.add("requiredChecks", value, allowed)
        return ()
    if len(set(value)) != len(value):
        check.add("requiredChecks", value, "each check once")
    return tuple(value)


def _url(check: Checker, raw: Mapping[str, Any], key: str, schemes: tuple[str, ...], empty: str) -> str | None:
    value = raw.get(key, MISSING)
    if value is MISSING or value == "":
        return None
    if not isinstance(value, str) or len(value) > 1024 or not value.startswith(schemes) or any(c.isspace()
                                                                                            for c in value):
        check.add(key, value, f"a URL starting with {', '.join(schemes)}; or leave it out ({empty})")
        return None
    return value


def _environment_secrets(check: Checker, value: Any, secret_keys: frozenset[str]) -> dict[str, dict[str, str]]:
    path = SECRETS_KEY
    if value == {}:
        return {}
    if path not in secret_keys:
        check.add(path, value, f"set it as a secret (`pulumi config set --secret --path "
                               f"'{path}.<environment>.<NAME>'`): a plain value sits in the stack file as it is")
    obj = check.mapping(value, path)
    found: dict[str, dict[str, str]] = {}
    for env, secrets in (obj or {}).items():
        env_path = f"{path}.{env}"
        if env not in ENVIRONMENTS:
            check.add(env_path, secrets, f"unknown environment; the workflows use: {', '.join(ENVIRONMENTS)}")
            continue
        by_name = check.mapping(secrets, env_path)
        for name, text in (by_name or {}).items():
            if not isinstance(name, str) or not SECRET_NAME_RE.match(name):
                check.add(f"{env_path}.{name}", text, "a secret name: letters, digits and _, not starting with a "
                                                      "digit or GITHUB_")
            elif not isinstance(text, str) or not text or len(text) > MAX_SECRET_CHARS:
                check.add(f"{env_path}.{name}", text, "a non-empty string of at most 48 KB (GitHub's limit)")
            else:
                found.setdefault(str(env), {})[name] = text
    return found


def _azure_roles(check: Checker, value: Any) -> tuple[RoleAssignment, ...]:
    obj = check.mapping(value, "azureRoles")
    found: list[RoleAssignment] = []
    for identity, entries in (obj or {}).items():
        path = f"azureRoles.{identity}"
        if identity not in IDENTITY_BY_KEY:
            check.add(path, entries, f"unknown identity; one of {', '.join(IDENTITY_BY_KEY)}")
            continue
        if not isinstance(entries, list):
            check.add(path, entries, "a list of {role, scope}")
            continue
        for i, entry in enumerate(entries):
            assignment = _role_assignment(check, str(identity), entry, f"{path}[{i}]")
            if assignment is not None and assignment in found:
                check.add(f"{path}[{i}]", entry, "the same role at the same scope is listed once")
            elif assignment is not None:
                found.append(assignment)
    return tuple(found)


def _role_assignment(check: Checker, identity: str, entry: Any, path: str) -> RoleAssignment | None:
    obj = check.mapping(entry, path)
    if obj is None:
        return None
    check.only_keys(obj, path, ("role", "scope"))
    role_name = obj.get("role", MISSING)
    mine = [name for name, role in AZURE_ROLES.items() if identity in role.identities]
    role = AZURE_ROLES.get(role_name) if isinstance(role_name, str) else None
    if role is None or identity not in role.identities:
        why = f"{role.name} is not for the {identity} identity; " if role is not None else ""
        check.add(f"{path}.role", role_name, f"{why}the {identity}'s Azure roles: "
                                             f"{'; '.join(f'{n} ({AZURE_ROLES[n].purpose})' for n in mine)}"
                                             f"{check.near_miss(path, role_name, mine) if role is None else ''}")
        return None
    forms = " or ".join(f"a {kind}, {SCOPE_FORMS[kind]}" for kind in role.scopes)
    scope = check.string(obj, "scope", path, max_len=1024, allowed=f"{role.name} is given at {forms}, and no wider")
    if scope is None:
        return None
    if not any(re.fullmatch(SCOPE_PATTERNS[kind], scope, re.IGNORECASE) for kind in role.scopes):
        check.add(f"{path}.scope", scope, f"{role.name} is given at {forms}, and no wider")
        return None
    return RoleAssignment(identity, role, scope)


@dataclass(frozen=True)
class _StackConfig:
    raw: dict[str, Any]
    secret_keys: frozenset[str]
    hr_keys: tuple[str, ...]


def _read_config() -> _StackConfig:
    # Read as the HR program reads its own namespace (components/settings/stack_config.py).
    raw = read_raw_config(NAMESPACE)
    return _StackConfig(raw, secret_keys_of(raw, NAMESPACE),
                        tuple(k for k in config_env() if k.startswith(f"{HR_NAMESPACE}:")))


def load_bootstrap() -> BootstrapSettings:
    """This stack's validated config; raises :class:`SettingsError` before anything is registered."""
    config = _read_config()
    return parse_bootstrap(config.raw, pulumi.get_stack(), config.secret_keys, config.hr_keys)
