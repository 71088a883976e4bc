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
from collections.abc import Mapping
from typing import Any

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


def read_ledger(value: Any, form: Form) -> Ledger | None:
    """The ledger of one client; None when it is for another form of credential (the old one is not this
    one's history).  Raises :class:`LedgerError` for anything else it cannot read."""
    if not isinstance(value, Mapping) or value.get("scheme") not in SCHEMES:
        raise LedgerError(f"not a renewal ledger of scheme {' or '.join(map(str, SCHEMES))}")
    if value.get("form") != form:
        return None
    handed_out = value.get("handedOut")
    superseded = value.get("superseded")
    confirmed = not (isinstance(handed_out, Mapping) and handed_out.get("fresh") is True
                     and not isinstance(handed_out.get("keyId"), str))
    return Ledger(form, _held(handed_out, True), _held(superseded, False) if superseded else None, confirmed)


def _held(value: Any, handed_out: bool) -> Held:
    if not isinstance(value, Mapping) or not isinstance(value.get("generation"), str):
        raise LedgerError("a ledger entry without a generation")
    try:
        since = parse(value["since"]) if handed_out else None
        end = parse(value["endDate"]) if value.get("endDate") else None
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerError(f"a ledger entry with an unreadable date: {error}") from None
    key_id = value.get("keyId")
    return Held(value["generation"], since, end, key_id if isinstance(key_id, str) else None)


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
    end = parse(expires) if isinstance(expires, str) else None
    if not isinstance(renews, str):
        # Before renewal existed: one credential under the bare names (<key>-secret; <key>-key,
        # <key>-cert, <key>-certificate). A bring-your-own certificate's outputs look the same: after a
        # switch from one to ``generate`` this declares a new key pair under the bare names, handed out.
        return Ledger(form, Held("", now, end))
    next_start = parse(renews)
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
