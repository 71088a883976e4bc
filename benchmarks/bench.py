"""make bench: the program's cost under Pulumi's mock engine, against a minimal baseline.

For 1, 10 and 25 clients of each kind (25: the largest stack ``make plan`` accepts): resources
registered per client, Graph lookups, data-source calls, wall time and peak memory (median and
spread over --runs runs).  The 25-client secret workload is timed interleaved with the baseline,
run for run, in the process's CPU seconds (every thread of it: the mock engine's work happens on
threads), which other programs on a shared machine disturb far less than wall time; the ratio of
medians is reported.  Progress goes to stderr,
the results to stdout, ending with a verdict: a structural miss exits 1, a timing miss only
with --strict (a shared machine's noise can miss a timing target).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import runpy
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import workloads
from tools.offline.entra import OfflineEntra, published_graph_roles
from tools.offline.run import ProgramRun, run_main, run_offline

ROOT = Path(__file__).resolve().parent.parent


BASELINE = ROOT / "benchmarks" / "baseline.py"
RATIO_TARGET = 2.0
"""The program may take at most this many times the baseline's CPU time (25 secret clients).

What the program does beyond the baseline, and pays for: one component resource per client (with its
outputs), validation, the stack's own last outputs read back (renewal), and the nested ``clients`` output.
Measured 1.7-1.8x (benchmarks/README.md); the margin is for machines, not for regressions."""
IMPORT_TARGET_SECONDS = 1.0


def run_baseline(clients: int) -> Callable[[], None]:
    """The baseline program file, run the way ``run_main`` runs ``__main__.py``."""
    def run() -> None:
        os.environ["BASELINE_CLIENTS"] = str(clients)
        runpy.run_path(str(BASELINE), run_name="__main__")
    return run


def measure(kind: str, clients: int, program: Callable[[], None] | None = None,
            trace_memory: bool = False, cpu: bool = False) -> tuple[float, ProgramRun]:
    """One run: wall seconds (CPU seconds with ``cpu``; peak MiB with ``trace_memory``, which slows the run)
    and what it did."""
    mocks = OfflineEntra(published_graph_roles(), directory=workloads.directory(clients))
    config = workloads.config(kind, clients) if program is None else {}
    gc.collect()  # start each run from the same heap, whatever ran before
    if trace_memory:
        tracemalloc.start()
    clock = time.process_time if cpu else time.perf_counter
    start = clock()
    run = run_offline(mocks, config, "bench", program=program or run_main)
    result = clock() - start
    if trace_memory:
        result = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result, run


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (±{(max(values) - min(values)) / 2:.3f})"


def import_seconds(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import components.access"],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        total = [line for line in out.stderr.splitlines() if line.rstrip().endswith("components.access")]
        times.append(int(total[-1].split("|")[1]) / 1e6)
    return times


def progress(message: str) -> None:
    """A line on stderr while the benchmark runs (minutes in all), apart from the results on stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def table(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    """One row per kind and size, each printed as soon as it is measured."""
    print("| kind | clients | resources/client | Graph lookups | data-source calls | wall s, median (±half-range) "
          "| peak MiB, median (±half-range) |")
    print("|---|---|---|---|---|---|---|", flush=True)
    rows: list[dict[str, Any]] = []
    for kind in workloads.KINDS:
        for size in sizes:
            progress(f"{kind} × {size}: {runs} timed runs, then {runs} traced for memory")
            walls = [measure(kind, size) for _ in range(runs)]
            peaks = [measure(kind, size, trace_memory=True)[0] for _ in range(runs)]
            run = walls[-1][1]
            resources = sum(1 for r in run.registrations if r.custom) / size
            row: dict[str, Any] = {"kind": kind, "clients": size, "resources_per_client": resources,
                                   "graph_lookups": run.graph_lookups, "calls": len(run.calls),
                                   "wall": [w for w, _ in walls], "peak": peaks}
            rows.append(row)
            print(f"| {kind} | {size} | {resources:g} | {run.graph_lookups} | {len(run.calls)} | "
                  f"{spread(row['wall'])} | {spread(peaks)} |", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 25])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--ratio-only", action="store_true", help="only the program/baseline ratio and import time")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 on a missed timing target too (for a quiet machine, e.g. a dedicated CI runner)")
    args = parser.parse_args(argv)

    # The ratio first, in a fresh process: it is the number the target is about.
    ratio_size = max(args.sizes)
    program_times, baseline_times = [], []
    for i in range(args.runs):
        progress(f"program and baseline at {ratio_size} secret clients, interleaved: run {i + 1}/{args.runs}")
        program_times.append(measure("secret", ratio_size, cpu=True)[0])
        baseline_times.append(measure("secret", ratio_size, run_baseline(ratio_size), cpu=True)[0])
    ratio = statistics.median(program_times) / statistics.median(baseline_times)
    progress(f"import components.access: {args.runs} timed imports")
    imports = import_seconds(args.runs)

    rows = [] if args.ratio_only else table(args.sizes, args.runs)
    print(f"\nInterleaved at {ratio_size} secret clients, CPU seconds: program {spread(program_times)} s, "
          f"baseline {spread(baseline_times)} s, ratio {ratio:.2f}x (target <= {RATIO_TARGET}x)")
    print(f"import components.access: {spread(imports)} s (target < {IMPORT_TARGET_SECONDS} s)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio, "program": program_times,
                                         "baseline": baseline_times, "import": imports}, indent=1))
    return verdict(structural_misses(rows), missed_targets(ratio, statistics.median(imports)), args.strict)


def verdict(structural: list[str], timing: list[str], strict: bool) -> int:
    """Say which targets were met, name each miss on stderr, and return the exit status.

    A structural miss (more resources per client, more Graph lookups) is a regression wherever it
    runs: exit 1.  A timing miss may be the machine's noise: exit 0 unless ``strict``.
    """
    for miss in structural + timing:
        print(f"MISSED: {miss}", file=sys.stderr)
    if not structural and not timing:
        print("Verdict: every target met.")
        return 0
    if structural:
        print(f"Verdict: {len(structural)} structural target(s) missed: a regression (exit 1).")
        return 1
    if strict:
        print(f"Verdict: {len(timing)} timing target(s) missed (exit 1, --strict).")
        return 1
    print(f"Verdict: {len(timing)} timing target(s) missed; on a shared or busy machine that may be noise "
          '(exit 0): confirm with ARGS="--ratio-only --runs 7", or fail on it with ARGS=--strict.')
    return 0


def structural_misses(rows: list[dict[str, Any]]) -> list[str]:
    """Rows above the floor of resources per client, or with more than one Graph lookup per stack."""
    missed = []
    for row in rows:
        floor = workloads.MINIMUM_RESOURCES_PER_CLIENT[row["kind"]]
        if row["resources_per_client"] > floor:
            missed.append(f"{row['kind']} × {row['clients']}: {row['resources_per_client']:g} resources per client "
                          f"> {floor}")
        if row["graph_lookups"] != 1:
            missed.append(f"{row['kind']} × {row['clients']}: Graph looked up {row['graph_lookups']} times, not once")
    return missed


def missed_targets(ratio: float, import_median: float) -> list[str]:
    """The timing targets these numbers miss."""
    missed = []
    if ratio > RATIO_TARGET:
        missed.append(f"program/baseline ratio {ratio:.2f}x > {RATIO_TARGET}x")
    if import_median >= IMPORT_TARGET_SECONDS:
        missed.append(f"import components.access {import_median:.3f} s >= {IMPORT_TARGET_SECONDS} s")
    return missed


if __name__ == "__main__":
    sys.exit(main())
