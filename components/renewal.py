"""When the program renews the credentials it makes, and how long the superseded one stays.

Pure date arithmetic (no Pulumi), shared by the settings (to refuse schedules that cannot keep
their promises) and the credentials (to name and date each credential).

The promises, for a credential the program makes (a secret or a generated certificate):

* the newest credential is always valid at least ``MIN_VALID_AHEAD`` (30 days) when a deploy runs,
  so the program's own credentials never trip the expiry warning;
* the credential a renewal supersedes stays registered, and valid, for at least ``OVERLAP``
  (14 days: two runs of the weekly schedule) after its successor exists;
* at most two credentials of a client exist at once.

A Pulumi program keeps no memory between runs, so the schedule is computed from the date alone:
time is cut into periods of ``rotation_days`` counted from a fixed epoch, each period has one
credential (its *slot*, named by the period's start date), and a deploy keeps the current period's
slot and the previous one.  A slot's credential is created by the first deploy in its period, which
on the weekly schedule is at most ``SCHEDULE_INTERVAL`` late; the previous slot is removed by the
first deploy of the next period.  So the superseded credential outlives its successor's creation by
at least ``rotation_days - SCHEDULE_INTERVAL``, which is why ``rotation_days`` is at least
``OVERLAP + SCHEDULE_INTERVAL`` (21).  A slot's credential ends ``lifetime_days`` after its period
starts and must outlive the start of the period after next (plus the schedule's lateness), so
``lifetime_days ≥ 2 × rotation_days + 7``, and ``lifetime_days ≥ rotation_days + 30`` for the
30 days ahead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Periods are counted from a fixed epoch, so the current period depends only on the date.
ROTATION_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

SCHEDULE_INTERVAL_DAYS = 7
"""The scheduled pipeline deploys every stack weekly; renewal relies on a deploy at least this often."""
OVERLAP_DAYS = 14
"""A superseded credential stays registered at least this long after its successor exists."""
MIN_VALID_AHEAD_DAYS = 30
"""The newest credential is valid at least this long at every deploy; closer expiries are warned about."""

MIN_ROTATION_DAYS = OVERLAP_DAYS + SCHEDULE_INTERVAL_DAYS
# The smallest lifetime any rotation period fits: max(2 * 21 + 7, 21 + 30) = 51 days.
MIN_RENEWABLE_LIFETIME_DAYS = max(2 * MIN_ROTATION_DAYS + SCHEDULE_INTERVAL_DAYS,
                                  MIN_ROTATION_DAYS + MIN_VALID_AHEAD_DAYS)

# Default periods, in whole weeks.  The default is the longest one the lifetime fits, picked from
# this short ladder so that a small change of lifetimeDays keeps the period (and so the slots).
DEFAULT_ROTATION_LADDER_DAYS = (21, 28, 56, 84, 168, 336)


def min_lifetime_days(rotation_days: int) -> int:
    """The shortest lifetime that keeps the promises with this rotation period."""
    return max(2 * rotation_days + SCHEDULE_INTERVAL_DAYS, rotation_days + MIN_VALID_AHEAD_DAYS)


def default_rotation_days(lifetime_days: int) -> int:
    """The rotation period the program picks for a lifetime (``lifetime_days ≥ 51``)."""
    fitting = [p for p in DEFAULT_ROTATION_LADDER_DAYS if min_lifetime_days(p) <= lifetime_days]
    return fitting[-1] if fitting else MIN_ROTATION_DAYS


@dataclass(frozen=True)
class Slot:
    """One credential of a renewal schedule, identified by the start of its period."""

    period_start: dt.datetime
    end_date: dt.datetime
    """When a secret of this slot ends (a certificate ends at its own ``notAfter``)."""

    @property
    def suffix(self) -> str:
        """The resource name suffix: the period's start date."""
        return self.period_start.strftime("%Y%m%d")


def renewal_slots(now: dt.datetime, lifetime_days: int, rotation_days: int) -> list[Slot]:
    """The credentials that should exist at ``now``: the current period's, then the previous one's."""
    period = dt.timedelta(days=rotation_days)
    index = (now - ROTATION_EPOCH) // period
    starts = [ROTATION_EPOCH + index * period, ROTATION_EPOCH + (index - 1) * period]
    return [Slot(start, start + dt.timedelta(days=lifetime_days)) for start in starts]


def next_renewal(now: dt.datetime, rotation_days: int) -> dt.datetime:
    """When the next period starts: the first deploy after it creates the next credential."""
    period = dt.timedelta(days=rotation_days)
    return ROTATION_EPOCH + ((now - ROTATION_EPOCH) // period + 1) * period
