"""From a request and a job slot to the ``Table`` objects the writers stream to a file.

Templates:
- ``expanded``: one table per item, named after the item's filename or its target labels;
- ``tabular``: one table for all items. Long items share the request's columns, so their rows
  follow each other, item by item. Wide items are merged by timestamp into one wide table
  (the time columns, then every item's value columns in item order). A request mixing long
  and wide items gets the long table, then the wide one (named ``<name> (wide)``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from django.utils import timezone as dj_timezone

from exports.data.catalog import publisher_names
from exports.engine.buckets import Buckets
from exports.engine.decimation import decimated_points
from exports.engine.names import CatalogNames
from exports.engine.reading import (
    OPTIONAL_FIELDS,
    Point,
    SeriesStats,
    read_columns,
    read_points,
    series_stats,
    value_types,
)
from exports.engine.shaping import (
    Column,
    WideLayout,
    long_columns,
    merge_wide,
    point_columns,
    selected_columns,
    unique,
    wide_cells,
    wide_rows,
    wide_time_columns,
)
from exports.engine.transform import apply_transform
from exports.models import Series
from exports.requests.vocabulary import Aggregation, ColumnId, OutputFormat, Template
from exports.rows.tables import ColumnChunks, ReportInfo, Table
from exports.rows.times import LocalClock, spans_offset_change, to_micros
from exports.scheduling.windows import Window, describe_window, item_window, window_from_json

WindowMap = Mapping[int, Window]  # item primary key → pinned window


def item_points(
    item, window: Window, tz: zoneinfo.ZoneInfo, *, fields: Collection[str] = OPTIONAL_FIELDS
) -> Iterable[Point]:
    """The points of one item in output order: read, decimated, transformed (lazily).

    Of the optional point fields (publisher, unit, created), ``fields`` says which the output
    needs; the others may be None.
    """
    if item.ds:
        points = decimated_points(
            item, window, Buckets(item.ds, tz), with_created="created" in fields
        )
    else:
        points = read_points(item, window, fields=_read_fields(item, fields))
    return apply_transform(item.transform, points)


def item_point_columns(
    item, window: Window, tz: zoneinfo.ZoneInfo, *, fields: Collection[str] = OPTIONAL_FIELDS
) -> Iterable[list[Sequence]]:
    """``item_points`` as chunks of columns (``reading.read_columns``)."""
    if item.ds or item.transform:
        return point_columns(item_points(item, window, tz, fields=fields))
    return read_columns(item, window, fields=_read_fields(item, fields))


def _read_fields(item, fields: Collection[str]) -> set[str]:
    # A transform keeps one series per (target, publisher): it needs the publisher.
    return {*fields, "publisher"} if item.transform else set(fields)


def build_tables(
    request,
    slot: datetime,
    items: Iterable | None = None,
    *,
    template: str | None = None,
    windows: WindowMap | None = None,
    columns: Sequence | None = None,
) -> list[Table]:
    """The tables of one job of ``request``, rows streamed lazily from the database.

    ``items`` defaults to the request's items in order; ``template`` to the request's;
    ``windows`` (item pk → ``Window``, as pinned on the job) overrides the windows computed
    from ``slot``; ``columns`` (unsaved ``ExportColumn`` instances) the saved columns. Only
    wide headers need a query now (which publishers each target has); every row query runs
    when its table's rows are iterated.
    """
    tz = zoneinfo.ZoneInfo(request.timezone)
    columns = selected_columns(request, columns)
    planned = [(item, _window(item, slot, request, windows)) for item in _items(request, items)]
    if (template or request.template) == Template.EXPANDED:
        names = unique(item.filename or "-".join(item.metric_labels) for item, _ in planned)
        return [
            _item_table(item, window, name, columns, tz)
            for (item, window), name in zip(planned, names, strict=True)
        ]
    stem = request.filename or request.name
    if len(planned) == 1 and planned[0][0].filename:
        stem = planned[0][0].filename  # one item: its filename names the sheet or section
    long_items = [plan for plan in planned if plan[0].output_format != OutputFormat.WIDE]
    wide_items = [plan for plan in planned if plan[0].output_format == OutputFormat.WIDE]
    tables = []
    if long_items or not wide_items:
        rows = _long_rows_of(long_items, columns, tz)
        headers = [column.label for column in columns]
        tables.append(Table(stem, headers, rows, **_typing(long_items, columns, tz)))
    if wide_items:
        name = f"{stem} (wide)" if tables else stem
        tables.append(_wide_table(wide_items, name, columns, tz))
    return tables


def estimate_rows(
    request, slot: datetime, items: Iterable | None = None, *, windows: WindowMap | None = None
) -> int:
    """About how many rows the job will write, for progress.

    Read from the series catalog (count, first and last time per series: no scan of the
    messages), spreading each series' count evenly over its time span and keeping the part
    inside the window; exact when the window holds the whole series. An item whose series the
    catalog does not know (messages stored around the ingest path) is counted with one
    grouped COUNT. Decimated output counts ``min(messages, buckets spanned)`` per series;
    delta drops one row per series; wide output counts its longest series.
    """
    tz = zoneinfo.ZoneInfo(request.timezone)
    total = 0
    for item in _items(request, items):
        window = _window(item, slot, request, windows)
        buckets = Buckets(item.ds, tz) if item.ds else None
        counts = []
        for series in _catalog_stats(item, window) or series_stats(
            item, window, numeric_only=buckets is not None
        ):
            count = series.count
            if buckets is not None and count:
                spanned = buckets.count_between(to_micros(series.first), to_micros(series.last))
                count = min(count, spanned)
            if item.transform:
                count -= 1
            counts.append(max(count, 0))
        if counts:
            total += max(counts) if item.output_format == OutputFormat.WIDE else sum(counts)
    return total


def _catalog_stats(item, window: Window) -> list[SeriesStats]:
    """The item's series from the catalog, cut to ``window`` (counts spread evenly)."""
    rows = Series.objects.filter(
        channel=item.channel_id, subtopic=item.subtopic, name__in=item.metric_names
    )
    if item.publisher:
        rows = rows.filter(publisher=item.publisher)
    stats = []
    for row in rows:
        first = max(row.first_time, window.start) if window.start else row.first_time
        last = min(row.last_time, window.end)
        if last < first or (last == window.end and first == last):
            count = 0  # outside the window (its end is excluded)
        elif row.last_time == row.first_time:
            count = row.count
        else:
            share = (last - first) / (row.last_time - row.first_time)
            count = round(row.count * min(1.0, share))
        stats.append(SeriesStats(row.name, row.publisher, count, first, last))
    return stats


