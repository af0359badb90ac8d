"""The one writer interface: tables of rows in, a file out, streamed.

The export engine produces ``Table`` objects (one for the ``tabular`` template,
one per item for ``expanded``) whose rows are sequences of plain Python values:
``str``, ``int``, ``float``, ``bool``, ``None`` or timezone-aware ``datetime``
already converted to the request's timezone. Each format has one small
``Writer`` subclass that streams those rows to a binary stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, ClassVar


@dataclass
class ReportInfo:
    """Facts about the export shown in report-style outputs (PDF) and used for names."""

    title: str
    request_name: str
    timezone: str
    window: str
    generated_at: datetime


@dataclass
class Table:
    """One table: a name (sheet, section or file name), headers, and a row iterable."""

    name: str
    headers: list[str]
    rows: Iterable[Sequence]


@dataclass
class WriteResult:
    rows: int
    extension: str  # the file's real extension ("zip" when several CSV/JSON files are bundled)
    content_type: str


ProgressCallback = Callable[[int], None]


class Writer:
    """Base class: one subclass per format, registered by ``extension``."""

    extension: ClassVar[str]
    content_type: ClassVar[str]

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """Write every table to ``stream``; return the rows written and the file's type.

        ``progress`` is called with the running row count every few thousand rows.
        """
        raise NotImplementedError
