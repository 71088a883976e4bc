"""Structural guard for the benchmarks: resources per client stay at the floor, one Graph lookup per stack."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import workloads
from benchmarks.bench import run_baseline
from tests.conftest import GRAPH_ROLES
from tools.offline_entra import OfflineEntra
from tools.offline_run import run_offline

CLIENTS = 3


@pytest.mark.parametrize("kind", workloads.KINDS)
def test_resources_per_client_stay_at_the_minimum(kind: str) -> None:
    mocks = OfflineEntra(GRAPH_ROLES, directory=workloads.directory(CLIENTS))
    run = run_offline(mocks, workloads.config(kind, CLIENTS), "bench")
    custom = [r for r in run.registrations if r.custom]
    assert len(custom) == CLIENTS * workloads.MINIMUM_RESOURCES_PER_CLIENT[kind]
    assert run.graph_lookups == 1


def test_baseline_registers_the_same_resources_as_the_secret_workload() -> None:
    program = run_offline(OfflineEntra(GRAPH_ROLES), workloads.config("secret", CLIENTS), "bench")
    floor = run_offline(OfflineEntra(GRAPH_ROLES), {}, "bench", program=run_baseline(CLIENTS))
    types = sorted(r.type for r in program.registrations if r.custom)
    assert types == sorted(r.type for r in floor.registrations if r.custom)
    assert floor.graph_lookups == 1


@pytest.mark.parametrize(("ratio", "import_s", "code"), [(1.1, 0.2, 0), (1.31, 0.2, 1), (1.0, 1.5, 1)])
def test_bench_exits_non_zero_when_it_misses_its_target(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str],
                                                        ratio: float, import_s: float, code: int) -> None:
    from benchmarks import bench

    def fake_measure(kind: str, clients: int, program: object = None, trace_memory: bool = False) -> tuple[float, Any]:
        return (ratio if program is None else 1.0), None

    monkeypatch.setattr(bench, "measure", fake_measure)
    monkeypatch.setattr(bench, "import_seconds", lambda runs: [import_s] * runs)
    assert bench.main(["--runs", "1", "--ratio-only"]) == code
    assert ("MISSED" in capsys.readouterr().err) == bool(code)
