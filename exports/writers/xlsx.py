from datetime import datetime

from django.conf import settings
from openpyxl import Workbook

from .base import Writer, WriteResult
from .cells import neutralise
from .names import unique_names

PROGRESS_EVERY = 5000
EXCEL_MAX_DATA_ROWS = 1_048_575  # 1,048,576 rows per sheet, one of them the header


def _xlsx_value(value):
    if isinstance(value, datetime):
        # Excel has no time zones: write the local wall time (openpyxl gives it a date format).
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        return neutralise(value)  # openpyxl would store "=..." as a formula
    return value


class XlsxWriter(Writer):
    """An Excel workbook written with openpyxl's write-only mode (flat memory).

    Each table is a sheet; a table longer than ``max_rows`` continues on sheets named
    "<name> (2)", "<name> (3)", ... with the header repeated — never truncated.
    """

    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def __init__(self, max_rows: int | None = None):
        self.max_rows = max_rows or getattr(settings, "EXPORTS_XLSX_MAX_ROWS", EXCEL_MAX_DATA_ROWS)

    def write(self, tables, stream, info, *, expanded=False, progress=None) -> WriteResult:
        workbook = Workbook(write_only=True)
        used: list[str] = []
        done = 0
        for table in tables:
            headers = [neutralise(str(h)) for h in table.headers]
            part, sheet, in_sheet = 1, None, self.max_rows
            for row in table.rows:
                if in_sheet >= self.max_rows:
                    name = table.name if part == 1 else f"{table.name} ({part})"
                    sheet = workbook.create_sheet(self._sheet_name(name, used))
                    sheet.append(headers)
                    part, in_sheet = part + 1, 0
                sheet.append([_xlsx_value(value) for value in row])
                in_sheet += 1
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done)
            if sheet is None:  # an empty table still gets its sheet and header
                sheet = workbook.create_sheet(self._sheet_name(table.name, used))
                sheet.append(headers)
        if not used:
            workbook.create_sheet("data")
        workbook.save(stream)
        return WriteResult(done, self.extension, self.content_type)

    @staticmethod
    def _sheet_name(name: str, used: list[str]) -> str:
        """Excel sheet names: ≤31 characters, none of []:*?/\\, unique ignoring case."""
        unique = unique_names([*used, name], limit=31)[-1]
        used.append(unique)
        return unique
