"""Plain-text tables for the command-line tools (``make verify`` and its deployer mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 reasons: Sequence[tuple[str, str]], out: TextIO) -> None:
    """A table with aligned columns, then one line per reason (``key: reason``)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    for key, reason in reasons:
        out.write(f"{key}: {reason}\n")
