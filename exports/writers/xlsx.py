"""XLSX: an Excel workbook streamed with openpyxl's write-only mode (flat memory).

Re-running a slot gives a byte-identical file: the core properties' created/modified times
and every zip member's date are the slot's, not the wall clock's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain, islice
from operator import attrgetter
from typing import Any, BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet import _writer as openpyxl_sheet_writer
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from exports.rows.tables import ReportInfo, Table
from exports.rows.times import LocalTimes, offset_text
from exports.writers.base import (
    Progress,
    ProgressCallback,
    Writer,
    WriteResult,
    checked_tables,
    column_chunks,
)
from exports.writers.cells import FORMULA_PREFIXES, neutralise, plain
from exports.writers.columns import are_finite, by_distinct, is_plain_text
from exports.writers.names import SHEET_NAME_LIMIT, UniqueNames, sheet_name

# 1,048,576 rows per sheet, one of them the header. openpyxl does not enforce it and
# would write a file Excel refuses to open.
EXCEL_MAX_DATA_ROWS = 1_048_575

# Excel has no time zones: cells hold the local wall time; times with fractions of a second
# are shown to the millisecond.
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"
DATETIME_WIDTH = 24
# Whole numbers (``epoch`` milliseconds): Excel's General format shows 13 digits as 1.79288E+12.
WHOLE_FORMAT = "0"
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

    def __init__(self, **options) -> None:
        """Raise ``ImproperlyConfigured`` when ``EXPORTS_XLSX_MAX_ROWS`` is out of range."""
        super().__init__(**options)
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
        try:
            return self._write(workbook, found, stream, info, progress)
        finally:
            _remove_sheet_files(workbook)

    def _write(self, workbook, found, stream, info, progress) -> WriteResult:
        workbook.properties.title = info.title
        workbook.properties.subject = info.request_name
        workbook.properties.description = f"Times are local to {info.timezone}; {info.window}"
        names = UniqueNames(SHEET_NAME_LIMIT)
        counter = Progress(progress, self.chunk_rows)
        number_format = None if self.decimals is None else number_format_for(self.decimals)
        for table in found:
            sheets = _SheetSeries(workbook, table, names, info.timezone, self.max_rows)
            sheets.number_format = number_format
            sheets.write(counter)
        stamp = info.stamp.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        workbook.properties.created = workbook.properties.modified = stamp
        # What ``workbook.save`` does, minus its "modified = now" and zip dates of now.
        with _DatedZip(stream, stamp) as archive:
            ExcelWriter(workbook, archive).save()
        return WriteResult(counter.count, self.extension, self.content_type)


def _offsets(values: Sequence[Any]) -> list[str]:
    """The UTC offset (``+01:00``) of each time of a column; "" where there is none."""
    if type(values) is LocalTimes:
        return values.offset_texts()
    return [
        offset_text(value.utcoffset()) if isinstance(value, datetime) else "" for value in values
    ]


def _remove_sheet_files(workbook: Workbook) -> None:
    """Delete the temporary file of every sheet (openpyxl streams each sheet to one, under
    ``TMPDIR``, and removes it only after a successful save): a failed export (a full disk)
    must not leave hundreds of megabytes behind and keep the disk full."""
    for sheet in workbook.worksheets:
        writer = getattr(sheet, "_writer", None)
        path = getattr(writer, "out", None)
        if not isinstance(path, str):
            continue
        with contextlib.suppress(Exception):  # closing a stream on a full disk fails again
            writer.xf.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        with contextlib.suppress(ValueError):
            openpyxl_sheet_writer.ALL_TEMP_FILES.remove(path)


def number_format_for(decimals: int) -> str:
    """Excel's number format for ``decimals`` fixed decimals: ``0``, ``0.0``, ``0.00``..."""
    return "0." + "0" * decimals if decimals else "0"


