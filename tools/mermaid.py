"""Mermaid diagrams GitHub draws: every piece of text from data made inert, and big diagrams folded.

GitHub renders a ```` ```mermaid ```` block in Markdown (pull request comments, job summaries,
docs). Text in a diagram can come from the tenant (a display name anyone with an app registration
chooses), so it is never trusted to be plain:

- ``label`` is for a flowchart's quoted node or edge text (``n1["<label>"]``): letters, digits and a
  few marks stay as they are; every other character becomes Mermaid's entity code (``#60;``), which
  GitHub draws as that character in text, never as markup. No text can close the quotes, start a
  directive (``click``, ``style``, ``%%``), an HTML tag, a Markdown string or the code fence.
- ``gantt_text`` is for a gantt section or task name, which has no quoting at all in Mermaid's
  grammar (``taskTxt`` is ``[^#:()\\n;]+``, and a leading keyword such as ``click`` is read as the
  keyword): only letters, digits and ``space . _ / + -`` are kept, and a leading keyword is escaped.
- Node ids are never made from data: callers number them (``n1``, ``n2``).

``fold`` keeps a diagram readable: past a bound, the rest is one row or node that says how many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

MAX_LABEL = 60
_FLOWCHART_SAFE = frozenset(" .-_/@,+'")
_GANTT_SAFE = re.compile(r"[^A-Za-z0-9 ._/+-]")
# Words Mermaid's gantt lexer matches before a task's text (mermaid-js/mermaid gantt.jison).
GANTT_KEYWORDS = frozenset({
    "gantt", "click", "href", "call", "title", "section", "dateformat", "axisformat", "tickinterval",
    "excludes", "includes", "todaymarker", "inclusiveenddates", "topaxis", "weekday", "weekend",
    "acctitle", "accdescr",
})

T = TypeVar("T")


def _shortened(text: str, limit: int) -> str:
    text = " ".join(str(text).split())  # no line breaks: each statement is one line
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(text: object, limit: int = MAX_LABEL) -> str:
    """``text`` as the inside of a quoted flowchart label: inert, one line, at most ``limit`` characters."""
    return "".join(ch if (ch.isalnum() and ch.isprintable() and ch.isascii()) or ch in _FLOWCHART_SAFE
                   else f"#{ord(ch)};" for ch in _shortened(str(text), limit))


def gantt_text(text: object, limit: int = MAX_LABEL) -> str:
    """``text`` as a gantt section or task name: only safe characters, never a keyword first."""
    kept = " ".join(_GANTT_SAFE.sub(" ", _shortened(str(text), limit)).split()) or "-"
    first = kept.split(" ", 1)[0].lower()
    return f"_{kept}" if first in GANTT_KEYWORDS else kept


def fold(items: Iterable[T], limit: int) -> tuple[list[T], int]:
    """The first ``limit`` items, and how many more there were (to say in one row or node)."""
    kept: list[T] = []
    hidden = 0
    for item in items:
        if len(kept) < limit:
            kept.append(item)
        else:
            hidden += 1
    return kept, hidden


def fenced(lines: Sequence[str]) -> str:
    """A Mermaid block for Markdown: the diagram's lines inside a ```` ```mermaid ```` fence."""
    return "\n".join(["```mermaid", *lines, "```"])
