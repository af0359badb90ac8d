"""The time window an item exports for one job slot.

Windows are half-open ``[start, end)`` in UTC; ``start`` is ``None`` for "all history".
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import NamedTuple

from exports.requests.durations import Duration


class Window(NamedTuple):
    """A half-open UTC interval ``[start, end)``; ``start`` is ``None`` for all history."""

    start: datetime | None
    end: datetime


def item_window(item, slot: datetime, tz_name: str | None = None) -> Window:
    """The window ``item`` exports for the job at ``slot`` (an aware datetime).

    - ``from``/``to``: absolute; a missing ``to`` means the slot, a missing ``from`` all history;
    - ``period``: ``[slot - period, slot)``, moved like a slot (``exports.requests.durations``: the
      calendar part on the request's local wall time, the rest as elapsed time);
    - neither: all history up to the slot.

    ``tz_name`` defaults to the item's request timezone.
    """
    if item.period:
        tz = zoneinfo.ZoneInfo(tz_name or item.request.timezone)
        start = Duration.parse(item.period).before(slot, tz)
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
