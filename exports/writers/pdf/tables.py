"""The tables of a report: each ``Table`` measured on its first chunk, then laid out as
platypus tables of ``CHUNK_ROWS`` rows with fixed widths and heights, its series counted
(``summary.Tallies``) on the way."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.platypus import Flowable, Paragraph, TableStyle
from reportlab.platypus import Table as PdfTable

from exports.rows.tables import Table
from exports.rows.units import unit_symbol
from exports.writers.base import Progress, chunked
from exports.writers.pdf.cells import Fitter, pdf_text
from exports.writers.pdf.layout import CELL_PADDING, ROW_HEIGHT, Fonts, Styles, text_width
from exports.writers.pdf.summary import Roles, Summary, Tallies

CHUNK_ROWS = 500  # rows per platypus table: one table per page or two keeps splitting cheap
MIN_COLUMN, MAX_COLUMN = 28.0, 200.0
MIN_NUMBER_CHARS = 10  # room for later, longer numbers than the first chunk's


class Section:
    """One table of the report: measured on its first chunk, then formatted chunk by chunk
    (``tables``), which also counts its series for the summary that precedes it (``summary``).
    """

    def __init__(
        self, table: Table, font: Fonts, decimals: int | None = None, separator: str = "."
    ) -> None:
        self.table = table
        self.font = font
        self.decimals = decimals
        self.separator = separator
        self.labels = [pdf_text(str(label)) for label in table.display_headers or table.headers]
        self._chunks = chunked(table.rows, CHUNK_ROWS, len(self.labels))
        self._first = next(self._chunks, [])
        self._natural: list[float] | None = None
        self._buffer: list[list[Sequence[Any]]] | None = None
        self.tallies = Tallies(Roles(table.kinds, self._first))
        columns = range(len(self.labels))
        values = self.tallies.roles.values
        known = table.units() if table.units is not None else None
        self.units = [
            unit_symbol(known[i]) if known and i in values and known[i] else None for i in columns
        ]
        self.headers = [
            f"{label} [{pdf_text(unit)}]" if unit else label
            for label, unit in zip(self.labels, self.units, strict=True)
        ]

    def natural_widths(self) -> list[float]:
        """Column widths that fit the header's longest word (headers wrap) and the first
        chunk's cells, within limits."""
        if self._natural is None:
            self._natural = []
            for index, header in enumerate(self.headers):
                widest = max(
                    [
                        *(text_width(word, self.font.bold) for word in header.split() or [""]),
                        *(self._width(row[index]) for row in self._first),
                    ]
                )
                self._natural.append(min(MAX_COLUMN, max(MIN_COLUMN, widest + 2 * CELL_PADDING)))
        return self._natural

    def _width(self, value: Any) -> float:
        """The width ``value`` takes in a cell; an upper bound for numbers, exact otherwise."""
        kind = type(value)
        if kind is datetime:
            return self.font.time_width
        if kind is float or kind is int:
            text = pdf_text(value, self.decimals)
            return max(len(text), MIN_NUMBER_CHARS) * self.font.number_widest
        return text_width(pdf_text(value), self.font.regular)

    def _header_height(self, widths: list[float], styles: Styles) -> float:
        """The height of the header row with every header wrapped to its column."""
        tallest = max(
            Paragraph(escape(text), styles.header).wrap(width - 2 * CELL_PADDING, 1000)[1]
            for text, width in zip(self.headers, widths, strict=True)
        )
        return max(ROW_HEIGHT, tallest + 3)  # + the 1.5 pt top and bottom padding

    def read(self) -> None:
        """Read every row, counting the series (the first pass): the summary that precedes
        the table needs them all. The rows are kept as they came, a few dozen bytes a cell,
        and become platypus tables (a few hundred bytes a cell) only as pages are drawn."""
        if self._buffer is not None:
            return
        self._buffer = [self._first] if self._first else []
        self.tallies.add(self._first)
        for chunk in self._chunks:
            self.tallies.add(chunk)
            self._buffer.append(chunk)

    def summary(self, room: float, styles: Styles) -> list[Flowable]:
        """The summary and chart of every series; call after ``read``."""
        summary = Summary(
            self.tallies, self.headers, self.units, styles, self.decimals, self.separator
        )
        return summary.flowables(room)

    def tables(self, room: float, counter: Progress, styles: Styles) -> Iterator[Flowable]:
        """The section's tables, one per chunk, each followed by a progress marker (the
        second pass, over the rows ``read`` kept, each chunk let go once it is a table)."""
        self.read()
        columns = range(len(self.headers))
        numeric = [_first_type(self._first, i) in (int, float) for i in columns]
        # Spare room goes to text columns: later rows may hold longer text than the first chunk.
        growable = [_first_type(self._first, i) in (str, None) for i in columns]
        widths = _share(self.natural_widths(), room, growable)
        fit = Fitter(widths, self.font, self.decimals, self.separator)
        style = styles.table(numeric)
        header_styles = styles.headers(numeric)
        header_height = self._header_height(fit.widths, styles)

        def header() -> list[Paragraph]:
            # Wrapped, never cut; fresh paragraphs per chunk table (flowables keep state).
            return [
                Paragraph(escape(text), head)
                for text, head in zip(self.headers, header_styles, strict=True)
            ]

        if not self._first:
            yield _chunk_table(header(), [], fit.widths, style, header_height)
            yield Paragraph("No rows.", styles.note)
            return
        buffer = self._buffer
        buffer.reverse()  # popped from the end, first chunk first
        cell = fit.cell
        while buffer:
            chunk = buffer.pop()
            rows = [[cell(value, index) for index, value in enumerate(row)] for row in chunk]
            yield _chunk_table(header(), rows, fit.widths, style, header_height)
            yield RowsDrawn(counter, len(rows))


