"""The data window of each item of a job, pinned when the job is created.

A job stores ``windows = [{"item", "position", "start", "end"}]`` (ISO 8601 UTC strings,
``start`` may be ``null`` = from the beginning of the data) so that a rerun, a late run or
a run after a worker died exports exactly the same data as the first attempt would have.

Rules, per item (``slot`` is the job's slot, ``k`` its index when it is a grid slot):

* ``from``/``to`` given: ``[from, to)``; a missing ``to`` means the slot, a missing ``from``
  means the beginning of the data.
* ``range`` given (a calendar range such as ``yesterday``): the range read at the slot in the
  request's zone (``exports.requests.ranges``), the same for grid slots and "Run now".
* ``period`` given: ``[slot − period, slot)``, subtracted by the same duration rules that move
  slots (``exports.requests.durations``: calendar part on local wall time). When the period
  equals the request's periodicity and the slot is a grid slot, the start is the previous slot
  instead, so that windows tile even where month clamping makes ``slot − P1M`` differ from the
  previous slot (30 April − P1M is 30 March, but the slot before 30 April in a schedule anchored on
  31 January is 31 March).
* nothing given, recurring request, grid slot: ``[slot(k−1), slot(k))`` — consecutive jobs
  tile time with no gap and no overlap.
* nothing given, recurring request, off-grid slot ("Run now"): the last whole periodicity,
  ``[slot − periodicity, slot)``.
* nothing given, one-time request: everything up to the slot, ``[null, slot)``.

``item_window`` is the only copy of these rules. Without a schedule (the engine building
tables for a slot when no windows were pinned, as tests and benches do) the rules read as for
a one-time request: ``period`` is subtracted from the slot, nothing given means all history.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from exports.requests.durations import Duration
from exports.requests.ranges import calendar_window
from exports.scheduling.slots import Schedule

if TYPE_CHECKING:
    from exports.models import ExportItem, ExportRequest


class Window(NamedTuple):
    """A half-open UTC interval ``[start, end)``; ``start`` is ``None`` for all history."""

    start: datetime | None
    end: datetime


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


def _utc(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.astimezone(UTC)


def job_windows(
    request: ExportRequest,
    slot: datetime,
    k: int | None = None,
    items: Iterable[ExportItem] | None = None,
    schedule: Schedule | None = None,
) -> list[dict]:
    """The windows of a job of ``request`` for ``slot`` (see the module rules).

    ``k`` is the slot's index when it is a grid slot of a recurring request (``None`` for
    "Run now" and one-time jobs). ``items`` and ``schedule`` may be passed to avoid queries
    and re-parsing when many jobs are created at once. Returns a JSON-ready list ordered
    like the items. Raises ``ValueError``/``ValidationError`` for an unparsable period.
    """
    if items is None:
        items = request.items.all()
    if schedule is None and request.is_recurring:
        schedule = Schedule.of(request)
    windows = []
    for item in items:
        start, end = item_window(request, item, slot, k, schedule)
        windows.append(
            {"item": item.pk, "position": item.position, "start": _iso(start), "end": _iso(end)}
        )
    return windows


def item_window(
    request: ExportRequest,
    item: ExportItem,
    slot: datetime,
    k: int | None = None,
    schedule: Schedule | None = None,
) -> Window:
    """The window ``item`` of ``request`` exports for the job at ``slot`` (an aware datetime),
    in UTC (see the module rules).

    ``k`` is the slot's index when it is a grid slot of a recurring request, ``schedule``
    the request's schedule; without them the rules of a one-time request apply.
    """
    if item.from_time or item.to_time:
        return Window(_utc(item.from_time), _utc(item.to_time or slot))
    if item.calendar_range:
        tz = schedule.tz if schedule is not None else zoneinfo.ZoneInfo(request.timezone)
        return Window(*calendar_window(item.calendar_range, slot, tz))
    if item.period:
        period = Duration.parse(item.period)
        if schedule is not None and k is not None and period == schedule.periodicity:
            return Window(_utc(schedule.slot_at(k - 1)), _utc(slot))
        tz = schedule.tz if schedule is not None else zoneinfo.ZoneInfo(request.timezone)
        return Window(_utc(period.before(slot, tz)), _utc(slot))
    if schedule is None:
        return Window(None, _utc(slot))
    if k is not None:
        return Window(_utc(schedule.slot_at(k - 1)), _utc(slot))
    return Window(_utc(schedule.periodicity.before(slot, schedule.tz)), _utc(slot))


def window_from_json(data: dict) -> Window:
    """A window as ``job_windows`` pins it in ``ExportJob.windows``."""
    start = datetime.fromisoformat(data["start"]) if data.get("start") else None
    return Window(start, datetime.fromisoformat(data["end"]))


def describe_window(window: Window, tz: zoneinfo.ZoneInfo) -> str:
    """A human-readable window in local time, e.g. ``2026-03-01 00:00 – 2026-04-01 00:00``."""
    end = window.end.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if window.start is None:
        return f"until {end}"
    return f"{window.start.astimezone(tz).strftime('%Y-%m-%d %H:%M')} – {end}"
