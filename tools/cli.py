"""What every command's ``--help`` shares: a module docstring as plain text, without reStructuredText's markup."""

from __future__ import annotations

import re


def plain_help(doc: str | None) -> str:
    """A module docstring as ``--help`` text: reStructuredText's double backquotes dropped, the text kept."""
    return re.sub(r"``(.+?)``", r"\1", doc or "")