def _chunk_table(
    header: list[Paragraph],
    rows: list[list[str]],
    widths: list[float],
    style: TableStyle,
    header_height: float,
) -> PdfTable:
    # Fixed widths and heights spare platypus from measuring every cell.
    return PdfTable(
        [header, *rows],
        colWidths=widths,
        rowHeights=[header_height] + [ROW_HEIGHT] * len(rows),
        repeatRows=1,
        style=style,
        hAlign="LEFT",
    )


def _first_type(rows: Sequence[Sequence[Any]], index: int) -> type | None:
    """The type of the first value of column ``index`` that is not None (None if none is)."""
    for row in rows:
        if row[index] is not None:
            return type(row[index])
    return None


def _share(natural: list[float], room: float, growable: list[bool]) -> list[float]:
    """Fit column widths to exactly ``room``.

    With room to spare, the ``growable`` columns (all columns if none is) widen in
    proportion to their width. Short of room, narrow columns keep their width and
    wide ones shrink in proportion.
    """
    total = sum(natural)
    if total <= room:
        grow = [i for i, can in enumerate(growable) if can] or list(range(len(natural)))
        scale = 1 + (room - total) / sum(natural[i] for i in grow)
        return [width * scale if i in grow else width for i, width in enumerate(natural)]
    flexible = set(range(len(natural)))
    left = room
    while True:
        share = left / len(flexible)
        fixed = {i for i in flexible if natural[i] <= share}
        if not fixed or fixed == flexible:
            break
        flexible -= fixed
        left -= sum(natural[i] for i in fixed)
    scale = left / sum(natural[i] for i in flexible)
    return [natural[i] * scale if i in flexible else natural[i] for i in range(len(natural))]


class RowsDrawn(Flowable):
    """An invisible marker after each chunk: counts its rows once their page is drawn."""

    def __init__(self, counter: Progress, rows: int) -> None:
        super().__init__()
        self.counter = counter
        self.rows = rows

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.counter.add(self.rows)
