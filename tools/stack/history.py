"""When a stack was last deployed, from its own update history (``pulumi stack history --json``).

Renewal runs only when something deploys.  GitHub turns a repository's scheduled workflows off
after 60 days without activity in the repository, and says so only on the Actions page; a
failing sign-in or a policy violation stops the weekly deploy as quietly.  The stack's history is
where that shows: this module finds the last successful update and the one before it, and says
when either is older than the schedule allows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Weekly schedule: two missed runs in a row is no longer chance.
MAX_DEPLOY_AGE_DAYS = 15
SCHEDULE_WORKFLOW = "scheduled.yml"
# Pulumi writes RFC 3339 or Go's default layout ("2006-01-02 15:04:05 +0000 UTC"), depending on version.
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?")


class HistoryError(Exception):
    """The history could not be read."""


@dataclass(frozen=True)
class Update:
    """One entry of the stack's history."""

    kind: str
    result: str
    started: dt.datetime


def parse_time(text: str) -> dt.datetime:
    match = _TIME.match(text.strip())
    if match is None:
        raise HistoryError(f"unreadable time in the stack history: {text!r}")
    offset = match[3] or "Z"
    offset = "+00:00" if offset == "Z" else f"{offset[:3]}:{offset[-2:]}"
    return dt.datetime.fromisoformat(f"{match[1]}T{match[2]}{offset}").astimezone(dt.UTC)


def read_updates(history: Any) -> list[Update]:
    """The entries of ``pulumi stack history --json``, newest first."""
    if not isinstance(history, list):
        raise HistoryError("the stack history is not a list of updates")
    updates = []
    for entry in history:
        if not isinstance(entry, dict) or not isinstance(entry.get("startTime"), str):
            raise HistoryError("an entry of the stack history has no startTime")
        updates.append(Update(str(entry.get("kind", "")), str(entry.get("result", "")),
                              parse_time(entry["startTime"])))
    return sorted(updates, key=lambda u: u.started, reverse=True)


@dataclass(frozen=True)
class DeployAge:
    """What the history says about the schedule."""

    last: Update | None
    previous: Update | None
    latest: Update | None
    """The newest entry of any kind and result (a failed update shows here)."""

    def problems(self, now: dt.datetime, max_days: int = MAX_DEPLOY_AGE_DAYS) -> list[str]:
        limit = dt.timedelta(days=max_days)
        if self.last is None:
            return []  # never deployed: nothing to renew yet
        if now - self.last.started > limit:
            return [f"no deploy has succeeded for {(now - self.last.started).days} days (more than {max_days})"]
        if self.previous is not None and self.last.started - self.previous.started > limit:
            gap = (self.last.started - self.previous.started).days
            return [f"the deploy before the last one was {gap} days earlier (more than {max_days}): deploys stopped "
                    "for a while"]
        return []


def deploy_age(updates: Sequence[Update]) -> DeployAge:
    deploys = [u for u in updates if u.kind == "update" and u.result == "succeeded"]
    return DeployAge(last=deploys[0] if deploys else None, previous=deploys[1] if len(deploys) > 1 else None,
                     latest=updates[0] if updates else None)


def _when(update: Update, now: dt.datetime) -> str:
    return f"{update.started:%Y-%m-%d %H:%M} UTC ({(now - update.started).days} days ago)"


def describe(age: DeployAge, now: dt.datetime, max_days: int = MAX_DEPLOY_AGE_DAYS) -> str:
    """Lines for the expiry check's report: when the stack was deployed, and what to do if that is long ago."""
    if age.last is None:
        return "Last deployed: never (no successful update in the stack's history).\n"
    lines = [f"Last deployed: {_when(age.last, now)}."]
    if age.previous is not None:
        lines.append(f"Deploy before that: {_when(age.previous, now)}.")
    if age.latest is not None and age.latest is not age.last and age.latest.result != "succeeded":
        lines.append(f"Latest {age.latest.kind}: {age.latest.result}, {_when(age.latest, now)}.")
    problems = age.problems(now, max_days)
    if problems:
        lines += [f"STALE: {p}." for p in problems]
        lines.append(f"The weekly deploy renews credentials. GitHub turns scheduled workflows off after 60 days "
                     f"without repository activity: check `gh workflow view {SCHEDULE_WORKFLOW}` (state "
                     f"\"disabled_inactivity\"), re-enable it with `gh workflow enable {SCHEDULE_WORKFLOW}`, "
                     f"and start a run now with `gh workflow run {SCHEDULE_WORKFLOW}`; if it is enabled, read "
                     "its last runs (a failed sign-in or a policy violation stops it too).")
    return "\n".join(lines) + "\n"
