"""Text formats (CSV, JSON): one file for one table, or a zip with a file per table."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, TextIO

from exports.rows.tables import ReportInfo, Table
from exports.writers.base import (
    Progress,
    ProgressCallback,
    Writer,
    WriteResult,
    checked_tables,
)
from exports.writers.names import FILE_STEM_LIMIT, UniqueNames, file_stem

ZIP_CONTENT_TYPE = "application/zip"


class TextWriter(Writer):
    """Base of the text formats: subclasses write one table as UTF-8 text.

    Several tables, or the ``expanded`` template, give a zip (deflated, streamed
    member by member) holding one file per table named after it.
    """

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """See ``Writer.write``; the result's extension is "zip" when the tables were bundled."""
        found = checked_tables(tables)
        counter = Progress(progress, self.chunk_rows)
        if not expanded and len(found) == 1:
            with _text_over(stream) as text:
                self.write_table(found[0], text, counter)
            return WriteResult(counter.count, self.extension, self.content_type)
        names = UniqueNames(FILE_STEM_LIMIT)
        # force_zip64: a member's size is unknown when it starts and may pass 2 GiB.
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for table in found:
                member = names.take(file_stem(table.name), f".{self.extension}")
                with archive.open(member, "w", force_zip64=True) as raw, _text_over(raw) as text:
                    self.write_table(table, text, counter)
        return WriteResult(counter.count, "zip", ZIP_CONTENT_TYPE)

    def write_table(self, table: Table, text: TextIO, counter: Progress) -> None:
        """Write one whole table (headers and rows) to ``text``, counting rows on ``counter``."""
        raise NotImplementedError


@contextmanager
def _text_over(raw: BinaryIO) -> Iterator[TextIO]:
    """A UTF-8 text layer over a binary stream that leaves the stream open afterwards."""
    # newline="" so the CSV module's \r\n reaches the file untouched; "replace" so a
    # stray lone surrogate becomes "?" instead of failing an hour-long export.
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()  # flushes; the caller owns (and closes) the binary stream
