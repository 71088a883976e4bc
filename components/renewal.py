"""When the program renews a credential it makes, decided from what the last deploy handed out.

Pure date arithmetic and the ledger's shape (no Pulumi): the settings use the limits, the
credentials use :func:`decide` to know which credentials to declare, the plans read the ledger.

**The promises**, for every credential the program makes (secrets and generated certificates),
whatever the deploy cadence and whatever config change:

1. a new client gets exactly one credential;
2. the credential the last deploy handed out stays registered (and so valid, unless it expires on
   its own) until its successor has been handed out for at least ``OVERLAP_DAYS`` (14), counted
   from the deploy that actually handed the successor out;
3. at most two credentials per client after any deploy;
4. after any deploy, the credential handed out is valid at least ``MIN_VALID_AHEAD_DAYS`` (30)
   days ahead: the first deploy after a long pause renews at once;
5. a deploy with nothing due changes nothing (the weekly ``--expect-no-changes`` stays green);
6. a credential that has already expired may go at once.

**Memory.** A Pulumi program keeps nothing between runs, so each deploy writes a *ledger* of what it
handed out into its outputs, and the next deploy reads it back from the stack's own last outputs
(``components/ledger.py`` has its shape, ``components/stack_history.py`` the read): the engine
answers from the last deploy's outputs, in ``pulumi preview`` and ``pulumi up`` alike, so both plan
the same.  No history (a new stack, a new client) means a new credential; history that cannot be
read stops the deploy (``components/stack_history.py``), it is never taken for none.

A credential's *generation* names its resources (``<key>-secret-<generation>``; a generated
certificate's ``<key>-key-``, ``<key>-cert-`` and ``<key>-certificate-<generation>``): a new
client's first credential is named by the UTC date of the deploy that creates it; a successor by
the UTC date its predecessor became due, while that is at most ``RETRY_NAME_DAYS`` (21) ago, else
by the deploy's date (``-2`` appended if the name is taken).  Names come from the
ledger, never from today's date, so a deploy with nothing due declares exactly the resources, and
the inputs (a secret's end date is the ledger's), that the last one did.

**The rules** (:func:`decide`), at a deploy at ``now`` with handed-out credential H and
superseded S:

* S goes once it has expired, or once H has been handed out ``OVERLAP_DAYS``;
* H is *due* at ``since + rotationDays`` or ``endDate - MIN_VALID_AHEAD_DAYS``, whichever is
  first; when due (or expired), a new credential N is created and handed out, and H becomes the
  superseded one (an expired H goes at once).

S is always gone by the time H is due: H is due no earlier than ``since + 21`` (``rotationDays ≥
21``) or ``since + lifetime - 30 ≥ since + 21`` (lifetimes ≥ 51), after S's 14 days.  So a
renewal never needs a third credential, and config changes are just new numbers for the same
rules: a new ``rotationDays`` moves H's due date (a shorter one may renew at once, never removing
H before its successor's 14 days); a new ``lifetimeDays``/``validityDays`` applies to the next
credential (end dates already set are kept).  On the weekly schedule H is renewed with at least
23 days left, so S outlives its successor's 14 days; after a pause S may expire before then on
its own (promise 6): nothing can lengthen a credential that exists.

**Upgrade from the calendar version** (this file's previous version): its stacks hold the
current and previous *period's* credentials, named by the period's start, and export
``credentialRenewsAt`` (the next period's start) but no ledger.  :func:`calendar_ledger` rebuilds
the ledger from that: H is the current period's credential (handed out by the last deploy, before
``credentialRenewsAt``: ``since = min(now, credentialRenewsAt)``), S the previous period's (end date
not recorded).  Both carry over under their names.  A credential from before renewal existed
(``<key>-secret``, or ``<key>-key``/``-cert``/``-certificate``; no ``credentialRenewsAt``) carries
over as generation ``""``, handed out since the upgrade deploy.  The calendar version's rotation
period is the config's: a ``rotationDays`` changed in the upgrade deploy itself is refused (the
names could not be known), not guessed.  Only there can H be due while S is inside its 14 days (a
tight schedule, first deployed after a pause past ``credentialRenewsAt``): S then goes early, the
one exception to promise 2, and the deploy warns (``Retired.in_use``).

**A deploy that fails half-way** keeps, in Pulumi's state, the credentials it created (and any Key
Vault secret it already wrote them to: a consumer may hold one), but not its outputs: the next
deploy reads the ledger as it was and makes the same decision.  A successor is named by the date
its predecessor became due, not by the deploy's date, so that retry declares the very resource
the failed deploy created and Pulumi keeps it (its end date is ignored after creation): no third
credential, and nobody who read it from Key Vault is cut off.  Only while that date is at most
``RETRY_NAME_DAYS`` ago: a credential created then ends at least ``MIN_RENEWABLE_LIFETIME_DAYS``
(51) after it, so it is still valid ``MIN_VALID_AHEAD_DAYS`` ahead, whatever lifetime it was made
with.  A retry later than that (or after a change of ``rotationDays``, or a new client's first
deploy that failed) names a new credential and drops the one the failed deploy made.

The limits below (``rotationDays ≥ 21``, lifetime ``≥ 2 × rotationDays + 7`` and ``≥ rotationDays +
30``) are the calendar version's; the ledger needs only ``rotationDays > OVERLAP_DAYS`` and
lifetime ``≥ rotationDays + 30``, but the ``2 × rotationDays + 7`` rule also keeps a calendar-era
superseded credential valid through its 14 days on upgrade, and no stack's accepted config
becomes refused or differently scheduled.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Literal

# The calendar version cut time into periods counted from this epoch (kept to read its stacks).
ROTATION_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

SCHEDULE_INTERVAL_DAYS = 7
"""The scheduled pipeline deploys every stack weekly."""
OVERLAP_DAYS = 14
"""A superseded credential stays registered at least this long after its successor is handed out."""
MIN_VALID_AHEAD_DAYS = 30
"""The handed-out credential is valid at least this long after every deploy; closer expiries are warned about."""

MIN_ROTATION_DAYS = OVERLAP_DAYS + SCHEDULE_INTERVAL_DAYS
# The smallest lifetime any rotation period fits: max(2 * 21 + 7, 21 + 30) = 51 days.
MIN_RENEWABLE_LIFETIME_DAYS = max(2 * MIN_ROTATION_DAYS + SCHEDULE_INTERVAL_DAYS,
                                  MIN_ROTATION_DAYS + MIN_VALID_AHEAD_DAYS)
RETRY_NAME_DAYS = MIN_RENEWABLE_LIFETIME_DAYS - MIN_VALID_AHEAD_DAYS
"""A successor is named by its predecessor's due date this long after it (see "A deploy that fails half-way")."""