def build_report_info(
    request,
    slot: datetime,
    items: Iterable | None = None,
    *,
    windows: WindowMap | None = None,
    now: datetime | None = None,
) -> ReportInfo:
    """Title, timezone, window text and generation time for report formats and names.

    The window text is in the request's timezone; items with different windows are listed
    one after the other, separated by ``; ``.
    """
    tz = zoneinfo.ZoneInfo(request.timezone)
    texts: list[str] = []
    for item in _items(request, items):
        text = describe_window(_window(item, slot, request, windows), tz)
        if text not in texts:
            texts.append(text)
    return ReportInfo(
        title=request.filename or request.name,
        request_name=request.name,
        timezone=request.timezone,
        window="; ".join(texts),
        generated_at=(now or dj_timezone.now()).astimezone(tz),
        slot=slot,
    )


def pinned_windows(stored: Sequence[dict]) -> dict[int, Window]:
    """``ExportJob.windows`` back as the ``windows`` argument of the functions above."""
    return {entry["item"]: window_from_json(entry) for entry in stored}


def _items(request, items: Iterable | None) -> list:
    items = list(request.items.all() if items is None else items)
    for item in items:
        item.request = request  # windows need the timezone; avoid one query per item
    return items


def _window(item, slot: datetime, request, windows: WindowMap | None) -> Window:
    if windows and item.pk in windows:
        return windows[item.pk]
    return item_window(request, item, slot)


def _item_table(item, window: Window, name: str, columns: Sequence[Column], tz) -> Table:
    if item.output_format == OutputFormat.WIDE:
        return _wide_table([(item, window)], name, columns, tz)
    headers = [column.label for column in columns]
    rows = _long_rows_of([(item, window)], columns, tz)
    return Table(name, headers, rows, **_typing([(item, window)], columns, tz))


_KINDS = {
    ColumnId.TIME: "time",
    ColumnId.CREATED: "time",
    ColumnId.VALUE: "value",
    ColumnId.EPOCH: "integer",
}


def _typing(plans, columns: Sequence[Column], tz) -> dict:
    """``Table.kinds``, ``Table.value_types`` and ``Table.offset_changes`` of a table of
    ``plans`` (long: the request's ``columns``; wide: its time columns, before the values)."""
    kinds = [_KINDS.get(column.id, "text") for column in columns]

    def types() -> frozenset[str]:
        return frozenset().union(*(value_types(item, window) for item, window in plans))

    def units() -> list[str | None]:
        found = {unit for item, _ in plans for unit in _catalog_units(item).values()}
        one = found.pop() if len(found) == 1 else None
        return [one if kind == "value" else None for kind in kinds]

    return {
        "kinds": kinds,
        "value_types": types,
        "offset_changes": lambda: _offset_changes(plans, tz),
        "units": units,
    }


