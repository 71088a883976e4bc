"""Text from a stack file made safe in the plan's Markdown: table cells, inline code, and the diff's cells.

A display name with a ``|`` or a newline must not add a column or a row, nor shift what reviewers read
in the permission column; in a pull request comment it must not open HTML or mention anyone either.
"""

from __future__ import annotations

import re

from tools.markdown import fence_for

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")


def md(text: object) -> str:
    """Text safe in a Markdown table cell: one line, every character that could format, link,
    open HTML or end the cell escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: object) -> str:
    """``text`` as inline code when it can be, else escaped text."""
    value = " ".join(str(text).split())
    # Inside a code span nothing formats and `<` opens no HTML; only a backtick (ends the span) or a
    # pipe (ends a table cell) must stay out.
    return f"`{value}`" if re.fullmatch(r"[^`|\\]+", value) else md(value)


_CELL_MARKS = re.compile(r"([\\`*_\[\]~!|])")


def cell(text: str) -> str:
    """One Markdown table cell of the access diff, from text a pull request controls: no line breaks, no
    column separators, no HTML, no @-mentions, no links, images, emphasis or code spans."""
    flat = " ".join(str(text).split())
    escaped = _CELL_MARKS.sub(r"\\\1", flat)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")


def code_cell(text: str) -> str:
    """Text a pull request controls inside a code span (a stack or file name): one line, no backtick to end
    the span, no pipe to end a table cell."""
    return " ".join(str(text).split()).replace("`", "'").replace("|", "/")


def fenced(text: str) -> str:
    """A code block that no backtick run inside ``text`` can close."""
    fence = fence_for(text)
    return f"{fence}text\n{text}\n{fence}\n"
