"""One ``Output`` of a nested dict or list whose leaves may be outputs (a client's ``clients.<key>`` output).

``pulumi.Output.from_input`` unwraps such a value level by level: every key and every value,
outputs or not, becomes an ``Output`` of its own, and each dict becomes two ``Output.all`` and an
``apply``.  The ``clients`` output made dozens of them per client (its ids, its
``credentialKeyIds``, its renewal ledger): at a hundred clients, thousands of outputs the
runtime schedules, resolves and garbage-collects for nothing (``benchmarks/README.md``).

:func:`nested_output` waits once for all the distinct leaf outputs and rebuilds the plain value:
the same value, known only when every leaf is known, secret when any leaf is secret, depending on
every leaf's resources, as ``Output.from_input`` gives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi


def nested_output(value: Any) -> pulumi.Output[Any]:
    """``value`` (dicts and lists of plain values and outputs) as one output of the plain value."""
    leaves: dict[int, pulumi.Output[Any]] = {}  # by identity: one output may appear twice (a key id)
    for leaf in _outputs_in(value):
        leaves.setdefault(id(leaf), leaf)
    order = {identity: index for index, identity in enumerate(leaves)}

    def rebuild(resolved: list[Any]) -> Any:
        def plain(part: Any) -> Any:
            if isinstance(part, pulumi.Output):
                return resolved[order[id(part)]]
            if isinstance(part, dict):
                return {key: plain(item) for key, item in part.items()}
            if isinstance(part, list):
                return [plain(item) for item in part]
            return part

        return plain(value)

    return pulumi.Output.all(*leaves.values()).apply(rebuild)


def _outputs_in(value: Any) -> Iterator[pulumi.Output[Any]]:
    if isinstance(value, pulumi.Output):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _outputs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _outputs_in(item)
