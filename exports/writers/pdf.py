"""PDF: a readable report drawn with reportlab's platypus (the engine underneath xhtml2pdf).

xhtml2pdf lays a big HTML table out in quadratic time (10,000 rows take minutes,
see the stack notes), so the rows go straight to platypus as tables of
``CHUNK_ROWS`` rows with fixed column widths and fixed row heights: nothing is
measured per cell at layout time, the work is linear and 10,000 rows render in a
few seconds. Header cells wrap (they are never cut); data cells never wrap: text wider
than its column is cut with "…" and numbers are rounded to fit (never cut).

Times read as people write them, ``2026-01-02 05:30`` (seconds and milliseconds only when
there are some), in the zone the title block states once; in the repeated hour of an autumn
night the offset follows (``02:30 +01:00``) because the wall time alone is ambiguous. Numbers
are written as the engine settled them (shortest form), or with ``format.decimals``.
The creation date and the document /ID derive from the job's slot, so re-running a slot gives
a byte-identical file.

Unlike the other formats a PDF is not streamed: reportlab keeps every page until
it saves, so memory grows with the rows (about 3.5 MB per 1,000). Reports of up to
about 50,000 rows are the recommended size (some 700 pages, 15 s and 180 MB here);
beyond that CSV, XLSX or JSON serve better.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from exports.writers.base import (
    Progress,
    ProgressCallback,
    ReportInfo,
    Table,
    Writer,
    WriteResult,
    checked_tables,
    chunked,
)
from exports.writers.cells import fixed, plain

CHUNK_ROWS = 500  # rows per platypus table: one table per page or two keeps splitting cheap
FONT_SIZE = 7
ROW_HEIGHT = 10
CELL_PADDING = 3
MARGIN = 12 * mm
MIN_COLUMN, MAX_COLUMN = 28.0, 200.0
MIN_NUMBER_CHARS = 10  # room for later, longer numbers than the first chunk's
ELLIPSIS = "…"
GREY = colors.HexColor("#555555")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# The PDF base fonts cover Latin-1 only: "CO₂", Greek or Cyrillic would print as
# boxes. The first DejaVu found on the system is embedded instead (Debian packages
# fonts-dejavu-extra, then fonts-dejavu-core); without one the report uses Helvetica.
_DEJAVU = "/usr/share/fonts/truetype/dejavu"
FONT_FILES = (
    (f"{_DEJAVU}/DejaVuSansCondensed.ttf", f"{_DEJAVU}/DejaVuSansCondensed-Bold.ttf"),
    (f"{_DEJAVU}/DejaVuSans.ttf", f"{_DEJAVU}/DejaVuSans-Bold.ttf"),
)


@dataclass(frozen=True)
class Fonts:
    """The report's fonts and the few measures that let most cells skip measuring."""

    regular: str
    bold: str
    ascii_widest: float  # points: the widest printable ASCII glyph
    number_widest: float  # points: the widest glyph of a formatted number
    time_width: float  # points: any timestamp (the font's digits share one width)


@functools.cache
def fonts() -> Fonts:
    """The fonts of every report, registered with reportlab on first use."""
    regular, bold = "Helvetica", "Helvetica-Bold"
    for regular_file, bold_file in FONT_FILES:
        if Path(regular_file).is_file() and Path(bold_file).is_file():
            regular, bold = "ExporterSans", "ExporterSans-Bold"
            pdfmetrics.registerFont(TTFont(regular, regular_file))
            pdfmetrics.registerFont(TTFont(bold, bold_file))
            break

    def width(text: str) -> float:
        return pdfmetrics.stringWidth(text, regular, FONT_SIZE)

    widest_digit = max("0123456789", key=width)
    return Fonts(
        regular=regular,
        bold=bold,
        ascii_widest=max(width(chr(code)) for code in range(32, 127)),
        number_widest=max(width(char) for char in "0123456789+-.e"),
        time_width=width("0000-00-00 00:00:00.000 +00:00".replace("0", widest_digit)),
    )


def text_width(text: str, font: str) -> float:
    """The width of ``text`` in points at the table's font size."""
    return pdfmetrics.stringWidth(text, font, FONT_SIZE)


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


