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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from json.encoder import encode_basestring
from typing import Any, BinaryIO

from django.conf import settings
from django.db import connections
from django.db.models.expressions import RawSQL

from exports.engine.reading import ordered_messages
from exports.models import Message, Publisher
from exports.requests.vocabulary import ColumnId
from exports.writers.cells import FORMULA_PREFIXES, PLAIN_NUMBER, neutralise

# Rows joined into one write (and one progress report).
BLOCK_ROWS = 5000
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


@dataclass(frozen=True)
class Style:
    """How cells are written: ``csv`` or ``json``, fixed decimals, decimal separator, and
    whether times may fall where the zone's offset has seconds."""

    kind: str
    decimals: int | None = None
    separator: str = "."
    seconds_offsets: bool = True


# ---- cells -----------------------------------------------------------------------------

_SQL_TIME = "to_char({0}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSTZH:TZM')"
# isoformat writes an offset with seconds as +00:49:56; to_char stops at the minutes.
_SQL_OFFSET_SECONDS = (
    " || CASE WHEN mod(EXTRACT(TIMEZONE FROM {0})::int, 60) <> 0 THEN ':' || "
    "lpad(mod(abs(EXTRACT(TIMEZONE FROM {0})::int), 60)::text, 2, '0') ELSE '' END"
)
_SQL_TIME_UTC = "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_SQL_EPOCH = "floor(EXTRACT(EPOCH FROM {0}) * 1000)::bigint"

# The digits of a float8's shortest text (no sign, point or exponent).
_DIGITS = "replace(split_part(ltrim({0}::text, '-'), 'e', 1), '.', '')"
# A whole float from 1e16 on: PostgreSQL's shortest form is sometimes a digit longer than
# Python's (3.0925352787701443e+18 for 3.092535278770144e+18); find the fewest significant
# digits of the exact integer that read back as the same float, as repr does.
_EXACT = "CASE WHEN abs({0}) < 9e18 THEN abs({0})::bigint::numeric ELSE (abs({0}) / 2048)::bigint::numeric * 2048 END"  # noqa: E501
_SQL_BIG_WHOLE = (
    "(SELECT CASE WHEN {0} < 0 THEN '-' ELSE '' END || left(d, 1)"
    " || CASE WHEN length(d) > 1 THEN '.' || substr(d, 2) ELSE '' END || 'e+' || e"
    " FROM (SELECT rtrim(r::text, '0') AS d, length(r::text) - 1 AS e"
    " FROM (SELECT round(n, k - length(n::text)) AS r FROM (SELECT " + _EXACT + " AS n) x,"
    " generate_series(1, 17) AS k WHERE round(n, k - length(n::text))::float8 = abs({0})"
    " ORDER BY k LIMIT 1) y) z)"
)


def number_sql(column: str, *, negative_zero: bool) -> str:
    """SQL for a float8's text as the Python path writes it: ``repr`` without ``.0``
    (``columns.shortest``, ``columns.whole``); NULL for NULL, NaN and ±infinity.

    PostgreSQL's own shortest text (``extra_float_digits = 1``) is Python's below 1e15;
    from 1e15 to 1e16 Python writes positional digits where PostgreSQL uses an exponent,
    and whole numbers from 1e16 need ``_SQL_BIG_WHOLE``. ``negative_zero``: -0.0 as ``-0``
    (JSON's ``shortest``) or ``0`` (CSV writes whole floats as ints).
    """
    digits = _DIGITS.format(column)
    zero = f"{column}::text" if negative_zero else "'0'"
    return (
        f"CASE WHEN abs({column}) < 1e15 THEN CASE WHEN {column} = 0 THEN {zero}"
        f" ELSE {column}::text END"
        f" WHEN abs({column}) < 1e16 THEN CASE WHEN {column} < 0 THEN '-' ELSE '' END"
        f" || rpad(substr({digits}, 1, 16), 16, '0')"
        f" || CASE WHEN length({digits}) > 16 THEN '.' || substr({digits}, 17) ELSE '' END"
        f" WHEN {column} IN ('NaN', 'Infinity', '-Infinity') THEN NULL"
        f" WHEN abs({column}) < 1e22 THEN {_SQL_BIG_WHOLE.format(column)}"
        f" ELSE {column}::text END"
    )


def _numeric(text_sql: str, style: Style) -> str:
    """A number's text (NULL stays NULL) with the request's decimals and separator:
    ``cells.fixed`` rounds the shortest form half away from zero, as ``round(numeric)``."""
    if style.decimals is not None:
        text_sql = f"round(({text_sql})::numeric, {int(style.decimals)})::text"
    if style.kind == "csv" and style.separator == ",":
        text_sql = f"replace({text_sql}, '.', ',')"
    return text_sql


def _text(column: str, style: Style) -> tuple[str, list]:
    """A text column: neutralised (``cells.neutralise``) for CSV, empty as NULL (an empty
    field, as ``csv`` writes ""); a JSON string for JSON."""
    if style.kind == "json":
        return f"to_json({column})::text", []
    sql = (
        f"NULLIF(CASE WHEN ascii({column}) = ANY(%s) AND {column} !~ %s"
        f" THEN '''' || {column} ELSE {column} END, '')"
    )
    return sql, [list(map(ord, FORMULA_PREFIXES)), "^" + PLAIN_NUMBER + "$"]


