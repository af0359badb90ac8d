"""Schedules in words, and the editor's presets: the one place that turns a recurrence
(``periodicity`` + ``periodStart`` + time zone) into a sentence, or into a preset and back.

A preset is only a way of writing a schedule: it is stored as the same ``periodicity`` and
``periodStart`` as any other, and a stored schedule that has a preset's shape opens as that
preset. Anchors of presets are the latest occurrence at or before "now", so the first run is
the next occurrence (``next_run_at`` is always the first slot after the save).
"""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError

from exports.requests.durations import Duration, add_months

WEEKDAYS = tuple(calendar.day_name)  # Monday first, as datetime.weekday()
MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # divide an hour: the grid survives DST
PRESET_KINDS = ("minutes", "hourly", "daily", "weekly", "monthly")


@dataclass(frozen=True)
class Preset:
    """A schedule the editor offers in plain fields.

    ``kind``: ``minutes`` (every ``every`` minutes, on the local clock's multiples),
    ``hourly`` (at ``:minute``), ``daily`` (at ``hour:minute``), ``weekly`` (on ``weekday``,
    0 = Monday), ``monthly`` (on ``day`` 1–31; the last day in shorter months).
    """

    kind: str
    every: int = 15
    minute: int = 0
    hour: int = 0
    weekday: int = 0
    day: int = 1

    def __post_init__(self) -> None:
        if self.kind not in PRESET_KINDS:
            raise ValueError(f"unknown schedule preset {self.kind!r}")
        if self.kind == "minutes" and self.every not in MINUTE_STEPS:
            raise ValueError(f"every must be one of {', '.join(map(str, MINUTE_STEPS))} minutes")
        checks = ((self.minute, 0, 59), (self.hour, 0, 23), (self.weekday, 0, 6), (self.day, 1, 31))
        if any(not low <= value <= high for value, low, high in checks):
            raise ValueError("minute, hour, weekday or day out of range")

    @property
    def periodicity(self) -> str:
        return {
            "minutes": f"PT{self.every}M",
            "hourly": "PT1H",
            "daily": "P1D",
            "weekly": "P1W",
            "monthly": "P1M",
        }[self.kind]

    def period_start(self, tz_name: str, now: datetime) -> datetime:
        """The anchor (aware, UTC): the latest occurrence at or before ``now``."""
        tz = zoneinfo.ZoneInfo(tz_name)
        local = now.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
        midnight = local.replace(hour=0, minute=0)
        if self.kind == "minutes":
            candidate = midnight
        elif self.kind == "hourly":
            candidate = midnight.replace(minute=self.minute)
        elif self.kind == "daily":
            candidate = _latest(midnight.replace(hour=self.hour, minute=self.minute), local, 1)
        elif self.kind == "weekly":
            at = midnight.replace(hour=self.hour, minute=self.minute)
            at -= timedelta(days=(at.weekday() - self.weekday) % 7)
            candidate = _latest(at, local, 7)
        else:
            candidate = _monthly_anchor(local, self.day, self.hour, self.minute)
        return candidate.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _latest(wall: datetime, local: datetime, step_days: int) -> datetime:
    return wall - timedelta(days=step_days) if wall > local else wall


def _monthly_anchor(local: datetime, day: int, hour: int, minute: int) -> datetime:
    """The latest date on ``day`` at or before ``local`` in a month that has that day.

    The anchor must carry the day itself (31, not a clamped 30) so that later months clamp
    from it and return to the 31st where it exists.
    """
    month = local.replace(day=1, hour=hour, minute=minute)
    while True:
        if calendar.monthrange(month.year, month.month)[1] >= day:
            candidate = month.replace(day=day)
            if candidate <= local:
                return candidate
        month = add_months(month, -1)


def preset_of(periodicity: str, period_start: datetime | None, tz_name: str) -> Preset | None:
    """The preset a stored schedule is, or None when it has no preset's shape."""
    if not periodicity or period_start is None:
        return None
    try:
        period = Duration.parse(periodicity)
    except (ValidationError, ValueError, OverflowError):
        return None
    wall = period_start.astimezone(zoneinfo.ZoneInfo(tz_name))
    if wall.second or wall.microsecond:
        return None
    months, days, exact = period.months, period.days, period.exact
    if not months and not days:
        minutes, rest = divmod(exact, timedelta(minutes=1))
        if rest:
            return None
        if minutes in MINUTE_STEPS and wall.minute % minutes == 0:
            return Preset("minutes", every=minutes)
        if minutes == 60:
            return Preset("hourly", minute=wall.minute)
        return None
    if exact:
        return None
    at = {"hour": wall.hour, "minute": wall.minute}
    if (months, days) == (0, 1):
        return Preset("daily", **at)
    if (months, days) == (0, 7):
        return Preset("weekly", weekday=wall.weekday(), **at)
    if (months, days) == (1, 0):
        return Preset("monthly", day=wall.day, **at)
    return None


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


def describe_request_schedule(request) -> str:
    """Words for a request: its recurrence, or that it runs once."""
    if not request.is_recurring:
        return "Once"
    return describe_schedule(request.periodicity, request.period_start, request.timezone)
