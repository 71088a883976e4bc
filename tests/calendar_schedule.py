"""The calendar version's renewal schedule: the credentials and outputs the stacks it deployed hold.

``components/renewal.py`` replaced it with the ledger and reads those stacks with
``calendar_ledger``; the tests build such stacks from this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from components.renewal import ROTATION_EPOCH


@dataclass(frozen=True)
class Slot:
    """One credential of the calendar schedule, identified by the start of its period."""

    period_start: dt.datetime
    end_date: dt.datetime

    @property
    def suffix(self) -> str:
        """The resource name suffix the calendar version used: the period's start date."""
        return self.period_start.strftime("%Y%m%d")


def renewal_slots(now: dt.datetime, lifetime_days: int, rotation_days: int) -> list[Slot]:
    """The calendar version's credentials at ``now``: the current period's, then the previous one's."""
    period = dt.timedelta(days=rotation_days)
    index = (now - ROTATION_EPOCH) // period
    starts = [ROTATION_EPOCH + index * period, ROTATION_EPOCH + (index - 1) * period]
    return [Slot(start, start + dt.timedelta(days=lifetime_days)) for start in starts]


def next_renewal(now: dt.datetime, rotation_days: int) -> dt.datetime:
    """When the calendar version's next period starts after ``now`` (its ``credentialRenewsAt``)."""
    period = dt.timedelta(days=rotation_days)
    return ROTATION_EPOCH + ((now - ROTATION_EPOCH) // period + 1) * period
