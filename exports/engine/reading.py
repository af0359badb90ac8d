"""Reading an item's messages: raw points streamed in time order, or per-cell partial aggregates.

Nothing here loads a whole result: rows come through Django's chunked cursor (a server-side
cursor on PostgreSQL) in chunks of ``CHUNK_SIZE``. The SQL is the ORM's, compiled once; rows
are read from the cursor without the ORM's per-value converters, which cost a fifth of a 1M-row
export: times already leave the database as integers (``sql.EpochMicros``), and the only value
that needs a conversion (SQLite's 0/1 booleans) is converted here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

from django.db import connections, models
from django.db.models import Avg, Case, Count, F, Max, Min, Value, When, Window

from exports.engine.sql import Cell, EpochMicros, epoch_micros_sql
from exports.models import Message
from exports.scheduling.windows import Window as TimeWindow

# Rows fetched at a time. Small on purpose: a fetched chunk is that many new tuples, and more
# than the collector's first threshold (700 objects) alive at once makes it run collections,
# full ones included, that walk all of Django's objects; 5,000-row chunks spent a fifth of a
# 1M-row export (SQLite and PostgreSQL alike) in the garbage collector, 500-row ones almost
# nothing. The writers re-cut the chunks to their own size (``writers.base.column_chunks``).
CHUNK_SIZE = 500


class Point(NamedTuple):
    """One output point of one series, before shaping.

    ``time`` and ``created`` are microseconds since the Unix epoch (UTC); for decimated points
    ``time`` is the bucket start and ``created`` the latest ``created`` in the bucket.
    ``target`` indexes the item's metric names (and labels).
    """

    time: int
    target: int
    publisher: str
    value: float | str | bool | None
    unit: str
    created: int | None


class Partial(NamedTuple):
    """Aggregates of one series over one grid cell, as the database returns them."""

    name: str
    publisher: str
    cell: int
    count: int
    total: float
    low: float
    high: float
    unit: str
    created: int | None
    m2: float | None  # sum of squared deviations from the cell mean (for stddev/variance)


class SeriesStats(NamedTuple):
    name: str
    publisher: str
    count: int
    first: datetime
    last: datetime


def item_messages(item, window: TimeWindow) -> models.QuerySet:
    """The messages of ``item`` (channel, subtopic, metric names, publisher) in ``window``."""
    messages = Message.objects.filter(
        channel=item.channel_id,
        subtopic=item.subtopic,
        name__in=item.metric_names,
        time__lt=window.end,
    )
    if window.start is not None:
        messages = messages.filter(time__gte=window.start)
    if item.publisher:
        messages = messages.filter(publisher=item.publisher)
    return messages


def value_types(item, window: TimeWindow) -> frozenset[str]:
    """Which non-numeric values ("text", "bool") the item's points in ``window`` may hold.

    Decimated and transformed points are numbers only. Otherwise two ``EXISTS`` queries over
    the messages without a numeric value: "text" for a string or data value, "bool" for a
    boolean one (the order ``read_columns`` picks a message's value in).
    """
    if item.ds or item.transform:
        return frozenset()
    others = item_messages(item, window).filter(value__isnull=True)
    found = set()
    if others.filter(
        models.Q(string_value__isnull=False)
        | models.Q(bool_value__isnull=True, data_value__isnull=False)
    ).exists():
        found.add("text")
    if others.filter(string_value__isnull=True, bool_value__isnull=False).exists():
        found.add("bool")
    return frozenset(found)


def metrics_exist(item) -> bool:
    """Whether any message of ``item``'s metrics exists at all, at any time."""
    messages = Message.objects.filter(
        channel=item.channel_id, subtopic=item.subtopic, name__in=item.metric_names
    )
    if item.publisher:
        messages = messages.filter(publisher=item.publisher)
    return messages.exists()


# The point fields a reader may leave out (as None) when the output does not use them.
OPTIONAL_FIELDS = frozenset({"publisher", "unit", "created"})


def read_points(
    item, window: TimeWindow, *, fields: Collection[str] = OPTIONAL_FIELDS
) -> Iterator[tuple]:
    """Every message of ``item`` in ``window`` as a point (a tuple in ``Point``'s field
    order), in output order; see ``read_columns``."""
    return chain.from_iterable(map(_rows_of, read_columns(item, window, fields=fields)))


def _rows_of(columns: list[Sequence]) -> Iterator[tuple]:
    return zip(*columns, strict=True)


def read_columns(
    item, window: TimeWindow, *, fields: Collection[str] = OPTIONAL_FIELDS
) -> Iterator[list[Sequence]]:
    """The points of ``item`` in ``window`` a chunk at a time, as columns in ``Point``'s
    field order (time, target, publisher, value, unit, created).

    Output order is time, then the target's position in the item, then publisher, then id, so
    that a rerun gives the same file. ``value`` is the first of value, string_value,
    bool_value, data_value that the message has. Of ``OPTIONAL_FIELDS``, only those in
    ``fields`` are read; the others are None (not reading a text column saves a Python
    string per row).
    """
    names = item.metric_names
    target_of = {name: index for index, name in enumerate(names)}
    # Columns not read are not selected at all: even a NULL literal costs SQLite a value per row.
    optional = [field for field in ("publisher", "unit", "created") if field in fields]
    selected = ["time_us", "name", "value", "string_value", "bool_value", "data_value"]
    selected += ["created_us" if field == "created" else field for field in optional]
    messages = ordered_messages(item, window).annotate(time_us=EpochMicros("time"))
    if "created" in optional:
        messages = messages.annotate(created_us=EpochMicros("created"))
    rows = messages.values_list(*selected)
    position = {field: 6 + index for index, field in enumerate(optional)}
    target = target_of.__getitem__

    def columns_of(chunk: list[tuple]) -> list[Sequence]:
        # Column-wise, with C-level map/itemgetter: no Python bytecode runs per row.
        def column(index: int) -> list:
            return list(map(itemgetter(index), chunk))

        values = column(2)
        if None in values:  # text, boolean or data messages: the per-row fallback
            values = [
                value if value is not None else _other_value(string, boolean, blob)
                for value, string, boolean, blob in zip(
                    values, column(3), column(4), column(5), strict=True
                )
            ]
        unread = [None] * len(chunk)
        publishers, units, created = (
            column(position[field]) if field in position else unread
            for field in ("publisher", "unit", "created")
        )
        return [column(0), list(map(target, column(1))), publishers, values, units, created]

    return map(columns_of, raw_chunks(rows))


def ordered_messages(item, window: TimeWindow) -> models.QuerySet:
    """``item_messages`` in output order: time, then the target's position in the item (its
    first one, for a name listed twice), then publisher, then id, so a rerun gives the same
    file."""
    names = item.metric_names
    ordering: list = ["time"]
    if len(names) > 1:
        ordering.append(
            Case(
                *(When(name=name, then=Value(index)) for index, name in enumerate(names)),
                output_field=models.IntegerField(),
            )
        )
    ordering += ["publisher", "id"]
    return item_messages(item, window).order_by(*ordering)


def _other_value(string: str | None, boolean: bool | int | None, data: str | None):
    """The value of a message without a numeric one: text, boolean (SQLite says 0/1), data."""
    if string is not None:
        return string
    if boolean is not None:
        return bool(boolean)
    return data


def raw_chunks(queryset: models.QuerySet) -> Iterator[list[tuple]]:
    """The rows of ``queryset`` (a ``values_list``) as the driver returns them, in chunks.

    A server-side cursor on PostgreSQL (unless the database disables them), so memory stays
    flat; no ORM converters run, so only use it for columns whose driver values are final.
    """
    sql, params = queryset.query.sql_with_params()
    return sql_chunks(queryset.db, sql, params)


def sql_chunks(database: str, sql: str, params) -> Iterator[list[tuple]]:
    """The rows of ``sql`` in chunks of ``CHUNK_SIZE``, through a server-side cursor on
    PostgreSQL (unless the database disables them)."""
    connection = connections[database]
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        cursor = connection.cursor()
    else:
        cursor = connection.chunked_cursor()
    with cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK_SIZE):
            yield rows


