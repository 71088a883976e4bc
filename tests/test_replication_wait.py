"""The replication wait: in-process reads until Entra answers, and nothing registered that needs this repository."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.dynamic import CreateResult, ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from components.microsoft import UPLOAD_OWNED_BY
from components.replication_wait import ReplicationTimeoutError, ServicePrincipalGoneError, wait_until_readable
from tests.conftest import LOGIC_APP, ROOT, RunProgram, secret_client
from tests.test_package import TYPE, construct_program
from tools.offline.entra import OfflineEntra
from tools.offline.run import ProgramRun, run_offline

EMAIL = "hr-ops@contoso.com"
CONFIG: dict[str, Any] = {
    "clients": {"hr": {**secret_client(), "graphPermissions": [UPLOAD_OWNED_BY]},
                "logic": {"kind": "managedIdentity", "existing": {"displayName": LOGIC_APP.display_name}}},
    "provisioningApp": {"create": {"notificationEmail": EMAIL}},
}
PLUGIN_PACKAGES = {"azuread", "tls", "azure-native"}
"""Providers the engine runs as their own plugins: the same wherever the program or package runs."""


# -- the wait ---------------------------------------------------------------------------------------

def run_wait(answers: list[bool], gone: Any = None, **limits: float) -> tuple[str | BaseException, int]:
    reads: list[str] = []

    async def read(object_id: str) -> bool:
        reads.append(object_id)
        return answers[min(len(reads), len(answers)) - 1]

    async def wait() -> str:
        return await wait_until_readable("sp-1", read, poll_seconds=0, gone=gone, **limits)  # type: ignore[arg-type]

    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset the loop the Pulumi tests use
    try:
        return loop.run_until_complete(wait()), len(reads)
    except (ReplicationTimeoutError, ServicePrincipalGoneError) as error:
        return error, len(reads)
    finally:
        loop.close()


@pytest.fixture
def not_a_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: False)


@pytest.mark.usefixtures("not_a_preview")
def test_a_principal_that_answers_at_once_costs_one_read() -> None:
    assert run_wait([True]) == ("sp-1", 1)


@pytest.mark.usefixtures("not_a_preview")
def test_a_new_principal_is_waited_for_until_it_answers_several_times_in_a_row() -> None:
    assert run_wait([False, False, True, False, True, True, True], sightings=3) == ("sp-1", 7)


@pytest.mark.usefixtures("not_a_preview")
def test_a_principal_that_never_answers_fails_the_update_naming_it() -> None:
    error, reads = run_wait([False], timeout_seconds=0.0)
    assert isinstance(error, ReplicationTimeoutError)
    assert "sp-1" in str(error)
    assert "pulumi up" in str(error)
    assert reads == 1


def test_a_preview_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: True)
    assert run_wait([False]) == ("sp-1", 0)


@pytest.mark.parametrize("preview", [False, True])
def test_a_deployed_principal_that_misses_was_deleted_and_fails_at_the_first_read(
        monkeypatch: pytest.MonkeyPatch, preview: bool) -> None:
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: preview)
    error, reads = run_wait([False], gone=lambda: "replace it", timeout_seconds=3600.0)
    assert isinstance(error, ServicePrincipalGoneError)
    assert str(error) == "replace it"
    assert reads == 1, "no wait: it replicated long ago, a miss is a deletion"


@pytest.mark.parametrize("preview", [False, True])
def test_a_deployed_principal_that_answers_costs_one_read(monkeypatch: pytest.MonkeyPatch, preview: bool) -> None:
    monkeypatch.setattr(pulumi.runtime, "is_dry_run", lambda: preview)
    assert run_wait([True], gone=lambda: "replace it") == ("sp-1", 1)


# -- nothing registered needs this repository --------------------------------------------------------

def provider_states(run: ProgramRun) -> Iterator[tuple[str, str]]:
    """Every serialized provider the program registered (a dynamic resource's ``__provider``)."""
    for registration in run.registrations:
        state = registration.inputs.get("__provider")
        if isinstance(state, str):
            yield registration.name, state


def load_outside(state: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Unpickle a serialized provider as the engine would for a program elsewhere: a clean, isolated
    interpreter (``-I``: no PYTHONPATH, no script or working directory on ``sys.path``) in another folder."""
    code = "import base64, sys, dill; dill.loads(base64.b64decode(sys.stdin.read()))"
    return subprocess.run([sys.executable, "-I", "-c", code], input=state, cwd=tmp_path, capture_output=True,
                          text=True, check=False, timeout=60)


class _ProviderInThisRepository(ResourceProvider):
    """Pickled by reference, as every class in an importable module is (main's replication wait was one)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="x", outs=props)


def test_the_outside_check_fails_for_a_provider_pickled_by_reference(tmp_path: Path) -> None:
    loaded = load_outside(serialize_provider(_ProviderInThisRepository()), tmp_path)
    assert loaded.returncode != 0
    assert "No module named 'tests'" in loaded.stderr


def check_runs_anywhere(run: ProgramRun, tmp_path: Path) -> None:
    created = {r.type for r in run.registrations if r.custom}
    assert "azuread:index/synchronizationJob:SynchronizationJob" in created, "the provisioning app is built"
    for name, state in provider_states(run):
        loaded = load_outside(state, tmp_path)
        assert loaded.returncode == 0, f"{name}'s provider cannot be loaded outside this repository: {loaded.stderr}"
    assert {t.split(":", 1)[0] for t in created} <= PLUGIN_PACKAGES, sorted(created)


def test_the_stack_program_registers_nothing_that_needs_this_repository(run_program: RunProgram,
                                                                        tmp_path: Path) -> None:
    check_runs_anywhere(run_program(CONFIG), tmp_path)


def test_the_package_registers_nothing_that_needs_this_repository(entra: OfflineEntra, tmp_path: Path) -> None:
    """As a program in another language builds it: through the component provider's construct."""
    run = run_offline(entra, {}, "dev", program=construct_program(CONFIG))
    assert len(run.of_type(TYPE)) == 1
    check_runs_anywhere(run, tmp_path)
    assert run.outputs["bulkUploadUrl"].endswith("/bulkUpload")


MAIN_WAIT_PROVIDER = ("gASVPwAAAAAAAACMG2NvbXBvbmVudHMucmVwbGljYXRpb25fd2FpdJSMGF9SZXBsaWNhdGlvbldh"
                      "aXRQcm92aWRlcpSTlCmBlC4=")
"""``__provider`` of ``provisioningApp-replication-wait`` as stacks deployed before issue 21 hold it
(``serialize_provider(_ReplicationWaitProvider())`` at main 6a626ca)."""


def test_a_stack_deployed_with_the_old_wait_can_delete_it() -> None:
    """The engine unpickles the old provider in the stack program's folder to call its (no-op) delete."""
    code = ("import base64, sys, dill; p = dill.loads(base64.b64decode(sys.stdin.read())); "
            "p.delete('sp', {'servicePrincipalObjectId': 'sp', 'seconds': 60}); print(type(p).__name__)")
    loaded = subprocess.run([sys.executable, "-c", code], input=MAIN_WAIT_PROVIDER, cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "_ReplicationWaitProvider"
