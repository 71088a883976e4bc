"""One shared stand-in for Entra, built on Microsoft Graph's real app roles."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.proto import source_pb2

from tests import invoke_memo
from tools.offline.entra import DirectoryEntry, OfflineEntra, mock_guid
from tools.offline.event_loops import run_loops
from tools.offline.run import ProgramRun, configure, program_at, run_offline

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
GRAPH_ROLES_FIXTURE = FIXTURES / "microsoft-graph-app-roles.json"
PROJECT_SCHEMA = FIXTURES / "pulumi-project.schema.json"
# The team's shared copies, beside the checkout where there is one (CI); the tests check the
# repository's copies against them.
SHARED = ROOT.parent / "shared"

# A fixed "now" so end dates and rotation periods are exact.
NOW = dt.datetime(2026, 11, 27, 9, 30, tzinfo=dt.UTC)

# The tutorial's Logic App, whose system-assigned identity is granted access.
LOGIC_APP = DirectoryEntry("CSV2SCIMBulkUpload", mock_guid("logic-app-sp"), mock_guid("logic-app-client"))
# Two principals sharing a display name, as happens when an app is recreated.
DUPLICATE_A = DirectoryEntry("hr-feed", mock_guid("dup-a"), mock_guid("dup-a-client"))
DUPLICATE_B = DirectoryEntry("hr-feed", mock_guid("dup-b"), mock_guid("dup-b-client"))
PROVISIONING_APP = DirectoryEntry("API-driven provisioning to Microsoft Entra ID", mock_guid("prov-app"),
                                  mock_guid("prov-app-client"))


def load_graph_roles() -> list[dict[str, Any]]:
    roles: list[dict[str, Any]] = json.loads(GRAPH_ROLES_FIXTURE.read_text())["appRoles"]
    return roles


GRAPH_ROLES = load_graph_roles()
# Role ids by value, straight from the fixture (independent of components/microsoft.py).
ROLE_ID = {role["value"]: role["id"] for role in GRAPH_ROLES}


def secret_client(**credential: Any) -> dict[str, Any]:
    return {"kind": "servicePrincipal", "credential": {"type": "secret", **credential}}


def existing_identity(**lookup: str) -> dict[str, Any]:
    """A managedIdentity client that already exists, looked up by one attribute."""
    return {"kind": "managedIdentity", "existing": lookup}


def job_for(tenant: str) -> str:
    """A provisioning job id of the API2AAD form, in ``tenant``."""
    return f"API2AAD.0123456789abcdef0123456789abcdef.{tenant}"


def new_entra() -> OfflineEntra:
    """A fresh stand-in tenant: Graph's roles and the four principals above, at :data:`NOW`."""
    return OfflineEntra(GRAPH_ROLES, directory=[LOGIC_APP, DUPLICATE_A, DUPLICATE_B, PROVISIONING_APP], now=NOW)


@pytest.fixture
def entra() -> OfflineEntra:
    return new_entra()


@pytest.fixture
def fresh_runtime(entra: OfflineEntra) -> Iterator[OfflineEntra]:
    """A fresh mock runtime for tests that build one component directly, on event loops of its own."""
    with run_loops():
        configure(entra, {}, "dev")
        yield entra


RunProgram = Callable[..., ProgramRun]


@pytest.fixture
def run_program(entra: OfflineEntra) -> RunProgram:
    """Run the real program (``__main__.py``) under the mocks with this stack config."""

    def _run(config: dict[str, Any], stack: str = "dev", **kwargs: Any) -> ProgramRun:
        return run_offline(entra, config, stack, **kwargs)

    return _run


@pytest.fixture
def run_at(entra: OfflineEntra) -> Callable[..., ProgramRun]:
    """Run the program with an injected "now" (credential end dates, rotation periods)."""

    def _run(config: dict[str, Any], now: dt.datetime = NOW, stack: str = "dev") -> ProgramRun:
        entra.now = now
        return run_offline(entra, config, stack, program=program_at(now))

    return _run


@pytest.fixture(scope="session", autouse=True)
def _graph_converted_once() -> Iterator[None]:
    """Graph's 716 app roles go through the SDK's conversions once per process (tests/invoke_memo.py)."""
    with invoke_memo.install():
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_source_positions() -> Iterator[None]:
    """Skip the stack walk the Pulumi SDK makes for every resource it registers.

    The walk records where each resource was declared, for the engine's messages; the mock
    monitor ignores it and no test reads it, yet walking pytest's deep stacks (and reading their
    source lines) costs about half of each run of the long deploy simulation. If the SDK renames
    the function, setattr fails here, loudly, rather than the tests silently slowing down.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``first`` (mypy, the two-year walk) start first, on their own worker each.

    pytest-xdist's worksteal gives each worker a contiguous share of this order and lets an idle
    worker take queued tests from a busy one, so a long test started first overlaps everything
    else instead of finishing alone at the end.
    """
    first = [item for item in items if item.get_closest_marker("first")]
    rest = [item for item in items if not item.get_closest_marker("first")]
    half = len(rest) // 2
    items[:] = first[:1] + rest[:half] + first[1:] + rest[half:]
