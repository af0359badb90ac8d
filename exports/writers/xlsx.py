"""XLSX: an Excel workbook streamed with openpyxl's write-only mode (flat memory)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from .base import (
    Progress,
    ProgressCallback,
    ReportInfo,
    Table,
    Writer,
    WriteResult,
    checked_tables,
    chunked,
)
from .cells import FORMULA_PREFIXES, neutralise, plain
from .names import SHEET_NAME_LIMIT, UniqueNames, sheet_name

# 1,048,576 rows per sheet, one of them the header. openpyxl does not enforce it and
# would write a file Excel refuses to open.
EXCEL_MAX_DATA_ROWS = 1_048_575

# Excel has no time zones: cells hold the local wall time, shown to the millisecond.
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
DATETIME_WIDTH = 24
MIN_WIDTH, MAX_WIDTH = 10, 60


def xlsx_text(text: str) -> str:
    """Return ``text`` as a safe string cell: formulas neutralised, illegal XML characters
    (control characters openpyxl refuses) replaced by U+FFFD."""
    if text and text[0] in FORMULA_PREFIXES:
        text = neutralise(text)
    return text if text.isprintable() else ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


class XlsxWriter(Writer):
    """One sheet per table, a bold frozen header row, real datetime cells.

    A table longer than ``max_rows`` (setting ``EXPORTS_XLSX_MAX_ROWS``, at most
    Excel's 1,048,575 data rows) continues on sheets "<name> (2)", "<name> (3)",
    ... with the header repeated: rows are never dropped.
    """

    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    label = "Excel (XLSX)"

    def __init__(self, *, delimiter: str = ",") -> None:
        """Raise ``ImproperlyConfigured`` when ``EXPORTS_XLSX_MAX_ROWS`` is out of range."""
        super().__init__(delimiter=delimiter)
        self.max_rows: int = getattr(settings, "EXPORTS_XLSX_MAX_ROWS", EXCEL_MAX_DATA_ROWS)
        if not 1 <= self.max_rows <= EXCEL_MAX_DATA_ROWS:
            raise ImproperlyConfigured(
                f"EXPORTS_XLSX_MAX_ROWS must be between 1 and {EXCEL_MAX_DATA_ROWS}"
            )

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """See ``Writer.write``; every table becomes one sheet or more."""
        found = checked_tables(tables)
        workbook = Workbook(write_only=True)
        workbook.properties.title = info.title
        workbook.properties.subject = info.request_name
        workbook.properties.description = f"Times are local to {info.timezone}; {info.window}"
        names = UniqueNames(SHEET_NAME_LIMIT)
        counter = Progress(progress, self.chunk_rows)
        for table in found:
            _SheetSeries(workbook, table, names, info.timezone, self.max_rows).write(counter)
        workbook.save(stream)
        return WriteResult(counter.count, self.extension, self.content_type)


class _SheetSeries:
    """The sheets of one table: a first sheet, then roll-over sheets as rows fill them."""

    def __init__(
        self, workbook: Workbook, table: Table, names: UniqueNames, timezone: str, max_rows: int
    ) -> None:
        self.workbook = workbook
        self.table = table
        self.names = names
        self.timezone = timezone
        self.max_rows = max_rows
        self.stem = sheet_name(table.name)
        self.header_font = Font(bold=True)

    def write(self, counter: Progress) -> None:
        """Write the table's rows, opening a new sheet whenever one is full."""
        rows = iter(self.table.rows)
        # The first row tells which columns hold times (wide date format, header note).
        first = next(rows, None)
        sample = first if first is not None else ()
        self._open_sheet(1, sample)
        in_sheet, part = 0, 1
        pending = rows if first is None else chain((first,), rows)
        for chunk in chunked(pending, counter.every, len(self.table.headers)):
            for row in chunk:
                if in_sheet == self.max_rows:
                    part += 1
                    self._open_sheet(part, sample)
                    in_sheet = 0
                self.sheet.append(self._cells(row))
                in_sheet += 1
            counter.add(len(chunk))

    def _open_sheet(self, part: int, sample: Sequence[Any]) -> None:
        """Start the next sheet with column widths, a frozen bold header and time notes."""
        suffix = "" if part == 1 else f" ({part})"
        sheet = self.workbook.create_sheet(self.names.take(self.stem, suffix))
        is_time = [isinstance(value, datetime) for value in sample]
        header = []
        for index, label in enumerate(self.table.headers):
            text = xlsx_text(str(label))
            cell = WriteOnlyCell(sheet, value=text)
            cell.font = self.header_font
            sample_width = len(str(sample[index])) if index < len(sample) else 0
            if index < len(is_time) and is_time[index]:
                width = DATETIME_WIDTH
                cell.comment = Comment(f"Local time in {self.timezone}", "Exporter")
            else:
                width = min(MAX_WIDTH, max(MIN_WIDTH, len(text) + 2, sample_width + 2))
            # Column widths and panes must be set before the first row is streamed.
            sheet.column_dimensions[get_column_letter(index + 1)].width = width
            header.append(cell)
        sheet.freeze_panes = "A2"
        sheet.append(header)
        self.sheet: WriteOnlyWorksheet = sheet
        self._time_cells: dict[int, WriteOnlyCell] = {}

    def _cells(self, row: Sequence[Any]) -> list[Any]:
        """Return ``row`` as values openpyxl stores with the right cell type.

        Raises ``ValueError`` for a naive datetime, ``TypeError`` as ``plain`` does.
        """
        cells: list[Any] = []
        for index, value in enumerate(row):
            kind = type(value)
            if kind is str:
                plain_text = value.isprintable() and not (value and value[0] in FORMULA_PREFIXES)
                cells.append(value if plain_text else xlsx_text(value))
            elif kind is float:
                # NaN/inf would be written as text in a number cell: Excel calls the file corrupt.
                cells.append(value if value - value == 0.0 else None)
            elif kind is datetime:
                cells.append(self._time_cell(index, value))
            elif kind is int or kind is bool or value is None:
                cells.append(value)
            else:
                cells.extend(self._cells((plain(value),)))
        return cells

    def _time_cell(self, index: int, value: datetime) -> WriteOnlyCell:
        """A cell showing ``value``'s local wall time; raises ``ValueError`` if it is naive."""
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: rows must carry the timezone")
        # A write-only sheet serialises a row inside append(), so one styled cell per column
        # can carry every row's value: a new cell and style lookup per value would cost a
        # fifth of the writing time.
        cell = self._time_cells.get(index)
        if cell is None:
            cell = self._time_cells[index] = WriteOnlyCell(self.sheet)
            cell.number_format = DATETIME_FORMAT
        cell.value = value.replace(tzinfo=None)
        return cell
