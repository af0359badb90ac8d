"""The fast path of CSV and JSON on PostgreSQL: the database formats the rows (``COPY``).

Formatting a million rows in Python costs several times what the database takes to send
them (issue 21: ``COPY`` 1.2 s, a bare cursor with ``csv.writer`` 6 s), so a long table is
written by ``COPY (SELECT …) TO STDOUT``: the select list renders every cell as text by the
same rules as the Python path, in SQL (``cell_sql``): times with ``to_char`` in the request's
zone, numbers in their shortest form (``number_sql``), formula neutralisation with the one
``cells.PLAIN_NUMBER`` pattern, labels and other texts known before the query rendered by the
Python functions themselves and passed as parameters. PostgreSQL's CSV quoting is Python's
``csv`` QUOTE_MINIMAL (a field with the delimiter, a quote or a line break is quoted, quotes
doubled); only its record end differs (``\\n``), which ``_csv_blocks`` turns into ``\\r\\n``
outside quoted fields. JSON rows come as one text column per row, one object per line.

``fast_path`` is the one rule saying when the path is taken and, when not, why; everything
else goes through today's rows. The tests export the same requests both ways and compare
hashes (``tests/test_fastpath.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models.expressions import RawSQL
from psycopg import ClientCursor, OperationalError
from psycopg.pq import ExecStatus, TransactionStatus

from exports.engine.reading import ordered_messages
from exports.models import Message
from exports.writers.sqlcells import Style, cell_sql

# Zones had offsets with seconds (local mean time) until 1972 at the latest (Monrovia);
# windows starting later skip the per-row check for them.
_WHOLE_MINUTE_OFFSETS_SINCE = 1980


_SESSION = ("TimeZone", "extra_float_digits", "jit")
_GET_SESSION = "SELECT " + ", ".join(f"current_setting('{name}')" for name in _SESSION)
_SET_SESSION = "SELECT " + ", ".join(f"set_config('{name}', %s, false)" for name in _SESSION)


@dataclass(frozen=True)
class Verdict:
    """Whether a table takes the fast path; ``reason`` says why not."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def fast_path(table, writer) -> Verdict:
    """The one rule: may ``writer`` (CSV or JSON) have the database format ``table``?

    Yes for a long table (``engine.tables.PlannedChunks``) of raw points on PostgreSQL.
    No, with the reason, for: the setting ``EXPORT_FAST_PATH = False``; another format; a
    wide table (rows merged by timestamp in Python); SQLite; a decimated or transformed
    item (computed in Python); a one-column CSV (``csv`` writes a lone empty field as ``""``,
    PostgreSQL leaves it empty); a CSV delimiter of more than one byte (``COPY`` takes one).
    """
    if not getattr(settings, "EXPORT_FAST_PATH", True):
        return Verdict(False, "turned off (settings.EXPORT_FAST_PATH)")
    if writer.extension not in ("csv", "json"):
        return Verdict(False, f"{writer.extension} is written in Python")
    plan = getattr(table.rows, "plan", None)
    if plan is None:
        return Verdict(False, "a wide table (rows are merged by timestamp in Python)")
    if not plan.plans:
        return Verdict(False, "no item")
    vendor = connections[Message.objects.all().db].vendor
    if vendor != "postgresql":
        return Verdict(False, f"{vendor}: COPY needs PostgreSQL")
    for item, _ in plan.plans:
        if item.ds:
            return Verdict(False, "a decimated item (aggregated in Python)")
        if item.transform:
            return Verdict(False, "a transformed item (computed in Python)")
    if writer.extension == "csv":
        if len(plan.columns) < 2:
            return Verdict(False, 'one column (csv writes a lone empty field as "")')
        if len(writer.delimiter.encode()) != 1:
            return Verdict(False, "a delimiter of more than one byte")
    return Verdict(True)


