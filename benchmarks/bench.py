"""make bench: the program's cost under Pulumi's mock engine, against a minimal baseline.

For 1, 10 and 100 clients of each kind: resources registered per client, Graph lookups,
data-source calls, wall time and peak memory (median and spread over --runs runs).  The
100-client secret workload is timed interleaved with the baseline, run for run, because
the machine is shared and noisy; the ratio of medians is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import baseline, workloads
from tools.offline import OfflineEntra, ProgramRun, published_graph_roles, run_offline

ROOT = Path(__file__).resolve().parent.parent


def measure(kind: str, clients: int, program: Callable[[], None] | None = None) -> tuple[float, float, ProgramRun]:
    """One run: wall seconds, peak MiB, and what it did."""
    mocks = OfflineEntra(published_graph_roles(), directory=workloads.directory(clients))
    config = workloads.config(kind, clients) if program is None else {}
    tracemalloc.start()
    start = time.perf_counter()
    run = run_offline(mocks, config, "bench") if program is None else run_offline(mocks, config, "bench",
                                                                                   program=program)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, run


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} (±{(max(values) - min(values)) / 2:.3f})"


def import_seconds(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import components.program"],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        total = [line for line in out.stderr.splitlines() if line.rstrip().endswith("components.program")]
        times.append(int(total[-1].split("|")[1]) / 1e6)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    print("| kind | clients | resources/client | Graph lookups | data-source calls | wall s, median (±half-range) "
          "| peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for kind in workloads.KINDS:
        for size in args.sizes:
            samples = [measure(kind, size) for _ in range(args.runs)]
            run = samples[-1][2]
            resources = sum(1 for r in run.registrations if r.custom) / size
            row = {"kind": kind, "clients": size, "resources_per_client": resources,
                   "graph_lookups": run.graph_lookups, "calls": len(run.calls),
                   "wall": [s[0] for s in samples], "peak": [s[1] for s in samples]}
            rows.append(row)
            print(f"| {kind} | {size} | {resources:g} | {run.graph_lookups} | {len(run.calls)} | "
                  f"{spread(row['wall'])} | {statistics.median(row['peak']):.1f} |")

    size = max(args.sizes)
    program_times, baseline_times = [], []
    for _ in range(args.runs):
        program_times.append(measure("secret", size)[0])
        baseline_times.append(measure("secret", size, baseline.program(size))[0])
    ratio = statistics.median(program_times) / statistics.median(baseline_times)
    imports = import_seconds(args.runs)
    print(f"\nInterleaved at {size} secret clients: program {spread(program_times)} s, "
          f"baseline {spread(baseline_times)} s, ratio {ratio:.2f}x (target <= 1.3x)")
    print(f"import components.program: {spread(imports)} s (target < 1 s)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio, "program": program_times,
                                         "baseline": baseline_times, "import": imports}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
