"""The summary of every series of a table: count, min, max, mean, first and last time, a chart.

A series is a value column of the table, split by the table's label columns (its text
columns: device, channel, name, unit…) when it has any: a long table's rows of one device and
metric make one series, a wide table's column one. Text columns holding times (``timeUtc``)
are not labels. A table with more than ``MAX_SERIES`` such series is summarised per value
column instead, and says so.

The summary comes before the table in the report, but the rows are read once: ``Tallies``
counts each chunk while the table formats it (the writer holds every formatted row until the
document is saved anyway), keeping per numeric series only its times and values as C
doubles (16 bytes a row), which the chart is drawn from.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from exports.writers.cells import fixed, plain
from exports.writers.pdf.cells import pdf_text, report_time
from exports.writers.pdf.chart import note_drawing, series_chart
from exports.writers.pdf.layout import Styles

MAX_SERIES = 24
FACTS_WIDTH = 58 * mm
CHART_HEIGHT = 34 * mm
NOTE_HEIGHT = 8 * mm
_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z\Z")


class Roles:
    """Which columns of a table hold the time, the values and the series labels.

    From ``Table.kinds`` when the engine gives them, else from the first chunk's values
    (times, numbers or booleans, text).
    """

    def __init__(self, kinds: Sequence[str] | None, first: Sequence[Sequence[Any]]) -> None:
        if kinds is None:
            kinds = [_guess(first, index) for index in range(len(first[0]) if first else 0)]
        times = [index for index, kind in enumerate(kinds) if kind == "time"]
        self.time = times[0] if times else None
        self.values = [index for index, kind in enumerate(kinds) if kind == "value"]
        self.labels = [
            index
            for index, kind in enumerate(kinds)
            if kind == "text" and not _holds_utc_texts(first, index)
        ]


def _guess(rows: Sequence[Sequence[Any]], index: int) -> str:
    for row in rows:
        value = row[index]
        if value is None:
            continue
        if isinstance(value, datetime):
            return "time"
        return "text" if isinstance(value, str) else "value"
    return "empty"


def _holds_utc_texts(rows: Sequence[Sequence[Any]], index: int) -> bool:
    texts = [row[index] for row in rows[:50] if row[index] is not None]
    return bool(texts) and all(type(text) is str and _UTC_TEXT.match(text) for text in texts)


class Tally:
    """One series: its count, its numbers and their times, its first and last time."""

    __slots__ = ("count", "first", "last", "numbers", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.numbers = array("d")
        self.seconds = array("d")

    def add(self, moment: datetime | None, value: Any) -> None:
        kind = type(value)
        if kind is not float and kind is not int and kind is not str and kind is not bool:
            value = plain(value)
            kind = type(value)
        if kind is float and value - value != 0.0:
            return  # NaN and infinities are empty cells in the table
        self.count += 1
        if moment is not None:
            if self.first is None:
                self.first = moment
            self.last = moment
        if kind is float or kind is int:
            self.numbers.append(value)
            self.seconds.append(moment.timestamp() if moment is not None else math.nan)


class Tallies:
    """Every series of one table, counted chunk by chunk."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles
        self.series: dict[tuple, Tally] = {}
        self.columns = {index: Tally() for index in roles.values}  # the fallback summary

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        time, labels, series = self.roles.time, self.roles.labels, self.series
        for index in self.roles.values:
            column = self.columns[index]
            for row in rows:
                value = row[index]
                if value is None:
                    continue
                moment = row[time] if time is not None else None
                column.add(moment, value)
                if len(series) > MAX_SERIES:
                    continue
                key = (index, *(row[label] for label in labels))
                tally = series.get(key)
                if tally is None:
                    tally = series[key] = Tally()
                tally.add(moment, value)

    def summarised(self) -> tuple[list[tuple[tuple, Tally]], bool]:
        """The series to show (value column, labels…) and whether they were merged per
        value column because there were too many. Value columns without any value are
        included, empty."""
        if len(self.series) > MAX_SERIES:
            return [((index,), tally) for index, tally in self.columns.items()], True
        found = {key[0] for key in self.series}
        empty = [((index,), Tally()) for index in self.roles.values if index not in found]
        return sorted([*self.series.items(), *empty], key=lambda pair: pair[0][0]), False


