"""The bootstrap's own rules, judged on what a run registers (the HR stacks' policy pack does not apply here).

- The writer holds exactly its two Graph roles; the other identities only read roles.
- No identity trusts a pull request or a branch: each federated credential names GitHub's issuer
  and one of its own environments (a pull request subject would be tolerated on the previews'
  identity alone, which runs pull requests anyway).
- No identity gets a secret: no password or certificate resource, no inline password.
- Nothing but the types the bootstrap registers (:data:`ALLOWED_TYPES`): a directory role assignment or
  an owner would pass every rule above.

:func:`violations` takes the registered resources (type, parent URN, inputs), as the mock engine
records them in the tests and as a stack policy would see them, and the Graph role values by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from bootstrap.facts import GITHUB_ISSUER, IDENTITY_BY_KEY, PREVIEWS, WRITER_GRAPH_ROLES, environment_subject

GRANT_TYPE = "azuread:index/appRoleAssignment:AppRoleAssignment"
FEDERATED_TYPE = "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
APPLICATION_TYPE = "azuread:index/application:Application"
# Every azuread resource that puts a secret or a certificate on an app or a service principal.
CREDENTIAL_TYPES = frozenset({
    "azuread:index/applicationPassword:ApplicationPassword",
    "azuread:index/applicationCertificate:ApplicationCertificate",
    "azuread:index/servicePrincipalPassword:ServicePrincipalPassword",
    "azuread:index/servicePrincipalCertificate:ServicePrincipalCertificate",
    "azuread:index/servicePrincipalTokenSigningCertificate:ServicePrincipalTokenSigningCertificate",
})


# Every type the bootstrap registers. The rules above judge these; any other type (a directory role
# assignment, a delegated permission grant, an owner, a service principal password) is refused, since
# rules that judge only what they know would let it through.
ALLOWED_TYPES = frozenset({
    "pulumi:pulumi:Stack",
    "inbound-provisioning-access-bootstrap:index:PipelineIdentity",
    "inbound-provisioning-access-bootstrap:index:RepositorySettings",
    APPLICATION_TYPE, "azuread:index/servicePrincipal:ServicePrincipal", GRANT_TYPE, FEDERATED_TYPE,
    "azure-native:authorization:RoleAssignment",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
    "github:index/actionsVariable:ActionsVariable",
    "github:index/repositoryEnvironment:RepositoryEnvironment",
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    "github:index/repositoryRuleset:RepositoryRuleset",
    "pulumi:providers:azuread", "pulumi:providers:azure-native", "pulumi:providers:github",
})


class RegisteredResource(Protocol):
    """What the rules read of a registered resource."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...


def owner_identity(resource: RegisteredResource) -> str | None:
    """The pipeline identity a resource belongs to: its parent component's name."""
    name = resource.parent.rsplit("::", 1)[-1]
    return name if name in IDENTITY_BY_KEY else None


def violations(resources: Iterable[RegisteredResource], role_values: Mapping[str, str], repository: str) -> list[str]:
    """Every broken rule, one line each (empty: all kept). ``role_values`` maps Graph app role ids to values."""
    found: list[str] = []
    granted: dict[str, set[str]] = {key: set() for key in IDENTITY_BY_KEY}
    for resource in resources:
        identity = owner_identity(resource)
        if resource.type not in ALLOWED_TYPES | CREDENTIAL_TYPES:
            found.append(f"{resource.name}: {resource.type} is not a type the bootstrap registers (bootstrap/rules.py, "
                         "ALLOWED_TYPES)")
        elif resource.type in CREDENTIAL_TYPES:
            found.append(f"{resource.name}: no identity gets a secret or a certificate ({resource.type})")
        elif resource.type == APPLICATION_TYPE and resource.inputs.get("password"):
            found.append(f"{resource.name}: no identity gets a secret (an inline password)")
        elif resource.type == GRANT_TYPE:
            value = role_values.get(str(resource.inputs.get("appRoleId")), str(resource.inputs.get("appRoleId")))
            if identity is None:
                found.append(f"{resource.name}: a Graph role ({value}) outside the three identities")
            else:
                granted[identity].add(value)
        elif resource.type == FEDERATED_TYPE:
            found += _trust_problems(resource, identity, repository)
    writer = set(WRITER_GRAPH_ROLES)
    if granted["writer"] != writer:
        got = ", ".join(sorted(granted["writer"])) or "none"
        found.append(f"writer: exactly {', '.join(sorted(writer))}; got {got}")
    for key, values in granted.items():
        writes = sorted(v for v in values if key != "writer" and ("ReadWrite" in v or ".Read." not in v))
        if writes:
            found.append(f"{key}: read-only, but holds {', '.join(writes)}")
    return found


def _trust_problems(resource: RegisteredResource, identity: str | None, repository: str) -> list[str]:
    issuer, subject = resource.inputs.get("issuer"), str(resource.inputs.get("subject"))
    if identity is None:
        return [f"{resource.name}: a federated credential outside the three identities ({subject})"]
    problems = []
    if issuer != GITHUB_ISSUER:
        problems.append(f"{resource.name}: issuer {issuer}, not GitHub Actions' {GITHUB_ISSUER}")
    own = {environment_subject(repository, env) for env in IDENTITY_BY_KEY[identity].environments}
    if subject == f"repo:{repository}:pull_request" and identity != PREVIEWS:
        problems.append(f"{resource.name}: {identity} trusts pull requests ({subject}); only the previews may")
    elif subject not in own and not (identity == PREVIEWS and subject == f"repo:{repository}:pull_request"):
        problems.append(f"{resource.name}: {identity} trusts {subject}; only its environments' subjects "
                        f"({', '.join(sorted(own))})")
    return problems
