"""The bootstrap's own rules hold for what its example stack registers, and catch each way of breaking them."""

from __future__ import annotations

import dataclasses

import pytest

from bootstrap.rules import CREDENTIAL_TYPES, FEDERATED_TYPE, GRANT_TYPE, violations
from tests.conftest import ROLE_ID
from tools.offline.entra import OfflineEntra
from tools.offline.run import ProgramRun, Registration

Run = tuple[OfflineEntra, ProgramRun]
REPO = "contoso/inbound-provisioning-access"
ROLE_VALUE = {role_id: value for value, role_id in ROLE_ID.items()}


def judged(registrations: list[Registration]) -> list[str]:
    return violations(registrations, ROLE_VALUE, REPO)


def changed(run: ProgramRun, name: str, **inputs: object) -> list[Registration]:
    """The run's registrations with one resource's inputs changed."""
    return [dataclasses.replace(r, inputs={**r.inputs, **inputs}) if r.name == name else r for r in run.registrations]


def test_the_example_keeps_every_rule(example_run: Run) -> None:
    _, run = example_run
    assert judged(run.registrations) == []


def test_the_writer_holds_exactly_its_two_roles(example_run: Run) -> None:
    _, run = example_run
    one_more = dataclasses.replace(run.named("writer-grant-Application.ReadWrite.All"),
                                   name="writer-grant-extra", inputs={"appRoleId": ROLE_ID["Directory.ReadWrite.All"]})
    assert judged([*run.registrations, one_more]) == [
        "writer: exactly AppRoleAssignment.ReadWrite.All, Application.ReadWrite.All; "
        "got AppRoleAssignment.ReadWrite.All, Application.ReadWrite.All, Directory.ReadWrite.All"]
    one_less = [r for r in run.registrations if r.name != "writer-grant-AppRoleAssignment.ReadWrite.All"]
    assert judged(one_less)[0].startswith("writer: exactly")


def test_the_readers_only_read(example_run: Run) -> None:
    _, run = example_run
    registrations = changed(run, "auditor-grant-Directory.Read.All", appRoleId=ROLE_ID["Directory.ReadWrite.All"])
    assert judged(registrations) == ["auditor: read-only, but holds Directory.ReadWrite.All"]


@pytest.mark.parametrize("subject", [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main",
                                     f"repo:{REPO}:environment:preview", "repo:other/repo:environment:deploy"])
def test_the_writer_trusts_no_pull_request_branch_or_other_environment(example_run: Run, subject: str) -> None:
    _, run = example_run
    (problem,) = judged(changed(run, "writer-github-deploy", subject=subject))
    assert problem.startswith(f"writer-github-deploy: writer trusts {subject if 'pull' not in subject else 'pull'}")


def test_only_the_previews_may_trust_pull_requests(example_run: Run) -> None:
    _, run = example_run
    assert judged(changed(run, "previews-github-preview", subject=f"repo:{REPO}:pull_request")) == []
    (problem,) = judged(changed(run, "auditor-github-audit", subject=f"repo:{REPO}:pull_request"))
    assert "only the previews may" in problem


def test_a_foreign_issuer_is_refused(example_run: Run) -> None:
    _, run = example_run
    (problem,) = judged(changed(run, "auditor-github-audit", issuer="https://gitlab.example.com"))
    assert "not GitHub Actions'" in problem


@pytest.mark.parametrize("credential_type", sorted(CREDENTIAL_TYPES))
def test_no_identity_gets_a_secret(example_run: Run, credential_type: str) -> None:
    _, run = example_run
    secret = dataclasses.replace(run.named("writer-app"), type=credential_type, name="writer-secret", inputs={})
    assert judged([*run.registrations, secret]) == [
        f"writer-secret: no identity gets a secret or a certificate ({credential_type})"]
    inline = changed(run, "previews-app", password={"displayName": "ci"})
    assert judged(inline) == ["previews-app: no identity gets a secret (an inline password)"]


def test_grants_and_trust_outside_the_identities_are_refused(example_run: Run) -> None:
    _, run = example_run
    stray = [dataclasses.replace(r, parent="urn:pulumi:example::p::pulumi:pulumi:Stack::p-example")
             for r in (run.named("writer-github-deploy"), run.named("previews-grant-Application.Read.All"))]
    assert {r.type for r in stray} == {FEDERATED_TYPE, GRANT_TYPE}
    problems = judged([*run.registrations, *stray])
    assert len(problems) == 2
    assert "writer-github-deploy: a federated credential outside the three identities" in problems[0]
    assert problems[1] == ("previews-grant-Application.Read.All: a Graph role (Application.Read.All) "
                           "outside the three identities")


@pytest.mark.parametrize("typ", ["azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
                                 "azuread:index/servicePrincipalDelegatedPermissionGrant:"
                                 "ServicePrincipalDelegatedPermissionGrant",
                                 "azuread:index/applicationOwner:ApplicationOwner"])
def test_a_type_the_bootstrap_does_not_register_is_refused(example_run: Run, typ: str) -> None:
    # Global Administrator for the auditor would pass rules that judge only grants, credentials and trusts.
    _, run = example_run
    extra = dataclasses.replace(run.named("writer-grant-Application.ReadWrite.All"), name="auditor-extra", type=typ,
                                inputs={"roleId": "62e90394-69f5-4237-9190-012177145e10"})
    assert judged([*run.registrations, extra]) == [f"auditor-extra: {typ} is not a type the bootstrap registers "
                                                   "(bootstrap/rules.py, ALLOWED_TYPES)"]
