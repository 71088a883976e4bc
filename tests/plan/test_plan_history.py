"""make plan --history: when the stack was last deployed, from its own history, as the expiry check says it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.conftest import secret_client
from tests.plan.test_plan import run_plan, write_stack_file
from tests.stack.test_expiry import history


def plan_with(tmp_path: Path, entries: Any) -> tuple[int, str, str]:
    stack_file = write_stack_file(tmp_path, "dev", {"clients": {"hr": secret_client()}})
    path = tmp_path / "history.json"
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return run_plan("dev", stack_file, "--history", str(path))


def ago(days: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def section(text: str) -> str:
    return text.split("\n## Last deployed\n\n", 1)[1]


def test_the_plan_says_when_the_stack_was_last_deployed(tmp_path: Path) -> None:
    code, text, err = plan_with(tmp_path, history(("update", "succeeded", ago(2.5)), ("preview", "succeeded", ago(3)),
                                                  ("update", "succeeded", ago(9.5))))
    assert code == 0, err
    shown = section(text)
    assert shown.startswith(f"- Last deployed: {ago(2.5):%Y-%m-%d} ")
    assert "(2 days ago)." in shown
    assert f"- Deploy before that: {ago(9.5):%Y-%m-%d} " in shown
    assert "STALE" not in shown


def test_a_stale_stack_is_warned_about_with_the_fix(tmp_path: Path) -> None:
    code, text, _ = plan_with(tmp_path, history(("update", "failed", ago(1)), ("update", "succeeded", ago(40))))
    assert code == 0, "the plan is printed: the warning is in it"
    shown = section(text)
    assert "- Latest update: failed, " in shown
    assert "- **STALE**: no deploy has succeeded for 40 days (more than 15)." in shown
    assert "gh workflow enable scheduled.yml" in shown


def test_a_stack_never_deployed(tmp_path: Path) -> None:
    code, text, _ = plan_with(tmp_path, [])
    assert code == 0
    assert section(text).startswith("- Last deployed: never")


def test_without_history_the_plan_has_no_such_section(tmp_path: Path) -> None:
    stack_file = write_stack_file(tmp_path, "dev", {"clients": {"hr": secret_client()}})
    code, text, _ = run_plan("dev", stack_file)
    assert code == 0
    assert "## Last deployed" not in text


def test_an_unreadable_history_is_a_one_line_error(tmp_path: Path) -> None:
    for bad in ("not json", json.dumps({"not": "a list"}), json.dumps([{"kind": "update"}])):
        code, text, err = plan_with(tmp_path, bad)
        assert code == 2
        assert text == ""
        assert err.startswith("error: cannot read the stack's history ")
        assert err.count("\n") == 1


def test_what_the_history_file_says_is_printed_as_plain_words(tmp_path: Path) -> None:
    entries = history(("update", "succeeded", ago(20)))
    entries.insert(0, {**entries[0], "kind": "update\n# Approved | `x`", "result": "failed <b>",
                       "startTime": ago(1).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")})
    code, text, _ = plan_with(tmp_path, entries)
    assert code == 0
    assert "- Latest updateapprovedx: failedb, " in section(text)
    assert "# Approved" not in text
