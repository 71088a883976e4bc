"""What the plan's and the audit's Markdown share: a code fence that no text from a stack file or a tenant can close."""

from __future__ import annotations

import re


def fence_for(text: str) -> str:
    """Backticks, at least three, and longer than any run of backticks in ``text``."""
    return "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
