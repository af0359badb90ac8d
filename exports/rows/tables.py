"""The tables the engine builds and the writers stream: names, headers, rows.

The engine produces ``Table`` objects (one for the ``tabular`` template, one per item for
``expanded``) whose rows are sequences of plain Python values: ``str``, ``int``, ``float``,
``bool``, ``None`` or timezone-aware ``datetime`` already converted to the request's
timezone. Its rows come as ``ColumnChunks``: still rows to whoever iterates them, but writers
read them a chunk of columns at a time (``exports.writers.base.column_chunks``), which saves
turning rows into columns and back, and times as ``exports.rows.times.LocalTimes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

Columns = list[Sequence[Any]]  # one sequence per column, all of one length


@dataclass
class ReportInfo:
    """Facts about the export shown in report-style outputs (PDF) and used for names."""

    title: str
    request_name: str
    timezone: str
    window: str
    generated_at: datetime
    # The job's slot: file metadata (XLSX core properties, PDF dates and /ID) derive from it,
    # so re-running a slot gives a byte-identical file. None: from ``generated_at``.
    slot: datetime | None = None

    @property
    def stamp(self) -> datetime:
        """The instant file metadata carries: the slot when known."""
        return self.slot or self.generated_at


@dataclass
class Table:
    """One table: a name (sheet, section or file name), headers, and a row iterable.

    ``rows`` is consumed once, lazily; every row has one value per header.
    """

    name: str
    headers: list[str]
    rows: Iterable[Sequence[Any]]
    # Shorter headers for reports (PDF), e.g. a device's name instead of its full id;
    # None: the headers.
    display_headers: list[str] | None = None
    # What each column holds, for typed formats (Parquet, XLSX): "time", "value", "integer"
    # (``epoch``) or "text". None: the writer guesses from the headers.
    kinds: list[str] | None = None
    # Which kinds of non-numeric value the value columns may hold ({"text", "bool"}), asked
    # only by typed formats (it may cost a query per item). None: any kind.
    value_types: Callable[[], frozenset[str]] | None = None
    # Whether the zone's UTC offset changes within the table's rows (a clock change), asked
    # only by formats whose times carry no offset (XLSX adds a "UTC offset" column then).
    # None: it does not.
    offset_changes: Callable[[], bool] | None = None
    # The unit of each column's values where one unit holds for the whole column ("" or None
    # elsewhere: text columns, mixed or unknown units), asked only by reports (PDF headers).
    # None: unknown.
    units: Callable[[], list[str | None]] | None = None


class ColumnChunks:
    """Rows given as chunks of columns (each chunk a list of equally long sequences).

    Iterating it yields the rows (tuples), once, like any other ``Table.rows``; ``chunks``
    gives the same rows as the chunks themselves, for writers that convert whole columns.
    Both draw from one stream: use one of them. ``close`` releases the stream (its database
    cursor) before it is exhausted.
    """

    def __init__(self, chunks: Iterable[Columns]) -> None:
        self._chunks = iter(chunks)
        self._rows = chain.from_iterable(map(_rows_of, self._chunks))

    def __iter__(self) -> Iterator[tuple]:
        return self._rows

    def chunks(self) -> Iterator[Columns]:
        """The chunks not consumed yet."""
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


def _rows_of(columns: Columns) -> Iterator[tuple]:
    return zip(*columns, strict=True)
