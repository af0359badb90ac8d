"""Cell conversions shared by the writers: neutralising formulas, formatting times."""

from __future__ import annotations

import math
from datetime import datetime

FORMULA_STARTS = frozenset("=+-@\t\r")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def neutralise(text: str) -> str:
    """Prefix a quote to text a spreadsheet would run as a formula (OWASP CSV injection).

    A string that is a plain number ("-5", "+3.2") is left alone: it is data, not a formula.
    """
    if text and text[0] in FORMULA_STARTS and not _is_number(text):
        return "'" + text
    return text


def iso(value: datetime) -> str:
    """ISO 8601 with offset and a fixed millisecond width, so a column never changes width."""
    return value.isoformat(timespec="milliseconds")


def _identity(value):
    return value


def _finite(value: float):
    return value if math.isfinite(value) else ""  # NaN/inf carry no reading


def _text_bool(value: bool) -> str:
    return "true" if value else "false"


def _empty(value) -> str:
    return ""


# Spreadsheet-text cells (CSV, PDF): one converter per Python type, looked up per cell.
TEXT_CELL = {
    str: neutralise,
    float: _finite,
    int: _identity,
    bool: _text_bool,
    datetime: iso,
    type(None): _empty,
}


def text_cell(value):
    """A value as a CSV cell: numbers untouched, text neutralised, times in ISO 8601."""
    convert = TEXT_CELL.get(type(value))
    return convert(value) if convert is not None else neutralise(str(value))