def pdf_text(value: Any, decimals: int | None = None) -> str:
    """Return ``value`` as the one-line text of a table cell; numbers with ``decimals``
    fixed decimals when given, else in their shortest form.

    Raises ``ValueError`` for a naive datetime, ``TypeError`` as ``plain`` does.
    """
    kind = type(value)
    if kind is str:
        # A line break would spill out of the fixed-height row.
        return value if value.isprintable() else _CONTROL.sub(" ", value)
    if kind is float:
        if value - value != 0.0:
            return ""
        return float.__repr__(value) if decimals is None else fixed(value, decimals)
    if kind is datetime:
        return report_time(value)
    if kind is int:
        return int.__repr__(value) if decimals is None else fixed(value, decimals)
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return pdf_text(plain(value), decimals)


class PdfWriter(Writer):
    """A title block (title, request, window, timezone, generated at), then the tables.

    Each table repeats its header row on every page; with several tables (the
    ``expanded`` template) each gets a heading. Pages are numbered "Page N of M".
    Landscape A4 is used when the first table is too wide for portrait.
    """

    extension = "pdf"
    content_type = "application/pdf"
    label = "PDF"

    def write(
        self,
        tables: Iterable[Table],
        stream: BinaryIO,
        info: ReportInfo,
        *,
        expanded: bool = False,
        progress: ProgressCallback | None = None,
    ) -> WriteResult:
        """See ``Writer.write``; progress counts rows as their pages are drawn."""
        found = checked_tables(tables)
        font = fonts()
        styles = _Styles(font)
        counter = Progress(progress, self.chunk_rows)
        sections = [_Section(table, font, self.decimals) for table in found]
        # The page must be chosen before anything is laid out: ask the first table.
        natural = sum(sections[0].natural_widths())
        pagesize = A4 if natural <= A4[0] - 2 * MARGIN else landscape(A4)
        doc = SimpleDocTemplate(
            stream,
            pagesize=pagesize,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN + 4 * mm,  # room for the footer
            title=info.title,
            subject=info.request_name,
            author="Exporter",
            invariant=1,  # no wall-clock date or random /ID: ``_Canvas`` uses the slot's
        )
        story: list[Flowable] = _title_block(info, styles, doc.width)
        with_headings = expanded or len(sections) > 1
        for section in sections:
            if with_headings:
                heading = Paragraph(escape(section.table.name), styles.heading)
                heading.keepWithNext = True
                story.append(heading)
            story.extend(section.flowables(doc.width, counter, styles))
            story.append(Spacer(1, 5 * mm))
        same = info.title == info.request_name
        footer_text = info.title if same else f"{info.title} — {info.request_name}"
        footer = _Footer(footer_text, pagesize[0], font.regular)
        canvas = functools.partial(_Canvas, stamp=info.stamp)
        with _binary_streams():
            doc.build(story, onFirstPage=footer.draw, onLaterPages=footer.draw, canvasmaker=canvas)
        return WriteResult(counter.count, self.extension, self.content_type)