# Default periods, in whole weeks: the default is the longest one the lifetime fits.
DEFAULT_ROTATION_LADDER_DAYS = (21, 28, 56, 84, 168, 336)

Form = Literal["secret", "generatedCertificate"]


def min_lifetime_days(rotation_days: int) -> int:
    """The shortest lifetime accepted with this rotation period."""
    return max(2 * rotation_days + SCHEDULE_INTERVAL_DAYS, rotation_days + MIN_VALID_AHEAD_DAYS)


def default_rotation_days(lifetime_days: int) -> int:
    """The rotation period the program picks for a lifetime (``lifetime_days ≥ 51``)."""
    fitting = [p for p in DEFAULT_ROTATION_LADDER_DAYS if min_lifetime_days(p) <= lifetime_days]
    return fitting[-1] if fitting else MIN_ROTATION_DAYS


# A generated certificate's key id is the program's, not Graph's: the provider refuses to register a key id
# the app already holds ("already exists ... import"), so a run that dies after Entra registered the
# certificate and before the state recorded it cannot be followed by a second one of the same generation.
CERTIFICATE_KEY_ID_NAMESPACE = uuid.UUID("b7c3e1a2-5d4f-4e6a-9b8c-7d6e5f4a3b2c")


def certificate_key_id(name: str, generation: str) -> str:
    """The key id of a generated certificate: from the client key and the generation, unique on its app
    (the program chooses it, so a create a killed run left behind is named for certain)."""
    return str(uuid.uuid5(CERTIFICATE_KEY_ID_NAMESPACE, f"{name}/{generation}"))


def rfc3339(moment: dt.datetime) -> str:
    """RFC 3339, whole seconds, UTC: how Entra stores end dates, and how the ledger writes times."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    """An RFC 3339 time as the ledger and the outputs write it."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


# -- the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """One credential a client keeps, as the ledger records it."""

    generation: str
    """Its name suffix, a UTC date (see the module's docstring; "" for a pre-renewal secret)."""
    since: dt.datetime | None = None
    """When a deploy first handed it out (the handed-out credential only)."""
    end: dt.datetime | None = None
    """Its end date; None when not recorded (a calendar-era superseded credential)."""
    key_id: str | None = None
    """Its Graph key id, as the last deploy exported it."""
    input_end: dt.datetime | None = None
    """A calendar-era secret's end date *input* when ``end`` is not recorded (ignored after creation)."""


