"""Decimation buckets: which bucket an instant falls in, and where buckets start.

Instants are integers of microseconds since the Unix epoch (UTC) throughout the engine
(``exports.rows.times``): exact, cheap to compare, and identical on SQLite and PostgreSQL.

Every bucket edge is read on the local clock of the request's time zone (DESIGN.md §3):

- ``s``, ``m``, ``h``: an edge is every instant whose local wall time is a multiple of the
  size counted from local midnight, so ``1h`` starts at HH:00 local in Asia/Kolkata (+05:30)
  and Asia/Kathmandu (+05:45), ``6h`` at 00/06/12/18 and ``15m`` at :00/:15/:30/:45.
  On DST days edges follow the wall clock: the repeated hour of an autumn day holds two
  ``1h`` buckets (same wall time, different offsets), the skipped hour of a spring day none.
  A bucket whose wall start does not exist (Australia/Lord_Howe moves by 30 minutes, so
  02:00 is skipped) starts at the transition, the first instant after the gap.
  Sizes that do not divide a day (``7h``, ``36h``, ``25m``) are counted in wall time from
  1970-01-01 00:00 local, so they run on across midnight: ``7h`` buckets start at 00, 07, 14
  and 21 on 1970-01-01 and at 04, 11, 18 the day after. Sizes that divide a day restart at
  every local midnight, which is the same rule.
- ``d``, ``w``, ``M``, ``y``: local calendar buckets starting at local midnight (a day across
  a DST change lasts 23 or 25 hours), ISO weeks start on Monday, months and years are calendar
  ones. Multiples count from 1970 in local time: ``nd`` buckets start every n days from
  1970-01-01, ``nw`` every n weeks from Monday 1969-12-29, ``nM`` every n months from January
  1970 (3M gives calendar quarters), ``ny`` every n years from 1970.

Buckets are contiguous and half-open: a bucket runs from its start to the next edge.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import date, datetime, time, timedelta

from exports.requests.validation import DS_PATTERN, DS_UNITS
from exports.rows.times import MICROS, NAIVE_EPOCH, from_micros, to_micros

_DAY_ZERO = date(1970, 1, 1).toordinal()
_WEEK_ZERO = date(1969, 12, 29).toordinal()  # the Monday of the ISO week holding 1970-01-01
_DAY_MICROS = 86400 * MICROS


class Buckets:
    """The bucket grid of one decimation granularity (``ds``) in one timezone."""

    def __init__(self, ds: str, tz: zoneinfo.ZoneInfo):
        match = DS_PATTERN.match(ds or "")
        if match is None:
            raise ValueError(f"{ds!r} is not a decimation granularity")
        self.count = int(match.group(1))
        self.unit = match.group(2)
        self.tz = tz
        unit = DS_UNITS[self.unit]
        self.is_calendar = unit.calendar
        # Wall-clock buckets are ``count × length`` wide (microseconds); calendar ones vary.
        self._width = (
            0 if unit.calendar else self.count * (unit.length // timedelta(microseconds=1))
        )
        self._starts: dict[int, int] = {}  # calendar starts need a zone lookup: reuse them

    def start_of(self, micros: int) -> int:
        """The first instant (microseconds, UTC) of the bucket holding the instant ``micros``."""
        if self.is_calendar:
            return self.start(self.index(micros))
        return self._wall_start(micros)

    def count_between(self, first: int, last: int) -> int:
        """How many buckets ``[first, last]`` touches (exact for calendar buckets, within one
        for wall-clock ones across a DST change); used for row estimates."""
        if self.is_calendar:
            return self.index(last) - self.index(first) + 1
        return (
            (self._wall_micros(last) // self._width) - (self._wall_micros(first) // self._width) + 1
        )

    def index(self, micros: int) -> int:
        """The index of the calendar bucket holding the instant ``micros``."""
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
        """The first instant (microseconds, UTC) of calendar bucket ``index``."""
        start = self._starts.get(index)
        if start is None:
            start = self._starts[index] = _local_midnight(self._start_date(index), self.tz)
        return start

    def fine_seconds(self, first: int, last: int) -> int:
        """A grid width in seconds whose cells never straddle a bucket edge in ``[first, last]``.

        The database groups rows into cells of this width (integer arithmetic on epoch seconds,
        the same on every engine); Python then merges cells into buckets. Wall-clock edges are
        ``k × size − offset``, or a transition instant, so the gcd of the size, the offsets and
        the transitions in the range divides them all (3600 s for ``1h`` in Europe/Rome, 1800 s
        in Asia/Kolkata, 900 s in Asia/Kathmandu); for calendar buckets the gcd of the starts.
        """
        if not self.is_calendar:
            width = self._width // MICROS
            for offset, transition in _offsets_and_transitions(self.tz, first, last):
                width = math.gcd(width, offset, transition)
            return width
        width = 86400
        for index in range(self.index(first), self.index(last) + 2):
            width = math.gcd(width, self.start(index) // MICROS)
            if width == 1:
                break
        return width

    def _wall_micros(self, micros: int) -> int:
        local = from_micros(micros).astimezone(self.tz).replace(tzinfo=None)
        return (local - NAIVE_EPOCH) // timedelta(microseconds=1)

    def _wall_start(self, micros: int) -> int:
        """The latest wall-clock edge at or before ``micros`` (see the module docstring)."""
        wall = self._wall_micros(micros)
        floor = NAIVE_EPOCH + timedelta(microseconds=wall - wall % self._width)
        # An ambiguous wall time (the repeated hour) is an edge twice: take the later
        # occurrence that is not after the instant; a skipped one has no occurrence.
        found = None
        for fold in (0, 1):
            instant = to_micros(floor.replace(tzinfo=self.tz, fold=fold))
            if instant <= micros and self._wall_micros(instant) == wall - wall % self._width:
                found = instant if found is None else max(found, instant)
        if found is not None:
            return found
        return self._transition_after(floor)

    def _transition_after(self, floor: datetime) -> int:
        """The first instant after the gap that skips the wall time ``floor`` (bisected:
        zoneinfo does not list its transitions)."""
        target = (floor - NAIVE_EPOCH) // timedelta(microseconds=1)
        low = to_micros(floor.replace(tzinfo=self.tz, fold=1))  # read with the later offset
        high = to_micros(floor.replace(tzinfo=self.tz, fold=0))  # read with the earlier one
        while low < high:
            middle = (low + high) // 2
            if self._wall_micros(middle) >= target:
                high = middle
            else:
                low = middle + 1
        return low

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


def _offsets_and_transitions(tz: zoneinfo.ZoneInfo, first: int, last: int) -> list[tuple[int, int]]:
    """Each UTC offset (seconds) in force in ``[first, last]``, with the instant (epoch
    seconds) it took effect, 0 for the one in force at ``first``.

    Sampled daily, then bisected to the second: offsets change at most a few times a year.
    """

    def offset(micros: int) -> int:
        return int(from_micros(micros).astimezone(tz).utcoffset().total_seconds())

    found = [(abs(offset(first)), 0)]
    before, at = first, offset(first)
    step = _DAY_MICROS // 2
    while before < last:
        after = min(before + step, last)
        now = offset(after)
        if now != at:
            low, high = before, after  # offset(low) == at != offset(high)
            while high - low > MICROS:
                middle = (low + high) // 2
                if offset(middle) == at:
                    low = middle
                else:
                    high = middle
            found.append((abs(now), low // MICROS + 1))  # transitions fall on whole seconds
        before, at = after, now
    return found


def _local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> int:
    # fold=0: where midnight is skipped (DST starting at 00:00) this reads the wall time with
    # the old offset, which is exactly the transition instant, the first instant of the day.
    return to_micros(datetime.combine(day, time(0), tzinfo=tz))
