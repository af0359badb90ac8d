"""Several tables of a text format (CSV, JSON) delivered as one zip, a file per table."""

import zipfile
from collections.abc import Sequence
from typing import BinaryIO

from .base import ProgressCallback, Table, WriteResult
from .names import unique_names


def write_bundle(
    writer, tables: Sequence[Table], stream: BinaryIO, progress: ProgressCallback | None
) -> WriteResult:
    """Write each table with ``writer.write_table`` into its own zip member.

    Members are streamed (``ZipFile.open(..., "w")``), so no table is held in memory.
    Returns the total rows, with extension ``zip``.
    """
    rows = 0
    names = unique_names([table.name for table in tables], limit=120)
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for table, name in zip(tables, names, strict=True):
            info = zipfile.ZipInfo(f"{name}.{writer.extension}")
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as member:
                rows = writer.write_table(table, member, progress, rows)
    return WriteResult(rows, "zip", "application/zip")
