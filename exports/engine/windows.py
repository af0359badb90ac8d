"""The time window an item exports for one job slot, and calendar arithmetic in a timezone.

Windows are half-open ``[start, end)`` in UTC; ``start`` is ``None`` for "all history".
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

from ..validation import parse_duration


class Window(NamedTuple):
    """A half-open UTC interval ``[start, end)``; ``start`` is ``None`` for all history."""

    start: datetime | None
    end: datetime


# The plain ISO 8601 form with whole date components and (optionally fractional) time ones.
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


@dataclass(frozen=True)
class CalendarDuration:
    """An ISO 8601 duration split into a wall-clock part and an exact part.

    Years, months, weeks and days move the local calendar (so P1D is 23 or 25 hours across a
    DST change and P1M is a calendar month); hours, minutes and seconds are exact elapsed time.
    This is the rule of RFC 5545 and of JavaScript's Temporal, so PT24H and P1D differ on DST
    days as users expect.
    """

    calendar: relativedelta
    exact: timedelta

    @classmethod
    def parse(cls, text: str) -> CalendarDuration:
        """Parse ``text``; raise ``ValidationError`` when it is not a positive ISO 8601 duration."""
        parsed = parse_duration(text)  # the one validator: same errors as everywhere else
        match = _DURATION.match(text.strip())
        if match is None:
            # Fractional date parts or the alternative format: isodate folds days into its
            # timedelta, so only years and months can stay calendar-based.
            years = int(getattr(parsed, "years", 0))
            months = int(getattr(parsed, "months", 0))
            exact = parsed.tdelta if hasattr(parsed, "tdelta") else parsed
            return cls(relativedelta(years=years, months=months), exact)
        parts = {
            key: float(value.replace(",", ".")) if value else 0.0
            for key, value in match.groupdict().items()
        }
        calendar = relativedelta(
            years=int(parts["years"]),
            months=int(parts["months"]),
            days=int(parts["weeks"]) * 7 + int(parts["days"]),
        )
        exact = timedelta(hours=parts["hours"], minutes=parts["minutes"], seconds=parts["seconds"])
        return cls(calendar, exact)

    def before(self, instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
        """The UTC instant this duration before ``instant``, calendar parts in ``tz``."""
        wall = instant.astimezone(tz).replace(tzinfo=None) - self.calendar
        # fold=0 resolves like Temporal's "compatible": an ambiguous wall time takes the
        # earlier instant, a skipped one is read with the pre-transition offset (moves forward).
        moved = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        return moved - self.exact


def item_window(item, slot: datetime, tz_name: str | None = None) -> Window:
    """The window ``item`` exports for the job at ``slot`` (an aware datetime).

    - ``from``/``to``: absolute; a missing ``to`` means the slot, a missing ``from`` all history;
    - ``period``: ``[slot - period, slot)``, calendar parts counted in the request's timezone;
    - neither: all history up to the slot.

    ``tz_name`` defaults to the item's request timezone.
    """
    if item.period:
        tz = zoneinfo.ZoneInfo(tz_name or item.request.timezone)
        start = CalendarDuration.parse(item.period).before(slot, tz)
        return Window(start, slot.astimezone(UTC))
    start = item.from_time.astimezone(UTC) if item.from_time else None
    end = item.to_time if item.to_time else slot
    return Window(start, end.astimezone(UTC))


def window_from_json(data: dict) -> Window:
    """A window as pinned in ``ExportJob.windows`` (see ``exports.scheduling.windows``)."""
    start = datetime.fromisoformat(data["start"]) if data.get("start") else None
    return Window(start, datetime.fromisoformat(data["end"]))


def describe_window(window: Window, tz: zoneinfo.ZoneInfo) -> str:
    """A human-readable window in local time, e.g. ``2026-03-01 00:00 – 2026-04-01 00:00``."""
    end = window.end.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if window.start is None:
        return f"until {end}"
    return f"{window.start.astimezone(tz).strftime('%Y-%m-%d %H:%M')} – {end}"
