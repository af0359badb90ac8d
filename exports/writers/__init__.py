"""Format writers: one small class per format behind ``base.Writer``.

``WRITERS`` maps an extension to its writer class; ``CHOICES`` is derived from it. Each
format's module is imported when its writer is first asked for: openpyxl (with numpy),
reportlab and pyarrow take most of a second to import, which a CSV export (``manage.py
exportnow``, a worker's job) would otherwise pay at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from exports.requests.vocabulary import EXTENSION_ALIASES
from exports.rows.tables import ReportInfo, Table
from exports.writers.base import Writer, WriteResult

# extension → (module, class), in the order formats are offered.
_WHERE = {
    "csv": ("exports.writers.csv", "CsvWriter"),
    "xlsx": ("exports.writers.xlsx", "XlsxWriter"),
    "pdf": ("exports.writers.pdf", "PdfWriter"),
    "json": ("exports.writers.json", "JsonWriter"),
    "parquet": ("exports.writers.parquet", "ParquetWriter"),
}


class _Registry(Mapping):
    """Extension → writer class, each module imported on first use."""

    def __getitem__(self, extension: str) -> type[Writer]:
        module, name = _WHERE[extension]
        return getattr(importlib.import_module(module), name)

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)


WRITERS: Mapping[str, type[Writer]] = _Registry()


def __getattr__(name: str) -> Any:
    if name == "CHOICES":  # (extension, label) pairs: imports every format
        return [(extension, writer.label) for extension, writer in WRITERS.items()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
