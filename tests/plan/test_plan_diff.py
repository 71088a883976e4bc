"""make plan-diff: the access diff of a pull request's stack file against the base branch's."""

from __future__ import annotations

import datetime as dt
import io
import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import GRAPH_ROLES, ROOT, existing_identity, secret_client
from tests.plan.helpers import gantts
from tools.offline.entra import OfflineEntra
from tools.offline.run import program_at, run_offline
from tools.plan import plan_diff
from tools.plan.cells import cell

NAMESPACE = "inbound-provisioning-access"


def stack_file(directory: Path, config: dict[str, Any], stack: str = "dev") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"{NAMESPACE}:{k}": v for k, v in config.items()}}))
    return path


def diff(base: Path | None, pr: Path, *extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = [*(["--base", str(base)] if base else []), "--pr", str(pr), "--code-commit", "abc123", *extra]
    code = plan_diff.main(argv, out, err)
    return code, out.getvalue() + err.getvalue()


BASE: dict[str, Any] = {"clients": {"hr-sync": secret_client(lifetimeDays=90)}}


def test_gained_and_lost_permissions_per_client(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    pr = stack_file(tmp_path / "pr", {
        "graphPermissions": ["SynchronizationData-User.Upload", "ProvisioningLog.Read.All"],
        "clients": {"hr-sync": secret_client(lifetimeDays=90),
                    "logic": existing_identity(displayName="CSV2SCIMBulkUpload")},
    })
    code, text = diff(base, pr)
    assert code == 0
    assert "| hr-sync | inbound-provisioning-access-dev-hr-sync (created on deploy) | **gains** | " \
           "Graph permission ProvisioningLog.Read.All |" in text
    assert "| hr-sync | inbound-provisioning-access-dev-hr-sync (created on deploy) | **loses** | " \
           "Graph permission AuditLog.Read.All |" in text
    for permission in ("SynchronizationData-User.Upload", "ProvisioningLog.Read.All"):
        assert f"| logic | CSV2SCIMBulkUpload (existing; looked up by displayName on deploy) | **gains** | " \
               f"Graph permission {permission} |" in text
    assert "| logic | (none) | managed identity; no secret the stack holds: Azure manages its keys; renewed by " \
           "Azure |" in text
    assert "**loses** | Graph permission SynchronizationData-User.Upload" not in text


def test_states_the_code_commit_and_that_pr_code_did_not_run(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    code, text = diff(base, base, "--data-label", "head deadbeef")
    assert code == 0
    assert "commit `abc123`" in text
    assert "(head deadbeef)" in text
    assert "code did not run" in text
    assert "No change to who can do what." in text


def test_without_a_data_label_the_file_read_is_named(tmp_path: Path) -> None:
    pr = stack_file(tmp_path / "pr", BASE)
    code, text = diff(pr, pr)
    assert code == 0
    assert f"`Pulumi.dev.yaml` ({cell(str(pr))}) read as data" in text, "the path, escaped as Markdown text"


def test_help_gives_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        plan_diff.main(["--help"])
    assert done.value.code == 0
    assert "exit status:\n  0  the diff was printed" in capsys.readouterr().out


def test_default_code_commit_is_this_checkouts_head(tmp_path: Path) -> None:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],  # noqa: S607
                          capture_output=True, text=True, check=True).stdout.strip()
    assert plan_diff.code_commit_of(ROOT) == head
    assert plan_diff.code_commit_of(tmp_path).startswith("unknown")


def test_credential_changes_show_before_and_after(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    pr = stack_file(tmp_path / "pr", {"clients": {"hr-sync": {
        "kind": "servicePrincipal",
        "credential": {"type": "federated", "issuer": "https://token.actions.githubusercontent.com",
                       "subject": "repo:contoso/hr:environment:prod"}}}})
    _, text = diff(base, pr)
    assert "### Credentials" in text
    assert "| hr-sync | secret; expires " in text
    assert "federated (https://token.actions.githubusercontent.com, repo:contoso/hr:environment:prod); no secret, " \
           "no expiry; nothing to renew |" in text
    assert "resource removed: `azuread:index/applicationPassword:ApplicationPassword` `hr-sync-secret-" in text
    assert "### Access" not in text, "same permissions"


def test_protect_turned_off_is_called_out(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", {**BASE, "protect": True}, "prod")
    pr = stack_file(tmp_path / "pr", {**BASE, "protect": False}, "prod")
    _, text = diff(base, pr)
    assert "- `protect`: on → **off**" in text


def test_a_new_stack_gains_everything(tmp_path: Path) -> None:
    pr = stack_file(tmp_path / "pr", BASE, "test")
    code, text = diff(tmp_path / "base" / "Pulumi.test.yaml", pr)
    assert code == 0
    assert "## Access diff: stack `test`" in text
    assert "**New stack**" in text
    assert text.count("**gains**") == 2


def test_a_deleted_stack_says_what_stays(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    code, text = diff(base, tmp_path / "pr" / "Pulumi.dev.yaml")
    assert code == 0
    assert "deletes this stack file" in text
    assert "**loses**" not in text


def test_invalid_pull_request_config_fails_with_the_error_list(tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    pr = stack_file(tmp_path / "pr", {"graphPermissions": ["Directory.ReadWrite.All"], **BASE})
    code, text = diff(base, pr)
    assert code == 1
    assert "would stop on the pull request's stack file before changing anything" in text
    assert "Directory.ReadWrite.All" in text
    assert "**gains**" not in text


def test_outputs_whose_record_cannot_be_read_say_the_deploy_would_stop_not_that_config_is_refused(
        tmp_path: Path) -> None:
    base = stack_file(tmp_path / "base", BASE)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"tenantId": "72f988bf-0000-4000-8000-00000000e1d0", "clients": "not a map"}))
    code, text = diff(base, base, "--outputs", str(outputs))
    assert code == 1
    assert "would stop on the pull request's stack file before changing anything" in text
    assert "the `clients` output is a str, not a map by client key" in text
    assert "**loses**" not in text


def test_a_stack_file_is_data_even_with_python_tags(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    pr = tmp_path / "pr" / "Pulumi.dev.yaml"
    pr.parent.mkdir()
    pr.write_text(f"config: !!python/object/apply:os.system ['touch {marker}']\n")
    code, text = diff(None, pr)
    assert code == 1
    assert "does not parse" in text
    assert not marker.exists()


def test_table_cells_cannot_break_the_table(tmp_path: Path) -> None:
    pr = stack_file(tmp_path / "pr", {"clients": {"logic": existing_identity(displayName="a | b\n| x")}})
    _, text = diff(None, pr)
    assert "| logic | a \\| b \\| x (existing; looked up by displayName on deploy) | **gains** |" in text


@pytest.mark.parametrize("name", ["Pulumi.yaml", "dev.yaml"])
def test_stack_name_must_be_known(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("config: {}\n")
    out, err = io.StringIO(), io.StringIO()
    code = plan_diff.main(["--pr", str(tmp_path / name)], out, err)
    assert code == 2
    assert "pass --stack" in err.getvalue()


def test_make_plan_diff_of_an_unchanged_copy_under_another_name_reports_no_change(tmp_path: Path) -> None:
    copy = tmp_path / "edited.yaml"
    copy.write_bytes((ROOT / "Pulumi.dev.yaml").read_bytes())
    # What make runs (make -n prints it), run here: a make subprocess would add a second to the suite.
    dry_run = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), "plan-diff",  # noqa: S607
                              f"PR={copy}", "ARGS=--stack dev"], capture_output=True, text=True, check=True, timeout=60)
    [command] = [line for line in dry_run.stdout.splitlines() if "-m tools.plan.plan_diff" in line]
    argv = shlex.split(command.split("-m tools.plan.plan_diff", 1)[1])
    assert argv == ["--pr", str(copy), "--stack", "dev"], "no --base: the stack's own file in this checkout"
    out, err = io.StringIO(), io.StringIO()
    assert plan_diff.main(argv, out, err) == 0, err.getvalue()
    assert out.getvalue().startswith("## Access diff: stack `dev`")
    assert "New stack" not in out.getvalue()
    assert out.getvalue().endswith("No change to who can do what.\n")


def test_with_stack_the_default_base_is_this_checkouts_stack_file(tmp_path: Path) -> None:
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump({"config": {f"{NAMESPACE}:clients": {
        "hr-sync": secret_client(lifetimeDays=90), "logic": existing_identity(displayName="CSV2SCIMBulkUpload")}}}))
    out, err = io.StringIO(), io.StringIO()
    assert plan_diff.main(["--pr", str(edited), "--stack", "dev", "--code-commit", "abc"], out, err) == 0
    assert "| logic | CSV2SCIMBulkUpload" in out.getvalue()
    assert "| hr-sync |" not in out.getvalue(), "hr-sync is the same as in this checkout's Pulumi.dev.yaml"