def _catalog_units(item) -> dict[tuple[str, str], str]:
    """The catalog's unit of each (name, publisher) series of ``item`` ("" when unknown: none
    stored, or a variance, whose unit is the square of the values')."""
    rows = Series.objects.filter(
        channel=item.channel_id, subtopic=item.subtopic, name__in=item.metric_names
    )
    if item.publisher:
        rows = rows.filter(publisher=item.publisher)
    variance = item.aggregation == Aggregation.VARIANCE
    return {
        (name, publisher): "" if variance else unit
        for name, publisher, unit in rows.values_list("name", "publisher", "unit")
    }


def _wide_units(plans, layouts: Sequence[WideLayout]) -> list[str | None]:
    """The unit of each wide value column, where its series agree on one."""
    result: list[str | None] = []
    for (item, _), layout in zip(plans, layouts, strict=True):
        units = _catalog_units(item)
        columns: list[set[str]] = [set() for _ in layout.headers]
        for target, name in enumerate(item.metric_names):
            for (series, publisher), unit in units.items():
                column = layout.by_target.get(target)
                if column is None:
                    column = layout.by_series.get((target, publisher))
                if series == name and column is not None:
                    columns[column].add(unit)
        result.extend(found.pop() if len(found) == 1 else None for found in columns)
    return result


def _offset_changes(plans, tz) -> bool:
    """Whether the zone's UTC offset changes while the table's data runs: between the first
    and last time the catalog knows of the items' series in their windows (the window itself
    when the catalog knows none)."""
    for item, window in plans:
        stats = [row for row in _catalog_stats(item, window) if row.count]
        if stats:
            first, last = min(row.first for row in stats), max(row.last for row in stats)
        elif window.start is not None:
            first, last = window.start, window.end
        else:
            stats = series_stats(item, window)
            if not stats:
                continue
            first, last = min(row.first for row in stats), max(row.last for row in stats)
        if spans_offset_change(tz, first, last):
            return True
    return False


@dataclass(frozen=True)
class LongPlan:
    """What a long table is made of: its items with their windows, the columns, the zone.

    Kept on the table's rows (``PlannedChunks``) so a writer may have the database format
    the same rows in bulk instead (``exports.writers.copying``)."""

    plans: tuple  # ((item, window), ...), in output order
    columns: tuple[Column, ...]
    tz: zoneinfo.ZoneInfo


class PlannedChunks(ColumnChunks):
    """``ColumnChunks`` of a long table that also carry its ``LongPlan``; no query runs
    until the chunks are read."""

    def __init__(self, chunks: Iterable, plan: LongPlan) -> None:
        super().__init__(chunks)
        self.plan = plan


def _long_rows_of(plans, columns: Sequence[Column], tz) -> ColumnChunks:
    fields = {str(column.id) for column in columns} & OPTIONAL_FIELDS
    if ColumnId.PUBLISHER_NAME in {column.id for column in columns}:
        fields.add("publisher")
    clock = LocalClock(tz)
    names = CatalogNames()
    chunks = (
        long_columns(
            item_point_columns(item, window, tz, fields=fields), columns, item, clock, names
        )
        for item, window in plans
    )
    plan = LongPlan(tuple(plans), tuple(columns), tz)
    return PlannedChunks(chain.from_iterable(chunks), plan)


def _wide_table(plans, name: str, columns: Sequence[Column], tz) -> Table:
    """A wide table of one or more items: its time columns (``wide_time_columns``), then
    every item's value columns."""
    stats = [series_stats(item, window, numeric_only=bool(item.ds)) for item, window in plans]
    names = publisher_names({row.publisher for rows in stats for row in rows})
    layouts = [
        WideLayout.for_item(item, rows, names) for (item, _), rows in zip(plans, stats, strict=True)
    ]
    times = wide_time_columns(columns)
    values = [header for layout in layouts for header in layout.headers]
    headers = unique([*(column.label for column in times), *values])
    # The layouts tell series apart by publisher: the one optional field wide rows need.
    points = [item_points(item, window, tz, fields={"publisher"}) for item, window in plans]
    streams = [
        (wide_cells(stream, layout), len(layout.headers))
        for stream, layout in zip(points, layouts, strict=True)
    ]
    cells = streams[0][0] if len(streams) == 1 else merge_wide(streams)
    typing = _typing(plans, times, tz)
    typing["kinds"] += ["value"] * len(values)
    typing["units"] = lambda: [None] * len(times) + _wide_units(plans, layouts)
    rows = wide_rows(cells, LocalClock(tz), times)
    return Table(name, headers, rows, **typing)