def row_query(item, window, columns, style: Style, names, keys=None) -> tuple[str, list]:
    """The ``SELECT`` of one item's rows in output order: one text column per output column
    (CSV), or one JSON object per row (``keys``: the encoded object keys)."""
    cells = [cell_sql(column.id, item, style, names) for column in columns]
    messages = ordered_messages(item, window)
    if keys is None:
        annotations = {f"c{i}": RawSQL(sql, params) for i, (sql, params) in enumerate(cells)}
    else:
        parts, params = ["'{'"], []
        for index, (key, (sql, values)) in enumerate(zip(keys, cells, strict=True)):
            separator = ", " if index else ""
            parts.append(f"%s || COALESCE({sql}, 'null')")
            params += [separator + key, *values]
        parts.append("'}'")
        annotations = {"c0": RawSQL(" || ".join(parts), params)}
    query = messages.annotate(**annotations).values_list(*annotations)
    return query.query.sql_with_params()


# ---- streaming -------------------------------------------------------------------------


def copy_table(plan, writer, sink: BinaryIO, counter, *, keys=None) -> None:
    """Write the rows of ``plan`` (``engine.tables.LongPlan``) to ``sink`` as the CSV rows
    (``keys`` None) or the JSON objects ``[`` … ``]`` of ``writer``, counting on ``counter``."""
    from exports.engine.names import CatalogNames

    style = Style(
        "csv" if keys is None else "json",
        writer.decimals,
        writer.decimal_separator,
        seconds_offsets=any(
            window.start is None or window.start.year < _WHOLE_MINUTE_OFFSETS_SINCE
            for _, window in plan.plans
        ),
    )
    names = CatalogNames()
    queries = [
        row_query(item, window, plan.columns, style, names, keys) for item, window in plan.plans
    ]
    if keys is not None:
        sink.write(b"[")
    separator = b"\n"
    with _copy_session(plan.tz.key) as (cursor, live):
        for sql, params in queries:
            if keys is None:
                statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER %s)"
                params = (*params, writer.delimiter)
            else:
                statement = f"COPY ({sql}) TO STDOUT"
            pending = 0
            statement = cursor.mogrify(statement, params)
            for count, block in _copy_out(cursor.connection.pgconn, statement, writer.chunk_rows):
                if keys is None:
                    sink.write(_csv_block(block))
                else:
                    sink.write(separator + _json_block(block))
                    separator = b",\n"
                if live:
                    counter.add(count)
                else:
                    pending += count
            counter.add(pending)
    if keys is not None:
        sink.write(b"]\n" if separator == b"\n" else b"\n]\n")


@contextmanager
def _copy_session(zone: str) -> Iterator[tuple[Any, bool]]:
    """A client-side cursor for ``COPY`` with the session set for it (zone, shortest floats, no JIT:
    compiling these expressions costs more than it saves), and whether progress may be
    reported while it copies.

    Its own connection, so the job's progress can be saved on Django's meanwhile (a
    connection in ``COPY`` takes no other query); inside a transaction, Django's own
    connection (the rows may be the transaction's own, unseen by another connection), with
    the settings put back afterwards and progress reported after each ``COPY``.
    """
    connection = connections[Message.objects.all().db]
    if not connection.in_atomic_block:
        raw, cursor = _own_connection(connection, zone)
        try:
            yield cursor, True
        except BaseException:
            raw.close()
            raise
        cursor.close()
        _put_back(connection, raw)
        return
    connection.ensure_connection()
    with ClientCursor(connection.connection) as cursor:
        cursor.execute(_GET_SESSION)
        saved = cursor.fetchone()
        cursor.execute(_SET_SESSION, [zone, "1", "off"])
        try:
            yield cursor, False
        finally:
            cursor.execute(_SET_SESSION, list(saved))


# The COPY connection a work horse keeps for its next job, by process and database alias.
_kept: dict[tuple[int, str], Any] = {}
_keeping = False


def keep_connections() -> None:
    """Keep this process's COPY connection open for its next export (a worker's horse, which
    runs short jobs one after another). Opening one cost a PostgreSQL backend's start-up per
    export, about as much as a small export's queries (issue 21). The connection is tied to
    this process (a forked child opens its own) and dies with it."""
    global _keeping
    _keeping = True


def close_kept_connections() -> None:
    """Close the COPY connections this process keeps (before its database is dropped)."""
    for key in [key for key in _kept if key[0] == os.getpid()]:
        _kept.pop(key).close()


