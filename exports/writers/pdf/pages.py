"""What every page carries and how the file is written: the footer with "Page N of M", dates
and /ID from the job's slot, page streams without the ASCII85 layer, and a story whose
flowables are made as the pages need them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate

from exports.writers.pdf.layout import FONT_SIZE, GREY, MARGIN, text_width


class Story(list):
    """The flowables of a document, made only as platypus reaches them.

    ``SimpleDocTemplate.build`` takes a list and works at its front (it asks ``len``, looks
    at the first few flowables, deletes the first, puts split parts back in front). This
    list tops itself up from ``flowables`` whenever its length is asked and fewer than
    ``ahead`` are waiting, so a 500-row table exists only from shortly before its page is
    drawn until it is drawn: a report of 100,000 rows holds a few tables, not 200.
    """

    def __init__(self, flowables: Iterable[Flowable], ahead: int = 8) -> None:
        super().__init__()
        self._source: Iterator[Flowable] | None = iter(flowables)
        self._ahead = ahead

    def __len__(self) -> int:
        waiting = list.__len__(self)
        if waiting < self._ahead and self._source is not None:
            more = list(islice(self._source, self._ahead - waiting))
            if len(more) < self._ahead - waiting:
                self._source = None
            self.extend(more)
            waiting += len(more)
        return waiting


@contextmanager
def binary_streams() -> Iterator[None]:
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


class Footer:
    """Draws "title — request" on the left and "Page N of M" on the right of every page."""

    def __init__(self, text: str, page_width: float, font: str) -> None:
        self.text = text
        self.page_width = page_width
        self.font = font

    def draw(self, canvas: ReportCanvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(self.font, FONT_SIZE)
        canvas.setFillColor(GREY)
        y = MARGIN - 2 * mm
        canvas.drawString(MARGIN, y, self.text)
        canvas.draw_page_number(self.page_width - MARGIN, y, self.font)
        canvas.restoreState()


class ReportCanvas(Canvas):
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
