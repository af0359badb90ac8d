"""The one writer interface: tables of rows in, a file out, streamed.

The export engine produces ``exports.rows.tables.Table`` objects whose rows are plain Python
values. Each format has one small ``Writer`` subclass that streams those rows to a binary
stream; the registry in ``exports.writers`` maps an extension to its class.

The engine's rows come as ``ColumnChunks``: still rows to whoever iterates them, but
writers read them a chunk of columns at a time (``column_chunks``), which saves turning
rows into columns and back, and times as ``exports.rows.times.LocalTimes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any, BinaryIO, ClassVar

from exports.rows.tables import ColumnChunks, Columns, ReportInfo, Table
from exports.rows.times import LocalTimes


@dataclass
class WriteResult:
    """What was written: the data rows (headers excluded) and the file's real type."""

    rows: int
    extension: str  # the file's real extension ("zip" when several CSV/JSON files are bundled)
    content_type: str


ProgressCallback = Callable[[int], None]


class Writer:
    """Base class: one subclass per format, registered by ``extension``.

    Every writer takes the same options so the engine can build any of them the
    same way; an option a format has no use for (the CSV delimiter or byte order mark
    for XLSX) is accepted and ignored.
    """

    extension: ClassVar[str]
    content_type: ClassVar[str]
    label: ClassVar[str]
    # Rows are pulled in chunks of this size, and progress is reported once per chunk.
    chunk_rows: ClassVar[int] = 5000

    def __init__(
        self,
        *,
        delimiter: str = ",",
        decimals: int | None = None,
        bom: bool = True,
        decimal_separator: str = ".",
    ) -> None:
        """Raise ``ValueError`` when ``delimiter`` is not one character usable in CSV, or
        ``decimals`` (fixed decimals of every number; None: as they are) is not 0–10, or
        ``decimal_separator`` (of numbers written as text: CSV, PDF) is neither "." nor ","
        or is the delimiter."""
        if decimal_separator not in (".", ","):
            raise ValueError(f"the decimal separator must be . or ,: {decimal_separator!r}")
        if decimal_separator == delimiter:
            raise ValueError(f"the delimiter cannot be the decimal separator {delimiter!r}")
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ValueError(
                f"the delimiter must be one character, not a quote or newline: {delimiter!r}"
            )
        if decimals is not None and not (type(decimals) is int and 0 <= decimals <= 10):
            raise ValueError(f"decimals must be a whole number from 0 to 10, not {decimals!r}")
        self.delimiter = delimiter
        self.decimals = decimals
        self.bom = bom
        self.decimal_separator = decimal_separator

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """Write every table to ``stream``; return the rows written and the file's type.

        ``expanded`` is True for the ``expanded`` template (one part per table, and
        CSV/JSON always zipped); several tables without it still get a part each.
        ``progress`` is called with the running row count about every
        ``chunk_rows`` rows. Raises ``ValueError`` when there is no table, for a row
        whose length differs from its headers, or for a naive datetime; ``TypeError``
        for a value of an unsupported type.
        """
        raise NotImplementedError


def checked_tables(tables: Iterable[Table]) -> list[Table]:
    """The tables as a list (their rows stay lazy).

    ``tabular`` usually gives one table, but a request mixing long and wide items
    gives two, so every writer accepts several. Raises ``ValueError`` when there is none.
    """
    found = list(tables)
    if not found:
        raise ValueError("there is no table to write")
    return found


def column_chunks(
    rows: Iterable[Sequence[Any]], size: int, width: int
) -> Iterator[tuple[int, Columns]]:
    """Yield ``(row count, columns)`` of ``size`` rows at a time (the last chunk: the rest).

    ``ColumnChunks`` are re-cut from their own chunks, other rows are chunked (``chunked``,
    which checks their widths) and turned into columns: either way chunks start at the same
    rows, which matters where a format decides per chunk (XLSX: whether times show
    milliseconds). Raises ``ValueError`` for a row, or a chunk, that has not exactly
    ``width`` values.
    """
    if isinstance(rows, ColumnChunks):
        yield from _recut(_checked(rows.chunks(), width), size)
        return
    for chunk in chunked(rows, size, width):
        yield len(chunk), list(zip(*chunk, strict=True)) if width else []


def _checked(chunks: Iterable[Columns], width: int) -> Iterator[tuple[int, Columns]]:
    for columns in chunks:
        if len(columns) != width:
            raise ValueError(f"a chunk has {len(columns)} columns for {width} headers")
        lengths = set(map(len, columns))
        if len(lengths) > 1:
            raise ValueError(f"a chunk has columns of different lengths: {sorted(lengths)}")
        count = lengths.pop() if lengths else 0
        if count:
            yield count, columns


def _recut(chunks: Iterable[tuple[int, Columns]], size: int) -> Iterator[tuple[int, Columns]]:
    """Chunks of exactly ``size`` rows (the last one: the rest) from chunks of any size."""
    parts: list[Columns] = []
    pending = 0
    for count, columns in chunks:
        parts.append(columns)
        pending += count
        if pending < size:
            continue
        joined = _joined(parts)
        start = 0
        while pending - start >= size:
            yield size, [column[start : start + size] for column in joined]
            start += size
        parts = [[column[start:] for column in joined]] if start < pending else []
        pending -= start
    if pending:
        yield pending, _joined(parts)


def _joined(parts: list[Columns]) -> Columns:
    if len(parts) == 1:
        return parts[0]
    return [_concatenated(pieces) for pieces in zip(*parts, strict=True)]


def _concatenated(pieces: Sequence[Sequence[Any]]) -> Sequence[Any]:
    first = pieces[0]
    if type(first) is LocalTimes and all(
        type(piece) is LocalTimes and piece.clock is first.clock for piece in pieces
    ):
        return LocalTimes(list(chain.from_iterable(piece.micros for piece in pieces)), first.clock)
    return list(chain.from_iterable(pieces))


def chunked(rows: Iterable[Sequence[Any]], size: int, width: int) -> Iterator[list[Sequence[Any]]]:
    """Yield lists of at most ``size`` rows, so memory stays flat however many rows come.

    Raises ``ValueError`` for a row that has not exactly ``width`` values: a short
    row would shift cells under the wrong header without anyone noticing.
    """
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        if set(map(len, chunk)) != {width}:  # one C-level pass; find the culprit only if needed
            for row in chunk:
                if len(row) != width:
                    raise ValueError(f"a row has {len(row)} values for {width} headers: {row!r}")
        yield chunk


class Progress:
    """Counts rows across tables and reports the running count to an optional callback."""

    def __init__(self, callback: ProgressCallback | None, every: int) -> None:
        self.callback = callback
        self.every = every
        self.count = 0
        self._next_report = every

    def add(self, rows: int) -> None:
        """Count ``rows`` more; report when a multiple of ``every`` was passed."""
        self.count += rows
        if self.callback is not None and self.count >= self._next_report:
            self._next_report = (self.count // self.every + 1) * self.every
            self.callback(self.count)
