"""Values as the one-line text of a report cell, cut or rounded to fit its column."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from exports.writers.cells import fixed, plain
from exports.writers.columns import shortest
from exports.writers.pdf.layout import CELL_PADDING, Fonts, text_width

ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def report_time(value: datetime) -> str:
    """``2026-01-02 05:30``, with ``:ss`` and ``.mmm`` only when there are some, and the UTC
    offset only where the wall time is ambiguous (the repeated hour of a DST change).

    Raises ``ValueError`` for a naive datetime.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value!r}: rows must carry the request's timezone")
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"
    if value.second or value.microsecond:
        text += f":{value.second:02d}"
        if value.microsecond:
            text += f".{value.microsecond // 1000:03d}"
    if value.replace(fold=1 - value.fold).utcoffset() != offset:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        text += f" {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def pdf_text(value: Any, decimals: int | None = None, separator: str = ".") -> str:
    """Return ``value`` as the one-line text of a table cell; numbers with ``decimals``
    fixed decimals when given, else in their shortest form (``55``, not ``55.0``), with the
    decimal ``separator``.

    Raises ``ValueError`` for a naive datetime, ``TypeError`` as ``plain`` does.
    """
    kind = type(value)
    if kind is str:
        # A line break would spill out of the fixed-height row.
        return value if value.isprintable() else _CONTROL.sub(" ", value)
    if kind is float:
        if value - value != 0.0:
            return ""
        text = shortest(value) if decimals is None else fixed(value, decimals)
        return text if separator == "." else text.replace(".", separator)
    if kind is datetime:
        return report_time(value)
    if kind is int:
        text = int.__repr__(value) if decimals is None else fixed(value, decimals)
        return text if separator == "." else text.replace(".", separator)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return pdf_text(plain(value), decimals, separator)


class Fitter:
    """Turns values into cell text cut to the column width.

    Measuring text is slow in pure-Python reportlab (about 5 µs a string), so the
    usual cells are proven to fit from their length alone and never measured.
    """

    def __init__(
        self, widths: list[float], font: Fonts, decimals: int | None = None, separator: str = "."
    ) -> None:
        self.widths = widths
        self.font = font
        self.decimals = decimals
        self.separator = separator
        self.room = [width - 2 * CELL_PADDING for width in widths]
        self.time_fits = [font.time_width <= room for room in self.room]
        self.number_safe = [int(room / font.number_widest) for room in self.room]
        self.ascii_safe = [int(room / font.ascii_widest) for room in self.room]
        self._measured: dict[tuple[str, str], float] = {}  # ids and names repeat a lot

    def cell(self, value: Any, index: int) -> str:
        """Return ``value`` as text that fits column ``index``: whole, cut or rounded."""
        kind = type(value)
        if kind is datetime:
            text = report_time(value)
            return text if self.time_fits[index] else self.cut(text, index)
        text = pdf_text(value, self.decimals, self.separator)
        if kind is float or kind is int:
            return text if len(text) <= self.number_safe[index] else self.round(value, index)
        if len(text) <= self.ascii_safe[index] and text.isascii():
            return text
        return self.cut(text, index)

    def round(self, value: float, index: int) -> str:
        """Return a number too long for column ``index`` with fewer digits, as a spreadsheet
        does in a narrow column: a rounded number reads right, a cut one reads wrong."""
        for digits in range(14, 0, -1):
            text = format(value, f".{digits}g").replace(".", self.separator)
            if len(text) <= self.number_safe[index]:
                return text
        return self.cut(text, index)

    def cut(self, text: str, index: int, font: str | None = None) -> str:
        """Return ``text``, or its longest prefix that fits column ``index`` followed by "…"."""
        font = font or self.font.regular
        room = self.room[index]
        if self._measure(text, font) <= room:
            return text
        room -= text_width(ELLIPSIS, font)
        low, high = 0, len(text)  # bisect on the prefix length
        while low < high:
            middle = (low + high + 1) // 2
            if text_width(text[:middle], font) <= room:
                low = middle
            else:
                high = middle - 1
        return text[:low] + ELLIPSIS

    def _measure(self, text: str, font: str) -> float:
        key = (text, font)
        width = self._measured.get(key)
        if width is None:
            if len(self._measured) > 10_000:  # bound the cache on high-cardinality text
                self._measured.clear()
            width = self._measured[key] = text_width(text, font)
        return width
