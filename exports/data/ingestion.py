"""Storing messages: the one function every ingest path calls, so the catalog stays right."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

from django.db import connections, router, transaction
from django.utils import timezone

from exports.data.catalog import record_messages, record_points
from exports.data.senml import NormalisedRecord, SenMLError
from exports.models import Message
from exports.requests.validation import storable_text_error

RECORD_FIELDS = NormalisedRecord._fields
ORIGIN_FIELDS = ("channel", "subtopic", "publisher", "protocol")


def origin_problems(origin: dict[str, str]) -> dict[str, str]:
    """What is wrong with an origin (channel, subtopic, publisher, protocol), by key.

    Empty when the message table can hold it: channel and publisher are required, and no
    value may be longer than its column or hold text no database can (a NUL, a surrogate).
    """
    problems = {}
    for key in ORIGIN_FIELDS:
        limit = Message._meta.get_field(key).max_length
        if len(origin.get(key, "")) > limit:
            problems[key] = f"is longer than {limit} characters."
        elif key in ("channel", "publisher") and not origin.get(key):
            problems[key] = "cannot be empty."
        elif reason := storable_text_error(origin.get(key, "")):
            # Say, a command-line argument that was not UTF-8 (it arrives holding surrogates).
            problems[key] = reason
    return problems


@functools.cache
def _record_limits() -> tuple[int, int]:
    """The longest name and unit the message table holds."""
    return tuple(Message._meta.get_field(key).max_length for key in ("name", "unit"))


def checked_records(records: Iterable[NormalisedRecord]) -> Iterator[NormalisedRecord]:
    """The records, raising ``SenMLError`` (with the index) at any the table cannot hold."""
    name_limit, unit_limit = _record_limits()
    for index, record in enumerate(records):
        if len(record.name) > name_limit or len(record.unit) > unit_limit:
            for key, limit in (("name", name_limit), ("unit", unit_limit)):
                if len(getattr(record, key)) > limit:
                    raise SenMLError(index, f"the {key} is longer than {limit} characters.")
        yield record


def records_fit(records: Iterable[NormalisedRecord]) -> bool:
    """Whether the table holds every record as it is: what :func:`checked_records` lets
    through without raising (a yes or no, for a caller that explains a no its own way)."""
    name_limit, unit_limit = _record_limits()
    for record in records:
        if len(record.name) > name_limit or len(record.unit) > unit_limit:
            return False
    return True


def store_messages(messages: list[Message]) -> None:
    """Insert a batch of messages and fold it into the series catalog, atomically."""
    with transaction.atomic():
        Message.objects.bulk_create(messages)
        record_messages(messages)


def store_records(
    records: Iterable[NormalisedRecord],
    origin: dict[str, str],
    *,
    batch_size: int = 5000,
    created: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Store resolved SenML records as messages of ``origin`` (channel, subtopic, publisher,
    protocol), all or nothing; returns how many were stored.

    ``on_batch`` is called with the running total after each batch. Any exception raised
    while iterating ``records`` rolls everything back.

    Rows go in as plain values, a batch at a time: a binary ``COPY`` on PostgreSQL, one
    ``executemany`` INSERT elsewhere. Building a model instance per record and letting
    ``bulk_create`` prepare every field costs four times the insert itself (1M records:
    minutes instead of seconds). Each batch also updates the series catalog, in the same
    transaction, from a tally of the batch's records (:func:`record_points`).
    """
    created = created or timezone.now()
    database = router.db_for_write(Message)
    connection = connections[database]
    insert = _inserter(connection, [*origin, *RECORD_FIELDS, "created"])
    adapt_time = _time_adapter(connection)
    fixed = tuple(origin.values())
    stamp = adapt_time(created)
    stored = 0
    with transaction.atomic(using=database):
        for batch in _batches(records, batch_size):
            # The fields in RECORD_FIELDS order, the time adapted for the database.
            rows = [
                (
                    *fixed,
                    name,
                    unit,
                    adapt_time(time),
                    value,
                    text,
                    flag,
                    data,
                    total,
                    update,
                    stamp,
                )
                for name, unit, time, value, text, flag, data, total, update in batch
            ]
            insert(rows)
            record_points(origin["channel"], origin["subtopic"], origin["publisher"], batch)
            stored += len(batch)
            if on_batch is not None:
                on_batch(stored)
    return stored


def _time_adapter(connection) -> Callable[[datetime], object]:
    """How a datetime goes to the database: Django's own adapter, or the same value faster.

    On SQLite in UTC: the same text (``str`` of the naive UTC time), three times faster;
    records of one reading share one datetime (see ``Resolver``), so the last text is reused
    for it. On PostgreSQL: the datetime, a naive one in the connection's time zone (where the
    server puts it when it comes as text; the binary COPY needs the zone said).
    """
    if connection.vendor == "postgresql":
        zone = connection.timezone

        def aware(value: datetime) -> datetime:
            return value if value.tzinfo is not None else value.replace(tzinfo=zone)

        return aware
    if connection.vendor != "sqlite" or connection.timezone_name != "UTC":
        return connection.ops.adapt_datetimefield_value
    last: list = [None, ""]

    def adapt(value: datetime) -> str:
        if value is last[0]:
            return last[1]
        if value.tzinfo is UTC:
            text = str(value)[:-6]  # without its "+00:00"
        else:
            text = str(value.astimezone(UTC).replace(tzinfo=None))
        last[0], last[1] = value, text
        return text

    return adapt


def _inserter(connection, names: list[str]) -> Callable[[list[tuple]], None]:
    """A function inserting a batch of message rows, values in the order of field ``names``."""
    quote = connection.ops.quote_name
    fields = [Message._meta.get_field(name) for name in names]
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(Message._meta.db_table)
    if connection.vendor == "postgresql":
        # A binary COPY streams the batch in one round trip and sends numbers and times as
        # the server stores them, so neither side formats or parses text (a fifth of the
        # client's time, in text). It needs each column's type, read from the catalog.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, atttypid FROM pg_attribute"
                " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            types = dict(cursor.fetchall())
        oids = [types[field.column] for field in fields]
        copy_sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"

        def copy_rows(rows: list[tuple]) -> None:
            # Django's error classes for the driver's, as for a query through Django.
            with (
                connection.wrap_database_errors,
                connection.cursor() as cursor,
                cursor.cursor.copy(copy_sql) as copy,
            ):
                copy.set_types(oids)
                for row in rows:
                    copy.write_row(row)

        return copy_rows
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))})"

    def insert_rows(rows: list[tuple]) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    return insert_rows


def _batches(records: Iterable[NormalisedRecord], size: int) -> Iterator[list[NormalisedRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
