"""How times read for people: one format everywhere, always with the zone.

``2026-11-30 06:37 CET`` — in the request's time zone (DESIGN.md §3), seconds only when there
are some. Pages (through the ``local_time`` template filter), the admin's lists and the
notification facts all call :func:`format_time`, so a time reads the same wherever it appears.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.utils.dateparse import parse_datetime


def zone_of(zone: zoneinfo.ZoneInfo | str | None) -> zoneinfo.ZoneInfo:
    """A zone from a name (empty or unknown means UTC) or a zone."""
    if isinstance(zone, zoneinfo.ZoneInfo):
        return zone
    try:
        return zoneinfo.ZoneInfo(zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def format_time(moment: datetime | None, zone: zoneinfo.ZoneInfo | str | None = None) -> str:
    """``2025-01-02 00:00 CET``; seconds only when there are some; empty for None.

    ``zone`` is a zone or its name (default UTC); a naive ``moment`` is taken as UTC.
    """
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo("UTC"))
    local = moment.astimezone(zone_of(zone))
    pattern = "%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z"
    return local.strftime(pattern)


def format_window(windows: list[dict], zone: zoneinfo.ZoneInfo | str | None = None) -> str:
    """The span covered by a job's per-item windows: earliest start – latest end.

    An item without a start reads from the beginning of the data.
    """
    starts = [_parse(window.get("start")) for window in windows or []]
    ends = [end for end in (_parse(window.get("end")) for window in windows or []) if end]
    if not ends:
        return ""
    end = format_time(max(ends), zone)
    if any(start is None for start in starts):
        return f"until {end}"
    return f"{format_time(min(starts), zone)} – {end}"


def _parse(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def metrics_looked_for(windows: list[dict], items) -> list[str]:
    """The metric names a job read: those of the items its windows name (all items if none)."""
    item_ids = {window.get("item") for window in windows or []}
    chosen = [item for item in items if item.pk in item_ids] or list(items)
    return list(dict.fromkeys(name for item in chosen for name in item.metric_names))


def describe_no_data(
    windows: list[dict], metrics: list[str], zone: zoneinfo.ZoneInfo | str | None = None
) -> str:
    """Why a done job has no rows, in words: which metrics it looked for, over which window."""
    text = "No data for " + (", ".join(metrics) or "its metrics")
    window = format_window(windows, zone)
    return f"{text} in {window}" if window else text
