import csv
import io
from typing import BinaryIO

from .base import ProgressCallback, Table, Writer, WriteResult
from .bundle import write_bundle
from .cells import TEXT_CELL, neutralise, text_cell

PROGRESS_EVERY = 5000


class CsvWriter(Writer):
    """UTF-8 CSV with one header row; the delimiter comes from the request.

    Several tables (the ``expanded`` template) become one CSV file each inside a zip.
    """

    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def __init__(self, delimiter: str = ","):
        self.delimiter = delimiter

    def write(self, tables, stream, info, *, expanded=False, progress=None) -> WriteResult:
        tables = list(tables)
        if expanded or len(tables) > 1:
            return write_bundle(self, tables, stream, progress)
        rows = self.write_table(tables[0], stream, progress) if tables else 0
        return WriteResult(rows, self.extension, self.content_type)

    def write_table(
        self, table: Table, stream: BinaryIO, progress: ProgressCallback | None, done: int = 0
    ) -> int:
        """Write one table (header + rows) to ``stream``; return the running row count."""
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        try:
            writer = csv.writer(text, delimiter=self.delimiter, lineterminator="\r\n")
            writer.writerow([neutralise(str(h)) for h in table.headers])
            writerow, convert = writer.writerow, TEXT_CELL.get
            for row in table.rows:
                writerow([(convert(type(v)) or text_cell)(v) for v in row])
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done)
            text.flush()
        finally:
            text.detach()  # leave the binary stream open for the caller
        return done
