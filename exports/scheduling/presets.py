"""The editor's schedule presets: a schedule written in plain fields, and back.

A preset is only a way of writing a schedule: it is stored as the same ``periodicity`` and
``periodStart`` as any other, and a stored schedule that has a preset's shape opens as that
preset. Anchors of presets are the latest occurrence at or before "now", so the first run is
the next occurrence (``next_run_at`` is always the first slot after the save).
"""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError

from exports.requests.durations import Duration, add_months

MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # divide an hour: the grid survives DST
PRESET_KINDS = ("minutes", "hourly", "daily", "weekly", "monthly")

CUSTOM = "custom"
SCHEDULE_CHOICES = [
    ("minutes", "Every few minutes"),
    ("hourly", "Every hour"),
    ("daily", "Every day"),
    ("weekly", "Every week"),
    ("monthly", "Every month"),
    (CUSTOM, "Custom (ISO 8601)"),
]
# Which preset field each preset kind needs (besides the kind itself).
PRESET_NEEDS = {
    "minutes": ("every",),
    "hourly": ("at_minute",),
    "daily": ("at_time",),
    "weekly": ("weekday", "at_time"),
    "monthly": ("day", "at_time"),
}


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


def schedule_initial(request) -> dict:
    """A stored schedule as the editor shows it: its preset, else custom."""
    preset = None
    if request.is_recurring:
        preset = preset_of(request.periodicity, request.period_start, request.timezone)
    kind = preset.kind if preset else (CUSTOM if request.is_recurring else "daily")
    preset = preset or Preset("daily")
    return {
        "schedule": kind,
        "every": preset.every,
        "at_minute": preset.minute,
        "at_time": time(preset.hour, preset.minute),
        "weekday": preset.weekday,
        "day": preset.day,
    }


def preset_from_fields(kind: str, cleaned: dict) -> Preset:
    """The preset of ``kind`` from the editor's cleaned preset fields (those it needs are set)."""
    at = cleaned.get("at_time") or time(0, 0)
    return Preset(
        kind,
        every=cleaned.get("every") or 15,
        minute=cleaned["at_minute"] if kind == "hourly" else at.minute,
        hour=at.hour,
        weekday=cleaned.get("weekday") or 0,
        day=cleaned.get("day") or 1,
    )
