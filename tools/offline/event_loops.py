"""The asyncio event loops of one offline program run, every one of them closed when the run ends.

Pulumi's runtime runs the program on the thread's current event loop, and its mock monitor,
called on that loop's default executor's threads, gives each of those threads a loop of its own
(``pulumi.runtime.sync_await._ensure_event_loop``). Nothing closes any of them. A loop and its
self-pipe are a reference cycle (the selector holds a handle back to the loop), so the garbage
collector frees them together in no set order, at the latest when the interpreter exits; when
the socket goes first, the loop's ``__del__`` closes the loop, reads the pipe's file descriptor
as -1 and prints ``Exception ignored in: <function BaseEventLoop.__del__ ...> ... ValueError:
Invalid file descriptor: -1`` (about one ``make plan`` in thirty). Closed while their sockets are
open, the loops leave nothing for the collector to trip on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def run_loops() -> Iterator[asyncio.AbstractEventLoop]:
    """A new current event loop whose executor thread gets a loop too; both closed on exit.

    One executor thread: the mock monitor's calls are Python, one at a time under the GIL, so more
    threads would only add thread starts to every run. Afterwards the calling thread has no current
    loop; Pulumi's runtime makes one when it next needs one (a fresh mock runtime uses this too).
    """
    thread_loops: list[asyncio.AbstractEventLoop] = []

    def give_the_thread_a_loop() -> None:  # runs on each executor thread as it starts
        thread_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(thread_loop)
        thread_loops.append(thread_loop)  # list.append is atomic

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mock-monitor",
                                  initializer=give_the_thread_a_loop)
    loop = asyncio.new_event_loop()
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            executor.shutdown(wait=True)  # the threads end, and no longer use their loops
        finally:
            asyncio.set_event_loop(None)
            for thread_loop in thread_loops:
                thread_loop.close()
            loop.close()
