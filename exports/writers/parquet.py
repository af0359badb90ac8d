"""Parquet (pyarrow): typed columns for analysis tools (pandas, DuckDB, Spark, Polars).

One column per request column, in the request's order and named by its label (a repeated
label gets " (2)", " (3)", ...). Types: times are ``timestamp[us]`` in the request's timezone
(the zone travels in the schema; readers show local times); values are ``float64``; a value
column whose messages may also hold text or booleans gets a ``<label> (text)`` (``string``)
and/or a ``<label> (bool)`` (``bool``) column right after it, each cell in exactly one of them
(the others null); every other column is ``string``. Non-finite numbers (NaN, ±inf) are
null, as they are empty cells in CSV. ``format.decimals`` does not apply: numbers stay numbers.

The schema is fixed before the first row (Parquet has one schema per file): the engine says
what each column holds (``Table.kinds``) and which non-numeric values an item may have
(``Table.value_types``, asked only here). Rows are written a row group of ``chunk_rows`` at a
time, so memory stays flat. Several tables (``expanded``, or long and wide items mixed) give a
zip with one ``.parquet`` file per table.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, BinaryIO

from exports.rows.tables import ReportInfo, Table
from exports.rows.times import LocalTimes, to_micros
from exports.writers.base import (
    Progress,
    ProgressCallback,
    Writer,
    WriteResult,
    checked_tables,
    column_chunks,
)
from exports.writers.bundle import ZIP_CONTENT_TYPE
from exports.writers.cells import plain
from exports.writers.columns import are_finite
from exports.writers.lazy import LazyModule
from exports.writers.names import FILE_STEM_LIMIT, UniqueNames, file_stem

# Imported on first use: pyarrow and numpy take about a second to import, which every
# CSV or JSON export (``manage.py exportnow``, a worker's first job) would pay otherwise.
pa = LazyModule("pyarrow")
pq = LazyModule("pyarrow.parquet")

TIME, VALUE, TEXT, INTEGER = "time", "value", "text", "integer"
_NONE = type(None)
_NUMBERS = {float, int, _NONE}


def unique_labels(labels: Iterable[Any]) -> list[str]:
    """Labels as column names, a repeated one suffixed " (2)", " (3)", ... (as JSON keys)."""
    seen: set[str] = set()
    names = []
    for label in map(str, labels):
        name, counter = label, 1
        while name in seen:
            counter += 1
            name = f"{label} ({counter})"
        seen.add(name)
        names.append(name)
    return names


def guessed_kinds(table: Table) -> list[str]:
    """Column kinds for a table built without them: a header named like a time column holds
    times, ``value`` values, anything else text."""
    return [
        TIME if str(label) in ("time", "created") else VALUE if str(label) == "value" else TEXT
        for label in table.headers
    ]


class _Plan:
    """How one table becomes Arrow columns: the schema and one converter per column."""

    def __init__(self, table: Table, zone: str) -> None:
        kinds = table.kinds or guessed_kinds(table)
        if len(kinds) != len(table.headers):
            raise ValueError(f"{len(kinds)} column kinds for {len(table.headers)} headers")
        extra = table.value_types() if table.value_types else frozenset({TEXT, "bool"})
        time_type = pa.timestamp("us", tz=zone)
        fields: list[tuple[str, pa.DataType]] = []
        converters: list[Callable[[Sequence], list[pa.Array]]] = []
        for kind, label in zip(kinds, table.headers, strict=True):
            if kind == TIME:
                fields.append((label, time_type))
                converters.append(lambda column, kind=time_type: [times_array(column, kind)])
            elif kind == VALUE:
                fields.append((label, pa.float64()))
                with_text, with_bool = TEXT in extra, "bool" in extra
                if with_text:
                    fields.append((f"{label} (text)", pa.string()))
                if with_bool:
                    fields.append((f"{label} (bool)", pa.bool_()))
                converters.append(
                    lambda column, t=with_text, b=with_bool: value_arrays(column, t, b)
                )
            elif kind == INTEGER:  # epoch milliseconds
                fields.append((label, pa.int64()))
                converters.append(lambda column: [pa.array(column, pa.int64())])
            else:
                fields.append((label, pa.string()))
                converters.append(lambda column: [text_array(column)])
        names = unique_labels(name for name, _ in fields)
        self.schema = pa.schema(
            [pa.field(name, kind) for name, (_, kind) in zip(names, fields, strict=True)]
        )
        self.converters = converters

    def batch(self, columns: Sequence[Sequence]) -> pa.RecordBatch:
        arrays = [
            array
            for convert, column in zip(self.converters, columns, strict=True)
            for array in convert(column)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def times_array(column: Sequence, kind: pa.DataType) -> pa.Array:
    """A column of times (``LocalTimes`` or aware datetimes, None allowed) as timestamps."""
    if type(column) is LocalTimes:
        return pa.array(column.micros, kind)
    micros = []
    for value in column:
        if value is None:
            micros.append(None)
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r}: rows must carry the timezone")
            micros.append(to_micros(value))
        else:
            raise TypeError(f"cannot write {value!r} as a time")
    return pa.array(micros, kind)


def value_arrays(column: Sequence, with_text: bool, with_bool: bool) -> list[pa.Array]:
    """A value column as float64, then its text and boolean companions when the schema has
    them. A value of a kind without its column (text in a column planned numeric only) is
    written as text if there is a text column, else it is an error."""
    count = len(column)
    kinds = set(map(type, column))
    if kinds <= _NUMBERS and (float not in kinds or are_finite(column)):
        numbers = pa.array(column, pa.float64())
        texts = booleans = None
    else:
        numbers, texts, booleans = [], [], []
        for value in column:
            kind = type(value)
            if kind not in (float, int, str, bool, _NONE):
                value = plain(value)
                kind = type(value)
            if kind is float or kind is int:
                numbers.append(value if math.isfinite(value) else None)
                texts.append(None)
                booleans.append(None)
            elif kind is bool and with_bool:
                numbers.append(None)
                texts.append(None)
                booleans.append(value)
            elif kind is _NONE:
                numbers.append(None)
                texts.append(None)
                booleans.append(None)
            elif with_text:
                numbers.append(None)
                texts.append(_text(value))
                booleans.append(None)
            else:
                raise TypeError(f"a {kind.__name__} value in a column planned without one")
        numbers = pa.array(numbers, pa.float64())
    arrays = [numbers]
    if with_text:
        arrays.append(
            pa.nulls(count, pa.string()) if texts is None else pa.array(texts, pa.string())
        )
    if with_bool:
        arrays.append(
            pa.nulls(count, pa.bool_()) if booleans is None else pa.array(booleans, pa.bool_())
        )
    return arrays


def text_array(column: Sequence) -> pa.Array:
    """A text column (labels, ids, units) as strings; other values as their text."""
    if set(map(type, column)) <= {str, _NONE}:
        return pa.array(column, pa.string())
    return pa.array([None if value is None else _text(value) for value in column], pa.string())


def _text(value: Any) -> str:
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class ParquetWriter(Writer):
    """One Parquet file for one table; several tables (``expanded``) become a zip of them."""

    extension = "parquet"
    content_type = "application/vnd.apache.parquet"
    label = "Parquet"
    # One row group per chunk: large enough for columnar compression, small enough to keep
    # memory flat (a few tens of MB of Python values at most).
    chunk_rows = 16384
    compression = "snappy"

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """See ``Writer.write``; the result's extension is "zip" when the tables were bundled."""
        found = checked_tables(tables)
        counter = Progress(progress, self.chunk_rows)
        if not expanded and len(found) == 1:
            self.write_table(found[0], stream, info.timezone, counter)
            return WriteResult(counter.count, self.extension, self.content_type)
        names = UniqueNames(FILE_STEM_LIMIT)
        date_time = max(info.stamp.replace(tzinfo=None), datetime(1980, 1, 1)).timetuple()[:6]
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED) as archive:
            for table in found:
                member = zipfile.ZipInfo(
                    names.take(file_stem(table.name), f".{self.extension}"), date_time
                )
                # A Parquet writer needs to know its position; a zip member cannot tell it.
                with tempfile.TemporaryFile() as part:
                    self.write_table(table, part, info.timezone, counter)
                    part.seek(0)
                    with archive.open(member, "w", force_zip64=True) as raw:
                        shutil.copyfileobj(part, raw, 1 << 20)
        return WriteResult(counter.count, "zip", ZIP_CONTENT_TYPE)

    def write_table(self, table: Table, stream: BinaryIO, zone: str, counter: Progress) -> None:
        """Write one table as a Parquet file (an empty table: the schema, no row group)."""
        plan = _Plan(table, zone)
        with pq.ParquetWriter(stream, plan.schema, compression=self.compression) as writer:
            for count, columns in column_chunks(table.rows, self.chunk_rows, len(table.headers)):
                writer.write_batch(plan.batch(columns), row_group_size=count)
                counter.add(count)