def _constant(text: str | None, style: Style) -> tuple[str, list]:
    """A text known before the query, rendered by the Python path's own function."""
    if style.kind == "json":
        return "%s::text", [encode_basestring(text or "")]
    return "%s::text", [neutralise(text) or None]


def _time(column: str, style: Style) -> str:
    sql = _SQL_TIME.format(column)
    if style.seconds_offsets:
        sql += _SQL_OFFSET_SECONDS.format(column)
    return sql


def cell_sql(column_id: str, item, style: Style, names) -> tuple[str, list]:
    """SQL (and its parameters) giving one column's cell text; NULL is an empty CSV field
    (JSON cells are wrapped in ``_json_value``)."""
    table = connections[Message.objects.all().db].ops.quote_name(Message._meta.db_table)

    def field(name: str) -> str:
        return f'{table}."{name}"'

    if column_id in (ColumnId.TIME, ColumnId.CREATED):
        sql = _time(field(column_id), style)
        return (f"'\"' || {sql} || '\"'" if style.kind == "json" else sql), []
    if column_id == ColumnId.TIME_UTC:
        sql = _SQL_TIME_UTC.format(field("time"))
        return (f"'\"' || {sql} || '\"'" if style.kind == "json" else sql), []
    if column_id == ColumnId.EPOCH:
        return _numeric(f"{_SQL_EPOCH.format(field('time'))}::text", style), []
    if column_id == ColumnId.NAME:
        labels = dict(zip(item.metric_names, item.metric_labels, strict=True))  # last wins
        whens, params = [], []
        for name, label in labels.items():
            sql, values = _constant(label, style)
            whens.append(f"WHEN %s THEN {sql}")
            params += [name, *values]
        return f"CASE {field('name')} {' '.join(whens)} END", params
    if column_id in (ColumnId.PUBLISHER, ColumnId.UNIT):
        return _text(field(column_id), style)
    if column_id == ColumnId.PUBLISHER_NAME:
        publishers = connections[Message.objects.all().db].ops.quote_name(Publisher._meta.db_table)
        named = (
            f"COALESCE((SELECT NULLIF(p.name, '') FROM {publishers} p"
            f" WHERE p.publisher_id = {field('publisher')}), {field('publisher')})"
        )
        return _text(named, style)
    if column_id == ColumnId.VALUE:
        return _value(field, style)
    if column_id == ColumnId.CHANNEL:
        return _constant(item.channel_id, style)
    if column_id == ColumnId.CHANNEL_NAME:
        return _constant(names.channel(item.channel_id), style)
    return _constant(item.subtopic, style)  # subtopic


def _value(field, style: Style) -> tuple[str, list]:
    """The first of value, string_value, bool_value, data_value the message has
    (``reading._other_value``), each written as its type is."""
    number = _numeric(number_sql(field("value"), negative_zero=style.kind == "json"), style)
    string, string_params = _text(field("string_value"), style)
    data, data_params = _text(field("data_value"), style)
    sql = (
        f"CASE WHEN {field('value')} IS NOT NULL THEN {number}"
        f" WHEN {field('string_value')} IS NOT NULL THEN {string}"
        f" WHEN {field('bool_value')} IS NOT NULL THEN"
        f" CASE WHEN {field('bool_value')} THEN 'true' ELSE 'false' END"
        f" ELSE {data} END"
    )
    return sql, string_params + data_params


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
    with _copy_cursor(plan.tz.key) as (cursor, live):
        for sql, params in queries:
            if keys is None:
                statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER %s)"
                params = (*params, writer.delimiter)
            else:
                statement = f"COPY ({sql}) TO STDOUT"
            pending = 0
            with cursor.copy(statement, params) as copy:
                for count, block in _blocks(copy):
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
def _copy_cursor(zone: str) -> Iterator[tuple[Any, bool]]:
    """A cursor for ``COPY`` with the session set for it (zone, shortest floats, no JIT:
    compiling these expressions costs more than it saves), and whether progress may be
    reported while it copies.

    Its own connection, so the job's progress can be saved on Django's meanwhile (a
    connection in ``COPY`` takes no other query); inside a transaction, Django's own
    connection (the rows may be the transaction's own, unseen by another connection), with
    the settings put back afterwards and progress reported after each ``COPY``.
    """
    connection = connections[Message.objects.all().db]
    if not connection.in_atomic_block:
        raw = connection.get_new_connection(connection.get_connection_params())
        try:
            with raw.cursor() as cursor:
                cursor.execute(_SET_SESSION, [zone, "1", "off"])
                yield cursor, True
        finally:
            raw.close()
        return
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute(_GET_SESSION)
        saved = cursor.fetchone()
        cursor.execute(_SET_SESSION, [zone, "1", "off"])
        try:
            yield cursor, False
        finally:
            cursor.execute(_SET_SESSION, list(saved))


def _blocks(copy) -> Iterator[tuple[int, bytes]]:
    """The rows of a ``COPY`` (one message each) joined ``BLOCK_ROWS`` at a time."""
    rows = iter(copy)
    while block := list(islice(rows, BLOCK_ROWS)):
        yield len(block), b"".join(block)


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
