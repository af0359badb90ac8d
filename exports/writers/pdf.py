"""A readable PDF report, drawn with reportlab (the engine underneath xhtml2pdf).

xhtml2pdf lays a big HTML table out in quadratic time (10,000 rows take minutes), so
the table goes straight to reportlab's platypus in page-sized chunks with fixed column
widths: linear time, a few seconds for 10,000 rows.
"""

from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .base import Writer, WriteResult
from .cells import iso

CHUNK_ROWS = 500
FONT, FONT_BOLD, FONT_SIZE = "Helvetica", "Helvetica-Bold", 7
PROGRESS_EVERY = 5000

_TABLE_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, FONT_SIZE),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#44546a")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f8fa")]),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _fit(text: str, width: float) -> str:
    """Cut text that would overflow its fixed-width column, marking the cut with …"""
    if stringWidth(text, FONT, FONT_SIZE) <= width:
        return text
    while text and stringWidth(text + "…", FONT, FONT_SIZE) > width:
        text = text[: max(1, int(len(text) * 0.9))] if len(text) > 8 else text[:-1]
    return text + "…"


class PdfWriter(Writer):
    """Title block (title, request, window, timezone, generated-at), then one section per
    table; each table repeats its header row on every page; pages are numbered."""

    extension = "pdf"
    content_type = "application/pdf"

    def write(self, tables, stream, info, *, expanded=False, progress=None) -> WriteResult:
        tables = list(tables)
        widest = max((len(t.headers) for t in tables), default=1)
        pagesize = landscape(A4) if widest > 5 else A4
        doc = SimpleDocTemplate(
            stream,
            pagesize=pagesize,
            leftMargin=12 * mm,
            rightMargin=12 * mm,
            topMargin=12 * mm,
            bottomMargin=14 * mm,
            title=info.title,
            author="Exporter",
        )
        styles = getSampleStyleSheet()
        story: list = [
            Paragraph(escape(info.title), styles["Title"]),
            Paragraph(
                "<br/>".join(
                    f"<b>{label}:</b> {escape(value)}"
                    for label, value in (
                        ("Request", info.request_name),
                        ("Window", info.window),
                        ("Time zone", info.timezone),
                        ("Generated", iso(info.generated_at)),
                    )
                ),
                styles["Normal"],
            ),
            Spacer(1, 5 * mm),
        ]
        counter = _Counter(progress)
        for table in tables:
            if len(tables) > 1:
                story.append(Paragraph(escape(table.name), styles["Heading2"]))
            story.extend(self._table_chunks(table.headers, table.rows, doc.width, counter))
            story.append(Spacer(1, 4 * mm))
        doc.build(story, onFirstPage=_page_number, onLaterPages=_page_number)
        return WriteResult(counter.rows, self.extension, self.content_type)

    @staticmethod
    def _table_chunks(headers: Sequence[str], rows, width: float, counter: "_Counter"):
        """Yield page-sized platypus tables; each repeats the header row when it splits."""
        column_width = width / max(1, len(headers))
        room = column_width - 4
        header = [_fit(str(h), room) for h in headers]
        iterator = iter(rows)
        first = True
        while True:
            chunk = [[_fit(_text(v), room) for v in row] for row in islice(iterator, CHUNK_ROWS)]
            if not chunk and not first:
                return
            first = False
            counter.add(len(chunk))
            table = Table([header, *chunk], colWidths=[column_width] * len(headers), repeatRows=1)
            table.setStyle(_TABLE_STYLE)
            yield table
            if len(chunk) < CHUNK_ROWS:
                return


class _Counter:
    def __init__(self, progress):
        self.rows = 0
        self.progress = progress
        self.reported = 0

    def add(self, count: int) -> None:
        self.rows += count
        if self.progress is not None and self.rows - self.reported >= PROGRESS_EVERY:
            self.reported = self.rows
            self.progress(self.rows)


def _page_number(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7)
    canvas.drawRightString(doc.pagesize[0] - 12 * mm, 7 * mm, f"Page {doc.page}")
    canvas.restoreState()
