"""GitHub Actions workflows: valid against GitHub's schema, clean under zizmor, and holding the trust
boundaries docs/gitops.md describes (which code runs with which identity and which secrets)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
NAMES = {"pull-request.yml", "access-plan.yml", "deploy.yml", "scheduled.yml"}

# Every action, pinned to the commit its release tag points to (read from the actions' own
# repositories with `git show-ref --tags`), with that version in a comment.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "azure/login": ("f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "v3.0.1"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
}
WRITE_ENVIRONMENTS = {"deploy", "production", "rotation"}
READ_ENVIRONMENTS = {"preview", "preview-secrets"}
LOCKED_INSTALL = "--require-hashes --no-deps"


def load(name: str) -> dict[str, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads `on` as true
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if str(s.get("uses", "")).startswith(f"{action}@")]


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in sorted(NAMES):
        for job_id, job in load(name)["jobs"].items():
            yield name, job_id, job


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def pulumi_commands(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in uses(job, "pulumi/actions") if "command" in s.get("with", {})]


def check_jsonschema(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True, check=False, timeout=120)


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert binary is not None, "zizmor is a dev dependency (requirements-dev.txt)"
    return subprocess.run([binary, "--offline", "--no-progress", *map(str, paths)],
                          capture_output=True, text=True, check=False, timeout=120)


# --- linters --------------------------------------------------------------------------------

def test_every_workflow_validates_against_githubs_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == NAMES
    result = check_jsonschema(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema(bad).returncode != 0


def test_zizmor_finds_nothing() -> None:
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pull_request_target\npermissions: write-all\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
                   "          ref: ${{ github.event.pull_request.head.sha }}\n"
                   "      - run: echo ${{ github.event.pull_request.title }}\n")
    result = zizmor(bad)
    assert result.returncode != 0
    for audit in ("dangerous-triggers", "unpinned-uses", "template-injection", "artipacked"):
        assert audit in result.stdout, audit


def test_every_zizmor_ignore_says_why() -> None:
    for name in NAMES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            if "zizmor: ignore" in line:
                reason = line.split("zizmor: ignore", 1)[1].split("]", 1)[1].strip()
                assert len(reason) > 20, f"{name}: an ignore without its reason: {line.strip()}"


# --- time limits ----------------------------------------------------------------------------------

# Every job's `timeout-minutes`, fitted to its work (GitHub's default is six hours). Installs take
# 1-3 minutes on a runner; `make test` under a minute on 2 cores; a `pulumi up --refresh` of a stack
# a few minutes, plus the provisioning app's one-time 60 s replication wait and up to 5 minutes of a
# SynchronizationSecret settling (PROVIDER-FACTS.md); the access plan is bounded per stack file by
# tools/stack/limits.py.
TIMEOUTS = {
    ("access-plan.yml", "access-diff"): 10,
    ("deploy.yml", "test"): 15,
    ("deploy.yml", "up"): 30,
    ("deploy.yml", "up-prod"): 30,
    ("deploy.yml", "expiry"): 10,
    ("pull-request.yml", "test"): 15,
    ("pull-request.yml", "preview"): 20,
    ("scheduled.yml", "stacks"): 10,
    ("scheduled.yml", "rotate"): 30,
    ("scheduled.yml", "check"): 20,
    ("scheduled.yml", "audit"): 20,  # per stack: the stack's outputs, then Graph reads of its clients
}


def test_every_job_has_a_timeout_fitted_to_its_work() -> None:
    found = {(name, job_id): job.get("timeout-minutes") for name, job_id, job in all_jobs()}
    assert found == TIMEOUTS, "a new job needs its timeout here, with the reason above"
    for key, minutes in found.items():
        assert isinstance(minutes, int), key
        assert 5 <= minutes <= 30, f"{key}: more than half an hour is no longer a hang we wait out"
    for name in NAMES:
        assert "timeout-minutes" not in load(name), "per job, not per workflow"


# --- supply chain -----------------------------------------------------------------------------

def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    seen = set()
    for name in NAMES:
        for line in (WORKFLOWS / name).read_text().splitlines():
            match = re.search(r"uses:\s*(\S+)@(\S+)(.*)$", line)
            if match is None:
                continue
            action, ref, comment = match.groups()
            assert action in PINS, f"{name}: {action} has no known pin"
            sha, version = PINS[action]
            assert ref == sha, f"{name}: {action}@{ref} is not pinned to {sha} ({version})"
            assert comment.strip() == f"# {version}", f"{name}: {action} needs the comment '# {version}'"
            seen.add(action)
    assert seen == set(PINS)
    assert PINS["pulumi/actions"][1].startswith("v7.")


def test_every_checkout_drops_its_credentials() -> None:
    for name, job_id, job in all_jobs():
        for step in uses(job, "actions/checkout"):
            assert step["with"]["persist-credentials"] is False, f"{name}:{job_id}"


def test_jobs_that_can_mint_a_token_install_locked_runtime_dependencies_only() -> None:
    minting = [(n, j, job) for n, j, job in all_jobs() if job.get("permissions", {}).get("id-token") == "write"]
    assert minting
    for name, job_id, job in minting:
        text = runs(job)
        assert LOCKED_INSTALL in text, f"{name}:{job_id}"
        assert "-r requirements.lock" in text or '-r "$dir/requirements.lock"' in text, f"{name}:{job_id}"
        assert "--only-binary=:all:" in text, f"{name}:{job_id}: no package's build code runs"
        for dev_install in ("requirements-dev", "make test", "make venv", "pip install -r requirements.txt"):
            assert dev_install not in text, f"{name}:{job_id}: {dev_install}: no dev tools, nothing unhashed"


# --- permissions, identities, secrets --------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(NAMES))
def test_nothing_is_granted_at_workflow_level(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    assert "env" not in workflow, "secrets and identities go to the jobs and steps that use them"
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"{job_id} states its permissions"
        assert job["permissions"].get("contents") == "read", job_id
        extra = set(job["permissions"]) - {"contents", "id-token", "pull-requests"}
        assert not extra, f"{job_id}: {extra}"


def test_id_token_only_where_azure_login_uses_it_and_only_in_an_environment() -> None:
    for name, job_id, job in all_jobs():
        wants_token = job["permissions"].get("id-token") == "write"
        assert wants_token == bool(uses(job, "azure/login")), f"{name}:{job_id}"
        if wants_token:
            # The federated subject is `environment:<name>`: no environment, no identity.
            assert "environment" in job, f"{name}:{job_id}"


def test_secrets_only_in_the_steps_that_need_them() -> None:
    for name, job_id, job in all_jobs():
        job_level = yaml.safe_dump({k: v for k, v in job.items() if k != "steps"})
        assert "secrets." not in job_level, f"{name}:{job_id}: secrets at job level"
        for step in steps(job):
            text = yaml.safe_dump(step)
            if "secrets." not in text:
                continue
            if str(step.get("run", "")).startswith("pulumi stack output --json "):
                # The audit's outputs: read with the CLI's blinding secrets manager, no passphrase.
                assert set(step["env"]) == {"STACK", "PULUMI_ACCESS_TOKEN"}, f"{name}:{job_id}: {text}"
                continue
            assert "PULUMI_CONFIG_PASSPHRASE" in text, f"{name}:{job_id}: {text}"
            is_pulumi = str(step.get("uses", "")).startswith("pulumi/actions@") and "command" in step.get("with", {})
            # main's own code reading the state before an update (the pending-create check) or the outputs.
            reads_state = any(f"-m tools.stack.{tool} " in str(step.get("run")) for tool in ("expiry", "pending"))
            assert is_pulumi or reads_state, f"{name}:{job_id}: {text}"
    for name in NAMES:
        assert "ARM_CLIENT_SECRET" not in (WORKFLOWS / name).read_text(), "OIDC only: no client secret"


def test_nothing_runs_after_a_pulumi_command_in_its_job() -> None:
    # pulumi/actions writes every stack output, secrets decrypted, to its step outputs: only the update a
    # preview guards may follow it, and it is pulumi/actions itself, on the same stack.
    for name, job_id, job in all_jobs():
        commands = pulumi_commands(job)
        if commands:
            first = steps(job).index(commands[0])
            assert steps(job)[first:] == commands, f"{name}:{job_id}: a step runs after pulumi"
            assert [c["with"]["command"] for c in commands] in (["preview"], ["up"], ["preview", "up"]), \
                f"{name}:{job_id}: one pulumi command per job, or a preview and the update it guards"
            assert all(c["with"]["suppress-outputs"] is True for c in commands)


def up_jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(n, j, job) for n, j, job in all_jobs() if any(c["with"]["command"] == "up" for c in pulumi_commands(job))]


def test_every_job_that_runs_up_first_refuses_a_state_with_a_pending_create() -> None:
    # pulumi cancel or a killed runner leaves a pending create; the next update would make the object
    # again (a third client secret). make up refuses it (tools/pulumi-stack.sh); so does every workflow.
    for name, job_id, job in up_jobs():
        [check] = [s for s in steps(job) if "-m tools.stack.pending " in str(s.get("run"))]
        assert check["run"].strip() == 'venv/bin/python -m tools.stack.pending --stack "$STACK"', f"{name}:{job_id}"
        assert check["env"]["STACK"] == "${{ matrix.stack }}"
        assert steps(job).index(check) < steps(job).index(pulumi_commands(job)[0]), f"{name}:{job_id}: before preview"
        assert not check.get("if"), f"{name}:{job_id}: a failed check stops the job"


def test_every_job_that_runs_up_previews_with_the_pack_first() -> None:
    # pulumi/actions' `up` is the Automation API's, which passes --skip-preview, and stack policies run only
    # after every step has applied: the whole-stack policy must see the plan before anything changes.
    found = up_jobs()
    assert {(n, j) for n, j, _ in found} == {("deploy.yml", "up"), ("deploy.yml", "up-prod"),
                                             ("scheduled.yml", "rotate")}
    for name, job_id, job in found:
        preview, up = pulumi_commands(job)
        assert (preview["with"]["command"], up["with"]["command"]) == ("preview", "up"), f"{name}:{job_id}"
        assert steps(job).index(preview) + 1 == steps(job).index(up), f"{name}:{job_id}: nothing in between"
        same = {k: v for k, v in up["with"].items() if k != "command"}
        assert {k: v for k, v in preview["with"].items() if k != "command"} == same, \
            f"{name}:{job_id}: the same stack, config, backend, refresh and pack as the update"
        assert preview["uses"] == up["uses"], f"{name}:{job_id}"
        assert preview["env"] == up["env"], f"{name}:{job_id}"
        assert same["policyPacks"] == "${{ github.workspace }}/policy"
        for step in (preview, up):
            # The update goes on only if the preview passed: GitHub skips the steps after a failed one
            # unless a step says otherwise.
            assert "if" not in step, f"{name}:{job_id}"
            assert "continue-on-error" not in step, f"{name}:{job_id}"
            assert "plan" not in step["with"], "update plans: docs/policy-pack.md says why not"


def test_every_preview_and_up_runs_the_policy_pack_with_graphs_object_id() -> None:
    found = 0
    for name, job_id, job in all_jobs():
        for step in pulumi_commands(job):
            found += 1
            assert step["with"]["policyPacks"] in {"${{ github.workspace }}/policy",
                                                   "${{ github.workspace }}/trusted/policy"}, f"{name}:{job_id}"
            assert step["with"]["policyPackConfigs"] == "${{ runner.temp }}/policy-config.json"
            assert "tools/policy-config.sh \"$RUNNER_TEMP/policy-config.json\" \"$STACK\"" in runs(job), \
                f"{name}:{job_id}: the stack, so its existing identities' principals are checked"
            [config_step] = [s for s in job["steps"] if "policy-config.sh" in s.get("run", "")]
            assert config_step["env"] == {"STACK": "${{ matrix.stack }}"}, f"{name}:{job_id}"
    assert found == 8, "a preview and an update in each of three jobs, two previews alone"


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "scheduled.yml"])
def test_stacks_are_discovered_not_hard_coded(name: str) -> None:
    for job_id, job in load(name)["jobs"].items():
        matrix = job.get("strategy", {}).get("matrix")
        if matrix is not None:
            assert set(matrix) == {"include"}, job_id
            assert matrix["include"].startswith("${{ fromJSON(needs."), job_id
    assert "python -m tools.stack.stacks" in (WORKFLOWS / name).read_text()
    assert not re.search(r"stack-name:\s*(dev|prod)\b", (WORKFLOWS / name).read_text())


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "scheduled.yml"])
def test_backend_and_secrets_provider_are_configurable(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "vars.PULUMI_BACKEND_URL" in text
    assert "vars.PULUMI_SECRETS_PROVIDER" in text


@pytest.mark.parametrize("name", ["pull-request.yml", "deploy.yml", "scheduled.yml"])
def test_every_pulumi_step_signs_the_providers_in_with_oidc(name: str) -> None:
    workflow = load(name)
    steps_ = [s for job in workflow["jobs"].values() for s in pulumi_commands(job)]
    assert steps_
    for step in steps_:
        config = yaml.safe_load(step["with"]["config-map"])
        assert config == {"azuread:useOidc": {"value": "true", "secret": False},
                          "azure-native:useOidc": {"value": "true", "secret": False}}
    for job in workflow["jobs"].values():
        if pulumi_commands(job):
            assert job["env"]["ARM_USE_OIDC"] == "true"


# --- the workflows one by one ----------------------------------------------------------------------

def test_pull_request_code_reaches_only_the_read_only_environments() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}
    jobs = workflow["jobs"]
    test = jobs["test"]
    assert test["permissions"] == {"contents": "read"}, "the PR's tests: no token, no identity"
    assert any(s.get("run") == "make test" for s in steps(test))
    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["permissions"] == {"contents": "read", "id-token": "write"}, "no write token for PR code"
    assert preview["environment"] == "${{ matrix.previewEnvironment }}"
    assert preview["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.test.outputs.stacks).all }}"
    pr_code, trusted = uses(preview, "actions/checkout")
    assert "ref" not in pr_code["with"], "the program previewed is the pull request's"
    assert trusted["with"] == {"ref": "${{ github.event.pull_request.base.sha }}", "path": "trusted",
                               "persist-credentials": False}
    assert "trusted/tools/policy-config.sh" in runs(preview)
    [pulumi] = pulumi_commands(preview)
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["diff"] is True
    assert pulumi["with"]["policyPacks"] == "${{ github.workspace }}/trusted/policy"
    assert "comment-on-pr" not in pulumi["with"], "PR code gets no token that can comment"
    text = (WORKFLOWS / "pull-request.yml").read_text()
    assert not WRITE_ENVIRONMENTS & set(re.findall(r"environment:\s*(\S+)", text))


def test_stacks_with_secrets_are_previewed_behind_a_reviewer() -> None:
    from tools.stack.stacks import discover

    for entry in discover(ROOT)["all"]:
        assert entry["previewEnvironment"] in READ_ENVIRONMENTS
        assert (entry["previewEnvironment"] == "preview-secrets") is entry["secrets"]


def test_access_plan_runs_base_code_on_the_pull_requests_stack_files_as_data() -> None:
    workflow = load("access-plan.yml")
    assert set(workflow["on"]) == {"pull_request_target"}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "environment" not in job, "no identity and no stack secrets here"
    [checkout] = uses(job, "actions/checkout")
    assert checkout["with"] == {"ref": "${{ github.event.pull_request.base.sha }}", "persist-credentials": False}
    assert [s["uses"].split("@")[0] for s in steps(job) if "uses" in s] == ["actions/checkout",
                                                                            "actions/setup-python"]
    text = yaml.safe_dump(job)
    assert "head.ref" not in text
    assert "allow-unsafe-pr-checkout" not in text
    assert "secrets." not in text
    fetch = next(s for s in steps(job) if "pr-stacks/" in str(s.get("run")) and "gh api" in str(s.get("run")))
    assert fetch["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    # Bounded work: a few stack files, none read past what tools/stack/limits.py accepts.
    from tools.stack.limits import MAX_FILE_BYTES

    assert f"head -c {MAX_FILE_BYTES + 1} >" in fetch["run"]
    assert '"$(wc -l < pr-stacks.txt)" -gt 20' in fetch["run"]
    assert "--only-binary=:all:" in runs(job)
    assert "-r requirements.lock" in runs(job)
    assert 'python -m tools.plan.plan_diff --base "$name" --pr "pr-stacks/$name"' in runs(job)
    comment = next(s for s in steps(job) if "comments" in str(s.get("run")))
    assert comment["env"]["PR"] == "${{ github.event.pull_request.number }}", "PR number from the event"
    assert "${{" not in comment["run"], "event data reaches the shell through env only"


def test_push_to_main_deploys_non_prod_then_reviewed_prod() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert jobs["test"]["permissions"] == {"contents": "read"}
    assert jobs["up"]["environment"] == "deploy"
    assert jobs["up"]["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.test.outputs.stacks).nonprod }}"
    assert jobs["up-prod"]["environment"] == "production"
    assert jobs["up-prod"]["needs"] == ["test", "up"]
    assert jobs["up-prod"]["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.test.outputs.stacks).prod }}"
    for job_id in ("up", "up-prod"):
        job = jobs[job_id]
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        pulumi = pulumi_commands(job)[-1]
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"
        assert pulumi["with"]["policyPacks"] == "${{ github.workspace }}/policy"


def test_weekly_run_rotates_checks_expiry_and_flags_drift_unattended() -> None:
    workflow = load("scheduled.yml")
    [cron] = workflow["on"]["schedule"]
    fields = cron["cron"].split()
    assert len(fields) == 5
    assert fields[2:4] == ["*", "*"]
    assert fields[4] != "*", "weekly"
    jobs = workflow["jobs"]
    assert jobs["stacks"]["permissions"] == {"contents": "read"}
    rotate, check = jobs["rotate"], jobs["check"]
    assert rotate["environment"] == check["environment"] == "rotation"
    up = pulumi_commands(rotate)[-1]
    assert up["with"]["command"] == "up"
    assert check["needs"] == ["stacks", "rotate"]
    assert "!cancelled()" in check["if"]
    expiry = next(s for s in steps(check) if "tools.stack.expiry" in str(s.get("run")))
    # The tool from the runtime-only venv, not `make`, which would bootstrap the dev tools' installer
    # in a job that holds the write identity.
    assert expiry["run"].strip().splitlines()[-1] == 'venv/bin/python -m tools.stack.expiry --stack "$STACK"'
    assert not any("make " in str(s.get("run", "")) for s in steps(check))
    assert expiry["env"]["STACK"] == "${{ matrix.stack }}"
    [preview] = pulumi_commands(check)
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["expect-no-changes"] is True
    assert preview["if"] == "${{ !cancelled() }}", "drift is checked even when the expiry check failed"
    assert steps(check).index(expiry) < steps(check).index(preview)


def test_a_push_to_main_runs_the_expiry_check_after_deploying_every_stack() -> None:
    jobs = load("deploy.yml")["jobs"]
    check = jobs["expiry"]
    assert check["needs"] == ["test", "up", "up-prod"]
    assert "!cancelled()" in check["if"], "also after a failed deploy"
    assert check["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.test.outputs.stacks).all }}"
    assert check["environment"] == "rotation", "main only, no reviewers: the same as the weekly check"
    assert not pulumi_commands(check), "reads outputs and history only"
    [expiry] = [s for s in steps(check) if "tools.stack.expiry" in str(s.get("run"))]
    assert expiry["run"].strip() == 'venv/bin/python -m tools.stack.expiry --stack "$STACK"'
    assert expiry["env"]["STACK"] == "${{ matrix.stack }}"
    assert steps(check)[-1] is expiry


def test_weekly_run_audits_every_stack_with_the_read_only_identity_and_no_secret_after_the_deploy() -> None:
    jobs = load("scheduled.yml")["jobs"]
    audit = jobs["audit"]
    assert audit["environment"] == "audit"
    assert audit["environment"] not in WRITE_ENVIRONMENTS | READ_ENVIRONMENTS, "main only, read-only identity"
    assert audit["needs"] == ["stacks", "check"], "after the deploy, and after check published the outputs"
    assert "!cancelled()" in audit["if"]
    assert audit["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.stacks.outputs.stacks).all }}"
    assert audit["permissions"] == {"contents": "read", "id-token": "write"}
    # The passphrase and the backend token decrypt every HR credential: the read-only auditor gets neither.
    assert "secrets." not in yaml.safe_dump(audit)
    assert "env" not in audit, "no backend URL either: it never opens the state"
    assert not uses(audit, "pulumi/actions"), "no Pulumi CLI"
    [download] = uses(audit, "actions/download-artifact")
    assert download["with"] == {"name": "outputs-${{ matrix.stack }}", "path": "${{ runner.temp }}/outputs"}
    step = next(s for s in steps(audit) if "tools.audit.audit" in str(s.get("run")))
    assert step["run"].strip() == ('venv/bin/python -m tools.audit.audit --stack "$STACK" --outputs '
                                   '"$RUNNER_TEMP/outputs/outputs.json" --summary "$GITHUB_STEP_SUMMARY"')
    assert step["env"] == {"STACK": "${{ matrix.stack }}"}
    assert steps(audit).index(download) < steps(audit).index(step)


def test_the_audits_outputs_are_published_without_the_passphrase() -> None:
    """`pulumi stack output --json` without --show-secrets prints every secret output as "[secret]"; since
    3.252 it reads the state with a secrets manager that never decrypts (pulumi/pulumi#23820), so the step
    gets what reaches the backend and nothing that decrypts."""
    check = load("scheduled.yml")["jobs"]["check"]
    publish = next(s for s in steps(check) if str(s.get("run", "")).startswith("pulumi stack output"))
    assert publish["run"].strip() == 'pulumi stack output --json --stack "$STACK" > "$RUNNER_TEMP/outputs.json"'
    assert set(publish["env"]) == {"STACK", "PULUMI_ACCESS_TOKEN"}
    [upload] = uses(check, "actions/upload-artifact")
    assert upload["with"] == {"name": "outputs-${{ matrix.stack }}", "path": "${{ runner.temp }}/outputs.json",
                              "if-no-files-found": "error", "retention-days": 1}
    assert steps(check).index(publish) < steps(check).index(upload) < steps(check).index(pulumi_commands(check)[0])
    [cli] = [s for s in uses(check, "pulumi/actions") if "pulumi-version" in s.get("with", {})]
    assert cli["with"]["pulumi-version"] == "^3.252.0"


def test_weekly_run_fails_on_a_quarantined_provisioning_job() -> None:
    audit = load("scheduled.yml")["jobs"]["audit"]
    [job] = [s for s in steps(audit) if "tools.verify.verify" in str(s.get("run"))]
    # make verify --deployer (tools/verify/job.py): a quarantined job exits 1, a paused one is reported.
    assert job["run"].strip() == ('venv/bin/python -m tools.verify.verify --stack "$STACK" --deployer '
                                  '--outputs "$RUNNER_TEMP/outputs/outputs.json"'), "the audit's own outputs file"
    assert job["if"] == "${{ !cancelled() }}", "also when the audit found something"
    assert set(job["env"]) == {"STACK"}, "it reads ids only, from the artifact: no passphrase, no backend token"
    assert steps(audit)[-1] is job


def test_write_environments_appear_only_in_main_only_workflows() -> None:
    for name, job_id, job in all_jobs():
        environment = job.get("environment")
        if environment in WRITE_ENVIRONMENTS:
            assert name in {"deploy.yml", "scheduled.yml"}, f"{name}:{job_id}"
            on = load(name)["on"]
            assert "pull_request" not in on
            assert "pull_request_target" not in on
