"""Instants as epoch microseconds, and columns of them shown in one timezone.

Instants are integers of microseconds since the Unix epoch (UTC) from the engine to the
writers: exact, cheap to compare, and identical on SQLite and PostgreSQL. ``to_micros`` and
``from_micros`` are the one copy of the conversions (the engine, the writers and the SenML
parser use them).

The engine hands times over as epoch microseconds (UTC) plus the request's zone, in a
``LocalTimes`` column: a sequence of aware datetimes to anyone who iterates it, and a source
of finished cell values to the writers, which skip the datetime. A 1M-row export has about
500,000 distinct times; building an aware datetime and its ISO text for each one took about a
fifth of the export. ``LocalClock`` converts each minute once: within a minute whose UTC
offset does not change and is whole minutes (every minute of every zone in use today), an
instant's local text is the minute's text with its own seconds and milliseconds, and its
wall time the instant plus the minute's offset. Any other minute (an offset of seconds, as
local mean times of the 19th century have; a transition inside the minute) goes through the
datetime, so the result is always what ``iso_timestamp(clock.aware(micros))`` gives (the
tests compare both on DST days of several zones).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

MICROS = 1_000_000  # microseconds in a second
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAIVE_EPOCH = datetime(1970, 1, 1)  # the epoch as a wall time: wall times as microseconds
# One fixed precision so every timestamp in a column has the same width.
TIMESPEC = "milliseconds"


def to_micros(instant: datetime) -> int:
    """An aware datetime as exact microseconds since the Unix epoch."""
    return (instant - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime (exact, unlike fromtimestamp)."""
    return EPOCH + timedelta(microseconds=micros)


_SECOND = MICROS
_MINUTE = 60 * _SECOND
# A dict of per-minute parts, emptied when it reaches this size: memory stays flat however
# long the window, and times come in order, so a cleared minute is rarely needed again.
_CACHE_LIMIT = 4096
_SECONDS = [f"{second:02d}." for second in range(60)]
_MILLIS = [f"{milli:03d}" for milli in range(1000)]


class _Minute:
    """What every instant of one UTC minute shares: its offset and, when the offset is whole
    minutes, the local text before the seconds and after the milliseconds."""

    __slots__ = ("head", "offset", "tail")

    def __init__(self, offset: int, head: str | None, tail: str | None) -> None:
        self.offset = offset  # microseconds to add to UTC for the wall time
        self.head = head  # '2026-03-29T03:15:' (None: the text needs the datetime)
        self.tail = tail  # '+02:00'


_UNEVEN = _Minute(0, None, None)  # the offset changes inside the minute: no shortcut


