"""The Makefile: `make up` / `make preview` wiring with a stand-in `pulumi` that records its arguments, `make help`,
`ARGS=--help` and exit status."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.plan import plan

STAND_IN = """#!/usr/bin/env bash
echo "$PULUMI_BACKEND_URL|$*" >> "$RECORD"
case "$1 $2" in "stack export") cat "$RECORD.state" 2>/dev/null || echo '{}' ;; esac
for arg in "$@"; do case "$prev" in --policy-pack-config) cat "$arg" > "$RECORD.policy" ;; esac; prev="$arg"; done
if [ "$1" = preview ] && [ -n "${FAIL_PREVIEW:-}" ]; then echo "policy violation" >&2; exit 1; fi
"""
GRAPH_SP = "0b5f3c2e-1111-4222-8333-444455556666"
# Resolves Pulumi.prod.yaml's existing identity (tools/policy-config.sh asks `az` for its object id).
AZ_STAND_IN = """#!/usr/bin/env bash
case "$*" in "ad sp list --filter displayName eq 'CSV2SCIMBulkUpload' "*) echo 7c6d5e4f-3a2b-4c1d-8e0f-a1b2c3d4e5f6 ;;
  *) exit 3 ;; esac
"""
POLICY = f"--policy-pack {ROOT}/policy --policy-pack-config <config>"


def recorded(record: Path) -> list[str]:
    """The recorded calls, with the temporary policy config path replaced by <config>."""
    return [re.sub(r"--policy-pack-config \S+", "--policy-pack-config <config>", line)
            for line in record.read_text().splitlines()]


@pytest.fixture
def stand_in(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(STAND_IN)
    (bin_dir / "pulumi").chmod(0o755)
    (bin_dir / "az").write_text(AZ_STAND_IN)
    (bin_dir / "az").chmod(0o755)
    record = tmp_path / "record.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", RECORD=str(record), PULUMI_CONFIG_PASSPHRASE="test-passphrase",
               GRAPH_SERVICE_PRINCIPAL_OBJECT_ID=GRAPH_SP)
    return env, record


def make(target: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), target, *args],  # noqa: S607
                          env=env, capture_output=True, text=True, check=False, timeout=120)


def test_up_selects_or_creates_the_stack_on_the_local_backend(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    result = make("up", env, "STACK=dev")
    assert result.returncode == 0, result.stderr
    backend = f"file://{ROOT}/.pulumi-state"
    assert recorded(record) == [
        f"{backend}|stack select --create dev --non-interactive",
        f"{backend}|stack export --stack dev",
        f"{backend}|up --stack dev {POLICY}",
    ]
    config = json.loads(Path(f"{record}.policy").read_text())
    # Pulumi.dev.yaml has no existing identity: an empty map, which the pack checks grants against; and what
    # it declares, which the stack must match.
    assert config["graph-roles-allowlist"] == {"graphServicePrincipalObjectId": GRAPH_SP}
    assert config["whole-stack"]["existingIdentityPrincipals"] == {}
    assert config["whole-stack"]["stackFile"] == config["stack-file"]["stackFile"]
    assert config["stack-file"]["stackFile"]["stack"] == "dev"
    assert set(config["stack-file"]["stackFile"]["clients"]) == {"hr-sync"}


def test_up_with_skip_preview_previews_with_the_pack_first_and_stops_when_it_fails(
        stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    env["FAIL_PREVIEW"] = "1"  # the pack refuses: the stand-in's preview exits 1
    assert make("up", env, "STACK=dev", "ARGS=--yes --skip-preview").returncode != 0
    assert recorded(record)[2:] == [f"file://{ROOT}/.pulumi-state|preview --stack dev {POLICY}"], \
        "a preview with the pack, and no update after it was refused"


def test_preview_shows_a_diff_and_respects_a_configured_backend(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    env["PULUMI_BACKEND_URL"] = "azblob://state"
    result = make("preview", env, "STACK=prod", "ARGS=--expect-no-changes")
    assert result.returncode == 0, result.stderr
    assert recorded(record) == [
        "azblob://state|stack select --create prod --non-interactive",
        "azblob://state|stack export --stack prod",
        f"azblob://state|preview --diff --stack prod {POLICY} --expect-no-changes",
    ]
    config = json.loads(Path(f"{record}.policy").read_text())
    assert config["whole-stack"]["existingIdentityPrincipals"] == {
        "csv-logic-app": "7c6d5e4f-3a2b-4c1d-8e0f-a1b2c3d4e5f6"}


@pytest.mark.parametrize("args", ["--yes --exclude=urn", "-turn", "--continue-on-error", "-x urn",
                                  # pflag bundles boolean shorthands (-y, -f, -r, -d, -j) before -t: still --target
                                  "-yt urn", "-yftURN"])
def test_partial_updates_are_refused_and_say_why(stand_in: tuple[dict[str, str], Path], args: str) -> None:
    env, record = stand_in
    result = make("preview" if "-x" in args else "up", env, "STACK=dev", f"ARGS={args}")
    assert result.returncode != 0
    assert "a partial update" in result.stderr
    assert "docs/credentials-and-renewal.md#partial-updates" in result.stderr
    assert not record.exists(), "pulumi never ran"


@pytest.mark.parametrize("value", ["true", "1", "tRUE"])
def test_continue_on_error_from_the_environment_is_refused(stand_in: tuple[dict[str, str], Path], value: str) -> None:
    env, record = stand_in
    env["PULUMI_CONTINUE_ON_ERROR"] = value  # the CLI's IsTruthy: "1", or "true" in any case
    assert make("up", env, "STACK=dev").returncode != 0
    assert not record.exists()


def test_a_create_an_earlier_run_left_pending_stops_the_deploy(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    urn = ("urn:pulumi:dev::inbound-provisioning-access::inbound-provisioning-access:index:InboundProvisioningAccess"
           "$inbound-provisioning-access:index:ServicePrincipalClient$azuread:index/applicationPassword:"
           "ApplicationPassword::hr-sync-secret-20270220")
    Path(f"{record}.state").write_text(json.dumps({"deployment": {"pending_operations": [
        {"resource": {"urn": urn, "type": "azuread:index/applicationPassword:ApplicationPassword"},
         "type": "creating"}]}}))
    result = make("up", env, "STACK=dev")
    assert result.returncode != 0
    assert "hr-sync-secret-20270220" in result.stderr
    assert "--clear-pending-creates" in result.stderr
    assert not [line for line in recorded(record) if "|up " in line], "no update over it"


def test_policy_pack_needs_graphs_object_id(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    env["GRAPH_SERVICE_PRINCIPAL_OBJECT_ID"] = "not-a-guid"
    result = make("up", env, "STACK=dev")
    assert result.returncode != 0
    assert "Microsoft Graph's service principal" in result.stderr
    assert not record.exists(), "no pulumi run without the guardrails"


def test_policy_pack_looks_graph_up_with_az(stand_in: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, record = stand_in
    del env["GRAPH_SERVICE_PRINCIPAL_OBJECT_ID"]
    az = tmp_path / "bin" / "az"
    az.write_text(f"#!/usr/bin/env bash\necho \"$*\" >> {tmp_path}/az.txt\necho {GRAPH_SP}\n")
    az.chmod(0o755)
    assert make("preview", env, "STACK=dev").returncode == 0
    assert (tmp_path / "az.txt").read_text().splitlines() == [
        "ad sp show --id 00000003-0000-0000-c000-000000000000 --query id -o tsv",
        "account show --query [tenantId, id] -o tsv"]  # whom the providers sign in as (signIn)
    assert GRAPH_SP in Path(f"{record}.policy").read_text()


def test_missing_cli_fails_with_an_install_hint(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    bash = shutil.which("bash")
    assert bash is not None
    # PATH with the tools make and bash need, but no pulumi.
    env["PATH"] = ":".join(sorted({str(Path(bash).parent), "/usr/bin", "/bin"}))
    result = make("up", env, "STACK=dev")
    assert result.returncode != 0
    assert "Pulumi CLI (`pulumi`) is not on PATH" in result.stderr
    assert "get.pulumi.com" in result.stderr
    assert not record.exists()


def test_stack_is_required(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    result = make("up", env)
    assert result.returncode != 0
    assert "make up STACK=<stack>" in result.stderr
    assert not record.exists()


def test_local_backend_needs_a_passphrase(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    del env["PULUMI_CONFIG_PASSPHRASE"]
    result = make("up", env, "STACK=dev")
    assert result.returncode != 0
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr
    assert not record.exists()


def test_make_plan_runs_offline_without_the_cli(stand_in: tuple[dict[str, str], Path]) -> None:
    env, record = stand_in
    env["PATH"] = "/usr/bin:/bin"  # no pulumi at all
    result = make("plan", env, "STACK=prod")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Access plan: stack `prod`")
    assert not record.exists()


def test_make_plan_fails_on_a_missing_stack(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    result = make("plan", env, "STACK=does-not-exist")
    assert result.returncode != 0
    assert "Pulumi.does-not-exist.yaml does not exist" in result.stderr


def test_make_adopt_needs_a_stack(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    result = make("adopt", env)
    assert result.returncode != 0
    assert "usage: make adopt STACK=<stack>" in result.stderr


def test_make_adopt_runs_the_tool(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    result = make("adopt", env, "STACK=dev", "ARGS=--help")
    assert result.returncode == 0, result.stderr
    assert "make adopt STACK=<stack>" in result.stdout
    assert "--write" in result.stdout


def test_make_audit_needs_a_stack(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    result = make("audit", env)
    assert result.returncode == 2
    assert "usage: make audit STACK=<stack>" in result.stderr


def test_make_audit_runs_the_tool(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    result = make("audit", env, "STACK=dev", "ARGS=--help")
    assert result.returncode == 0, result.stderr
    assert "make audit STACK=<stack>" in result.stdout
    assert "3  nothing checked" in result.stdout


# -- make help, ARGS=--help, exit status (issue 19) -------------------------------------------

MAKEFILE = (ROOT / "Makefile").read_text()
HELP_TARGETS = ("up", "preview", "plan", "plan-diff", "check-expiry", "adopt", "audit", "verify", "bench",
                "schema", "bootstrap")


def listed_commands() -> dict[str, tuple[str, str]]:
    """Target -> (usage, description) from each `## <usage> | <what>` line, checked to sit above its own rule."""
    listed: dict[str, tuple[str, str]] = {}
    block: list[str] = []
    for line in MAKEFILE.splitlines():
        if line.startswith("## "):
            block.append(line.removeprefix("## "))
            continue
        if block:
            rule = re.match(r"^([\w .-]+):", line)
            assert rule, f"a `## ` line must sit right above its rule, not above {line!r}"
            for entry in block:
                usage, _, what = entry.partition(" | ")
                assert usage.split()[0] in rule[1].split(), f"`## {entry}` sits above the rule for {rule[1]}"
                listed[usage.split()[0]] = (usage, what)
        block = []
    return listed


def test_a_bare_make_lists_every_command_one_line_each(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    bare = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT)],  # noqa: S607
                          env=env, capture_output=True, text=True, check=False, timeout=60)
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout == make("help", env).stdout
    phony = re.search(r"^\.PHONY: (.*)$", MAKEFILE, re.MULTILINE)
    assert phony is not None
    listed = listed_commands()
    assert sorted(listed) == sorted(phony[1].split()), "every command is listed, and only commands"
    lines = [line.split() for line in bare.stdout.splitlines() if line.startswith("  make ")]
    assert len(lines) == len(listed)
    for target, (usage, what) in listed.items():
        assert [f"make {usage}".split() + what.split()] == [w for w in lines if w[1] == target], target


@pytest.mark.parametrize("target", HELP_TARGETS)
def test_args_help_needs_no_stack(stand_in: tuple[dict[str, str], Path], target: str) -> None:
    env, record = stand_in
    result = make(target, env, "ARGS=--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: make {target}"), result.stdout
    assert result.stderr == ""
    assert not record.exists(), "no pulumi run for --help"


def test_through_make_a_failure_exits_2_and_names_the_commands_own_status(
        stand_in: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, _ = stand_in
    invalid = tmp_path / "Pulumi.dev.yaml"
    invalid.write_text("config:\n  inbound-provisioning-access:clients: {}\n")
    unreadable = tmp_path / "Pulumi.tabs.yaml"
    unreadable.write_text("config:\n\tinbound-provisioning-access:clients: {}\n")
    for stack_file, status in ((invalid, 1), (unreadable, 2)):
        direct = io.StringIO()  # the command make runs, `python -m tools.plan.plan`, run here
        assert plan.main(["--stack", "dev", "--config-file", str(stack_file)], out=io.StringIO(), err=direct) == status
        through_make = make("plan", env, "STACK=dev", f"ARGS=--config-file {stack_file}")
        assert through_make.returncode == 2, "GNU make exits 2 whenever a command fails"
        *message, last = through_make.stderr.splitlines()
        assert message == direct.getvalue().splitlines()
        assert re.fullmatch(rf"make(\[\d+\])?: \*\*\* \[(\S+:\d+: )?plan\] Error {status}", last), last


def test_the_exit_status_table_names_the_command_each_target_runs(stand_in: tuple[dict[str, str], Path]) -> None:
    env, _ = stand_in
    rows = [line for line in (ROOT / "docs" / "commands.md").read_text().splitlines()
            if line.startswith("| `make ")]
    documented = set()
    for row in rows:
        targets = re.findall(r"`make ([\w-]+)`", row.split("|")[1])
        direct = re.search(r"`(venv/bin/python -m [\w.]+"
                           r"|STACK=<stack> (?:tools/pulumi-stack|bootstrap/pulumi-bootstrap)\.sh)", row)
        assert direct, row
        for target in targets:
            dry_run = make(target, env, "-n", "STACK=dev", "PR=other/Pulumi.dev.yaml")
            assert direct[1].removeprefix("STACK=<stack> ") in dry_run.stdout, (target, dry_run.stdout)
            documented.add(target)
    assert documented == set(listed_commands()) - {"help", "test", "bench-setup", "lock", "clean"}
