"""The renewal rules themselves: pure date arithmetic on the ledger, no Pulumi.

The deploy simulation (``tests/test_credentials_renewal.py``) proves the promises on a stack's real
state; here the same rules are walked cheaply over many more schedules and cadences.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from components.ledger import calendar_ledger, ledger_output, read_ledger
from components.renewal import (
    DEFAULT_ROTATION_LADDER_DAYS,
    MIN_RENEWABLE_LIFETIME_DAYS,
    MIN_ROTATION_DAYS,
    Decision,
    Held,
    Ledger,
    LedgerError,
    decide,
    default_rotation_days,
    min_lifetime_days,
)
from components.renewal import rfc3339 as text
from tests.calendar_schedule import next_renewal, renewal_slots
from tests.conftest import NOW

DAY = dt.timedelta(days=1)


def test_the_smallest_schedule() -> None:
    assert MIN_ROTATION_DAYS == 21
    assert MIN_RENEWABLE_LIFETIME_DAYS == 51
    assert min_lifetime_days(21) == 51
    assert min_lifetime_days(84) == 2 * 84 + 7


@pytest.mark.parametrize(("lifetime", "rotation"), [
    (51, 21), (62, 21), (63, 28), (90, 28), (119, 56), (180, 84), (365, 168), (730, 336),
])
def test_default_rotation_is_the_longest_that_fits(lifetime: int, rotation: int) -> None:
    assert default_rotation_days(lifetime) == rotation
    assert min_lifetime_days(rotation) <= lifetime
    assert all(p % 7 == 0 for p in DEFAULT_ROTATION_LADDER_DAYS), "whole weeks, like the schedule"


def as_ledger(decision: Decision) -> Ledger:
    """What the next deploy reads back: the ledger output, through JSON-like values."""
    kept = decision.kept
    output = ledger_output("secret", decision, {h.generation: f"key-{h.generation}" for h in kept})
    ledger = read_ledger(output, "secret")
    assert ledger is not None
    return ledger


def test_a_new_client_gets_one_credential_named_by_the_deploy_date() -> None:
    decision = decide(None, NOW, 90, 28)
    assert [h.generation for h in decision.kept] == [NOW.strftime("%Y%m%d")]
    assert decision.created
    assert decision.superseded is None
    assert decision.handed_out.end == NOW.replace(microsecond=0) + 90 * DAY
    assert decision.renews_at == NOW.replace(microsecond=0) + 28 * DAY


def test_nothing_due_keeps_the_same_credentials() -> None:
    first = decide(None, NOW, 90, 28)
    again = decide(as_ledger(first), NOW + 27 * DAY, 90, 28)
    assert [h.generation for h in again.kept] == [first.handed_out.generation]
    assert again.handed_out.end == first.handed_out.end, "the recorded end date, so the same input"
    assert not again.created
    assert not again.retired


def test_a_renewal_keeps_the_superseded_one_fourteen_days() -> None:
    first = decide(None, NOW, 90, 28)
    renewed = decide(as_ledger(first), NOW + 28 * DAY, 90, 28)
    assert renewed.created
    assert renewed.superseded is not None
    assert renewed.superseded.generation == first.handed_out.generation
    assert renewed.kept_until == (NOW + 42 * DAY).replace(microsecond=0)
    week = decide(as_ledger(renewed), NOW + 35 * DAY, 90, 28)
    assert [h.generation for h in week.kept] == [h.generation for h in renewed.kept], "inside the 14 days"
    after = decide(as_ledger(week), NOW + 42 * DAY, 90, 28)
    assert [h.generation for h in after.kept] == [renewed.handed_out.generation]
    assert [(r.generation, r.reason, r.in_use) for r in after.retired] == [
        (first.handed_out.generation, "overlap over", False)]


def test_a_long_pause_renews_at_once_and_an_expired_one_goes() -> None:
    first = decide(None, NOW, 90, 28)
    late = decide(as_ledger(first), NOW + 100 * DAY, 90, 28)
    assert late.kept == [late.handed_out], "the expired credential goes at once"
    assert [(r.reason, r.in_use) for r in late.retired] == [("expired", False)]
    assert late.handed_out.end is not None
    assert late.handed_out.end - (NOW + 100 * DAY) >= 30 * DAY


def test_a_name_already_taken_gets_another() -> None:
    # Not reachable with the accepted limits, but the rule is total: a name is never reused.
    due = NOW - 20 * DAY  # 30 days before its end, before since + 28
    ledger = Ledger("secret", Held(due.strftime("%Y%m%d"), since=NOW - 30 * DAY, end=NOW + 10 * DAY))
    assert decide(ledger, NOW, 90, 28).handed_out.generation == due.strftime("%Y%m%d") + "-2"


HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(("late", "named_by"), [
    (5 * HOUR, "due"), (3 * DAY + 5 * HOUR, "due"), (21 * DAY, "due"), (21 * DAY + HOUR, "now"), (200 * DAY, "now")])
def test_a_successor_is_named_by_its_due_day_for_three_weeks(late: dt.timedelta, named_by: str) -> None:
    """So a retry of a deploy that failed after creating it declares the same resource (Pulumi keeps it)."""
    first = decide(None, NOW, 90, 28)
    now = first.renews_at + late
    renewed = decide(as_ledger(first), now, 90, 28)
    assert renewed.created
    assert renewed.handed_out.generation == (first.renews_at if named_by == "due" else now).strftime("%Y%m%d")
    # Made at the due day with the shortest lifetime any config accepts, it is still valid 30 days ahead.
    assert first.renews_at + MIN_RENEWABLE_LIFETIME_DAYS * DAY - now >= 30 * DAY or named_by == "now"


CADENCES = {
    "weekly": [7],
    "pause 6 weeks": [7] * 10 + [42] + [7] * 30,
    "pause 9 weeks": [7] * 5 + [63] + [7] * 20 + [63],
    "pause 30 weeks": [7] * 8 + [210] + [7] * 20,
    "monthly": [30],
    "irregular": [1, 13, 6, 22, 3, 40, 7, 2, 90, 5, 11],
}


@pytest.mark.parametrize(("lifetime", "rotation"), [(51, 21), (90, 28), (90, 45), (180, 84), (120, 56), (730, 336)])
@pytest.mark.parametrize("cadence", sorted(CADENCES))
def test_every_promise_at_every_deploy(cadence: str, lifetime: int, rotation: int) -> None:
    """Two years of deploys at the cadence; the rules alone (the simulation checks the same on state)."""
    gaps = itertools.cycle(CADENCES[cadence])
    now, ledger = NOW, None
    handed_out_since: dict[str, dt.datetime] = {}
    previous: Decision | None = None
    while now < NOW + 730 * DAY:
        decision = decide(ledger, now, lifetime, rotation)
        kept = {h.generation: h for h in decision.kept}
        assert 1 <= len(kept) <= 2
        handed = decision.handed_out
        handed_out_since.setdefault(handed.generation, now)
        assert handed.end is not None
        assert handed.end - now >= 30 * DAY, "valid 30 days ahead"
        assert not [r for r in decision.retired if r.in_use], "nothing in use is removed"
        if previous is not None:
            for held in previous.kept:
                if held.generation in kept:
                    continue
                expired = held.end is not None and held.end <= now
                # It was superseded; its successor has been handed out 14 days, counted from that deploy.
                successor_since = min(since for g, since in handed_out_since.items()
                                      if since > handed_out_since[held.generation])
                assert expired or now - successor_since >= 14 * DAY, (held, now)
            if not decision.created and not decision.retired:
                assert [(h.generation, h.end) for h in decision.kept] == [
                    (h.generation, h.end) for h in previous.kept], "nothing due, nothing changes"
        previous, ledger = decision, as_ledger(decision)
        now += next(gaps) * DAY


def test_a_rotation_or_lifetime_change_never_removes_the_newest() -> None:
    first = decide(None, NOW, 180, 84)
    later = as_ledger(decide(as_ledger(first), NOW + 21 * DAY, 180, 84))
    shorter = decide(later, NOW + 22 * DAY, 90, 21)  # both changed: due at once (22 > 21)
    assert shorter.created
    assert shorter.superseded is not None
    assert shorter.superseded.generation == first.handed_out.generation, "the newest stays, superseded"
    assert shorter.superseded.end == first.handed_out.end, "its end date is the one recorded"
    assert shorter.handed_out.end == (NOW + 22 * DAY).replace(microsecond=0) + 90 * DAY, "the new lifetime"


# -- reading history -----------------------------------------------------------------------------


def test_a_ledger_of_another_form_is_no_history_and_garbage_is_refused() -> None:
    output = ledger_output("secret", decide(None, NOW, 90, 28), {NOW.strftime("%Y%m%d"): "k"})
    assert read_ledger(output, "generatedCertificate") is None
    with pytest.raises(LedgerError):
        read_ledger({"scheme": 99}, "secret")
    with pytest.raises(LedgerError):
        read_ledger({**output, "handedOut": {"generation": "x", "since": "yesterday"}}, "secret")


def test_the_calendar_versions_outputs_give_its_two_credentials() -> None:
    """A stack the calendar version deployed at NOW: its two slots, by the names it gave them."""
    newest, previous = renewal_slots(NOW, 90, 28)
    outputs = {"credentialType": "secret", "credentialExpiresAt": text(newest.end_date),
               "credentialRenewsAt": text(next_renewal(NOW, 28))}
    later = NOW + 3 * DAY
    ledger = calendar_ledger(outputs, "secret", later, 90, 28)
    assert ledger is not None
    assert ledger.superseded is not None
    assert ledger.handed_out.generation == newest.suffix
    assert ledger.superseded.generation == previous.suffix
    assert ledger.superseded.input_end == previous.end_date, "its end date input, as the calendar version sent it"
    decision = decide(ledger, later, 90, 28)
    assert not decision.created, "the upgrade deploy keeps both"
    assert not decision.retired
    with pytest.raises(LedgerError, match="another rotation period"):
        calendar_ledger(outputs, "secret", later, 180, 84)


def test_a_credential_from_before_renewal_is_generation_empty() -> None:
    ledger = calendar_ledger({"credentialType": "secret", "credentialExpiresAt": text(NOW + 400 * DAY)},
                             "secret", NOW, 180, 84)
    assert ledger is not None
    assert ledger.handed_out.generation == ""
    certificate = calendar_ledger({"credentialType": "certificate"}, "generatedCertificate", NOW, 180, 84)
    assert certificate is not None
    assert certificate.handed_out.generation == "", "<key>-key, <key>-cert, <key>-certificate"
    assert calendar_ledger({"credentialType": "federated"}, "secret", NOW, 180, 84) is None


def test_only_a_calendar_upgrade_after_a_pause_can_retire_the_superseded_one_early() -> None:
    """A tight calendar schedule (51/21) first redeployed just after ``credentialRenewsAt``: the
    handed-out one has under 30 days left, so it is due while the previous period's is inside its
    14 days. Three at once is not an option: that one goes, flagged as in use (the deploy warns)."""
    newest, _ = renewal_slots(NOW, 51, 21)
    renews = next_renewal(NOW, 21)
    outputs = {"credentialType": "secret", "credentialExpiresAt": text(newest.end_date),
               "credentialRenewsAt": text(renews)}
    at = renews + DAY
    ledger = calendar_ledger(outputs, "secret", at, 51, 21)
    assert ledger is not None
    decision = decide(ledger, at, 51, 21)
    assert [(r.reason, r.in_use) for r in decision.retired] == [("superseded early", True)]
    assert [h.generation for h in decision.kept] == [renews.strftime("%Y%m%d"), newest.suffix], "named by its due day"
