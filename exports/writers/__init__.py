"""Format writers: one small class per format behind ``base.Writer``; ``WRITERS`` maps
a request's extension to its class."""

from .base import ReportInfo, Table, Writer, WriteResult
from .csv import CsvWriter
from .json import JsonWriter
from .pdf import PdfWriter
from .xlsx import XlsxWriter

WRITERS: dict[str, type[Writer]] = {
    writer.extension: writer for writer in (CsvWriter, XlsxWriter, JsonWriter, PdfWriter)
}


def writer_for(request) -> Writer:
    """The writer configured for an export request (CSV gets the request's delimiter)."""
    if request.extension == CsvWriter.extension:
        return CsvWriter(delimiter=request.csv_delimiter)
    return WRITERS[request.extension]()


__all__ = ["WRITERS", "ReportInfo", "Table", "Writer", "WriteResult", "writer_for"]
