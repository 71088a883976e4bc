"""`make bootstrap`: what it needs, one line for what is missing, and a preview-then-deploy on its own state."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "bootstrap" / "pulumi-bootstrap.sh"
PULUMI = """#!/usr/bin/env bash
echo "$PULUMI_BACKEND_URL|$(pwd)|$*" >> "$RECORD"
"""
AZ_SIGNED_IN = "#!/usr/bin/env bash\n[ \"$1 $2\" = 'account show' ] && exit 0; exit 3\n"
AZ_SIGNED_OUT = "#!/usr/bin/env bash\necho 'Please run az login to setup account.' >&2; exit 1\n"


def stand_ins(tmp_path: Path, az: str | None) -> dict[str, str]:
    """An environment with a recording `pulumi`, an `az` that is signed in or not (None: no az), and no token."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    # Only the stand-ins and the few tools the script and make use: a real az or pulumi must not answer.
    for tool in ("bash", "dirname", "mkdir", "cat", "make"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "pulumi").write_text(PULUMI)
    if az is not None:
        (bin_dir / "az").write_text(az)
    for stand_in in ("pulumi", "az"):
        if (bin_dir / stand_in).exists():
            (bin_dir / stand_in).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "GITHUB_", "BOOTSTRAP_"))}
    env.update(PATH=str(bin_dir), RECORD=str(tmp_path / "record.txt"))
    return env


def run(env: dict[str, str], stack: str = "example", args: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT)], env={**env, "STACK": stack, "ARGS": args},
                          capture_output=True, text=True, check=False, timeout=60)


def test_help_says_what_it_needs(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, None)
    result = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "bootstrap", "ARGS=--help"],  # noqa: S607
                            env=env, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: make bootstrap STACK=<name>")
    for need in ("Privileged Role Administrator", "GITHUB_TOKEN", "az login", "PULUMI_CONFIG_PASSPHRASE",
                 "bootstrap/.pulumi-state/", "bootstrap/Pulumi.example.yaml"):
        assert need in result.stdout, need
    assert not (tmp_path / "record.txt").exists()


@pytest.mark.parametrize(("token", "az", "missing"), [
    ("", AZ_SIGNED_OUT, ["a GitHub token (set GITHUB_TOKEN", "an Azure sign-in (run az login"]),
    ("", AZ_SIGNED_IN, ["a GitHub token (set GITHUB_TOKEN"]),
    ("ghp_stand-in", AZ_SIGNED_OUT, ["an Azure sign-in (run az login --allow-no-subscriptions"]),
    ("ghp_stand-in", None, ["an Azure sign-in (the Azure CLI, az, is not on PATH)"]),
])
def test_a_missing_token_or_sign_in_is_named_in_one_line(tmp_path: Path, token: str, az: str | None,
                                                         missing: list[str]) -> None:
    env = stand_ins(tmp_path, az)
    env["GITHUB_TOKEN"] = token
    result = run(env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: missing ")
    assert all(what in line for what in missing), line
    assert ("GITHUB_TOKEN" in line) == (not token)
    assert "ghp_stand-in" not in line
    assert not (tmp_path / "record.txt").exists(), "pulumi never runs"


def test_a_stack_and_its_file_are_required(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, AZ_SIGNED_IN)
    assert run(env, stack="").stderr.startswith("usage: make bootstrap STACK=<name>")
    result = run(env, stack="nowhere")
    assert result.returncode == 2
    assert "no bootstrap/Pulumi.nowhere.yaml: copy bootstrap/Pulumi.example.yaml" in result.stderr


def test_previews_then_deploys_on_its_own_state(tmp_path: Path) -> None:
    env = stand_ins(tmp_path, AZ_SIGNED_IN)
    env.update(GITHUB_TOKEN="ghp_stand-in", PULUMI_BACKEND_URL="azblob://the-hr-stacks-state",
               BOOTSTRAP_BACKEND_URL=f"file://{tmp_path}/state")
    assert "PULUMI_CONFIG_PASSPHRASE" in run(env).stderr, "a local backend needs its passphrase"
    env["PULUMI_CONFIG_PASSPHRASE"] = "test-passphrase"
    result = run(env, args="--yes")
    assert result.returncode == 0, result.stderr
    here = ROOT / "bootstrap"
    assert (tmp_path / "record.txt").read_text().splitlines() == [
        f"file://{tmp_path}/state|{here}|stack select --create example --non-interactive",
        f"file://{tmp_path}/state|{here}|up --diff --stack example --yes",
    ], "the HR stacks' PULUMI_BACKEND_URL is not used"
    assert (tmp_path / "state").is_dir()


def test_the_default_state_is_kept_apart_from_the_hr_stacks() -> None:
    text = SCRIPT.read_text()
    assert 'export PULUMI_BACKEND_URL="${BOOTSTRAP_BACKEND_URL:-file://$here/.pulumi-state}"' in text
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "bootstrap/.pulumi-state/x"],  # noqa: S607
                             check=False)
    assert ignored.returncode == 0, "bootstrap/.pulumi-state/ is git-ignored"
