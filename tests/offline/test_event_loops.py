"""Every event loop of an offline run is closed when it ends, so `make plan` never prints asyncio teardown noise."""

from __future__ import annotations

import asyncio
import os
import subprocess

from tests.conftest import ROOT
from tools.offline.event_loops import run_loops


def test_the_run_loop_and_its_executor_threads_loop_are_closed_when_the_run_ends() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    def as_the_mock_monitor_does() -> None:  # pulumi's MockMonitor runs on the executor and needs a loop
        loops.append(asyncio.get_event_loop())

    with run_loops() as loop:
        loops.append(loop)
        calls = [loop.run_in_executor(None, as_the_mock_monitor_does) for _ in range(8)]
        loop.run_until_complete(asyncio.gather(*calls))
        assert not any(each.is_closed() for each in loops)
    assert len(set(loops)) == 2, "the executor's thread has a loop of its own"
    assert all(each.is_closed() for each in loops)


def test_make_plan_leaves_no_event_loop_to_the_garbage_collector() -> None:
    """Unclosed, a loop warns (ResourceWarning) whenever it is collected, and about one plan in thirty
    printed "Exception ignored in BaseEventLoop.__del__ ... Invalid file descriptor: -1" when its
    self-pipe was collected first: with the warning shown, any unclosed loop fails this test every time.
    ``benchmarks/teardown_noise.py`` runs the plan hundreds of times without the warning."""
    env = {**os.environ, "PYTHONWARNINGS": "always::ResourceWarning"}
    runs = [subprocess.Popen(["make", "--no-print-directory", "-C", str(ROOT), "plan", f"STACK={stack}"],  # noqa: S607
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for stack in ("prod", "dev")]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert out.startswith("# Access plan")
        assert err == ""
