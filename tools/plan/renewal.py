"""What ``make plan`` and ``make plan-diff`` say about renewal: per client, which credential is handed
out, which is superseded and until when, and any removal of a credential in use; drawn as a timeline too.

Both read the renewal ledger (``clients.<key>.renewal``, ``components/renewal.py``) of two
``clients`` outputs: the last deploy's (*history*: a ``pulumi stack output --json`` file given with
``--outputs``) and the one the planned run would leave.  A credential is *in use* when the last
deploy handed it out, or superseded it less than 14 days before (its ``keptUntil`` is still ahead).
The program never removes one (``tests/test_credentials_renewal.py``); a removal found here means
a change of credential form, a removed client, or a bug, and is said loudly.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from components.renewal import MIN_VALID_AHEAD_DAYS, parse
from components.settings.model import CertificateCredential, ServicePrincipalClientSettings, Settings
from tools.offline.run import ProgramRun
from tools.plan.cells import md
from tools.plan.timeline import gantt, timelines

OUTPUTS_HELP = ("the last deploy's outputs, as `pulumi stack output --stack <stack> --json` writes them "
                "(only the non-secret `clients` output is read): the plan then shows the next deploy of that "
                "stack; without it, a new stack's first deploy")
NO_HISTORY = ("No history given: this is a new stack's first deploy (one credential per client). To plan the "
              "next deploy of a deployed stack, pass its outputs: `pulumi stack output --stack <stack> --json "
              "> outputs.json`, then `ARGS=\"--outputs outputs.json\"`.")


class OutputsFileError(ValueError):
    """An outputs file that is not what ``pulumi stack output --json`` writes."""


def read_outputs_file(path: Path) -> dict[str, Any]:
    """A stack's outputs from ``pulumi stack output --json`` (secrets show as ``[secret]``; unused)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OutputsFileError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(loaded, dict):
        raise OutputsFileError(f"{path}: not an object of stack outputs")
    return loaded


@dataclass(frozen=True)
class Removal:
    """A credential in use that the planned run no longer keeps."""

    client: str
    generation: str
    role: str
    """``handed out`` or ``superseded until <date>``."""


def in_use(client: Mapping[str, Any], now: dt.datetime) -> dict[str, str]:
    """The generations in use by one client's ledger, with their role."""
    ledger = client.get("renewal")
    if not isinstance(ledger, Mapping):
        return {}
    used: dict[str, str] = {}
    handed = ledger.get("handedOut")
    if isinstance(handed, Mapping):
        used[str(handed.get("generation"))] = "handed out"
    superseded = ledger.get("superseded")
    if isinstance(superseded, Mapping) and parse(str(superseded.get("keptUntil"))) > now:
        used[str(superseded.get("generation"))] = f"superseded, kept until {superseded.get('keptUntil')}"
    return used


def kept(client: Mapping[str, Any] | None) -> set[str]:
    """The generations a client's ledger keeps."""
    ledger = (client or {}).get("renewal")
    if not isinstance(ledger, Mapping):
        return set()
    return {str(entry["generation"]) for entry in (ledger.get("handedOut"), ledger.get("superseded"))
            if isinstance(entry, Mapping)}


def removals_in_use(history: Mapping[str, Any], planned: Mapping[str, Any], now: dt.datetime) -> list[Removal]:
    """Credentials the last deploy's ledger has in use that the planned ``clients`` output does not keep."""
    found = []
    for key, client in sorted(history.items()):
        if not isinstance(client, Mapping):
            continue
        remaining = kept(planned.get(key))
        found += [Removal(key, generation, role) for generation, role in in_use(client, now).items()
                  if generation not in remaining]
    return found


def ledger_rows(clients: Mapping[str, Any], history: Mapping[str, Any] | None) -> list[list[str]]:
    """One row per renewed client: client, handed out (since, ends), superseded (until), this deploy."""
    rows = []
    for key, client in clients.items():
        ledger = client.get("renewal")
        if not isinstance(ledger, Mapping):
            continue
        handed = ledger["handedOut"]
        superseded = ledger.get("superseded")
        before = kept((history or {}).get(key))
        created = "creates it" if str(handed["generation"]) not in before else "nothing new"
        gone = sorted(before - kept(client))
        change = created + (f"; removes {', '.join(gone)}" if gone else "")
        ends = str(handed.get("endDate") or "?")[:10]
        rows.append([
            key,
            f"{handed['generation']} (since {str(handed['since'])[:10]}, ends {ends})",
            (f"{superseded['generation']} (kept until {str(superseded['keptUntil'])[:10]})" if superseded
             else "none"),
            str(client.get("credentialRenewsAt", ""))[:10],
            change,
        ])
    return rows


def byo_rows(settings: Settings) -> list[list[str]]:
    """One row per client with bring-your-own certificates: you renew them, the program never does."""
    rows = []
    for key, client in settings.clients.items():
        if isinstance(client, ServicePrincipalClientSettings) and isinstance(client.credential, CertificateCredential):
            credential = client.credential
            due = credential.newest.not_after - dt.timedelta(days=MIN_VALID_AHEAD_DAYS)
            listed = ", ".join(f"{c.thumbprint[:8]}… (until {c.not_after:%Y-%m-%d})" for c in credential.registered)
            rows.append([key, f"yours: {listed or 'none registered'}", "none",
                         f"by you, before {due:%Y-%m-%d}", "nothing"])
    return rows


def render_renewal(stack: str, settings: Settings, run: ProgramRun, history: Mapping[str, Any] | None,
                   now: dt.datetime, out: TextIO) -> None:
    """The plan's renewal: removals in use (loudly), then the timeline and the table of every renewing client."""
    clients = run.outputs["clients"]
    removals = removals_in_use(history or {}, clients, now)
    if removals:
        out.write("\n## WARNING: credentials in use would be removed\n\n")
        out.write("".join(f"- **{md(r.client)}**: {md(r.generation or '(from before renewal)')} ({md(r.role)}) "
                          "is removed by this deploy; a consumer still using it is cut off\n" for r in removals))
    rows = ledger_rows(clients, history) + byo_rows(settings)
    if not rows:
        return
    out.write("\n## Renewal\n\n")
    out.write((NO_HISTORY if history is None else "Planned as the next deploy after the given outputs.") + "\n\n")
    drawn = timelines(settings, clients, history)
    out.write(gantt(f"Credentials of stack {stack} after the deploy of {now:%Y-%m-%d}", now.date(),
                    list(drawn.items())) + "\n")
    out.write("| client | handed out | superseded | renewed from | this deploy |\n|---|---|---|---|---|\n")
    for row in rows:
        out.write(f"| {' | '.join(md(cell) for cell in row)} |\n")
