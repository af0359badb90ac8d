"""CSV: UTF-8, one header row, the request's delimiter, RFC 4180 quoting and line ends."""

from __future__ import annotations

import csv
from datetime import datetime
from typing import Any, TextIO

from .base import Progress, Table, chunked
from .bundle import TextWriter
from .cells import FORMULA_PREFIXES, iso_timestamp, neutralise, plain


def csv_cell(value: Any) -> Any:
    """Return ``value`` as the csv module should write it.

    Text that a spreadsheet would run as a formula is neutralised, times become
    ISO 8601 with offset, booleans true/false, None and non-finite floats an
    empty cell; ints and floats are passed through untouched. Raises
    ``TypeError``/``ValueError`` as ``plain`` and ``iso_timestamp`` do.
    """
    # Exact type tests, most frequent first: this runs for every cell of every row.
    kind = type(value)
    if kind is str:
        return neutralise(value) if value and value[0] in FORMULA_PREFIXES else value
    if kind is float:
        return value if value - value == 0.0 else ""  # NaN and ±inf give NaN here
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
        """Write the header row and every row of ``table`` to ``text``."""
        writer = csv.writer(text, delimiter=self.delimiter, lineterminator="\r\n")
        writer.writerow([neutralise(str(label)) for label in table.headers])
        writerows = writer.writerows
        cell = csv_cell
        for chunk in chunked(table.rows, self.chunk_rows, len(table.headers)):
            writerows([[cell(value) for value in row] for row in chunk])
            counter.add(len(chunk))
