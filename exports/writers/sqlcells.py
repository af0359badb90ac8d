"""Cells rendered in SQL by the same rules as the Python path, for ``writers.copying``.

Each function mirrors one Python rule and says which: numbers (``columns.shortest``,
``columns.whole``, ``cells.fixed``, the decimal comma), texts (``cells.neutralise`` with the
one ``cells.PLAIN_NUMBER`` pattern, JSON strings), times (``rows.times.LocalClock``). Texts
known before the query (labels, channel, subtopic) are rendered by the Python functions
themselves and passed as parameters. NULL is an empty CSV field; JSON cells are NULL only
where JSON writes ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring

from django.db import connections

from exports.models import Message, Publisher
from exports.requests.vocabulary import ColumnId
from exports.writers.cells import FORMULA_PREFIXES, PLAIN_NUMBER, neutralise


@dataclass(frozen=True)
class Style:
    """How cells are written: ``csv`` or ``json``, fixed decimals, decimal separator, and
    whether times may fall where the zone's offset has seconds."""

    kind: str
    decimals: int | None = None
    separator: str = "."
    seconds_offsets: bool = True


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
# The exact integer: float8 to numeric keeps 15 digits only, bigint all of them; floats from
# 2^63 on are multiples of 1024 (2^20 from 2^73 on), which keeps the quotient a bigint.
_EXACT = (
    "CASE WHEN abs({0}) < 9.2e18 THEN abs({0})::bigint::numeric"
    " WHEN abs({0}) < 9.2e21 THEN (abs({0}) / 1024)::bigint::numeric * 1024"
    " ELSE (abs({0}) / 1048576)::bigint::numeric * 1048576 END"
)
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
