"""Shaping points into rows: long (one row per point) or wide (one row per timestamp).

Rows are built lazily, a chunk at a time, from the point streams; times become local times of
the request's timezone here and nowhere else (``LocalTimes`` columns in long tables, aware
datetimes in wide ones).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter

from exports.engine.names import CatalogNames
from exports.engine.reading import CHUNK_SIZE, Point, SeriesStats
from exports.requests.vocabulary import DEFAULT_COLUMNS, ColumnId
from exports.rows.times import UTC_CLOCK, LocalClock, epoch_millis

WideCells = tuple[int, list]  # (time in epoch microseconds, one cell per value column)


@dataclass(frozen=True)
class Column:
    """One selected output column: a message field id and its header."""

    id: str
    label: str


def selected_columns(request, stored: Sequence | None = None) -> list[Column]:
    """The request's columns in order, or the six reference columns labelled by their ids.

    ``stored`` (``ExportColumn`` instances) replaces the saved columns, for a request that is
    being edited and not saved yet (the preview).
    """
    stored = request.columns.all() if stored is None else stored
    columns = [Column(column.column_id, column.label) for column in stored]
    return columns or [Column(column_id, column_id) for column_id in DEFAULT_COLUMNS]


def long_columns(
    chunks: Iterable[list[Sequence]],
    columns: Sequence[Column],
    item,
    clock: LocalClock,
    names: CatalogNames | None = None,
) -> Iterator[list[Sequence]]:
    """One row per point with the selected columns; ``name`` shows the target's label.

    ``chunks`` are points a chunk at a time as columns (``reading.read_columns``,
    ``point_columns``); so are the results, one column per selected column, times as
    ``LocalTimes`` in the request's timezone. No bytecode of ours runs per row.
    ``names`` gives the catalog's channel and publisher names (``channelName``,
    ``publisherName``); without it those columns hold the ids.
    """
    labels = item.metric_labels
    channel, subtopic = item.channel_id, item.subtopic
    names = names or CatalogNames(lookup=False)
    ids = [column.id for column in columns]

    def shaped(chunk: list[Sequence]) -> list[Sequence]:
        times, targets, publishers, values, units, created = chunk
        result = []
        for column_id in ids:
            if column_id == ColumnId.CREATED:
                result.append(clock.column(created))
            elif column_id == ColumnId.NAME:
                result.append(list(map(labels.__getitem__, targets)))
            elif column_id == ColumnId.PUBLISHER:
                result.append(publishers)
            elif column_id == ColumnId.PUBLISHER_NAME:
                result.append(names.publishers(publishers))
            elif column_id == ColumnId.UNIT:
                result.append(units)
            elif column_id == ColumnId.VALUE:
                result.append(values)
            elif column_id == ColumnId.CHANNEL:
                result.append([channel] * len(times))
            elif column_id == ColumnId.CHANNEL_NAME:
                result.append([names.channel(channel)] * len(times))
            elif column_id in TIME_COLUMNS:
                result.append(time_column(column_id, times, clock))
            else:
                result.append([subtopic] * len(times))
        return result

    return map(shaped, chunks)


def point_columns(points: Iterable[Point], size: int = CHUNK_SIZE) -> Iterator[list[Sequence]]:
    """A stream of points (decimated, transformed) as chunks of ``size`` points, as columns."""
    iterator = iter(points)
    chunks = iter(lambda: list(islice(iterator, size)), [])
    return (list(zip(*chunk, strict=True)) for chunk in chunks)


# The columns that show a message's time: one home for their cells, long rows and wide.
TIME_COLUMNS = (ColumnId.TIME, ColumnId.TIME_UTC, ColumnId.EPOCH)


def time_column(column_id: str, micros: Sequence[int], clock: LocalClock) -> Sequence:
    """The cells of one of the ``TIME_COLUMNS`` for the instants ``micros``: local times
    (``LocalTimes``), ``timeUtc`` texts (ISO 8601 with ``Z``) or ``epoch`` milliseconds."""
    if column_id == ColumnId.TIME:
        return clock.column(micros)
    if column_id == ColumnId.TIME_UTC:
        return UTC_CLOCK.iso_texts(micros)
    return epoch_millis(micros)


def wide_time_columns(columns: Sequence[Column]) -> list[Column]:
    """The columns a wide row starts with: the selected ``TIME_COLUMNS`` in the request's
    order, the local time first (headed ``time``) when it is not selected. The other columns
    describe one message (its device, unit, creation time) and do not apply to a row that
    holds several."""
    chosen = [column for column in columns if column.id in TIME_COLUMNS]
    if not any(column.id == ColumnId.TIME for column in chosen):
        chosen.insert(0, Column(ColumnId.TIME.value, ColumnId.TIME.value))
    return chosen


@dataclass
class WideLayout:
    """The value columns of one item in wide output.

    One column per target, headed by its label; when a target has several publishers in the
    window (and the item does not name one), one column per publisher, so devices are never
    mixed in one column. Every format heads it the same way: the device's name from the
    catalog (``temperature (Greenhouse north)``), else the shortest part of its id that
    differs from the other devices' (``temperature (a3c9e0d2)``, ``temperature (…00000002)``);
    devices sharing a name add that part of their id (``temperature (Sensor a3c9e0d2)``).
    """

    headers: list[str] = field(default_factory=list)
    by_target: dict[int, int] = field(default_factory=dict)
    by_series: dict[tuple[int, str], int] = field(default_factory=dict)

    @classmethod
    def for_item(
        cls, item, stats: Iterable[SeriesStats], names: Mapping[str, str] | None = None
    ) -> WideLayout:
        """The layout of ``item`` given its series; ``names`` maps publisher ids to names."""
        names = names or {}
        publishers: dict[str, list[str]] = {}
        for row in stats:
            publishers.setdefault(row.name, []).append(row.publisher)
        layout = cls()
        for target, (name, label) in enumerate(
            zip(item.metric_names, item.metric_labels, strict=True)
        ):
            ids = sorted(publishers.get(name, []))
            if len(ids) <= 1:
                layout.by_target[target] = len(layout.headers)
                layout.headers.append(label)
                continue
            short = short_ids(ids)
            shown = [names.get(publisher) or short[publisher] for publisher in ids]
            for publisher, name in zip(ids, shown, strict=True):
                if shown.count(name) > 1:
                    name = f"{name} {short[publisher]}"
                layout.by_series[(target, publisher)] = len(layout.headers)
                layout.headers.append(f"{label} ({name})")
        return layout

    def column(self, point: Point) -> int | None:
        """The column of ``point``; None for a publisher that appeared after the layout was made
        (possible only while data for the window is still arriving)."""
        column = self.by_target.get(point[1])
        if column is None:
            column = self.by_series.get((point[1], point[2]))
        return column


def wide_cells(points: Iterable[Point], layout: WideLayout) -> Iterator[WideCells]:
    """Group time-ordered points into one cell list per timestamp.

    Two points of one series at the same timestamp (duplicate messages): the later one in
    output order (higher id) wins.
    """
    width = len(layout.headers)
    current, cells = None, None
    for point in points:
        if point[0] != current:
            if cells is not None:
                yield current, cells
            current, cells = point[0], [None] * width
        column = layout.column(point)
        if column is not None:
            cells[column] = point[3]
    if cells is not None:
        yield current, cells


def merge_wide(streams: Sequence[tuple[Iterable[WideCells], int]]) -> Iterator[WideCells]:
    """Merge several items' wide streams, each ``(cells, width)``, into one by timestamp.

    Each stream is time-ordered, so a heap merge keeps one pending row per stream in memory.
    """
    offsets, total = [], 0
    for _, width in streams:
        offsets.append(total)
        total += width
    tagged = [_tag(stream, position) for position, (stream, _) in enumerate(streams)]
    current, row = None, None
    for time, position, cells in heapq.merge(*tagged, key=itemgetter(0, 1)):
        if time != current:
            if row is not None:
                yield current, row
            current, row = time, [None] * total
        start = offsets[position]
        row[start : start + len(cells)] = cells
    if row is not None:
        yield current, row


def _tag(stream: Iterable[WideCells], position: int) -> Iterator[tuple[int, int, list]]:
    for time, cells in stream:
        yield time, position, cells


def wide_rows(
    cells: Iterable[WideCells], clock: LocalClock, times: Sequence[Column], size: int = CHUNK_SIZE
) -> Iterator[list]:
    """Wide rows: the ``times`` columns (``wide_time_columns``), then the cells.

    The time cells are made ``size`` rows at a time, by ``time_column`` as in long rows."""
    ids = [column.id for column in times]
    iterator = iter(cells)
    while chunk := list(islice(iterator, size)):
        micros = [time for time, _ in chunk]
        shown = [time_column(column_id, micros, clock) for column_id in ids]
        for row_times, (_, values) in zip(zip(*shown, strict=True), chunk, strict=True):
            yield [*row_times, *values]


def short_ids(ids: Sequence[str], shortest: int = 8) -> dict[str, str]:
    """Each id as its shortest part that tells it from the other ``ids``: a prefix of
    ``shortest`` characters or more (``a3c9e0d2``), else a suffix (``…00000002``) for ids
    that differ only at the end; ids no longer than ``shortest`` stay whole."""
    result = {}
    for identifier in ids:
        others = [other for other in ids if other != identifier]
        result[identifier] = identifier
        for length in range(shortest, len(identifier)):
            head, tail = identifier[:length], identifier[-length:]
            if not any(other.startswith(head) for other in others):
                result[identifier] = head
                break
            if not any(other.endswith(tail) for other in others):
                result[identifier] = "…" + tail
                break
    return result


def unique(names: Iterable[str]) -> list[str]:
    """``names`` with repeats numbered (``temp``, ``temp (2)``) so headers and table names
    stay distinct (JSON keys, sheet names)."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 1
        while candidate in seen:
            number += 1
            candidate = f"{name} ({number})"
        seen.add(candidate)
        result.append(candidate)
    return result