def read_partials(
    item,
    window: TimeWindow,
    cell_seconds: int,
    *,
    with_m2: bool,
    with_created: bool = True,
) -> Iterator[Partial]:
    """Numeric messages of ``item`` aggregated per series and ``cell_seconds``-wide grid cell.

    Rows come ordered by cell, name, publisher. Non-numeric messages (no ``value``) are left
    out. ``m2`` is computed only ``with_m2`` (it needs a window function: a second sort).
    """
    numeric = (
        item_messages(item, window)
        .filter(value__isnull=False)
        .annotate(cell=Cell("time", cell_seconds))
    )
    fields = ["name", "publisher", "cell", "value", "unit", "created"]
    if with_m2:
        # Deviations from each cell's own mean keep the sum of squares exact enough even for
        # large values with small spread (sum(x²) - sum(x)²/n would cancel catastrophically).
        numeric = numeric.annotate(
            mean=Window(Avg("value"), partition_by=[F("name"), F("publisher"), F("cell")])
        )
        fields.append("mean")
    inner_sql, params = numeric.order_by().values_list(*fields).query.sql_with_params()
    connection = connections[numeric.db]
    created = epoch_micros_sql(connection.vendor, 'MAX("created")') if with_created else "NULL"
    m2 = 'SUM(("value" - "mean") * ("value" - "mean"))' if with_m2 else "NULL"
    sql = (
        'SELECT "name", "publisher", "cell", COUNT("value"), SUM("value"), MIN("value"), '
        f'MAX("value"), MAX("unit"), {created}, {m2} FROM ({inner_sql}) cells '
        'GROUP BY "cell", "name", "publisher" ORDER BY "cell", "name", "publisher"'
    )
    for rows in sql_chunks(numeric.db, sql, params):
        for row in rows:
            yield Partial(*row)


def series_stats(item, window: TimeWindow, *, numeric_only: bool = False) -> list[SeriesStats]:
    """Per (name, publisher) in ``window``: how many messages, the first and last time."""
    messages = item_messages(item, window)
    if numeric_only:
        messages = messages.filter(value__isnull=False)
    rows = (
        messages.order_by()
        .values_list("name", "publisher")
        .annotate(count=Count("id"), first=Min("time"), last=Max("time"))
        .order_by("name", "publisher")
    )
    return [SeriesStats(*row) for row in rows]


def first_time(item, window: TimeWindow, *, numeric_only: bool = False) -> datetime | None:
    """The earliest message time of ``item`` in ``window`` (None when there is none)."""
    messages = item_messages(item, window)
    if numeric_only:
        messages = messages.filter(value__isnull=False)
    return messages.aggregate(first=Min("time"))["first"]
