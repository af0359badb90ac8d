"""Preview: what a request definition would export at its next run, without saving anything.

One function, :func:`preview_spec`, runs an unsaved request (a validated ``RequestSpec``)
through the same engine as a job: the same windows, reading, decimation, transform, shaping,
columns and time zone; the cells are rendered as the CSV writer writes them. The editor page
builds its spec from its forms, and :func:`preview_request` from the request JSON (what the API
and commands accept), so bad input gives the same errors as saving.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.utils import timezone as dj_timezone

from exports.data import catalog
from exports.data.access import read_scope, unreadable_items
from exports.data.typos import unknown_place
from exports.engine.tables import build_tables, estimate_rows
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import RequestSpec
from exports.requests.vocabulary import Template
from exports.scheduling.slots import Schedule
from exports.scheduling.windows import describe_window, item_window
from exports.writers.columns import number_cells
from exports.writers.csv import csv_cell

PREVIEW_ROWS = 20


@dataclass
class ItemPreview:
    """The first rows of one item's table, as the file will hold them, and its row estimate."""

    title: str
    channel: str  # "name (short id)" when the channel has a name
    subtopic: str
    metrics: list[str]
    window: str  # in the request's time zone
    headers: list[str]
    rows: list[list[str]]
    estimated_rows: int
    unknown_metrics: list[str] = field(default_factory=list)
    unknown_place: str = ""  # "No such channel: “Greenhouse” has no data. Did you mean …?"
    # The columns of times, and the first of them (kept in view as the rows scroll).
    time_columns: list[int] = field(default_factory=list)
    # The columns of numbers (values, ``epoch``): a phone must not break one inside a number.
    number_columns: list[int] = field(default_factory=list)

    @property
    def time_column(self) -> int | None:
        return self.time_columns[0] if self.time_columns else None

    @property
    def is_empty(self) -> bool:
        return not self.rows


@dataclass
class Preview:
    """A preview of every item of a request for the job at ``slot``."""

    slot: datetime  # aware, in the request's time zone
    timezone: str
    is_next_run: bool  # False for a one-time request (it runs at once)
    items: list[ItemPreview]

    def as_json(self) -> dict[str, Any]:
        """The preview in the API's camelCase JSON shape."""
        return {
            "slot": self.slot.isoformat(),
            "timezone": self.timezone,
            "items": [
                {
                    "title": item.title,
                    "channel": item.channel,
                    "subtopic": item.subtopic,
                    "metrics": item.metrics,
                    "window": item.window,
                    "estimatedRows": item.estimated_rows,
                    "headers": item.headers,
                    "rows": item.rows,
                    "unknownMetrics": item.unknown_metrics,
                    "unknownPlace": item.unknown_place,
                }
                for item in self.items
            ],
        }


def preview_request(
    data: Any, owner, *, limit: int = PREVIEW_ROWS, now: datetime | None = None
) -> Preview:
    """Validate a request in the JSON shape and preview it; nothing is saved.

    Raises ``RequestSchemaError`` exactly as saving the same JSON would.
    """
    return preview_spec(parse_request(data, owner), limit=limit, now=now)


def preview_spec(
    spec: RequestSpec, *, limit: int = PREVIEW_ROWS, now: datetime | None = None
) -> Preview:
    """Preview a validated, unsaved request: per item the first ``limit`` rows and an estimate.

    The slot is the one the next run would use: now for a one-time request, the next slot of
    the schedule for a recurring one (a window reaching into the future shows what has
    arrived so far). Raises ``RequestSchemaError`` for an item whose data the request's owner
    may not read (checked here too, whatever validated the spec).
    """
    request = spec.request
    scope = read_scope(request.owner)
    refusals = unreadable_items(request.owner, spec.items, scope=scope)
    if refusals:
        raise RequestSchemaError(
            {f"items[{index}].params.channelId": [reason] for index, reason in refusals}
        )
    tz = zoneinfo.ZoneInfo(request.timezone)
    now = (now or dj_timezone.now()).replace(microsecond=0)
    schedule, k, slot = _next_slot(request, now)
    # Cells as the CSV file holds them, fixed decimals included.
    separator = getattr(request, "decimal_separator", ".") or "."
    cell, _ = number_cells(csv_cell, request.decimals, separator)
    items = []
    for item in spec.items:
        item.request = request
        # The window a job for this slot pins (a recurring item with neither period nor
        # from/to reads [previous slot, slot), not all history).
        window = item_window(request, item, slot, k, schedule)
        windows = {item.pk: window}
        tables = build_tables(
            request,
            slot,
            [item],
            template=Template.EXPANDED,
            columns=spec.columns,
            windows=windows,
        )
        table = tables[0]
        rows = islice(table.rows, limit)
        cells = [[str(cell(value)) for value in row] for row in rows]
        _close(table.rows)
        place = unknown_place(item.channel_id, item.subtopic, scope=scope)
        items.append(
            ItemPreview(
                title=table.name,
                channel=catalog.channel_display(item.channel_id),
                subtopic=item.subtopic,
                metrics=item.metric_names,
                window=describe_window(window, tz),
                headers=[str(header) for header in table.headers],
                rows=cells,
                estimated_rows=max(
                    estimate_rows(request, slot, [item], windows=windows), len(cells)
                ),
                unknown_metrics=[]
                if place
                else catalog.unknown_metrics(
                    item.channel_id, item.subtopic, item.metric_names, item.publisher, scope=scope
                ),
                unknown_place=place.message if place else "",
                time_columns=_columns_of(table, {"time"}),
                number_columns=_columns_of(table, {"value", "integer"}),
            )
        )
    return Preview(
        slot=slot.astimezone(tz),
        timezone=request.timezone,
        is_next_run=request.is_recurring,
        items=items,
    )


def _columns_of(table, kinds: set[str]) -> list[int]:
    """The indexes of the table's columns of one of ``kinds`` (``Table.kinds``)."""
    return [index for index, kind in enumerate(table.kinds or []) if kind in kinds]


def _next_slot(request, now: datetime) -> tuple[Schedule | None, int | None, datetime]:
    """The schedule, the slot's index and the slot the next run would use."""
    if not request.is_recurring:
        return None, None, now
    start = request.period_start or now
    schedule = Schedule.create(start.astimezone(UTC), request.periodicity, request.timezone)
    k, slot = schedule.next_slot_after(now)
    return schedule, k, slot


def _close(rows) -> None:
    """Stop a row generator early so its database cursor is released now."""
    close = getattr(rows, "close", None)
    if callable(close):
        close()