def _wall_time(value: datetime) -> datetime:
    """``value``'s local wall time, naive (Excel has no time zones); it must be aware."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: rows must carry the timezone")
    return value.replace(tzinfo=None)


class _DatedZip(ZipFile):
    """A zip whose members all carry one date (the slot's), for byte-identical re-runs.

    openpyxl writes small parts with ``writestr`` (dated now) and streamed sheets with
    ``write`` from a temporary file (dated by its mtime).
    """

    def __init__(self, stream: BinaryIO, stamp: datetime) -> None:
        super().__init__(stream, "w", ZIP_DEFLATED, allowZip64=True)
        self.date_time = max(stamp, datetime(1980, 1, 1)).timetuple()[:6]

    def _info(self, name: str) -> ZipInfo:
        info = ZipInfo(name, self.date_time)
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, *args, **kwargs) -> None:
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs) -> None:
        # Streamed: a sheet's temporary file can be hundreds of megabytes.
        with open(filename, "rb") as source, self.open(self._info(arcname), "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


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
        self.number_format: str | None = None  # fixed decimals (format.decimals)
        self.offset_after: set[int] = set()  # time columns followed by their UTC offset
        self.whole = {index for index, kind in enumerate(table.kinds or ()) if kind == "integer"}

    def write(self, counter: Progress) -> None:
        """Write the table's rows, opening a new sheet whenever one is full."""
        chunks = column_chunks(self.table.rows, counter.every, len(self.table.headers))
        # The first row tells which columns hold times (wide date format, header note).
        first = next(chunks, None)
        sample = [] if first is None else [column[0] for column in first[1]]
        self.offset_after = self._offset_columns(sample)
        self._open_sheet(1, sample)
        if first is None:
            return
        in_sheet, part = 0, 1
        for count, columns in chain((first,), chunks):
            rows = self._rows(columns)
            left = count
            while left:
                if in_sheet == self.max_rows:
                    part += 1
                    self._open_sheet(part, sample)
                    in_sheet = 0
                fit = min(left, self.max_rows - in_sheet)
                # A C-level loop over append: no bytecode of ours per row.
                deque(map(self.sheet.append, islice(rows, fit)), maxlen=0)
                in_sheet += fit
                left -= fit
            counter.add(count)

    def _offset_columns(self, sample: Sequence[Any]) -> set[int]:
        """The time columns that get a "UTC offset" column beside them: all of them when the
        table's rows span a change of the zone's offset (a clock change), when the wall time
        alone would show two instants alike; none otherwise."""
        changes = self.table.offset_changes
        if changes is None or not changes():
            return set()
        kinds = self.table.kinds
        if kinds is not None:
            return {index for index, kind in enumerate(kinds) if kind == "time"}
        return {index for index, value in enumerate(sample) if isinstance(value, datetime)}

    def _rows(self, columns: list[Sequence[Any]]) -> Iterator[tuple]:
        """The chunk's rows as openpyxl should store them, converted column by column; a
        time column in ``offset_after`` is followed by its offsets."""
        converted = []
        for index, values in enumerate(columns):
            converted.append(self._whole(values) if index in self.whole else self._column(values))
            if index in self.offset_after:
                converted.append(_offsets(values))
        return zip(*converted, strict=True)

    def _column(self, values: Sequence[Any]) -> Sequence[Any]:
        """One column as openpyxl should store it.

        A column of finite numbers or of plain text goes as it is; a column of times becomes
        one wall-clock datetime (or styled cell) per distinct time (series share timestamps);
        any other column, and numbers with fixed decimals, cell by cell (``_cell``).
        """
        if type(values) is LocalTimes:
            if values.is_complete():
                return self._walls(values.wall_times())
            values = tuple(values)
        kinds = set(map(type, values))
        if kinds == {datetime}:
            return self._walls(by_distinct(values, _wall_time))
        if self.number_format is None and kinds <= {float, int, type(None)}:
            return values if are_finite(values) else list(map(self._cell, values))
        if kinds == {str} and all(map(str.isprintable, values)) and is_plain_text(values):
            return values
        return list(map(self._cell, values))

    def _open_sheet(self, part: int, sample: Sequence[Any]) -> None:
        """Start the next sheet with column widths, a frozen bold header and time notes."""
        suffix = "" if part == 1 else f" ({part})"
        sheet = self.workbook.create_sheet(self.names.take(self.stem, suffix))
        is_time = [isinstance(value, datetime) for value in sample]
        header = []
        letters = iter(range(1, 2 * len(self.table.headers) + 1))
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
            sheet.column_dimensions[get_column_letter(next(letters))].width = width
            header.append(cell)
            if index in self.offset_after:
                many = len(self.offset_after) > 1
                title = f"UTC offset ({text})" if many else "UTC offset"
                offset = WriteOnlyCell(sheet, value=title)
                offset.font = self.header_font
                offset.comment = Comment(
                    f"The offset of {self.timezone} from UTC at this local time: the clock "
                    "changes within this sheet, so a local time may repeat.",
                    "Exporter",
                )
                sheet.column_dimensions[get_column_letter(next(letters))].width = MIN_WIDTH + 2
                header.append(offset)
        sheet.freeze_panes = "A2"
        sheet.append(header)
        self.sheet: WriteOnlyWorksheet = sheet

    def _walls(self, walls: list[datetime]) -> list:
        """A column of wall times (naive; one object per distinct time), as openpyxl shows
        them, ``yyyy-mm-dd h:mm:ss``; a chunk holding fractions of a second gets styled cells
        showing milliseconds instead (a cell object costs openpyxl a fifth more per row)."""
        if not any(map(attrgetter("microsecond"), walls)):
            return walls
        return by_distinct(walls, self._wall_cell)

    def _whole(self, values: Sequence[Any]) -> list:
        """A column of whole numbers (``Table.kinds`` "integer": ``epoch``) as cells showing
        every digit, whatever ``format.decimals`` says of the values."""
        return by_distinct(values, self._whole_cell)

    def _whole_cell(self, value: Any) -> Any:
        if type(value) is not int:
            return self._cell(value)
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = WHOLE_FORMAT
        return cell

    def _cell(self, value: Any) -> Any:
        """``value`` as openpyxl stores it with the right cell type: safe text, a finite
        number (NaN and infinities would make Excel call the file corrupt), a styled time.

        Raises ``ValueError`` for a naive datetime, ``TypeError`` as ``plain`` does.
        """
        kind = type(value)
        if kind is str:
            plain_text = value.isprintable() and not (value and value[0] in FORMULA_PREFIXES)
            return value if plain_text else xlsx_text(value)
        if kind is float:
            if value - value != 0.0:
                return None
            return value if self.number_format is None else self._number(value)
        if kind is datetime:
            return self._time_cell(value)
        if kind is int:
            return value if self.number_format is None else self._number(value)
        if kind is bool or value is None:
            return value
        return self._cell(plain(value))

    def _number(self, value: float | int) -> WriteOnlyCell:
        """A number cell keeping the full value, shown with the fixed decimals."""
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = self.number_format
        return cell

    def _time_cell(self, value: datetime) -> WriteOnlyCell:
        """A cell showing ``value``'s local wall time; raises ``ValueError`` if it is naive."""
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: rows must carry the timezone")
        return self._wall_cell(value.replace(tzinfo=None))

    def _wall_cell(self, wall: datetime) -> WriteOnlyCell:
        """A cell showing the naive local wall time ``wall`` to the millisecond."""
        cell = WriteOnlyCell(self.sheet, value=wall)
        cell.number_format = DATETIME_FORMAT
        return cell