def _own_connection(connection, zone: str) -> tuple[Any, ClientCursor]:
    """A connection of the export's own for ``COPY`` and its cursor, the session set: the one
    kept from the previous export when it still answers, else a new one (autocommit: no
    transaction stays open between two exports)."""
    raw = _kept.pop((os.getpid(), connection.alias), None)
    if raw is not None:
        try:
            cursor = ClientCursor(raw)
            cursor.execute(_SET_SESSION, [zone, "1", "off"])
            return raw, cursor
        except OperationalError:  # the server went away meanwhile: a new one
            raw.close()
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = True
        cursor = ClientCursor(raw)
        cursor.execute(_SET_SESSION, [zone, "1", "off"])
    except BaseException:
        raw.close()
        raise
    return raw, cursor


def _put_back(connection, raw) -> None:
    """Keep ``raw`` for the next export when this process keeps them and it is idle; else
    close it."""
    idle = not raw.closed and raw.info.transaction_status == TransactionStatus.IDLE
    if _keeping and idle:
        _kept[(os.getpid(), connection.alias)] = raw
    else:
        raw.close()


def _copy_out(pgconn, statement: str, size: int) -> Iterator[tuple[int, bytes]]:
    """Run ``COPY … TO STDOUT`` and yield its rows ``size`` at a time, joined (one write and
    one progress report each, as the writer's ``chunk_rows`` on today's path).

    Straight from libpq: psycopg's ``Copy`` runs several Python generators per row, which
    cost more than the database's formatting; here a row is one ``PQgetCopyData`` call
    (one message per row)."""
    nonblocking = pgconn.nonblocking
    pgconn.nonblocking = 0  # blocking libpq calls: no wait loop of ours
    copying = finished = False
    try:
        pgconn.send_query(statement.encode())
        result = pgconn.get_result()
        if result.status != ExecStatus.COPY_OUT:
            _drain(pgconn)
            raise _error(result, pgconn)
        copying = True
        # A plain loop, each row appended to a buffer at once: ``iter(partial(...))`` with
        # ``islice``, or a list of the rows, costs two to three times as much per row here
        # (every row held keeps libpq's buffer of it).
        get = pgconn.get_copy_data
        block = bytearray()
        rows = 0
        while True:
            length, data = get(0)
            if length < 0:
                break
            block += data
            rows += 1
            if rows == size:
                yield rows, bytes(block)
                block.clear()
                rows = 0
        if rows:
            yield rows, bytes(block)
        finished = True
        result = pgconn.get_result()
        _drain(pgconn)
        if result.status != ExecStatus.COMMAND_OK:
            raise _error(result, pgconn)
    finally:
        if copying and not finished:
            while pgconn.get_copy_data(0)[0] >= 0:
                pass  # abandoned: read the rest so the connection stays usable
            _drain(pgconn)
        pgconn.nonblocking = nonblocking


def _drain(pgconn) -> None:
    while pgconn.get_result() is not None:
        pass


def _error(result, pgconn) -> Exception:
    message = (result.error_message or pgconn.error_message).decode(errors="replace")
    return DatabaseError(message.strip() or "COPY failed")


def _csv_block(block: bytes) -> bytes:
    """Whole CSV records with ``\\r\\n`` record ends, as ``csv.writer`` writes them.

    A record ends with the ``\\n`` that is outside quotes; a quoted field keeps its own line
    breaks as they are. Records are whole, so quotes pair up within the block: the parts
    between quotes at even positions are outside any field's quotes (``""`` inside a field
    opens and closes at once)."""
    if b'"' not in block:
        return block.replace(b"\n", b"\r\n")
    parts = block.split(b'"')
    parts[::2] = [part.replace(b"\n", b"\r\n") for part in parts[::2]]
    return b'"'.join(parts)


def _json_block(block: bytes) -> bytes:
    """JSON objects, one a line, joined by ``,\\n`` (no trailing newline).

    ``COPY``'s text format doubles backslashes (a JSON text holds no other character it
    escapes: its strings escape control characters themselves)."""
    if b"\\" in block:
        block = block.replace(b"\\\\", b"\\")
    return block[:-1].replace(b"\n", b",\n")
