"""Format writers: one small class per format behind ``base.Writer``.

``WRITERS`` maps an extension to its writer class; ``CHOICES`` is derived from it.
"""

from __future__ import annotations

from typing import Any

from exports.requests.vocabulary import EXTENSION_ALIASES
from exports.rows.tables import ReportInfo, Table
from exports.writers.base import Writer, WriteResult
from exports.writers.csv import CsvWriter
from exports.writers.json import JsonWriter
from exports.writers.parquet import ParquetWriter
from exports.writers.pdf import PdfWriter
from exports.writers.xlsx import XlsxWriter

WRITERS: dict[str, type[Writer]] = {
    writer.extension: writer
    for writer in (CsvWriter, XlsxWriter, PdfWriter, JsonWriter, ParquetWriter)
}
CHOICES: list[tuple[str, str]] = [
    (extension, writer.label) for extension, writer in WRITERS.items()
]


def writer_for(request: Any) -> Writer:
    """The writer for an export request's ``extension`` (aliases such as "xls" accepted).

    Every writer is built the same way; only CSV uses the request's delimiter and byte
    order mark, and CSV and PDF its decimal separator. Raises ``KeyError`` for an extension
    no writer handles.
    """
    extension = EXTENSION_ALIASES.get(request.extension, request.extension)
    return WRITERS[extension](
        delimiter=request.csv_delimiter or ",",
        decimals=getattr(request, "decimals", None),
        bom=getattr(request, "csv_bom", True),
        decimal_separator=getattr(request, "decimal_separator", ".") or ".",
    )


__all__ = ["CHOICES", "WRITERS", "ReportInfo", "Table", "Writer", "WriteResult", "writer_for"]
