"""JSON: a stream-written array of objects keyed by the column labels, always valid JSON."""

from __future__ import annotations

from datetime import datetime
from json.encoder import encode_basestring  # the C encoder, keeps non-ASCII as UTF-8
from typing import Any, TextIO

from exports.rows.tables import Table
from exports.writers.base import Progress, column_chunks
from exports.writers.bundle import TextWriter
from exports.writers.cells import iso_timestamp, plain
from exports.writers.columns import each, fixed_decimals, json_column, shortest
from exports.writers.copying import copy_table, fast_path


def json_value(value: Any) -> str:
    """Return ``value`` encoded as a JSON value.

    Numbers stay numbers (whole ones without ``.0``), NaN and ±infinity (not JSON) become
    null, times become ISO 8601 strings with offset. Raises ``TypeError``/``ValueError`` as
    ``plain`` and ``iso_timestamp`` do.
    """
    # Encoding each value ourselves (keys are encoded once per table) is about 20%
    # faster than building a dict per row for json.dumps.
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is float:
        return shortest(value) if value - value == 0.0 else "null"
    if kind is datetime:
        return '"' + iso_timestamp(value) + '"'
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return json_value(plain(value))


def object_keys(labels: list[str]) -> list[str]:
    """Return each label as an encoded JSON key followed by ": ".

    A repeated label gets " (2)", " (3)", ... so no value is lost to a duplicate key.
    """
    seen: set[str] = set()
    keys = []
    for label in map(str, labels):
        key, counter = label, 1
        while key in seen:
            counter += 1
            key = f"{label} ({counter})"
        seen.add(key)
        keys.append(encode_basestring(key) + ": ")
    return keys


class JsonWriter(TextWriter):
    """One JSON array per table, one object per line; several tables become a zip."""

    extension = "json"
    content_type = "application/json"
    label = "JSON"

    def write_table(self, table: Table, text: TextIO, counter: Progress) -> None:
        """Write ``table`` as ``[`` + one object per line + ``]`` (``[]`` when it has no rows)."""
        keys = object_keys(table.headers)
        if fast_path(table, self):  # the database formats the rows (``writers.copying``)
            text.flush()
            copy_table(table.rows.plan, self, text.buffer, counter, keys=keys)
            return
        if self.decimals is None:
            value, column = json_value, json_column
        else:  # every number becomes fixed-decimal text: the per-cell path
            value, column = fixed_decimals(json_value, self.decimals), each
        # One %-template per table: an object is then one C-level format of its value texts.
        template = "{" + ", ".join(key.replace("%", "%%") + "%s" for key in keys) + "}"
        write = text.write
        write("[")
        separator = "\n"
        for count, columns in column_chunks(table.rows, self.chunk_rows, len(keys)):
            texts = zip(*[column(values, value) for values in columns], strict=True)
            write(separator + ",\n".join(map(template.__mod__, texts)))
            separator = ",\n"
            counter.add(count)
        write("]\n" if separator == "\n" else "\n]\n")