class _Styles:
    """Paragraph styles in the report's fonts."""

    def __init__(self, font: Fonts) -> None:
        self.font = font
        self.title = ParagraphStyle("title", fontName=font.bold, fontSize=16, leading=20)
        self.heading = ParagraphStyle(
            "heading", fontName=font.bold, fontSize=11, leading=14, spaceBefore=6, spaceAfter=4
        )
        self.label = ParagraphStyle("label", fontName=font.bold, fontSize=9, leading=11)
        self.header = ParagraphStyle(
            "header", fontName=font.bold, fontSize=FONT_SIZE, leading=FONT_SIZE + 1.5
        )
        self.body = ParagraphStyle("body", fontName=font.regular, fontSize=9, leading=11)
        self.note = ParagraphStyle("note", parent=self.body, textColor=GREY)

    def table(self, numeric: list[bool]) -> TableStyle:
        """The style of a data table; ``numeric`` columns are aligned right."""
        return TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), self.font.regular, FONT_SIZE),
                ("FONT", (0, 0), (-1, 0), self.font.bold, FONT_SIZE),
                ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#44546a")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f8")]),
                *(("ALIGN", (i, 0), (i, -1), "RIGHT") for i, right in enumerate(numeric) if right),
            ]
        )


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write page streams deflated only, without reportlab's default ASCII85 layer.

    ASCII85 keeps a PDF 7-bit clean, which no one needs any more; it makes the file
    25% larger and costs a fifth of the rendering time in pure Python.
    """
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def _title_block(info: ReportInfo, styles: _Styles, width: float) -> list[Flowable]:
    stamp = info.stamp
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(ZoneInfo(info.timezone))
    facts = [
        ("Request", info.request_name),
        ("Window", info.window),
        ("Time zone", f"{info.timezone} (every time in this report is local to it)"),
        ("Slot" if info.slot else "Generated at", report_time(stamp)),
    ]
    rows = [
        [Paragraph(label, styles.label), Paragraph(escape(value), styles.body)]
        for label, value in facts
    ]
    block = PdfTable(rows, colWidths=[30 * mm, width - 30 * mm], hAlign="LEFT")
    block.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, -1), 0)])
    )
    return [
        Paragraph(escape(info.title), styles.title),
        Spacer(1, 3 * mm),
        block,
        Spacer(1, 6 * mm),
    ]


class _Section:
    """One table of the report: measured on its first chunk, then emitted chunk by chunk."""

    def __init__(self, table: Table, font: Fonts, decimals: int | None = None) -> None:
        self.table = table
        self.font = font
        self.decimals = decimals
        self.headers = [pdf_text(str(label)) for label in table.display_headers or table.headers]
        self._chunks = chunked(table.rows, CHUNK_ROWS, len(self.headers))
        self._first = next(self._chunks, [])
        self._natural: list[float] | None = None

    def natural_widths(self) -> list[float]:
        """Column widths that fit the header's longest word (headers wrap) and the first
        chunk's cells, within limits."""
        if self._natural is None:
            self._natural = []
            for index, header in enumerate(self.headers):
                widest = max(
                    [
                        *(text_width(word, self.font.bold) for word in header.split() or [""]),
                        *(self._width(row[index]) for row in self._first),
                    ]
                )
                self._natural.append(min(MAX_COLUMN, max(MIN_COLUMN, widest + 2 * CELL_PADDING)))
        return self._natural

    def _width(self, value: Any) -> float:
        """The width ``value`` takes in a cell; an upper bound for numbers, exact otherwise."""
        kind = type(value)
        if kind is datetime:
            return self.font.time_width
        if kind is float or kind is int:
            text = pdf_text(value, self.decimals)
            return max(len(text), MIN_NUMBER_CHARS) * self.font.number_widest
        return text_width(pdf_text(value), self.font.regular)

    def _header_height(self, widths: list[float], styles: _Styles) -> float:
        """The height of the header row with every header wrapped to its column."""
        tallest = max(
            Paragraph(escape(text), styles.header).wrap(width - 2 * CELL_PADDING, 1000)[1]
            for text, width in zip(self.headers, widths, strict=True)
        )
        return max(ROW_HEIGHT, tallest + 3)  # + the 1.5 pt top and bottom padding

    def flowables(self, room: float, counter: Progress, styles: _Styles) -> Iterator[Flowable]:
        """The section's tables, one per chunk, each followed by a progress marker."""
        columns = range(len(self.headers))
        numeric = [_first_type(self._first, i) in (int, float) for i in columns]
        # Spare room goes to text columns: later rows may hold longer text than the first chunk.
        growable = [_first_type(self._first, i) in (str, None) for i in columns]
        fit = _Fitter(_share(self.natural_widths(), room, growable), self.font, self.decimals)
        style = styles.table(numeric)
        header_height = self._header_height(fit.widths, styles)

        def header() -> list[Paragraph]:
            # Wrapped, never cut; fresh paragraphs per chunk table (flowables keep state).
            return [Paragraph(escape(text), styles.header) for text in self.headers]

        if not self._first:
            yield _chunk_table(header(), [], fit.widths, style, header_height)
            yield Paragraph("No rows.", styles.note)
            return
        chunk: list[Sequence[Any]] | None = self._first
        cell = fit.cell
        while chunk is not None:
            rows = [[cell(value, index) for index, value in enumerate(row)] for row in chunk]
            yield _chunk_table(header(), rows, fit.widths, style, header_height)
            yield _RowsDrawn(counter, len(rows))
            chunk = next(self._chunks, None)


def _chunk_table(
    header: list[Paragraph],
    rows: list[list[str]],
    widths: list[float],
    style: TableStyle,
    header_height: float,
) -> PdfTable:
    # Fixed widths and heights spare platypus from measuring every cell.
    return PdfTable(
        [header, *rows],
        colWidths=widths,
        rowHeights=[header_height] + [ROW_HEIGHT] * len(rows),
        repeatRows=1,
        style=style,
        hAlign="LEFT",
    )


def _first_type(rows: Sequence[Sequence[Any]], index: int) -> type | None:
    """The type of the first value of column ``index`` that is not None (None if none is)."""
    for row in rows:
        if row[index] is not None:
            return type(row[index])
    return None


