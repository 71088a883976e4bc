"""Run `make plan`'s tool many times and count the runs that print anything on stderr.

Before ``tools/offline/event_loops.py``, about one run in thirty (5 of 170 on a two-client stack)
printed ``Exception ignored in: <function BaseEventLoop.__del__ ...> ... ValueError: Invalid
file descriptor: -1`` and still exited 0: an event loop left open, collected after its
self-pipe. Too rare for a unit test (``tests/offline/test_event_loops.py`` shows the cause instead,
every time, with ResourceWarning on); this is the long reproduction. Minutes for the default
200 runs; not part of ``make test``.

    venv/bin/python -m benchmarks.teardown_noise                        # 200 runs of Pulumi.prod.yaml
    venv/bin/python -m benchmarks.teardown_noise --runs 50 --stack dev
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.teardown_noise", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--stack", default="prod", help="a stack file of this checkout (default: prod, two clients)")
    args = parser.parse_args(argv)
    noisy: list[tuple[int, str]] = []
    for i in range(1, args.runs + 1):
        run = subprocess.run([sys.executable, "-m", "tools.plan.plan", "--stack", args.stack], cwd=ROOT,  # noqa: S603
                             capture_output=True, text=True, check=False, timeout=300)
        if run.returncode != 0 or run.stderr:
            noisy.append((i, run.stderr or f"exit {run.returncode}"))
        if i % 10 == 0 or i == args.runs:
            print(f"{i}/{args.runs} runs, {len(noisy)} with anything on stderr", file=sys.stderr, flush=True)
    print(f"{len(noisy)} of {args.runs} runs of `make plan STACK={args.stack}` printed on stderr or failed")
    if noisy:
        run_number, stderr = noisy[0]
        print(f"\nrun {run_number}:\n{stderr}")
    return 1 if noisy else 0


if __name__ == "__main__":
    sys.exit(main())
