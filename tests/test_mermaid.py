"""Text from the tenant is inert in a Mermaid diagram; big diagrams fold; the fence is GitHub's."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.mermaid import GANTT_KEYWORDS, MAX_LABEL, fenced, fold, gantt_text, label

HOSTILE = [
    'Evil"] --> n9["x',                      # closes the quotes and adds an edge
    "x\nclick n1 href \"https://evil.example\"",  # a click directive on a new line
    "<img src=x onerror=alert(1)>",          # an HTML label
    "`**markdown string**`",                 # a Markdown string
    "```\n# closes the fence",               # the code fence
    "%%{init: {'securityLevel': 'loose'}}%%",  # a directive
    "a|b -->|c|",                            # edge text delimiters
    "x; style n1 fill:#f00",                 # a statement separator
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_flowchart_label_is_inert_text(text: str) -> None:
    escaped = label(text)
    assert re.fullmatch(r"[A-Za-z0-9 .\-_/@,+'#;…]*", escaped.replace("#8230;", "")), escaped
    for closer in ('"', "\n", "`", "<", "%%", "|"):
        assert closer not in escaped


@given(st.text(max_size=300))
def test_any_label_stays_one_bounded_line_of_inert_characters(text: str) -> None:
    escaped = label(text)
    assert re.fullmatch(r"(?:[A-Za-z0-9 .\-_/@,+']|#\d+;)*", escaped)
    entities = re.sub(r"#\d+;", "x", escaped)
    assert len(entities) <= MAX_LABEL


def test_plain_names_stay_readable() -> None:
    assert label("HR inbound provisioning - Workday (prod)") == "HR inbound provisioning - Workday #40;prod#41;"
    assert label("hr-sync") == "hr-sync"


@pytest.mark.parametrize("text", [*HOSTILE, "click me", "Section: x", "title x", "a(b)#c"])
def test_a_gantt_name_has_only_safe_characters_and_never_starts_with_a_keyword(text: str) -> None:
    name = gantt_text(text)
    assert re.fullmatch(r"[A-Za-z0-9 ._/+-]+", name.lstrip("_")), name
    assert name.split(" ", 1)[0].lower() not in GANTT_KEYWORDS


def test_fold_keeps_the_first_and_counts_the_rest() -> None:
    assert fold(range(5), 3) == ([0, 1, 2], 2)
    assert fold([], 3) == ([], 0)


def test_fenced() -> None:
    assert fenced(["flowchart LR", '  n1["a"]']) == '```mermaid\nflowchart LR\n  n1["a"]\n```'