def _share(natural: list[float], room: float, growable: list[bool]) -> list[float]:
    """Fit column widths to exactly ``room``.

    With room to spare, the ``growable`` columns (all columns if none is) widen in
    proportion to their width. Short of room, narrow columns keep their width and
    wide ones shrink in proportion.
    """
    total = sum(natural)
    if total <= room:
        grow = [i for i, can in enumerate(growable) if can] or list(range(len(natural)))
        scale = 1 + (room - total) / sum(natural[i] for i in grow)
        return [width * scale if i in grow else width for i, width in enumerate(natural)]
    flexible = set(range(len(natural)))
    left = room
    while True:
        share = left / len(flexible)
        fixed = {i for i in flexible if natural[i] <= share}
        if not fixed or fixed == flexible:
            break
        flexible -= fixed
        left -= sum(natural[i] for i in fixed)
    scale = left / sum(natural[i] for i in flexible)
    return [natural[i] * scale if i in flexible else natural[i] for i in range(len(natural))]


class _Fitter:
    """Turns values into cell text cut to the column width.

    Measuring text is slow in pure-Python reportlab (about 5 µs a string), so the
    usual cells are proven to fit from their length alone and never measured.
    """

    def __init__(self, widths: list[float], font: Fonts, decimals: int | None = None) -> None:
        self.widths = widths
        self.font = font
        self.decimals = decimals
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
        text = pdf_text(value, self.decimals)
        if kind is float or kind is int:
            return text if len(text) <= self.number_safe[index] else self.round(value, index)
        if len(text) <= self.ascii_safe[index] and text.isascii():
            return text
        return self.cut(text, index)

    def round(self, value: float, index: int) -> str:
        """Return a number too long for column ``index`` with fewer digits, as a spreadsheet
        does in a narrow column: a rounded number reads right, a cut one reads wrong."""
        for digits in range(14, 0, -1):
            text = format(value, f".{digits}g")
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


def _date_document(document, stamp: datetime) -> None:
    """Make the document's creation/modification date ``stamp`` (UTC) and seed its /ID with
    it, replacing reportlab's wall-clock time stamp (the document was made ``invariant``)."""
    utc = stamp.astimezone(UTC) if stamp.tzinfo else stamp
    timestamp = document._timeStamp
    timestamp.t = utc.timestamp() if stamp.tzinfo else timestamp.t
    timestamp.YMDhms = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    timestamp.dhh = timestamp.dmm = 0
    # The /ID is a digest of this signature and the content: the same slot and rows give
    # the same /ID, another slot another one.
    document.signature = hashlib.md5(usedforsecurity=False)
    document.signature.update(b"exporter report " + utc.isoformat().encode())


class _RowsDrawn(Flowable):
    """An invisible marker after each chunk: counts its rows once their page is drawn."""

    def __init__(self, counter: Progress, rows: int) -> None:
        super().__init__()
        self.counter = counter
        self.rows = rows

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.counter.add(self.rows)


class _Footer:
    """Draws "title — request" on the left and "Page N of M" on the right of every page."""

    def __init__(self, text: str, page_width: float, font: str) -> None:
        self.text = text
        self.page_width = page_width
        self.font = font

    def draw(self, canvas: _Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(self.font, FONT_SIZE)
        canvas.setFillColor(GREY)
        y = MARGIN - 2 * mm
        canvas.drawString(MARGIN, y, self.text)
        canvas.draw_page_number(self.page_width - MARGIN, y, self.font)
        canvas.restoreState()


class _Canvas(Canvas):
    """A canvas that can write "Page N of M" without laying the document out twice.

    "M" is a PDF form drawn on every page but filled in only when the document is
    saved, when the page count is known.
    """

    TOTAL_FORM = "pageCount"
    _total_font = "Helvetica"

    def __init__(self, *args, stamp: datetime | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if stamp is not None:
            _date_document(self._doc, stamp)

    def draw_page_number(self, right: float, y: float, font: str) -> None:
        """Draw "Page N of " and the page-count form, ending at ``right``."""
        self._total_font = font
        label = f"Page {self.getPageNumber()} of "
        x = right - text_width("0000", font) - text_width(label, font)
        self.drawString(x, y, label)
        self.saveState()
        self.translate(x + text_width(label, font), y)
        self.doForm(self.TOTAL_FORM)
        self.restoreState()

    def save(self) -> None:
        """Fill in the page count, then write the document."""
        pages = self.getPageNumber() - (0 if self._code else 1)  # showPage moved on already
        self.beginForm(self.TOTAL_FORM)
        self.setFont(self._total_font, FONT_SIZE)
        self.setFillColor(GREY)
        self.drawString(0, 0, str(pages))
        self.endForm()
        super().save()
