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

The report: a header (title, request, window, zone, generation time or slot) above the
first table; then for each table the summary of each of its series (count, min, max, mean,
first and last time; count, first and last for text; "No data" for an empty one) beside a
line chart of the series (``summary``, ``chart``), then the table, units in the value
columns' headers (``value [°C]``, when ``Table.units`` knows them; ``rows.units``) and
numbers right-aligned.

The summary precedes the table but the rows are read once: ``Section.read`` counts the
series and keeps the rows as they came (a few dozen bytes a cell); the platypus tables (a
few hundred bytes a cell: reportlab gives each cell a style object) are made from them only
as the pages reach them (``pages.Story``), so at most a few exist at a time. What still
grows with the rows is reportlab's pages, kept until it saves: 100,000 rows (about 1,400
pages) peak near 200 MB and take about 30 s here; CSV, XLSX or JSON serve bigger exports.

This module holds the writer and the title block; ``layout`` the fonts, styles and measures,
``cells`` the text of a cell, ``tables`` the tables chunk by chunk, ``summary`` the series and
their summaries, ``chart`` the line charts, ``pages`` the footer, the page count, the file's
dates and /ID and the lazy story.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import BinaryIO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from exports.rows.tables import ReportInfo, Table
from exports.writers.base import (
    Progress,
    ProgressCallback,
    Writer,
    WriteResult,
    checked_tables,
)
from exports.writers.pdf.cells import report_time
from exports.writers.pdf.layout import MARGIN, Styles, fonts
from exports.writers.pdf.pages import Footer, ReportCanvas, Story, binary_streams
from exports.writers.pdf.tables import Section


class PdfWriter(Writer):
    """A header (title, request, window, timezone, generated at), then per table the
    summaries and charts of its series and the table.

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
        styles = Styles(font)
        counter = Progress(progress, self.chunk_rows)
        sections = [Section(table, font, self.decimals, self.decimal_separator) for table in found]
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
            invariant=1,  # no wall-clock date or random /ID: ``ReportCanvas`` uses the slot's
        )
        with_headings = expanded or len(sections) > 1

        def flowables() -> Iterator[Flowable]:
            yield from _title_block(info, styles, doc.width)
            for section in sections:
                section.read()  # every row, counting the series: the summary comes first
                if with_headings:
                    heading = Paragraph(escape(section.table.name), styles.heading)
                    heading.keepWithNext = True
                    yield heading
                yield from section.summary(doc.width, styles)
                yield from section.tables(doc.width, counter, styles)
                yield Spacer(1, 5 * mm)

        same = info.title == info.request_name
        footer_text = info.title if same else f"{info.title} — {info.request_name}"
        footer = Footer(footer_text, pagesize[0], font.regular)
        canvas = functools.partial(ReportCanvas, stamp=info.stamp)
        with binary_streams():
            doc.build(
                Story(flowables()),
                onFirstPage=footer.draw,
                onLaterPages=footer.draw,
                canvasmaker=canvas,
            )
        return WriteResult(counter.count, self.extension, self.content_type)


def _title_block(info: ReportInfo, styles: Styles, width: float) -> list[Flowable]:
    """The header above the first table: the title, then request, window, zone and
    generation time in two lines of two facts each."""
    stamp = info.stamp
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(ZoneInfo(info.timezone))
    facts = [
        ("Request", info.request_name),
        ("Window", info.window),
        ("Time zone", f"{info.timezone} (all times are local)"),
        ("Slot" if info.slot else "Generated at", report_time(stamp)),
    ]
    cells = [
        [Paragraph(label, styles.label), Paragraph(escape(value), styles.body)]
        for label, value in facts
    ]
    rows = [cells[0] + cells[1], cells[2] + cells[3]]
    label_width = 27 * mm
    block = PdfTable(rows, colWidths=[label_width, width / 2 - label_width] * 2, hAlign="LEFT")
    block.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LINEBELOW", (0, -1), (-1, -1), 0.6, colors.HexColor("#44546a")),
            ]
        )
    )
    return [
        Paragraph(escape(info.title), styles.title),
        Spacer(1, 2 * mm),
        block,
        Spacer(1, 4 * mm),
    ]


__all__ = ["PdfWriter"]
