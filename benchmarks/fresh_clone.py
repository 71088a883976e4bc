"""make bench-setup: how long a new contributor (or a CI run) waits for `make test`.

Clones this repository into a temporary directory, points every cache a run could reuse
(pip, uv, mypy, ruff, XDG) at new empty directories, runs `make test` there once and times
its stages from the commands make echoes: install (everything before ruff), ruff and pytest
(mypy --strict runs inside it, as its first test), plus the total. pytest's cache and
hypothesis's database live inside the clone, so they start empty as well. Only the Python
standard library is used: it runs before any venv.

    make bench-setup                          # the committed HEAD of this checkout
    make bench-setup ARGS="--ref main~3"      # another commit, e.g. to measure a "before"
    make bench-setup ARGS="--json out.json"   # also keep the numbers

Uncommitted changes are not measured: a fresh clone does not have them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STAGES = ("install", "ruff", "pytest")
# A stage starts at the first recipe line make echoes for it; "install" is everything before ruff.
STARTS = {
    "ruff": re.compile(r"^\S*python\S* -m ruff\b|^\S*/ruff\b"),
    "pytest": re.compile(r"^(?:[A-Z_]+=\S*\s+)*(?:\S*python\S* -m pytest\b|\S*/pytest\b)"),
}
CACHES = {  # environment variable -> directory under the run's temporary cache root
    "PIP_CACHE_DIR": "pip",
    "UV_CACHE_DIR": "uv",
    "MYPY_CACHE_DIR": "mypy",
    "RUFF_CACHE_DIR": "ruff",
    "XDG_CACHE_HOME": "xdg",
}
# Inherited settings that would point the run at a warm cache or another environment.
DROPPED = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL",
           "ARGS", "STACK", "PR", "BASE")  # make exports its command-line variables to recipes


@dataclass
class Result:
    """One fresh-clone `make test`."""

    commit: str
    stages: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    returncode: int = 0
    tests: str = ""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cores: int = 0
    python: str = ""


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,  # noqa: S603, S607
                          text=True).stdout.strip()


def stage_times(lines: list[tuple[float, str]], total: float) -> dict[str, float]:
    """Seconds per stage, from (seconds since start, line) pairs of make's output."""
    starts = {"install": 0.0}
    for at, line in lines:
        upcoming = [s for s in STAGES[1:] if s not in starts]
        if upcoming and STARTS[upcoming[0]].search(line.strip()):
            starts[upcoming[0]] = at
    ordered = [s for s in STAGES if s in starts]
    ends = [starts[s] for s in ordered[1:]] + [total]
    return {s: end - starts[s] for s, end in zip(ordered, ends, strict=True)}


def environment(caches: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    for variable, name in CACHES.items():
        (caches / name).mkdir(parents=True)
        env[variable] = str(caches / name)
    return env


def run(ref: str, keep: bool, quiet: bool) -> Result:
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=ROOT)
    work = Path(tempfile.mkdtemp(prefix="fresh-clone-"))
    try:
        clone = work / "repo"
        git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone), cwd=work)
        git("checkout", "--quiet", "--detach", commit, cwd=clone)
        env = environment(work / "cache")
        result = Result(commit=commit, load_before=os.getloadavg(), cores=os.cpu_count() or 0,
                        python=platform.python_version())
        lines: list[tuple[float, str]] = []
        start = time.monotonic()
        with subprocess.Popen(["make", "--no-print-directory", "test"], cwd=clone, env=env,  # noqa: S607
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as make:
            assert make.stdout is not None
            for line in make.stdout:
                lines.append((time.monotonic() - start, line.rstrip("\n")))
                if not quiet:
                    print(f"{lines[-1][0]:7.1f}s | {lines[-1][1]}", file=sys.stderr)
        result.total = time.monotonic() - start
        result.returncode = make.returncode
        result.load_after = os.getloadavg()
        result.stages = stage_times(lines, result.total)
        summaries = [line for _, line in lines if re.search(r"\d+ passed", line)]
        result.tests = summaries[-1].strip(" =") if summaries else ""
        if result.returncode != 0:
            print("\n".join(line for _, line in lines[-40:]), file=sys.stderr)
        return result
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def table(result: Result) -> str:
    rows = [f"| {stage} | {result.stages[stage]:.1f} s |" for stage in STAGES if stage in result.stages]
    load = ", ".join(f"{x:.2f}" for x in result.load_before), ", ".join(f"{x:.2f}" for x in result.load_after)
    return "\n".join([
        f"commit {result.commit[:12]}, {result.cores} cores, Python {result.python}, "
        f"load average before {load[0]} / after {load[1]}",
        "",
        "| stage | time |",
        "|---|---|",
        *rows,
        f"| **total** | **{result.total:.1f} s** |",
        "",
        f"tests: {result.tests or 'no pytest summary'}; make exit status {result.returncode}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default="HEAD", help="commit to clone and measure (default: HEAD)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone and caches")
    parser.add_argument("--quiet", action="store_true", help="do not stream make's output (stderr)")
    args = parser.parse_args(argv)
    result = run(args.ref, args.keep, args.quiet)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
