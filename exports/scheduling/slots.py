"""Schedule slots: the one place that turns (periodStart, periodicity, timezone) into instants.

Slot ``k`` of a recurring request is ``periodStart + k × periodicity``, moved by the duration
rules of ``exports.requests.durations`` in the request's timezone, ``k`` periods in one step
(never by repeated addition):

* the **calendar part** (years, months, whole weeks and days) moves the local wall time:
  from 31 January, ``k=1`` of P1M is 28/29 February and ``k=2`` is 31 March again; P1Y from
  a 29 February is 28 February in common years; P1D from a local midnight stays at local
  midnight across DST changes;
* a **nonexistent** wall time (spring-forward gap) moves forward by the gap (02:30 on a Rome
  spring-forward day becomes 03:30 CEST); an **ambiguous** one (autumn fall-back) is the
  *first* occurrence (02:30 CEST, not 02:30 CET);
* the **exact part** (hours, minutes, seconds and fractions of days/weeks) is elapsed time
  (``k × part``): PT15M is always 15 real minutes, PT24H is 24 real hours even on a 23- or
  25-hour day, and P1.5D is one calendar day and then 12 hours.

Slots are strictly increasing in ``k`` (the calendar part moves the date by at least one day
per step and the exact part is positive), which :meth:`Schedule.index_at_or_before` relies on.

The first slot of a schedule is ``k = 1``: ``periodStart`` is the start of the first period,
whose job runs at its end. A job's window for grid slot ``k`` is ``[slot(k-1), slot(k))``
(see ``windows.py``), so consecutive windows tile time with no gap and no overlap.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from exports.requests.durations import Duration

if TYPE_CHECKING:
    from exports.models import ExportRequest

# A schedule's periodicity is an ordinary duration (the name the slot rules and tests use).
Periodicity = Duration


@dataclass(frozen=True)
class Schedule:
    """The recurrence of one request: anchor instant, periodicity and governing timezone."""

    start: datetime
    periodicity: Duration
    tz: zoneinfo.ZoneInfo

    @classmethod
    def create(cls, start: datetime, periodicity: str, timezone: str = "UTC") -> Schedule:
        """Build a schedule from raw values.

        A naive ``start`` is read as wall time in ``timezone``. Raises ``ValidationError``
        (see :meth:`Duration.parse`) and ``ZoneInfoNotFoundError``.
        """
        tz = zoneinfo.ZoneInfo(timezone)
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
        return cls(start.astimezone(UTC), Duration.parse(periodicity), tz)

    @classmethod
    def of(cls, request: ExportRequest) -> Schedule:
        """The schedule of a recurring request. Raises ``ValueError`` for one-time requests."""
        if not request.is_recurring or not request.periodicity:
            raise ValueError(f"Export request {request.pk} is not recurring.")
        if request.period_start is None:
            raise ValueError(f"Export request {request.pk} has no period start yet (unsaved).")
        return cls.create(request.period_start, request.periodicity, request.timezone)

    def slot_at(self, k: int) -> datetime:
        """Slot ``k`` as an aware UTC datetime (``k = 0`` is the anchor itself)."""
        return self.periodicity.shift(self.start, self.tz, k)

    def index_at_or_before(self, instant: datetime) -> int:
        """The largest ``k`` (possibly ≤ 0) whose slot is at or before ``instant``."""
        k = (instant - self.start) // self.periodicity.nominal
        # The guess is off by at most a step or two (month lengths, DST); slots are strictly
        # increasing in k, so walking to the exact answer terminates.
        while self.slot_at(k) > instant:
            k -= 1
        while self.slot_at(k + 1) <= instant:
            k += 1
        return k

    def index_at_or_after(self, instant: datetime) -> int:
        """The smallest ``k`` whose slot is at or after ``instant``."""
        k = self.index_at_or_before(instant)
        return k if self.slot_at(k) == instant else k + 1

    def next_slot_after(self, instant: datetime) -> tuple[int, datetime]:
        """The first slot strictly after ``instant`` (never before slot 1), as ``(k, slot)``."""
        k = max(self.index_at_or_before(instant) + 1, 1)
        return k, self.slot_at(k)

    def slots_between(self, after: datetime, until: datetime) -> Iterator[tuple[int, datetime]]:
        """The slots ``(k, slot)`` with ``after < slot ≤ until`` and ``k ≥ 1``, oldest first."""
        k, slot = self.next_slot_after(after)
        while slot <= until:
            yield k, slot
            k += 1
            slot = self.slot_at(k)

    def is_slot(self, instant: datetime) -> bool:
        """True when ``instant`` is exactly one of the schedule's slots (k ≥ 1)."""
        k = self.index_at_or_before(instant)
        return k >= 1 and self.slot_at(k) == instant


def schedule_of(request_or_schedule: ExportRequest | Schedule) -> Schedule:
    """Accept either a request or a ready schedule (the functions below take both)."""
    if isinstance(request_or_schedule, Schedule):
        return request_or_schedule
    return Schedule.of(request_or_schedule)


def slot_at(request_or_schedule: ExportRequest | Schedule, k: int) -> datetime:
    """Slot ``k`` (aware UTC). Raises ``ValueError`` for a request that is not recurring."""
    return schedule_of(request_or_schedule).slot_at(k)


def next_slot_after(
    request_or_schedule: ExportRequest | Schedule, instant: datetime
) -> tuple[int, datetime]:
    """The first slot strictly after ``instant``, as ``(k, slot)`` with ``k ≥ 1``."""
    return schedule_of(request_or_schedule).next_slot_after(instant)


def slots_between(
    request_or_schedule: ExportRequest | Schedule, after: datetime, until: datetime
) -> list[tuple[int, datetime]]:
    """All slots ``(k, slot)`` with ``after < slot ≤ until``, oldest first."""
    return list(schedule_of(request_or_schedule).slots_between(after, until))


def upcoming_slots(
    request: ExportRequest, n: int = 5, now: datetime | None = None
) -> list[datetime]:
    """The next ``n`` runs of a request for its detail page, in the request's timezone.

    Starts at the pending ``next_run_at`` (which may be slightly in the past when the
    scheduler is about to pick it up). Returns ``[]`` for one-time or paused requests and
    for a schedule that cannot be computed.
    """
    if not request.is_recurring or request.paused or not request.periodicity:
        return []
    try:
        schedule = Schedule.of(request)
        if request.next_run_at is not None:
            k = schedule.index_at_or_after(request.next_run_at)
        else:
            k, _ = schedule.next_slot_after(now or datetime.now(UTC))
        return [schedule.slot_at(k + i).astimezone(schedule.tz) for i in range(n)]
    except (ValueError, ValidationError, OverflowError, zoneinfo.ZoneInfoNotFoundError):
        # A schedule stored before today's rules (say P2000Y): the page shows no upcoming
        # runs, and the scheduler logs it, rather than the page failing.
        return []
