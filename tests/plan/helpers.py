"""What the plan tests read back from the Markdown: a section's table, and the Mermaid gantt charts."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` or ``### `` line), up to the next heading of any level."""
    start = text.index(f"{heading}\n") + len(heading) + 1
    found = re.search(r"^#{1,3} ", text[start:], re.MULTILINE)
    return text[start:start + found.start()] if found else text[start:]


def table(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under ``heading``, each a list of cells (``\\|`` stays escaped)."""
    rows = [line for line in section(text, heading).splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


@dataclass(frozen=True)
class Task:
    """One gantt row: a bar or a milestone."""

    section: str
    name: str
    tags: tuple[str, ...]
    id: str
    start: dt.date
    end: dt.date | None
    """None for a milestone (``0d``)."""


def gantts(text: str) -> list[list[Task]]:
    """Every ```` ```mermaid ```` gantt in ``text``, parsed by its line grammar: ``name :tags, id, start, end``."""
    charts = []
    for block in re.findall(r"^```mermaid\n(.*?)^```$", text, re.MULTILINE | re.DOTALL):
        lines = block.splitlines()
        assert lines[0] == "gantt", lines[0]
        tasks: list[Task] = []
        current = ""
        for line in (entry.strip() for entry in lines[1:]):
            keyword = line.split(" ", 1)[0]
            if keyword == "section":
                current = line.split(" ", 1)[1]
            elif keyword not in ("title", "dateFormat", "axisFormat", "todayMarker"):
                name, _, spec = line.partition(" :")
                assert spec, line
                assert ":" not in name, line
                *tags, task_id, start, end = (part.strip() for part in spec.split(","))
                tasks.append(Task(current, name, tuple(tags), task_id, dt.date.fromisoformat(start),
                                  None if end == "0d" else dt.date.fromisoformat(end)))
        charts.append(tasks)
    return charts
