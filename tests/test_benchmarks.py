"""Structural guard for the benchmarks: resources per client stay at the floor, one Graph lookup per stack."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import workloads
from benchmarks.bench import run_baseline
from tests.conftest import GRAPH_ROLES, ROOT
from tools.offline.entra import OfflineEntra
from tools.offline.run import run_offline

CLIENTS = 3
BENCH_README = ROOT / "benchmarks" / "README.md"


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


def fake_measurements(monkeypatch: pytest.MonkeyPatch, ratio: float, import_s: float) -> None:
    from benchmarks import bench

    def fake_measure(kind: str, clients: int, program: object = None, trace_memory: bool = False,
                     cpu: bool = False) -> tuple[float, Any]:
        return (ratio if program is None else 1.0), None

    monkeypatch.setattr(bench, "measure", fake_measure)
    monkeypatch.setattr(bench, "import_seconds", lambda runs: [import_s] * runs)


@pytest.mark.parametrize(("ratio", "import_s", "strict", "code", "verdict"), [
    (1.1, 0.2, False, 0, "Verdict: every target met."),
    (2.1, 0.2, False, 0, "Verdict: 1 timing target(s) missed; on a shared or busy machine that may be noise"),
    (2.1, 1.5, True, 1, "Verdict: 2 timing target(s) missed (exit 1, --strict)."),
    (1.0, 1.5, True, 1, "Verdict: 1 timing target(s) missed (exit 1, --strict)."),
])
def test_bench_states_its_verdict_and_fails_on_timing_only_when_strict(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        ratio: float, import_s: float, strict: bool, code: int, verdict: str) -> None:
    from benchmarks import bench

    fake_measurements(monkeypatch, ratio, import_s)
    assert bench.main(["--runs", "2", "--ratio-only", *(["--strict"] if strict else [])]) == code
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith(verdict)
    assert ("MISSED" in err) == (ratio > bench.RATIO_TARGET or import_s >= bench.IMPORT_TARGET_SECONDS)
    assert "| kind |" not in out, "--ratio-only prints no table header"
    assert "run 2/2" in err, "progress goes to stderr while it runs"


def test_a_structural_miss_fails_without_strict(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import bench

    rows = [{"kind": "secret", "clients": 10, "resources_per_client": 7.0, "graph_lookups": 2}]
    assert bench.verdict(bench.structural_misses(rows), [], strict=False) == 1
    out, err = capsys.readouterr()
    assert "MISSED: secret × 10: 7 resources per client > " in err
    assert "MISSED: secret × 10: Graph looked up 2 times, not once" in err
    assert out.startswith("Verdict: 2 structural target(s) missed")


def readme_rows() -> list[dict[str, str]]:
    lines = [line for line in BENCH_README.read_text().splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:5] == ["kind", "clients", "resources/client", "Graph lookups", "data-source calls"]
    rows = [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
            for line in lines[1:] if line.split("|")[1].strip() in workloads.KINDS]
    assert {row["kind"] for row in rows} == set(workloads.KINDS)
    return rows


def test_benchmarks_readme_shows_what_make_bench_prints() -> None:
    """The counting columns of the README's table are what ``make bench`` prints today; the timings are
    one dated measurement. On a change of the floor, update those cells (or re-run ``make bench``)."""
    counts: dict[str, tuple[str, str, str]] = {}
    for kind in workloads.KINDS:
        mocks = OfflineEntra(GRAPH_ROLES, directory=workloads.directory(1))
        run = run_offline(mocks, workloads.config(kind, 1), "bench")
        resources = sum(1 for r in run.registrations if r.custom)
        counts[kind] = (f"{resources:g}", str(run.graph_lookups), str(len(run.calls)))
    for row in readme_rows():
        shown = (row["resources/client"], row["Graph lookups"], row["data-source calls"])
        assert shown == counts[row["kind"]], (
            f"benchmarks/README.md, {row['kind']} × {row['clients']}: resources/client, Graph lookups, "
            f"data-source calls say {shown}; make bench prints {counts[row['kind']]}")
