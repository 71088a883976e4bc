"""GitHub Actions workflows: valid against GitHub's schema, with the triggers, permissions and steps we rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(action)]


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True, check=False, timeout=120)


def test_every_workflow_validates_against_githubs_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"pull-request.yml", "plan-comment.yml", "deploy.yml", "scheduled.yml"}
    result = check_jsonschema(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema(bad).returncode != 0


def test_pull_request_runs_tests_plans_and_previews() -> None:
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert any(s.get("run") == "make test" for s in steps(jobs["test"]))
    plan_runs = " ".join(s.get("run", "") for s in steps(jobs["plan"]))
    assert "make plan STACK=${{ matrix.stack }}" in plan_runs
    assert set(jobs["plan"]["strategy"]["matrix"]["stack"]) == {"dev", "prod"}
    assert "secrets." not in yaml.safe_dump(jobs["plan"]), "the plan needs no credentials (forks)"
    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["permissions"]["id-token"] == "write"
    assert preview["env"]["ARM_USE_OIDC"] == "true"
    assert uses(preview, "azure/login")
    [pulumi] = uses(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["diff"] is True
    assert pulumi["with"]["comment-on-pr"] is True


def test_plan_comment_is_posted_from_the_base_repository() -> None:
    workflow = load("plan-comment.yml")
    assert workflow["on"]["workflow_run"] == {"workflows": ["pull-request"], "types": ["completed"]}
    assert workflow["permissions"]["pull-requests"] == "write"
    job = workflow["jobs"]["comment"]
    assert not uses(job, "actions/checkout"), "never runs the pull request's code"
    assert uses(job, "actions/download-artifact")
    assert any("gh pr comment" in s.get("run", "") for s in steps(job))


def test_push_to_main_deploys_dev_then_reviewed_prod() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"]["id-token"] == "write"
    assert workflow["env"]["ARM_USE_OIDC"] == "true"
    assert "ARM_CLIENT_SECRET" not in yaml.safe_dump(workflow), "OIDC only: no client secret for the pipeline"
    jobs = workflow["jobs"]
    assert jobs["up-dev"]["needs"] == "test"
    assert jobs["up-prod"]["needs"] == "up-dev"
    assert jobs["up-prod"]["environment"] == "production"
    for name, stack in (("up-dev", "dev"), ("up-prod", "prod")):
        [pulumi] = uses(jobs[name], "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"] == stack
        assert uses(jobs[name], "azure/login")


def test_weekly_run_rotates_and_flags_drift() -> None:
    workflow = load("scheduled.yml")
    [cron] = workflow["on"]["schedule"]
    fields = cron["cron"].split()
    assert len(fields) == 5
    assert fields[2:4] == ["*", "*"]
    assert fields[4] != "*", "weekly"
    job = workflow["jobs"]["rotate-and-correct"]
    assert {m["stack"] for m in job["strategy"]["matrix"]["include"]} == {"dev", "prod"}
    up, preview = uses(job, "pulumi/actions")
    assert up["with"]["command"] == "up"
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["expect-no-changes"] is True
    assert workflow["permissions"]["id-token"] == "write"


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "scheduled.yml"])
def test_backend_and_secrets_provider_are_configurable(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "vars.PULUMI_BACKEND_URL" in text
    assert "vars.PULUMI_SECRETS_PROVIDER" in text


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "scheduled.yml"])
def test_every_pulumi_step_signs_the_providers_in_with_oidc(name: str) -> None:
    workflow = load(name)
    steps_ = [s for job in workflow["jobs"].values() for s in uses(job, "pulumi/actions")]
    assert steps_
    for step in steps_:
        config = yaml.safe_load(step["with"]["config-map"])
        assert config == {"azuread:useOidc": {"value": "true", "secret": False},
                          "azure-native:useOidc": {"value": "true", "secret": False}}
    assert "ARM_CLIENT_SECRET" not in (WORKFLOWS / name).read_text()
