"""Calendar ranges: an item's window named as "yesterday", "previous month", ... — the only copy.

A range is read in the request's time zone at the job's slot (the instant the job is for:
"now" for a one-time request or "Run now", the grid slot of a scheduled run), and the window
is pinned in the job like every other window (``exports.scheduling.windows``), so a rerun
exports the same instants.

* The calendar **period** containing an instant is its local day, its ISO week (Monday
  00:00 to the next Monday 00:00), its month or its year.
* ``yesterday``, ``previousWeek``, ``previousMonth``, ``previousYear``: the whole period
  before the one containing the slot. At 06:00 on 2 March, yesterday is 1 March 00:00 –
  2 March 00:00; at 00:00 on 2 March (a daily schedule at midnight) it is 1 March too.
* ``today``, ``weekToDate``, ``monthToDate``, ``yearToDate``: from the start of the period
  containing the slot up to the slot. A slot exactly at the start of a period (monthToDate
  run at 00:00 on the 1st) reads the period that just ended, whole, rather than an empty one.
* Period starts are local midnights: a day is 23 or 25 hours long across a DST change, and
  a midnight that a zone skips (a spring-forward at 00:00) moves forward by the gap, as slots
  do (``exports.requests.durations``).

So a daily schedule at local midnight with ``yesterday``, a weekly one on Mondays with
``previousWeek`` and a monthly one on the 1st with ``previousMonth`` write windows that tile.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from exports.requests.durations import add_months
from exports.requests.vocabulary import CalendarRange

# Each range: the calendar unit, and whether it is the previous whole period (else "to date").
RANGES: dict[str, tuple[str, bool]] = {
    CalendarRange.TODAY: ("day", False),
    CalendarRange.YESTERDAY: ("day", True),
    CalendarRange.WEEK_TO_DATE: ("week", False),
    CalendarRange.PREVIOUS_WEEK: ("week", True),
    CalendarRange.MONTH_TO_DATE: ("month", False),
    CalendarRange.PREVIOUS_MONTH: ("month", True),
    CalendarRange.YEAR_TO_DATE: ("year", False),
    CalendarRange.PREVIOUS_YEAR: ("year", True),
}
_TICK = timedelta(microseconds=1)


def _period_start(day: date, unit: str) -> date:
    if unit == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


def _step(day: date, unit: str, times: int) -> date:
    if unit == "week":
        return day + timedelta(weeks=times)
    if unit == "month":
        return add_months(datetime(day.year, day.month, day.day), times).date()
    if unit == "year":
        return add_months(datetime(day.year, day.month, day.day), 12 * times).date()
    return day + timedelta(days=times)


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC instant of ``day``'s 00:00 in ``tz`` (a skipped midnight moves forward)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz, fold=0).astimezone(UTC)


def calendar_window(name: str, slot: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC window ``[start, end)`` of range ``name`` for a job at ``slot`` in ``tz``.

    Raises ``KeyError`` for a name that is not a range (validation refuses those first).
    """
    unit, previous = RANGES[name]
    slot = slot.astimezone(UTC)
    if previous:
        current = _period_start(slot.astimezone(tz).date(), unit)
        return local_midnight(_step(current, unit, -1), tz), local_midnight(current, tz)
    start = local_midnight(_period_start(slot.astimezone(tz).date(), unit), tz)
    if start >= slot:  # exactly at a period's start: the period that just ended, whole
        start = local_midnight(_period_start((slot - _TICK).astimezone(tz).date(), unit), tz)
    return start, slot
