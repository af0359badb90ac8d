"""Cell-level rules shared by every format: formula neutralisation, timestamps, value types."""

from __future__ import annotations

import math
import numbers
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from exports.rows.times import TIMESPEC

# OWASP "CSV injection": a spreadsheet treats a cell starting with one of these as a
# formula (tab and carriage return can hide one after a separator).
FORMULA_PREFIXES = "=+-@\t\r"

# Only plain decimal numbers are left alone ("-5", "+1.5e3"); "-2+3" or "-nan" are not.
# ASCII digits only (a spreadsheet reads no other digits as a number), so the same pattern
# works in PostgreSQL's regular expressions (``writers.copying``): anchor it there with ^ $.
PLAIN_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER + r"\Z")


def neutralise(text: str) -> str:
    """Return ``text`` prefixed with a single quote if a spreadsheet would read it as a formula.

    Strings that are plain numbers are returned unchanged.
    """
    if text and text[0] in FORMULA_PREFIXES and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def iso_timestamp(value: datetime) -> str:
    """Return ``value`` as ISO 8601 with milliseconds and its UTC offset.

    Raises ``ValueError`` for a naive datetime: without its offset the time is ambiguous.
    """
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: rows must carry the request's timezone")
    return value.isoformat(timespec=TIMESPEC)


_QUANTA = [Decimal(1).scaleb(-places) for places in range(11)]


# Enough digits for any float (up to ~1.8e308) with 10 decimals; the default context's 28
# would refuse to quantize 1e26 and beyond (decimal.InvalidOperation).
_WIDE = Context(prec=400)


def fixed(value: float | int, decimals: int) -> str:
    """``value`` with exactly ``decimals`` decimals (``format.decimals``), no negative zero.

    Rounds the number as written (its shortest form), half away from zero, as people do:
    24.985 at two decimals is 24.99, although the float nearest 24.985 lies just below it.
    The caller passes finite numbers only.
    """
    exact = Decimal(repr(value)) if type(value) is float else Decimal(value)
    text = format(exact.quantize(_QUANTA[decimals], ROUND_HALF_UP, context=_WIDE), "f")
    if text[0] == "-" and not text.strip("-0."):
        return text[1:]  # -0.001 at two decimals is 0.00, not -0.00
    return text


def is_finite(value: float) -> bool:
    """Whether a float can be written as a number (NaN and infinities cannot, in JSON or XLSX)."""
    return math.isfinite(value)


def plain(value: Any) -> Any:
    """Return ``value`` as one of the plain types writers handle (str, int, float, bool, datetime).

    Writers test exact types on their fast path; this is the slow path for
    subclasses and look-alikes such as ``numpy.float64`` or ``pandas.Timestamp``
    coming out of decimation. Raises ``TypeError`` for anything else.
    """
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, datetime):
        return datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
            fold=value.fold,
        )
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    # numpy scalars ``numbers`` does not know (numpy.bool_) give a Python value from item().
    item = getattr(value, "item", None)
    if callable(item):
        converted = item()
        if type(converted) in (bool, int, float, str):
            return converted
    raise TypeError(f"cannot write a value of type {type(value).__name__}: {value!r}")
