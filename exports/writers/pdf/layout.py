"""The report's fonts, paragraph and table styles, and the measures of its page and cells."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import TableStyle

FONT_SIZE = 7
ROW_HEIGHT = 10
CELL_PADDING = 3
MARGIN = 12 * mm
GREY = colors.HexColor("#555555")

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


class Styles:
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
        # The header of a right-aligned (numeric) column sits over its numbers.
        self.header_right = ParagraphStyle("header_right", parent=self.header, alignment=TA_RIGHT)
        self.body = ParagraphStyle("body", fontName=font.regular, fontSize=9, leading=11)
        self.note = ParagraphStyle("note", parent=self.body, textColor=GREY)
        self.series = ParagraphStyle(
            "series", fontName=font.bold, fontSize=9, leading=11, spaceBefore=3, spaceAfter=1
        )
        self.fact = ParagraphStyle("fact", fontName=font.regular, fontSize=8, leading=9.5)

    def headers(self, numeric: list[bool]) -> list[ParagraphStyle]:
        """The style of each header cell: right-aligned over ``numeric`` columns, as ``table``
        aligns their cells (a paragraph aligns itself; the table's ALIGN does not move it)."""
        return [self.header_right if right else self.header for right in numeric]

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
