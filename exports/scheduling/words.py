"""Schedules in words: the one place that turns a recurrence (``periodicity`` +
``periodStart`` + time zone) into a sentence. The editor's presets are in
``exports.scheduling.presets``.
"""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError

from exports.requests.durations import Duration

WEEKDAYS = tuple(calendar.day_name)  # Monday first, as datetime.weekday()


def describe_schedule(periodicity: str, period_start: datetime | None, tz_name: str) -> str:
    """The schedule in words, in its time zone: "Every day at 08:00 (Europe/Rome)".

    Wall-clock schedules (days, weeks, months, years) name the zone; exact ones (minutes,
    hours) name the local times they fall on only when those are not obvious.
    """
    try:
        period = Duration.parse(periodicity)
    except (ValidationError, ValueError, OverflowError):  # a stored value still gets words
        return f"Every {periodicity}"
    tz = zoneinfo.ZoneInfo(tz_name)
    wall = (period_start or datetime.now(UTC)).astimezone(tz)
    clock = f"{wall:%H:%M}" + (f":{wall:%S}" if wall.second else "")
    zone = f" ({tz_name})"
    months, days, exact = period.months, period.days, period.exact
    if not months and not days:
        return _describe_exact(exact, wall, zone)
    if exact:
        return f"Every {_duration_words(months, days, exact)}, from {wall:%Y-%m-%d} {clock}{zone}"
    if months == 0:
        if days % 7 == 0:
            weeks = days // 7
            every = "Every week" if weeks == 1 else f"Every {weeks} weeks"
            return f"{every} on {WEEKDAYS[wall.weekday()]} at {clock}{zone}"
        every = "Every day" if days == 1 else f"Every {days} days"
        return f"{every} at {clock}{zone}"
    if days:
        return f"Every {_duration_words(months, days, exact)}, from {wall:%Y-%m-%d} {clock}{zone}"
    if months % 12 == 0:
        years = months // 12
        every = "Every year" if years == 1 else f"Every {years} years"
        leap = " (28 February in common years)" if (wall.month, wall.day) == (2, 29) else ""
        return f"{every} on {wall.day} {wall:%B} at {clock}{leap}{zone}"
    every = "Monthly" if months == 1 else f"Every {months} months"
    shorter = ", the last day in shorter months" if wall.day > 28 else ""
    return f"{every} on day {wall.day} at {clock}{shorter}{zone}"


def _describe_exact(exact: timedelta, wall: datetime, zone: str) -> str:
    seconds = exact.total_seconds()
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        if hours == 1:
            return f"Every hour at :{wall:%M}" + (f":{wall:%S}" if wall.second else "")
        return f"Every {hours} hours from {wall:%H:%M}{zone}"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        aligned = not wall.second and 60 % minutes == 0 and wall.minute % minutes == 0
        if aligned:
            return f"Every {minutes} minutes" if minutes > 1 else "Every minute"
        return f"Every {minutes} minutes from {wall:%H:%M:%S}{zone}"
    return f"Every {_duration_words(0, 0, exact)}"


def _plural(count: float, unit: str) -> str:
    text = f"{count:g}"
    return f"{text} {unit}" if count == 1 else f"{text} {unit}s"


def _duration_words(months: int, days: int, exact: timedelta) -> str:
    parts = []
    years, months = divmod(months, 12)
    for count, unit in ((years, "year"), (months, "month"), (days, "day")):
        if count:
            parts.append(_plural(count, unit))
    seconds = exact.total_seconds()
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    for count, unit in ((hours, "hour"), (minutes, "minute"), (round(seconds, 6), "second")):
        if count:
            parts.append(_plural(count, unit))
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def duration_words(text: str) -> str:
    """An ISO 8601 duration in words ("P1DT6H" → "1 day and 6 hours"); "" when invalid."""
    try:
        period = Duration.parse(text)
    except (ValidationError, ValueError, OverflowError):
        return ""
    return _duration_words(period.months, period.days, period.exact)


def describe_request_schedule(request) -> str:
    """Words for a request: its recurrence, or that it runs once."""
    if not request.is_recurring:
        return "Once"
    return describe_schedule(request.periodicity, request.period_start, request.timezone)
