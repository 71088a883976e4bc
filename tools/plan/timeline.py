"""The renewal timeline as a Mermaid gantt: each credential of each renewing client as a bar, with its milestones.

One section per client (the diff: per changed client, its base and its pull request on one time axis):

- each credential the client keeps after the planned deploy is a bar from its creation to its end date:
  the one handed out marked ``active``, the superseded one ``done`` (the overlap is where both run);
- the day the handed-out one is due for renewal, and the day the superseded one is removed, are milestones;
- bring-your-own certificates (``pem: [current, next]``) are bars from their own ``notBefore`` to
  ``notAfter``, with the day ``make check-expiry`` starts failing as the milestone: only you renew them.

Drawn from the ledger the Renewal table reads (``clients.<key>.renewal``, ``components/renewal.py``) and
from the stack file: neither holds a secret, a key hint or a token, and the names drawn are client keys,
generations (dates) and fixed words, each through :func:`tools.mermaid.gantt_text`; ids are numbered.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from components.renewal import MIN_VALID_AHEAD_DAYS, parse
from components.settings.model import (
    CertificateCredential,
    GeneratedCertificateCredential,
    SecretCredential,
    ServicePrincipalClientSettings,
    Settings,
)
from tools.mermaid import fenced, fold, gantt_text

MAX_SECTIONS = 16
"""Past this many sections, the rest are one section that says how many (the table lists them all)."""


@dataclass(frozen=True)
class Bar:
    """One credential, from its creation (or start) to its end date."""

    label: str
    start: dt.date
    end: dt.date
    state: Literal["active", "done", ""] = ""
    """``active``: the one handed out; ``done``: superseded or expired; ``""``: a bring-your-own certificate."""


@dataclass(frozen=True)
class Milestone:
    """A day that matters: a renewal due, a removal, the day a bring-your-own certificate must be replaced."""

    label: str
    day: dt.date


@dataclass(frozen=True)
class Timeline:
    """One client's credentials and milestones."""

    bars: tuple[Bar, ...]
    milestones: tuple[Milestone, ...]


def _day(value: Any) -> dt.date | None:
    """The UTC date of an RFC 3339 time from the outputs; None when absent or unreadable (never a guess)."""
    try:
        return parse(value).date() if isinstance(value, str) and value else None
    except ValueError:
        return None


def _generation_day(generation: str) -> dt.date | None:
    """A generation names the UTC day it was made for (``20261206``, ``20261206-2``)."""
    match = re.fullmatch(r"(\d{8})(-\d+)?", generation)
    try:
        return dt.datetime.strptime(match[1], "%Y%m%d").replace(tzinfo=dt.UTC).date() if match else None
    except ValueError:
        return None


def ledger_timeline(client: Mapping[str, Any], previous: Mapping[str, Any] | None, lifetime_days: int
                    ) -> Timeline | None:
    """A renewing client's timeline from its planned ``clients`` entry; ``previous`` is the last deploy's."""
    ledger = client.get("renewal")
    if not isinstance(ledger, Mapping) or not isinstance(ledger.get("handedOut"), Mapping):
        return None
    what = "secret" if ledger.get("form") == "secret" else "certificate"
    bars: list[Bar] = []
    milestones: list[Milestone] = []
    handed = ledger["handedOut"]
    start, end = _day(handed.get("since")), _day(handed.get("endDate"))
    if start is not None and end is not None:
        bars.append(Bar(f"{what} {handed.get('generation') or 'from before renewal'} handed out", start,
                        max(start, end), "active"))
    superseded = ledger.get("superseded")
    if isinstance(superseded, Mapping):
        generation = str(superseded.get("generation") or "")
        kept_until, end = _day(superseded.get("keptUntil")), _day(superseded.get("endDate"))
        last = (previous or {}).get("renewal")
        was_handed = last.get("handedOut") if isinstance(last, Mapping) else None
        start = (_day(was_handed.get("since")) if isinstance(was_handed, Mapping)
                 and was_handed.get("generation") == generation else None) or _generation_day(generation)
        if start is None and end is not None:
            start = end - dt.timedelta(days=lifetime_days)
        shown_end = end or kept_until
        if start is not None and shown_end is not None:
            note = "" if end is not None else " - end date not recorded"
            bars.append(Bar(f"{what} {generation or 'from before renewal'} superseded{note}", start,
                            max(start, shown_end), "done"))
        if kept_until is not None:
            milestones.append(Milestone(f"{generation or 'the superseded one'} removed", kept_until))
    due = _day(client.get("credentialRenewsAt"))
    if due is not None:
        milestones.append(Milestone("renewal due", due))
    return Timeline(tuple(bars), tuple(milestones))


