"""Schedule slots: the one place that turns (periodStart, periodicity, timezone) into instants.

Slot ``k`` of a recurring request is ``periodStart + k × periodicity``, computed like this:

* The **calendar part** of the periodicity (years, months, weeks, days) is added to the
  *local wall time* of ``periodStart`` in the request's timezone, multiplied by ``k`` in one
  step (never by repeated addition). Months clamp to the end of shorter months, so from
  31 January, ``k=1`` of P1M is 28/29 February and ``k=2`` is 31 March again; P1Y from a
  29 February is 28 February in common years. P1D from a local midnight stays at local
  midnight across DST changes.
* The wall time is then placed in the timezone with ``fold=0`` (PEP 495), which gives:
  a **nonexistent** time (spring-forward gap) is shifted forward by the length of the gap
  (02:30 on a Rome spring-forward day becomes 03:30 CEST); an **ambiguous** time
  (autumn fall-back) is the *first* occurrence (02:30 CEST, not 02:30 CET).
* The **exact part** (hours, minutes, seconds and fractions of days/weeks) is then added as
  elapsed time (``k × part``). So PT15M is always 15 real minutes and PT24H is 24 real hours,
  even on a 23- or 25-hour day, while P1D is one calendar day. This is the rule of RFC 5545
  and of JavaScript's Temporal; isodate cannot keep it (it reads PT24H as one day), which is
  why :class:`Periodicity` parses the text itself.

Slots are strictly increasing in ``k`` (the calendar part moves the date by at least one day
per step and the exact part is positive), which :meth:`Schedule.index_at_or_before` relies on.

The first slot of a schedule is ``k = 1``: ``periodStart`` is the start of the first period,
whose job runs at its end. A job's window for grid slot ``k`` is ``[slot(k-1), slot(k))``
(see ``windows.py``), so consecutive windows tile time with no gap and no overlap.
"""

from __future__ import annotations

import calendar
import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import isodate
from django.core.exceptions import ValidationError

from ..validation import parse_duration

if TYPE_CHECKING:
    from ..models import ExportRequest

# Designator form only (P1Y2M3W4DT5H6M7S); the alternative form (P0001-02-03T...) goes
# through isodate. Years and months must be whole: "half a month" has no calendar meaning.
_NUMBER = r"\d+(?:[.,]\d+)?"
_DESIGNATORS = re.compile(
    rf"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?$"
)
# Average lengths, only used to guess k before an exact search (see index_at_or_before).
_AVERAGE_MONTH = timedelta(days=365.2425 / 12)
_DAY = timedelta(days=1)


def _decimal(text: str | None) -> Decimal:
    return Decimal(text.replace(",", ".")) if text else Decimal(0)


@dataclass(frozen=True)
class Periodicity:
    """An ISO 8601 duration split into a calendar part and an exact (elapsed-time) part."""

    months: int = 0
    days: int = 0
    exact: timedelta = timedelta(0)

    @classmethod
    def parse(cls, text: str) -> Periodicity:
        """Parse a periodicity such as ``P1D``, ``PT15M``, ``P1M``, ``P1Y6M4DT12H30M5S``.

        Returns a :class:`Periodicity`. Raises ``django.core.exceptions.ValidationError``
        when the text is not a positive ISO 8601 duration (the request validator's message)
        and ``ValueError`` for fractional years or months, which have no calendar meaning.
        """
        return _parse_periodicity(text)

    @classmethod
    def _parse(cls, text: str) -> Periodicity:
        parse_duration(text)  # the one validator: same acceptance and messages as the forms
        text = text.strip()
        match = _DESIGNATORS.match(text)
        if match is None:
            return cls._from_isodate(isodate.parse_duration(text))
        parts = {name: _decimal(value) for name, value in match.groupdict().items()}
        # Whole weeks and days are calendar days; a fraction of a day is elapsed time.
        day_total = parts["weeks"] * 7 + parts["days"]
        whole_days = int(day_total)
        seconds = (
            (day_total - whole_days) * 86400
            + parts["hours"] * 3600
            + parts["minutes"] * 60
            + parts["seconds"]
        )
        return cls(
            months=int(parts["years"]) * 12 + int(parts["months"]),
            days=whole_days,
            exact=timedelta(microseconds=int(seconds * 1_000_000)),
        )

    @classmethod
    def _from_isodate(cls, duration: timedelta | isodate.Duration) -> Periodicity:
        if isinstance(duration, isodate.Duration):
            years, months = Decimal(duration.years), Decimal(duration.months)
            if years != int(years) or months != int(months):
                raise ValueError("A periodicity cannot have fractional years or months.")
            delta = duration.tdelta
            return cls(int(years) * 12 + int(months), delta.days, delta - timedelta(delta.days))
        return cls(0, duration.days, duration - timedelta(duration.days))

    @property
    def is_calendar(self) -> bool:
        """True when the periodicity has a calendar part (computed on local wall time)."""
        return bool(self.months or self.days)

    @property
    def approximate(self) -> timedelta:
        """A typical length, good enough to guess how many periods fit in an interval."""
        return self.months * _AVERAGE_MONTH + self.days * _DAY + self.exact


# A scheduler tick parses the same few periodicities thousands of times; results are
# immutable, and failures (exceptions) are not cached.
_parse_periodicity = functools.lru_cache(maxsize=512)(Periodicity._parse)


def _add_months(wall: datetime, months: int) -> datetime:
    """Calendar month arithmetic on a naive wall time, clamping to the month's last day."""
    year, month_index = divmod(wall.month - 1 + months, 12)
    year += wall.year
    day = min(wall.day, calendar.monthrange(year, month_index + 1)[1])
    return wall.replace(year=year, month=month_index + 1, day=day)


def shift(instant: datetime, periodicity: Periodicity, tz: zoneinfo.ZoneInfo, times: int):
    """``instant + times × periodicity`` by the module's rules (``times`` may be negative).

    Returns an aware UTC datetime. Raises ``OverflowError``/``ValueError`` when the result
    falls outside the years datetime can represent.
    """
    if times == 0:
        return instant.astimezone(UTC)
    result = instant.astimezone(UTC)
    if periodicity.is_calendar:
        wall = instant.astimezone(tz).replace(tzinfo=None)
        wall = _add_months(wall, periodicity.months * times) + timedelta(
            days=periodicity.days * times
        )
        # fold=0: gap times move forward by the gap, repeated times take the first occurrence.
        result = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return result + periodicity.exact * times


@dataclass(frozen=True)
class Schedule:
    """The recurrence of one request: anchor instant, periodicity and governing timezone."""

    start: datetime
    periodicity: Periodicity
    tz: zoneinfo.ZoneInfo

    @classmethod
    def create(cls, start: datetime, periodicity: str, timezone: str = "UTC") -> Schedule:
        """Build a schedule from raw values.

        A naive ``start`` is read as wall time in ``timezone``. Raises ``ValidationError``
        or ``ValueError`` (see :meth:`Periodicity.parse`) and ``ZoneInfoNotFoundError``.
        """
        tz = zoneinfo.ZoneInfo(timezone)
        if start.tzinfo is None:
            start = start.replace(tzinfo=tz)
        return cls(start.astimezone(UTC), Periodicity.parse(periodicity), tz)

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
        return shift(self.start, self.periodicity, self.tz, k)

    def index_at_or_before(self, instant: datetime) -> int:
        """The largest ``k`` (possibly ≤ 0) whose slot is at or before ``instant``."""
        k = (instant - self.start) // self.periodicity.approximate
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