def test_a_defaulted_base_that_does_not_exist_is_an_error_unless_the_stack_is_new(tmp_path: Path) -> None:
    pr = stack_file(tmp_path / "pr", BASE, "qa")
    out, err = io.StringIO(), io.StringIO()
    assert plan_diff.main(["--pr", str(pr), "--code-commit", "abc"], out, err) == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("error: no base to compare with: this checkout has no Pulumi.qa.yaml. If qa is "
                                     "a new stack, say so with --new-stack")
    code, text = diff(None, pr, "--new-stack")
    assert code == 0
    assert "**New stack**: everything below is gained." in text
    code, text = diff(None, stack_file(tmp_path / "pr", BASE), "--new-stack")
    assert code == 2
    assert "--new-stack, but " in text
    assert "dev is not a new stack" in text


def test_pull_request_text_cannot_inject_html_mentions_or_close_the_error_block(tmp_path: Path) -> None:
    pr = stack_file(tmp_path / "pr", {"clients": {"logic": existing_identity(displayName="<img src=x> @org/admins")}})
    _, text = diff(None, pr)
    assert "&lt;img src=x&gt; @\u200borg/admins" in text
    assert "<img" not in text
    bad = stack_file(tmp_path / "bad", {"graphPermissions": ["```\n# forged plan"], **BASE})
    code, text = diff(None, bad)
    assert code == 1
    fence = "````"
    assert f"{fence}text\n" in text, "a fence longer than any backtick run in the error"


