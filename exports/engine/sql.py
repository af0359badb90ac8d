"""SQL expressions that give the same integers on SQLite and PostgreSQL.

Times leave the database as integer microseconds since the Unix epoch, not as datetimes:
- it is exact on both engines (PostgreSQL's EXTRACT(EPOCH) is numeric; SQLite's text is parsed
  by whole seconds plus the six fraction digits Django writes, never through a rounded float);
- it skips Django's per-value datetime loader on PostgreSQL, which costs ~10 µs a value and
  made reading 1M rows take 21 s instead of 8 s here.

SQLite literals: Django turns ``%%`` into ``%`` on both backends when a query has parameters,
so every literal percent sign below is doubled.
"""

from __future__ import annotations

import functools
import sqlite3

from django.db import models

_SQLITE_SECONDS = "CAST(strftime('%%s', substr({0}, 1, 19)) AS INTEGER)"
# unixepoch() (SQLite 3.38+) gives the same whole seconds a fifth faster.
_SQLITE_UNIXEPOCH = "unixepoch(substr({0}, 1, 19))"
# Django stores '2026-03-29 01:00:00[.ffffff]'; pad so a missing fraction reads as 0.
_SQLITE_MICROS = (
    "(" + _SQLITE_SECONDS + " * 1000000 + CAST(substr({0} || '000000', 21, 6) AS INTEGER))"
)
_POSTGRES_MICROS = "(EXTRACT(EPOCH FROM {0}) * 1000000)::bigint"


def epoch_micros_sql(vendor: str, column_sql: str) -> str:
    """SQL giving ``column_sql`` (a datetime column or aggregate of one) as epoch microseconds."""
    if vendor == "postgresql":
        return _POSTGRES_MICROS.format(column_sql)
    if vendor == "sqlite":
        return _sqlite_micros().format(column_sql)
    raise NotImplementedError(f"the export engine does not support {vendor}")


@functools.cache
def _sqlite_micros() -> str:
    return _SQLITE_MICROS.replace(_SQLITE_SECONDS, _sqlite_seconds())


@functools.cache
def _sqlite_seconds() -> str:
    return _SQLITE_UNIXEPOCH if sqlite3.sqlite_version_info >= (3, 38) else _SQLITE_SECONDS


def cell_sql(vendor: str, column_sql: str, seconds: int) -> str:
    """SQL giving ``floor(epoch seconds of column_sql / seconds)`` as an integer."""
    seconds = int(seconds)  # inlined into SQL: make sure it is a plain integer
    if vendor == "postgresql":
        return f"FLOOR(EXTRACT(EPOCH FROM {column_sql}) / {seconds})::bigint"
    if vendor == "sqlite":
        # Integer division truncates toward zero; shift negatives (before 1970) to floor them.
        whole = _sqlite_seconds().format(column_sql)
        return f"(({whole} - ({whole} < 0) * {seconds - 1}) / {seconds})"
    raise NotImplementedError(f"the export engine does not support {vendor}")


class _ColumnFunc(models.Func):
    """A function of one column whose SQL repeats the column (so only plain columns)."""

    arity = 1

    def _render(self, vendor: str, column_sql: str) -> str:
        raise NotImplementedError

    def as_sql(self, compiler, connection, **extra_context):
        column_sql, params = compiler.compile(self.source_expressions[0])
        if params:
            raise ValueError(f"{type(self).__name__} takes a plain column, not an expression")
        return self._render(connection.vendor, column_sql), ()


class EpochMicros(_ColumnFunc):
    """A datetime column as integer microseconds since the Unix epoch."""

    output_field = models.BigIntegerField()

    def _render(self, vendor: str, column_sql: str) -> str:
        return epoch_micros_sql(vendor, column_sql)


class Cell(_ColumnFunc):
    """The index of the fixed-width grid cell (``seconds`` wide, from the epoch) of a column."""

    output_field = models.BigIntegerField()

    def __init__(self, expression, seconds: int, **extra):
        super().__init__(expression, **extra)
        self.seconds = int(seconds)

    def _render(self, vendor: str, column_sql: str) -> str:
        return cell_sql(vendor, column_sql, self.seconds)