class Summary:
    """The summary flowables of one table."""

    def __init__(
        self,
        tallies: Tallies,
        headers: Sequence[str],
        units: Sequence[str | None],
        styles: Styles,
        decimals: int | None = None,
        separator: str = ".",
    ) -> None:
        self.tallies = tallies
        self.headers = headers
        self.units = units
        self.styles = styles
        self.decimals = decimals
        self.separator = separator

    def flowables(self, width: float) -> list[Flowable]:
        series, merged = self.tallies.summarised()
        if not series:
            return []
        numeric = [tally for _, tally in series if tally.numbers]
        spans = [
            (tally.seconds[0], tally.seconds[-1]) for tally in numeric if tally.first is not None
        ]
        span = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else (0.0, 0.0)
        several_columns = len(self.tallies.roles.values) > 1
        story: list[Flowable] = []
        if merged:
            text = f"More than {MAX_SERIES} series: summarised per column."
            story.append(Paragraph(text, self.styles.note))
        for key, tally in series:
            header = self.headers[key[0]]
            labels = [pdf_text(label) for label in key[1:] if label is not None]
            name = " · ".join(labels) if labels else header
            if labels and several_columns:
                name = f"{header}: {name}"
            elif labels and self.units[key[0]]:
                name = f"{name} [{pdf_text(self.units[key[0]])}]"
            story.append(self._block(name, tally, span, width))
        return story

    def _block(self, name: str, tally: Tally, span: tuple[float, float], width: float):
        styles = self.styles
        size = (width - FACTS_WIDTH, CHART_HEIGHT)
        note = (size[0], NOTE_HEIGHT)  # no chart: a line that says why, not an empty frame
        font = styles.font.regular
        if tally.count == 0:
            facts = [("Count", "0")]
            chart = note_drawing("No data in the window", note, font)
        elif not tally.numbers or tally.first is None:
            facts = [("Count", str(tally.count)), *self._times(tally)]
            if tally.numbers:
                facts[1:1] = self._numbers(tally)
            reason = "No time column: no chart" if tally.numbers else "Text values: no chart"
            chart = note_drawing(reason, note, font)
        else:
            facts = [("Count", str(tally.count)), *self._numbers(tally), *self._times(tally)]
            zone = tally.first.tzinfo
            chart = series_chart(
                tally.seconds, tally.numbers, span, zone, size, font, self.separator
            )
        title = Paragraph(escape(name), styles.series)
        if tally.count == 0:
            title = Paragraph(f"{escape(name)} — <b>No data</b>", styles.series)
        rows = [[Paragraph(escape(label), styles.fact), text] for label, text in facts]
        table = PdfTable(rows, colWidths=[16 * mm, FACTS_WIDTH - 20 * mm], hAlign="LEFT")
        table.setStyle(_FACTS + [("FONT", (1, 0), (1, -1), font, 8)])
        block = PdfTable([[table, chart]], colWidths=[FACTS_WIDTH, size[0]], hAlign="LEFT")
        block.setStyle(_BLOCK)
        return KeepTogether([title, block, Spacer(1, 2 * mm)])

    def _numbers(self, tally: Tally) -> list[tuple[str, str]]:
        numbers = tally.numbers
        mean = math.fsum(numbers) / len(numbers)
        facts = [
            ("Min", self._number(min(numbers))),
            ("Max", self._number(max(numbers))),
            ("Mean", self._mean(mean)),
        ]
        if len(numbers) != tally.count:
            facts.insert(0, ("Numbers", str(len(numbers))))
        return facts

    def _times(self, tally: Tally) -> list[tuple[str, str]]:
        if tally.first is None or tally.last is None:
            return []
        return [("First", report_time(tally.first)), ("Last", report_time(tally.last))]

    def _number(self, value: float) -> str:
        return pdf_text(value, self.decimals, self.separator)  # 55.0 reads 55

    def _mean(self, value: float) -> str:
        """The mean to six significant digits (or ``format.decimals``), as the table writes
        numbers."""
        if self.decimals is not None:
            text = fixed(value, self.decimals)
            return text if self.separator == "." else text.replace(".", self.separator)
        return self._number(float(f"{value:.6g}"))


_FACTS = [
    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("TOPPADDING", (0, 0), (-1, -1), 0.5),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
    ("LEFTPADDING", (0, 0), (0, -1), 0),
]
_BLOCK = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ]
)
