"""The renewal schedule itself: pure date arithmetic, no Pulumi."""

from __future__ import annotations

import datetime as dt

import pytest

from components.renewal import (
    DEFAULT_ROTATION_LADDER_DAYS,
    MIN_RENEWABLE_LIFETIME_DAYS,
    MIN_ROTATION_DAYS,
    default_rotation_days,
    min_lifetime_days,
    next_renewal,
    renewal_slots,
)
from tests.conftest import NOW


def test_slots_are_the_same_all_period_long() -> None:
    first = renewal_slots(NOW, 90, 28)
    assert first == renewal_slots(NOW + dt.timedelta(hours=5), 90, 28)
    newest, previous = first
    assert newest.period_start <= NOW < newest.period_start + dt.timedelta(days=28)
    assert previous.period_start == newest.period_start - dt.timedelta(days=28)
    assert newest.end_date == newest.period_start + dt.timedelta(days=90)
    assert next_renewal(NOW, 28) == newest.period_start + dt.timedelta(days=28)


def test_the_smallest_schedule_keeps_every_promise() -> None:
    assert MIN_ROTATION_DAYS == 21, "14 days of overlap plus the weekly schedule's lateness"
    assert MIN_RENEWABLE_LIFETIME_DAYS == 51
    assert min_lifetime_days(21) == 51
    assert min_lifetime_days(84) == 2 * 84 + 7


@pytest.mark.parametrize(("lifetime", "rotation"), [
    (51, 21), (62, 21), (63, 28), (90, 28), (119, 56), (180, 84), (365, 168), (730, 336),
])
def test_default_rotation_is_the_longest_that_fits(lifetime: int, rotation: int) -> None:
    assert default_rotation_days(lifetime) == rotation
    assert min_lifetime_days(rotation) <= lifetime


def test_a_small_lifetime_change_keeps_the_default_period() -> None:
    # The period names the slots: changing it would replace both credentials at once.
    assert {default_rotation_days(days) for days in range(175, 200)} == {84}
    assert all(p % 7 == 0 for p in DEFAULT_ROTATION_LADDER_DAYS), "whole weeks, like the schedule"


@pytest.mark.parametrize("rotation", [21, 28, 45, 84])
def test_weekly_deploys_keep_the_overlap(rotation: int) -> None:
    """Deploy weekly at an arbitrary hour for two years: a slot that was ever the newest (and so
    handed to a consumer) outlives its successor's first deploy by 14 days, and stays valid until
    it is removed.  (The first deploy also makes the previous slot, which no consumer ever got.)"""
    lifetime = min_lifetime_days(rotation)
    created: dict[str, dt.datetime] = {}
    end: dict[str, dt.datetime] = {}
    live: set[str] = set()
    handed_out: set[str] = set()
    checked = 0
    for week in range(105):
        now = NOW + dt.timedelta(days=7 * week, hours=13)
        slots = renewal_slots(now, lifetime, rotation)
        assert len(slots) == 2
        wanted = {s.suffix for s in slots}
        for slot in slots:
            created.setdefault(slot.suffix, now)
            end[slot.suffix] = slot.end_date
        for removed in (live - wanted) & handed_out:
            successor = slots[1].suffix  # the slot that superseded it, now itself the previous one
            assert now - created[successor] >= dt.timedelta(days=14), (removed, successor)
            assert end[removed] > now, "kept valid until removed"
            checked += 1
        assert slots[0].end_date - now >= dt.timedelta(days=30), "newest valid 30 days ahead"
        handed_out.add(slots[0].suffix)
        live = wanted
    assert checked >= 7 * 105 // rotation - 2, "every renewal in two years was checked"
