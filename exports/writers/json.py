import json
import math
from datetime import datetime
from typing import BinaryIO

from .base import ProgressCallback, Table, Writer, WriteResult
from .bundle import write_bundle
from .cells import iso

PROGRESS_EVERY = 5000


def _json_value(value):
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/Infinity are not JSON
    return value


class JsonWriter(Writer):
    """A stream-written JSON array of objects keyed by the column labels (UTF-8).

    Several tables (the ``expanded`` template) become one JSON file each inside a zip.
    """

    extension = "json"
    content_type = "application/json"

    def write(self, tables, stream, info, *, expanded=False, progress=None) -> WriteResult:
        tables = list(tables)
        if expanded or len(tables) > 1:
            return write_bundle(self, tables, stream, progress)
        if not tables:
            stream.write(b"[]\n")
            return WriteResult(0, self.extension, self.content_type)
        rows = self.write_table(tables[0], stream, progress)
        return WriteResult(rows, self.extension, self.content_type)

    def write_table(
        self, table: Table, stream: BinaryIO, progress: ProgressCallback | None, done: int = 0
    ) -> int:
        """Write one table as a JSON array to ``stream``; return the running row count."""
        encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        headers = list(table.headers)
        write = stream.write
        write(b"[")
        separator = b"\n"
        for row in table.rows:
            record = dict(zip(headers, map(_json_value, row), strict=False))
            write(separator + encode(record).encode("utf-8"))
            separator = b",\n"
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done)
        write(b"\n]\n")
        return done