# -- renewal (issue 20) ------------------------------------------------------------------------------

FEDERATED = {"kind": "servicePrincipal", "credential": {
    "type": "federated", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:o/r:ref:main"}}


def outputs_of(tmp_path: Path, config: dict[str, Any], days_ago: int) -> Path:
    """`pulumi stack output --json` of the dev stack deployed ``days_ago`` with ``config``."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    run = run_offline(OfflineEntra(GRAPH_ROLES, now=at), config, "dev", program=program_at(at))
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({k: "[secret]" if k in run.secret_outputs else v for k, v in run.outputs.items()}))
    return path


def test_a_rotation_change_with_history_renews_and_keeps_the_one_in_use(tmp_path: Path) -> None:
    slow = {"clients": {"hr-sync": secret_client(lifetimeDays=180, rotationDays=84)}}
    fast = {"clients": {"hr-sync": secret_client(lifetimeDays=90, rotationDays=21)}}
    outputs = outputs_of(tmp_path, slow, days_ago=30)
    handed = json.loads(outputs.read_text())["clients"]["hr-sync"]["renewal"]["handedOut"]["generation"]
    code, text = diff(stack_file(tmp_path / "base", slow), stack_file(tmp_path / "pr", fast),
                      "--outputs", str(outputs))
    assert code == 0
    assert "### Renewal" in text
    assert f"hands out {handed} " in text, "the base keeps handing out the one in use"
    assert f"; keeps {handed} until " in text, "the pull request renews, keeping it 14 days"
    assert "WARNING" not in text
    # The base and the pull request on one calendar: the same credential, kept by one, superseded by the other.
    [chart] = gantts(text)
    base = [(t.name, t.tags) for t in chart if t.section == "hr-sync base"]
    pr = [(t.name, t.tags) for t in chart if t.section == "hr-sync pull request"]
    assert base == [(f"secret {handed} handed out", ("active",)), ("renewal due", ("milestone",))]
    assert pr[1:] == [(f"secret {handed} superseded", ("done",)), (f"{handed} removed", ("milestone",)),
                      ("renewal due", ("milestone",))]
    assert pr[0][1] == ("active",)
    assert [t.start for t in chart if t.name == f"secret {handed} superseded"] == [
        t.start for t in chart if t.name == f"secret {handed} handed out"], "drawn from the day it was handed out"


def test_a_credential_form_change_warns_loudly_even_without_history(tmp_path: Path) -> None:
    code, text = diff(stack_file(tmp_path / "base", BASE), stack_file(tmp_path / "pr", {"clients": {
        "hr-sync": FEDERATED}}))
    assert code == 0
    assert "### WARNING: credentials in use would be removed" in text
    assert "(handed out) is removed; a consumer still using it is cut off" in text


def test_pull_request_text_cannot_make_links_images_or_emphasis(tmp_path: Path) -> None:
    # A display name is a stranger's text in a comment the base branch's code posts: it renders as text.
    name = "[no access change](https://phish.example) ![x](https://t.example/p.png) **loses** `code`"
    pr = stack_file(tmp_path / "pr", {"clients": {"logic": existing_identity(displayName=name)}})
    _, text = diff(None, pr)
    row = next(line for line in text.splitlines() if line.startswith("| logic |"))
    assert "](" not in row.replace("\\](", ""), row
    assert "\\[no access change\\]" in row
    assert "\\!\\[x\\]" in row
    assert "\\*\\*loses\\*\\*" in row
    assert "\\`code\\`" in row