def byo_timeline(credential: CertificateCredential) -> Timeline:
    """Bring-your-own certificates, in the order listed (current, next), and the day to list the next one by."""
    bars = []
    for index, certificate in enumerate(credential.certificates):
        expired = certificate not in credential.registered
        role = ("current", "next")[index] if index < 2 else f"number {index + 1}"
        bars.append(Bar(f"certificate {role}{' - expired, left out' if expired else ''}",
                        certificate.not_before.date(), certificate.not_after.date(), "done" if expired else ""))
    due = credential.newest.not_after - dt.timedelta(days=MIN_VALID_AHEAD_DAYS)
    return Timeline(tuple(bars), (Milestone("list the next certificate by - make check-expiry fails", due.date()),))


def timelines(settings: Settings, clients: Mapping[str, Any], history: Mapping[str, Any] | None
              ) -> dict[str, Timeline]:
    """The timeline of every client whose credential expires, by client key, in the ``clients`` output's order."""
    drawn: dict[str, Timeline] = {}
    for key, client in clients.items():
        settings_of = settings.clients.get(key)
        if not isinstance(settings_of, ServicePrincipalClientSettings) or not isinstance(client, Mapping):
            continue
        credential = settings_of.credential
        found: Timeline | None = None
        if isinstance(credential, CertificateCredential):
            found = byo_timeline(credential)
        elif isinstance(credential, SecretCredential | GeneratedCertificateCredential):
            lifetime = (credential.lifetime_days if isinstance(credential, SecretCredential)
                        else credential.validity_days)
            found = ledger_timeline(client, (history or {}).get(key), lifetime)
        if found is not None and (found.bars or found.milestones):
            drawn[key] = found
    return drawn


def gantt(title: str, deploy_day: dt.date, sections: Sequence[tuple[str, Timeline]]) -> str:
    """A ```` ```mermaid ```` gantt: the planned deploy's day, then one section per entry, past a bound folded."""
    lines = ["gantt", f"    title {gantt_text(title, 80)}", "    dateFormat YYYY-MM-DD", "    axisFormat %Y-%m-%d",
             # The viewer's today would mislead: the plan is of one deploy's day, drawn as its own milestone.
             "    todayMarker off", "    section planned deploy",
             f"    this deploy :milestone, m0, {deploy_day:%Y-%m-%d}, 0d"]
    shown, hidden = fold(sections, MAX_SECTIONS)
    number = 0
    for name, timeline in shown:
        lines.append(f"    section {gantt_text(name)}")
        for bar in timeline.bars:
            number += 1
            tags = f"{bar.state}, " if bar.state else ""
            lines.append(f"    {gantt_text(bar.label)} :{tags}b{number}, {bar.start:%Y-%m-%d}, {bar.end:%Y-%m-%d}")
        for milestone in timeline.milestones:
            number += 1
            lines.append(f"    {gantt_text(milestone.label)} :milestone, m{number}, {milestone.day:%Y-%m-%d}, 0d")
    if hidden:
        lines += [f"    section {hidden} more not drawn", f"    see the table :milestone, m{number + 1}, "
                  f"{deploy_day:%Y-%m-%d}, 0d"]
    return fenced(lines) + "\n"