class LocalClock:
    """Epoch microseconds → times in ``tz``, one at a time (``aware``) or a column at a time."""

    def __init__(self, tz: zoneinfo.ZoneInfo, *, zulu: bool = False) -> None:
        self.tz = tz
        self.zulu = zulu  # UTC written "Z" instead of "+00:00" (the ``timeUtc`` column)
        self._last: tuple[int | None, datetime | None] = (None, None)
        self._minutes: dict[int, _Minute] = {}

    def aware(self, micros: int | None) -> datetime | None:
        """The instant as an aware datetime in the zone (None stays None)."""
        if micros is None:
            return None
        last_micros, last_value = self._last
        if micros == last_micros:  # consecutive rows often share a timestamp
            return last_value
        value = from_micros(micros).astimezone(self.tz)
        self._last = (micros, value)
        return value

    def column(self, micros: Sequence[int | None]) -> LocalTimes:
        """``micros`` as a column of local times."""
        return LocalTimes(micros, self)

    def iso_texts(self, micros: Sequence[int], quote: str = "") -> list[str]:
        """Each instant as ``iso_timestamp`` writes it (ISO 8601, milliseconds, offset),
        between ``quote`` characters; every instant must be an int (no None)."""
        texts = {}
        minutes = self._minutes
        for instant in set(micros):  # each distinct instant once: series share times
            minute, rest = divmod(instant, _MINUTE)
            parts = minutes.get(minute) or self._minute(minute)
            if parts.head is None:
                text = self.aware(instant).isoformat(timespec=TIMESPEC)
                texts[instant] = quote + text + quote
            else:
                seconds = _SECONDS[rest // _SECOND] + _MILLIS[rest // 1000 % 1000]
                texts[instant] = quote + parts.head + seconds + parts.tail + quote
        return list(map(texts.__getitem__, micros))

    def wall_times(self, micros: Sequence[int]) -> list[datetime]:
        """Each instant as its naive local wall time; every instant must be an int."""
        walls = {}
        minutes = self._minutes
        for instant in set(micros):
            parts = minutes.get(instant // _MINUTE) or self._minute(instant // _MINUTE)
            if parts is _UNEVEN:
                walls[instant] = self.aware(instant).replace(tzinfo=None)
            else:
                walls[instant] = NAIVE_EPOCH + timedelta(microseconds=instant + parts.offset)
        return list(map(walls.__getitem__, micros))

    def offset_texts(self, micros: Sequence[int | None]) -> list[str]:
        """Each instant's UTC offset (``+01:00``); "" for None."""
        texts = {None: ""}
        for instant in set(micros):
            if instant is not None:
                texts[instant] = offset_text(self.aware(instant).utcoffset())
        return list(map(texts.__getitem__, micros))

    def _minute(self, minute: int) -> _Minute:
        start = minute * _MINUTE
        first, last = self.aware(start), self.aware(start + _MINUTE - 1)
        offset = first.utcoffset()
        if offset != last.utcoffset():
            parts = _UNEVEN
        else:
            text = first.isoformat(timespec=TIMESPEC)
            # The shortcut keeps the instant's own seconds: only right when the local minute
            # starts with the UTC one (a whole-minute offset), which the text shows.
            even = text[16:23] == ":00.000"
            parts = _Minute(
                offset // timedelta(microseconds=1),
                text[:17] if even else None,
                ("Z" if self.zulu else text[23:]) if even else None,
            )
        if len(self._minutes) >= _CACHE_LIMIT:
            self._minutes.clear()
        self._minutes[minute] = parts
        return parts


UTC_CLOCK = LocalClock(zoneinfo.ZoneInfo("UTC"), zulu=True)


def epoch_millis(micros: Sequence[int]) -> list[int]:
    """Instants as whole milliseconds since the Unix epoch (the ``epoch`` column), floored like
    the milliseconds of the ISO texts."""
    return [instant // 1000 for instant in micros]


def offset_text(offset: timedelta) -> str:
    """A UTC offset as ISO 8601 writes it: ``+01:00``, ``-04:00``, ``+05:45``."""
    minutes = offset // timedelta(minutes=1)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def spans_offset_change(tz: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether ``tz``'s UTC offset changes between the instants ``start`` and ``end``.

    Looks every six hours (no zone changes its offset twice in six hours) and at ``end``.
    """
    first = start.astimezone(tz).utcoffset()
    step = timedelta(hours=6)
    instant = start
    while instant < end:
        if instant.astimezone(tz).utcoffset() != first:
            return True
        instant += step
    return end.astimezone(tz).utcoffset() != first


class LocalTimes(Sequence):
    """A column of instants (epoch microseconds, UTC; None for none) in one timezone.

    Read as a sequence it holds aware datetimes (None stays None), as every other column of
    a row holds plain values; writers that know it ask for finished texts or wall times
    instead (``iso_texts``, ``wall_times``), which skips building the datetimes.
    """

    __slots__ = ("clock", "micros")

    def __init__(self, micros: Sequence[int | None], clock: LocalClock) -> None:
        self.micros = micros
        self.clock = clock

    def __len__(self) -> int:
        return len(self.micros)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return LocalTimes(self.micros[index], self.clock)
        return self.clock.aware(self.micros[index])

    def __iter__(self) -> Iterator[datetime | None]:
        return map(self.clock.aware, self.micros)

    def is_complete(self) -> bool:
        """Whether every row has a time (the column-wise conversions need one per row)."""
        return None not in self.micros

    def iso_texts(self, quote: str = "") -> list[str]:
        """See ``LocalClock.iso_texts``; only for a complete column."""
        return self.clock.iso_texts(self.micros, quote)

    def wall_times(self) -> list[datetime]:
        """See ``LocalClock.wall_times``; only for a complete column."""
        return self.clock.wall_times(self.micros)

    def offset_texts(self) -> list[str]:
        """Each instant's UTC offset in the zone (``+01:00``), "" where there is no time."""
        return self.clock.offset_texts(self.micros)
