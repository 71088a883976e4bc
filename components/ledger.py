"""The renewal ledger's shape: what a deploy writes for the next one, and how the next one reads it back.

A Pulumi program keeps nothing between runs, so each deploy writes, per client whose credential it
renews, a *ledger* into the non-secret stack output ``renewalLedger.<key>`` (and, for people and
tools, the same into ``clients.<key>.renewal``); the next deploy reads the stack's own last outputs
(``components/stack_history.py``) and decides from it (``components/renewal.py``).  Scheme 2::

    {"scheme": 2, "form": "secret" | "generatedCertificate",
     "handedOut":  {"generation": "20261127", "since": "<RFC 3339>", "endDate": "<RFC 3339>",
                    "fresh": true | false, "keyId": "…"},
     "superseded": {"generation": "20261030", "endDate": "<RFC 3339>" | null, "keptUntil": "<RFC 3339>",
                    "keyId": "…"}}                               # only while one is kept

**Hard to lose.**  Everything but ``keyId`` is a plain value the program knows when it runs, so the
ledger is written whole whatever happens to the resources: the engine writes an output over skipped or
failed creates (``pulumi up --target``, ``--continue-on-error``) as unknown, and an output made of one
unknown part is unknown whole (the ``clients`` output is).  ``keyId`` is Graph's, known only once the
credential exists: it stands alone in its place, so an unknown one (the engine stores its sentinel;
the next run reads ``None``) leaves the rest readable.

**Fresh.**  ``fresh`` marks a credential handed out by the deploy that wrote the ledger.  That deploy
may not have created it (its create was skipped or failed), so the next deploy takes it as handed out
since ``since`` only when its ``keyId`` is known; otherwise the credential may never have reached a
consumer, and the next deploy declares it again and hands it out from its own time: the one it
superseded stays 14 days from then.  A credential kept from an earlier deploy is not fresh.

Scheme 1 (the ledger before this one, only ever in ``clients.<key>.renewal``) had the same fields less
``fresh``, with every key id known: it reads as confirmed.  Stacks from before the ledger are read
from their other outputs (:func:`calendar_ledger`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown

from components.renewal import (
    ROTATION_EPOCH,
    Decision,
    Form,
    Held,
    Ledger,
    LedgerError,
    handed_out_since,
    parse,
    rfc3339,
)

LEDGER_SCHEME = 2
SCHEMES = (1, 2)


FORMS: tuple[Form, ...] = ("secret", "generatedCertificate")
_KEYS = frozenset({"scheme", "form", "handedOut", "superseded"})
_HANDED_OUT_KEYS = frozenset({"generation", "since", "endDate", "fresh", "keyId"})
_SUPERSEDED_KEYS = frozenset({"generation", "endDate", "keptUntil", "keyId"})
_GENERATION = re.compile(r"(?:(\d{8})(?:-[1-9][0-9]{0,3})?)?")
"""A generation the program writes: a UTC date, ``-<n>`` when that name was taken, or "" (a pre-renewal secret)."""


def read_ledger(value: Any, form: Form) -> Ledger | None:
    """The ledger of one client; None when it is for another form of credential (the old one is not this
    one's history).  Raises :class:`LedgerError` for anything else it cannot read.

    An allow-list: every key, type and value must be one the program writes.  A generation names the resources
    the next deploy declares, so a foreign one (hand-edited, another program's output) would create a credential
    under that name and delete the one consumers use; an unknown form would read as "another form", no history.
    """
    scheme = value.get("scheme") if isinstance(value, Mapping) else None
    # A number comes back from the state as a float (2.0); a boolean is not a scheme, even though True == 1.
    if isinstance(scheme, bool) or not isinstance(scheme, (int, float)) or scheme not in SCHEMES:
        raise LedgerError(f"not a renewal ledger of scheme {' or '.join(map(str, SCHEMES))}")
    _only(value, _KEYS, "the ledger")
    if value.get("form") not in FORMS:
        raise LedgerError(f"a ledger of an unknown form {value.get('form')!r} (one of {', '.join(FORMS)})")
    if value["form"] != form:
        return None
    handed_out = value.get("handedOut")
    superseded = value.get("superseded")
    if not isinstance(handed_out, Mapping):
        raise LedgerError("a ledger entry without a generation")
    fresh = handed_out.get("fresh", False)
    if type(fresh) is not bool:
        raise LedgerError(f"a handed-out entry whose `fresh` is {fresh!r}, not true or false")
    if superseded is not None and not isinstance(superseded, Mapping):
        raise LedgerError(f"a `superseded` entry that is a {type(superseded).__name__}, not an entry")
    held = _held(handed_out, True)
    kept = _held(superseded, False) if superseded is not None else None
    if kept is not None and kept.generation == held.generation:
        raise LedgerError(f"the handed-out and the superseded credential share the generation {held.generation!r}")
    return Ledger(form, held, kept, confirmed=not (fresh and held.key_id is None))


def _only(value: Mapping[Any, Any], allowed: frozenset[str], what: str) -> None:
    unexpected = sorted(str(k) for k in value if k not in allowed)
    if unexpected:
        raise LedgerError(f"{what} holds keys the program never writes: {', '.join(unexpected)}")


def _held(value: Any, handed_out: bool) -> Held:
    if not isinstance(value, Mapping) or not isinstance(value.get("generation"), str):
        raise LedgerError("a ledger entry without a generation")
    generation = value["generation"]
    if not _generation_ok(generation):
        raise LedgerError(f"a ledger entry with the generation {generation!r}, not one the program names "
                          "(a UTC date YYYYMMDD, with -<n> when that name was taken)")
    _only(value, _HANDED_OUT_KEYS if handed_out else _SUPERSEDED_KEYS,
          "the handed-out entry" if handed_out else "the superseded entry")
    since = moment(value.get("since"), "since") if handed_out else None
    end = moment(value["endDate"], "endDate") if value.get("endDate") is not None else None
    if not handed_out and value.get("keptUntil") is not None:
        moment(value["keptUntil"], "keptUntil")
    key_id = value.get("keyId")
    if key_id is not None and not isinstance(key_id, (str, Unknown)):
        raise LedgerError(f"a ledger entry whose keyId is a {type(key_id).__name__}")
    return Held(generation, since, end, key_id if isinstance(key_id, str) else None)


def _generation_ok(generation: str) -> bool:
    match = _GENERATION.fullmatch(generation)
    if match is None:
        return False
    try:
        return match.group(1) is None or bool(dt.datetime.strptime(match.group(1), "%Y%m%d"))
    except ValueError:
        return False


def moment(value: Any, what: str) -> dt.datetime:
    """An RFC 3339 time with its offset, as the program writes them; :class:`LedgerError` for anything else."""
    if not isinstance(value, str):
        raise LedgerError(f"a ledger entry whose {what} is {value!r}, not an RFC 3339 time")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in value:
        raise LedgerError(f"a ledger entry whose {what} is {value!r}, not an RFC 3339 time with its offset")
    return parse(value)


def calendar_ledger(client: Mapping[str, Any], form: Form, now: dt.datetime, lifetime_days: int,
                    rotation_days: int) -> Ledger | None:
    """The ledger of a client the calendar version (or the version before renewal) deployed.

    From its outputs: ``credentialRenewsAt`` is the next period's start, so the current period's
    credential is named by ``credentialRenewsAt - rotationDays`` and the previous one by a period
    earlier.  None when the outputs show no credential of this form.
    """
    if client.get("credentialType") != ("secret" if form == "secret" else "certificate"):
        return None
    expires = client.get("credentialExpiresAt")
    renews = client.get("credentialRenewsAt")
    end = moment(expires, "credentialExpiresAt") if expires is not None else None
    if renews is None:
        # Before renewal existed: one credential under the bare names (<key>-secret; <key>-key,
        # <key>-cert, <key>-certificate). A bring-your-own certificate's outputs look the same: after a
        # switch from one to ``generate`` this declares a new key pair under the bare names, handed out.
        return Ledger(form, Held("", now, end))
    next_start = moment(renews, "credentialRenewsAt")
    period = dt.timedelta(days=rotation_days)
    start = next_start - period
    if (start - ROTATION_EPOCH) % period:
        raise LedgerError(
            f"the last deploy used the calendar schedule with another rotation period ({renews} is not the start "
            f"of a {rotation_days}-day period): deploy once with the rotationDays it had, then change it")
    previous = start - period
    return Ledger(form, Held(start.strftime("%Y%m%d"), min(now, next_start), end),
                  Held(previous.strftime("%Y%m%d"), input_end=previous + dt.timedelta(days=lifetime_days)))


def ledger_output(form: Form, decision: Decision, key_ids: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger this deploy writes: plain values, and each credential's key id (``key_ids``, by generation;
    an output, which may turn out unknown) in a place of its own."""
    handed_out = decision.handed_out
    ledger: dict[str, Any] = {
        "scheme": LEDGER_SCHEME,
        "form": form,
        "handedOut": {"generation": handed_out.generation, "since": rfc3339(handed_out_since(handed_out)),
                      "endDate": rfc3339(handed_out.end) if handed_out.end else None,
                      "fresh": decision.fresh, "keyId": key_ids[handed_out.generation]},
    }
    superseded = decision.superseded
    if superseded is not None and decision.kept_until is not None:
        ledger["superseded"] = {"generation": superseded.generation,
                                "endDate": rfc3339(superseded.end) if superseded.end else None,
                                "keptUntil": rfc3339(decision.kept_until), "keyId": key_ids[superseded.generation]}
    return ledger