@dataclass(frozen=True)
class Ledger:
    """What the last deploy handed out (and still kept superseded)."""

    form: Form
    handed_out: Held
    superseded: Held | None = None
    confirmed: bool = True
    """False when the last deploy meant to hand ``handed_out`` out but may not have (its create skipped or
    failed): this deploy hands it out again, from its own time (``components/ledger.py``, "Fresh")."""


class LedgerError(ValueError):
    """History the program cannot read safely: it refuses to guess which credentials exist."""


# -- the decision -------------------------------------------------------------------------------

Reason = Literal["expired", "overlap over", "superseded early"]


@dataclass(frozen=True)
class Retired:
    """A credential this deploy removes, and why."""

    generation: str
    reason: Reason
    in_use: bool
    """True when it was the handed-out credential, or a superseded one inside its 14 days."""


@dataclass(frozen=True)
class Decision:
    """What one deploy keeps, creates and removes for one client."""

    handed_out: Held
    superseded: Held | None
    kept_until: dt.datetime | None
    """When the superseded credential may go (the first deploy at or after it removes it)."""
    created: bool
    """The handed-out credential is created by this deploy."""
    fresh: bool
    """This deploy hands the credential out: it creates it, or hands out again one the last deploy may not have."""
    renews_at: dt.datetime
    """When the handed-out credential is due for renewal."""
    retired: tuple[Retired, ...] = ()

    @property
    def kept(self) -> list[Held]:
        """The credentials to declare: the handed-out one first."""
        return [self.handed_out, *([self.superseded] if self.superseded else [])]


def handed_out_since(held: Held) -> dt.datetime:
    """When a handed-out credential was first handed out (every handed-out entry records it)."""
    if held.since is None:
        raise LedgerError(f"the handed-out credential {held.generation!r} has no handed-out time")
    return held.since


def renews_at(held: Held, rotation_days: int) -> dt.datetime:
    """When a handed-out credential is due: a rotation after it was handed out, or 30 days before it ends."""
    due = handed_out_since(held) + dt.timedelta(days=rotation_days)
    if held.end is not None:
        due = min(due, held.end - dt.timedelta(days=MIN_VALID_AHEAD_DAYS))
    return due


def decide(ledger: Ledger | None, now: dt.datetime, lifetime_days: int, rotation_days: int) -> Decision:
    """Which credentials a client keeps after a deploy at ``now`` (see the module's rules)."""
    now = now.astimezone(dt.UTC).replace(microsecond=0)

    def new(taken: set[str], due: dt.datetime | None = None) -> Held:
        named = due if due is not None and now - due <= dt.timedelta(days=RETRY_NAME_DAYS) else now
        base = named.strftime("%Y%m%d")
        generation, n = base, 1
        while generation in taken:
            n += 1
            generation = f"{base}-{n}"
        return Held(generation, since=now, end=now + dt.timedelta(days=lifetime_days))

    def decision(handed_out: Held, superseded: Held | None, created: bool, retired: list[Retired]) -> Decision:
        kept_until = None
        if superseded is not None:
            kept_until = handed_out_since(handed_out) + dt.timedelta(days=OVERLAP_DAYS)
            if superseded.end is not None:
                kept_until = min(kept_until, superseded.end)
        return Decision(handed_out, superseded, kept_until, created, created or not confirmed,
                        renews_at(handed_out, rotation_days), tuple(retired))

    confirmed = ledger is None or ledger.confirmed
    if ledger is None:
        return decision(new(set()), None, True, [])
    held, superseded = ledger.handed_out, ledger.superseded
    if not confirmed:
        # The last deploy may never have handed it out: hand it out now, and keep the one before its 14 days
        # from now (see components/ledger.py, "Fresh").
        held = replace(held, since=now)
    retired: list[Retired] = []
    if superseded is not None:
        if superseded.end is not None and superseded.end <= now:
            retired.append(Retired(superseded.generation, "expired", False))
            superseded = None
        elif now >= handed_out_since(held) + dt.timedelta(days=OVERLAP_DAYS):
            retired.append(Retired(superseded.generation, "overlap over", False))
            superseded = None
    expired = held.end is not None and held.end <= now
    due = renews_at(held, rotation_days)
    if not expired and now < due:
        return decision(held, superseded, False, retired)
    if superseded is not None:
        # Only a calendar-era ledger gets here (see the module's docstring): keeping three is not an option.
        retired.append(Retired(superseded.generation, "superseded early", True))
    successor = new({held.generation, *([superseded.generation] if superseded else [])}, due)
    if expired:
        retired.append(Retired(held.generation, "expired", False))
        return decision(successor, None, True, retired)
    return decision(successor, held, True, retired)
