"""Column-wise cell conversion for the text formats: one decision per column and chunk.

Converting a 1M-row export cell by cell costs a Python call per cell, more than reading and
writing together. A chunk's column usually holds one type (every time a datetime, every value
a float), so each column of a chunk is checked once, with C-level ``map``/``set`` calls, and
converted in bulk; only a column mixing types, or holding a cell that needs care (a
formula-like text, NaN), goes through the per-cell function. The result is the same as
converting every cell with that function (the tests compare both). A column of times from
the engine (``exports.rows.times.LocalTimes``) becomes texts straight from its epoch microseconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from exports.rows.times import LocalTimes
from exports.writers.cells import FORMULA_PREFIXES, fixed

_FORMULA_START = re.compile("(?:^|\n)[" + re.escape(FORMULA_PREFIXES) + "]")
_NONE = type(None)

Cell = Callable[[Any], Any]


def fixed_decimals(cell: Cell, decimals: int) -> Cell:
    """``cell`` writing every finite number with ``decimals`` decimals (``format.decimals``)."""

    def fixed_cell(value: Any) -> Any:
        kind = type(value)
        if (kind is float and value - value == 0.0) or kind is int:
            return fixed(value, decimals)
        return cell(value)

    return fixed_cell


# Whole floats below this are written as integers (``55``, not ``55.0``); from it on, repr's
# exponent form (``1e+16``) is already the shortest.
WHOLE_LIMIT = 1e16


def whole(value: float) -> float | int:
    """A finite float that is a whole number (below ``WHOLE_LIMIT``) as an int, so it is
    written ``55``, not ``55.0`` (the shortest form); any other float as it is."""
    return int(value) if value.is_integer() and -WHOLE_LIMIT < value < WHOLE_LIMIT else value


def shortest(value: float) -> str:
    """A finite float's shortest text: ``repr`` without a trailing ``.0``."""
    text = float.__repr__(value)
    return text[:-2] if text.endswith(".0") else text


def whole_numbers(column: Sequence) -> Sequence:
    """A column of finite floats, ints and None with its whole floats as ints (``whole``)."""
    if set(map(type, column)) == {float} and not any(map(float.is_integer, column)):
        return column
    return [whole(value) if type(value) is float else value for value in column]


def decimal_comma(cell: Cell) -> Cell:
    """``cell`` writing numbers with a decimal comma (``format.decimalSeparator: ","``)."""

    def comma_cell(value: Any) -> Any:
        result = cell(value)
        kind = type(value)
        if kind is float or kind is int:
            return str(result).replace(".", ",")
        return result

    return comma_cell


def number_cells(
    cell: Cell, decimals: int | None, separator: str = "."
) -> tuple[Cell, Callable[[Sequence, Cell], Sequence]]:
    """The cell function and column function of a CSV table: ``cell`` and ``csv_column`` as
    they are, or the per-cell path when numbers become text (fixed decimals, a comma)."""
    if decimals is None and separator == ".":
        return cell, csv_column
    if decimals is not None:
        cell = fixed_decimals(cell, decimals)
    if separator == ",":
        cell = decimal_comma(cell)
    return cell, each


def each(column: Sequence, cell: Cell) -> list:
    """The per-cell path: ``cell`` applied to every value of the column."""
    return list(map(cell, column))


def is_plain_text(column: Sequence[str]) -> bool:
    """Whether no text of an all-``str`` column could be read as a formula."""
    # Each distinct text once: a column of labels or units repeats a few texts.
    return _FORMULA_START.search("\n".join(set(column))) is None


def are_finite(column: tuple) -> bool:
    """Whether every number of a column of floats, ints and None is finite."""
    return all(map(math.isfinite, filter(None, column)))  # drops None (and zeros: finite)


def by_distinct(column: tuple, convert: Cell) -> list:
    """``convert`` applied once per distinct object (a time repeats as one object per series).

    Keyed by identity, not value: hashing an aware datetime asks its zone for the offset,
    which costs more than the conversion saved. The column keeps every object alive, so
    ids stay unique while this runs.
    """
    objects = dict(zip(map(id, column), column, strict=True))
    converted = {key: convert(value) for key, value in objects.items()}
    return list(map(converted.__getitem__, map(id, column)))


def csv_column(column: Sequence, cell: Cell) -> Sequence[Any]:
    """A column as the csv module should write it (see ``csv.csv_cell``)."""
    if type(column) is LocalTimes:
        return column.iso_texts() if column.is_complete() else list(map(cell, column))
    kinds = set(map(type, column))
    if kinds <= {float, int, _NONE}:
        if float not in kinds:
            return column  # csv writes numbers with repr() and None as an empty field
        if are_finite(column):
            return whole_numbers(column)
    elif kinds == {str}:
        if is_plain_text(column):
            return column
    elif kinds == {datetime}:
        return by_distinct(column, cell)
    return list(map(cell, column))


def json_column(column: Sequence, value: Cell) -> Sequence[str]:
    """A column as JSON value texts (see ``json.json_value``)."""
    if type(column) is LocalTimes:
        return column.iso_texts('"') if column.is_complete() else list(map(value, column))
    kinds = set(map(type, column))
    if kinds == {float} and are_finite(column):
        texts = list(map(float.__repr__, column))
        if any(map(float.is_integer, column)):
            return [text[:-2] if text.endswith(".0") else text for text in texts]
        return texts
    if kinds == {str}:
        from json.encoder import encode_basestring

        return list(map(encode_basestring, column))
    if kinds == {int}:
        return list(map(int.__repr__, column))
    if kinds == {datetime}:
        return by_distinct(column, value)
    if kinds == {_NONE}:
        return ["null"] * len(column)
    return list(map(value, column))
