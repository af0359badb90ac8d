"""Decimation buckets: which bucket an instant falls in, and where buckets start.

Instants are integers of microseconds since the Unix epoch (UTC) throughout the engine: exact,
cheap to compare, and identical on SQLite and PostgreSQL.

- ``s``, ``m``, ``h``: fixed widths aligned on multiples of the width since the Unix epoch in
  UTC (the same as local alignment in zones whose offset is a whole number of hours, and of
  half/quarter hours for buckets of 30/15 minutes or less);
- ``d``, ``w``, ``M``, ``y``: local calendar buckets in the request's timezone, starting at
  local midnight (a day across a DST change lasts 23 or 25 hours), ISO weeks start on Monday,
  months and years are calendar ones. Multiples count from 1970 in local time: ``nd`` buckets
  start every n days from 1970-01-01, ``nw`` every n weeks from Monday 1969-12-29, ``nM`` every
  n months from January 1970 (3M gives calendar quarters), ``ny`` every n years from 1970.

Buckets are contiguous and half-open: bucket ``i`` is ``[start(i), start(i + 1))``.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from ..validation import DS_PATTERN

MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIXED_SECONDS = {"s": 1, "m": 60, "h": 3600}
_DAY_ZERO = date(1970, 1, 1).toordinal()
_WEEK_ZERO = date(1969, 12, 29).toordinal()  # the Monday of the ISO week holding 1970-01-01


def to_micros(instant: datetime) -> int:
    """An aware datetime as exact microseconds since the Unix epoch."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime (exact, unlike fromtimestamp)."""
    return EPOCH + timedelta(microseconds=micros)


class Buckets:
    """The bucket grid of one decimation granularity (``ds``) in one timezone."""

    def __init__(self, ds: str, tz: zoneinfo.ZoneInfo):
        match = DS_PATTERN.match(ds or "")
        if match is None:
            raise ValueError(f"{ds!r} is not a decimation granularity")
        self.count = int(match.group(1))
        self.unit = match.group(2)
        self.tz = tz
        self.is_calendar = self.unit not in _FIXED_SECONDS
        self._width = self.count * _FIXED_SECONDS.get(self.unit, 0) * MICROS
        self._starts: dict[int, int] = {}  # calendar starts need a zone lookup: reuse them

    def index(self, micros: int) -> int:
        """The index of the bucket holding the instant ``micros``."""
        if not self.is_calendar:
            return micros // self._width
        local_day = from_micros(micros).astimezone(self.tz).date()
        guess = self._calendar_index(local_day)
        # The local date is right except around a fall-back at midnight, where the repeated
        # hour reads as the previous day but lies after that day's end: step to the bucket
        # whose [start, next start) really holds the instant.
        while micros < self.start(guess):
            guess -= 1
        while micros >= self.start(guess + 1):
            guess += 1
        return guess

    def start(self, index: int) -> int:
        """The first instant (microseconds, UTC) of bucket ``index``."""
        if not self.is_calendar:
            return index * self._width
        start = self._starts.get(index)
        if start is None:
            start = self._starts[index] = _local_midnight(self._start_date(index), self.tz)
        return start

    def fine_seconds(self, first: int, last: int) -> int:
        """A grid width in seconds whose cells never straddle a bucket edge in ``[first, last]``.

        The database groups rows into cells of this width (integer arithmetic on epoch seconds,
        the same on every engine); Python then merges cells into buckets. For fixed widths the
        cells are the buckets; for calendar buckets the width divides every bucket start in the
        range (3600 s in Europe/Rome, 1800 s in Asia/Kolkata, 86400 s in UTC).
        """
        if not self.is_calendar:
            return self._width // MICROS
        width = 86400
        for index in range(self.index(first), self.index(last) + 2):
            width = math.gcd(width, self.start(index) // MICROS)
            if width == 1:
                break
        return width

    def _calendar_index(self, day: date) -> int:
        if self.unit == "d":
            return (day.toordinal() - _DAY_ZERO) // self.count
        if self.unit == "w":
            return (day.toordinal() - _WEEK_ZERO) // (7 * self.count)
        if self.unit == "M":
            return ((day.year - 1970) * 12 + day.month - 1) // self.count
        return (day.year - 1970) // self.count

    def _start_date(self, index: int) -> date:
        if self.unit == "d":
            return date.fromordinal(_DAY_ZERO + index * self.count)
        if self.unit == "w":
            return date.fromordinal(_WEEK_ZERO + index * 7 * self.count)
        if self.unit == "M":
            months = index * self.count
            return date(1970 + months // 12, months % 12 + 1, 1)
        return date(1970 + index * self.count, 1, 1)


def _local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> int:
    # fold=0: where midnight is skipped (DST starting at 00:00) this reads the wall time with
    # the old offset, which is exactly the transition instant, the first instant of the day.
    return to_micros(datetime.combine(day, time(0), tzinfo=tz))
