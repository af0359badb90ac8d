"""CSV: UTF-8, one header row, the request's delimiter, RFC 4180 quoting and line ends.

Files start with a UTF-8 byte order mark by default (``format.csvBom``): Excel, which most
people open CSV files with, reads a file without one in the system's legacy code page and
shows "TempÃ©rature Â°C" for "Température °C". Python (``utf-8-sig``), pandas, R and
LibreOffice all skip it; ``csvBom: false`` leaves it out for tools that do not.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, TextIO

from exports.rows.tables import Table
from exports.writers.base import Progress, column_chunks
from exports.writers.bundle import TextWriter
from exports.writers.cells import FORMULA_PREFIXES, iso_timestamp, neutralise, plain
from exports.writers.columns import number_cells, whole
from exports.writers.copying import copy_table, fast_path

BOM = "\ufeff"


def csv_cell(value: Any) -> Any:
    """Return ``value`` as the csv module should write it.

    Text that a spreadsheet would run as a formula is neutralised, times become
    ISO 8601 with offset, booleans true/false, None and non-finite floats an
    empty cell; ints pass through, floats too, whole ones as ints (``55``, not ``55.0``). Raises
    ``TypeError``/``ValueError`` as ``plain`` and ``iso_timestamp`` do.
    """
    # Exact type tests, most frequent first: this runs for every cell of every row.
    kind = type(value)
    if kind is str:
        return neutralise(value) if value and value[0] in FORMULA_PREFIXES else value
    if kind is float:
        return whole(value) if value - value == 0.0 else ""  # NaN and ±inf give NaN here
    if kind is datetime:
        return iso_timestamp(value)
    if kind is int:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return csv_cell(plain(value))


class CsvWriter(TextWriter):
    """CSV with one header row; several tables (``expanded``) become a zip of CSV files."""

    extension = "csv"
    content_type = "text/csv; charset=utf-8"
    label = "CSV"

    def write_table(self, table: Table, text: TextIO, counter: Progress) -> None:
        """Write the byte order mark (unless turned off), the header row and every row."""
        # Rows are formatted into a buffer and written once per chunk: one text-layer write
        # (and encoder call) per chunk instead of one per row.
        buffer = io.StringIO(BOM if self.bom else "")
        buffer.seek(0, io.SEEK_END)
        writer = csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n")
        writer.writerow([neutralise(str(label)) for label in table.headers])
        if fast_path(table, self):  # the database formats the rows (``writers.copying``)
            text.write(buffer.getvalue())
            text.flush()
            copy_table(table.rows.plan, self, text.buffer, counter)
            return
        writerows = writer.writerows
        cell, column = number_cells(csv_cell, self.decimals, self.decimal_separator)
        for count, columns in column_chunks(table.rows, self.chunk_rows, len(table.headers)):
            writerows(zip(*[column(values, cell) for values in columns], strict=True))
            text.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()
            counter.add(count)
        text.write(buffer.getvalue())  # the header of a table without rows
