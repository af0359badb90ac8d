"""SenML (RFC 8428) packs resolved into the records the message store keeps.

A pack is a list of record objects. Base fields (``bn``, ``bt``, ``bu``, ``bv``,
``bs``, ``bver``) apply to their own record and to every later one until a record
changes them; :class:`Resolver` carries that state, so a stream of records (a
JSON-lines file) resolves exactly like one pack. Each record resolves to a
:class:`NormalisedRecord`: full name, unit, absolute UTC time and one value, the
fields of :class:`exports.models.Message`.

Most records of a real stream are plain: a name, maybe a unit and a time, a number, and no
base field. :meth:`Resolver.resolve` takes those through a short path that checks only what
such a record can get wrong, and hands every other record (and any plain one that fails a
check) to the general path, which resolves it or says exactly what is wrong. Both give the
same record for the same input (``tests/test_senml.py`` compares them).

This module is pure: no database, no clock (``now`` is passed in), so the same
input always gives the same records or the same :class:`SenMLError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any, NamedTuple

from exports.requests.validation import storable_text_error
from exports.rows.times import EPOCH, MICROS, from_micros

# RFC 8428 §4.5.3: resolved times below 2**28 s are relative to "now".
RELATIVE_TIME_LIMIT = 2**28
# RFC 8428 §4.4: this is version 10 of the format; a newer version must not be used.
SENML_VERSION = 10
# RFC 8428 §4.5.1: the characters a resolved name may contain, and how it must start.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")

BASE_FIELDS = {"bn": str, "bt": float, "bu": str, "bv": float, "bs": float, "bver": int}
REGULAR_FIELDS = {
    "n": str,
    "u": str,
    "v": float,
    "vs": str,
    "vb": bool,
    "vd": str,
    "s": float,
    "t": float,
    "ut": float,
    "l": str,  # link (RFC 8428 §4.3 registry); accepted and not stored
}
VALUE_FIELDS = ("v", "vs", "vb", "vd")
FIELDS = (*BASE_FIELDS.items(), *REGULAR_FIELDS.items())  # the order errors are reported in
# The fields of a plain record, the one the short path of Resolver.resolve takes.
PLAIN_FIELDS = frozenset({"n", "u", "v", "t"})
# Integers of this size or more may not fit a float: the general path says so.
_FLOAT_INT_LIMIT = 2**1000
# How many distinct names and units a resolver remembers as already checked.
_CHECKED_LIMIT = 1024
# Characters storable_text_error refuses; a text without any needs no closer look.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_TYPE_NAMES = {str: "a string", float: "a number", int: "a positive integer", bool: "true or false"}


class SenMLError(ValueError):
    """A record that cannot be resolved: its 0-based ``index`` (and ``line``) and the reason."""

    def __init__(self, index: int, reason: str, line: int | None = None):
        self.index = index
        self.reason = reason
        self.line = line
        where = f"record {index}" if line is None else f"line {line} (record {index})"
        super().__init__(f"{where}: {reason}")


class NormalisedRecord(NamedTuple):
    """One resolved SenML record, field for field what a ``Message`` stores.

    Exactly one of the four values is set, unless the record only has a ``sum``. A named
    tuple: a million of them are built per large file, and a tuple is the cheapest to build
    and to turn into a row.
    """

    name: str
    unit: str
    time: datetime
    value: float | None = None
    string_value: str | None = None
    bool_value: bool | None = None
    data_value: str | None = None
    sum: float | None = None
    update_time: float | None = None


class Resolver:
    """Resolve the records of one pack (or stream) in order, carrying the base fields."""

    def __init__(self, *, now: float):
        # Names and units that passed their checks (pure checks: kept across restarts).
        self._names: set[str] = set()
        self._units: set[str] = set()
        self.restart(now=now)

    def restart(self, *, now: float) -> None:
        """Start a new pack (or stream) resolved against ``now``: every base field, the
        version, the index and the last time forgotten, as a new resolver would have them."""
        self.now = now
        self.base_name = ""
        self.base_time = 0.0
        self.base_unit = ""
        self.base_value: float | None = None
        self.base_sum: float | None = None
        self.version: int | None = None
        self.index = 0
        # The last time resolved (against this ``now``).
        self._last_seconds: float | None = None
        self._last_time = EPOCH

    def resolve(self, record: Any) -> NormalisedRecord:
        """Resolve the next record. Raises ``SenMLError`` naming its index."""
        index = self.index
        self.index += 1
        if type(record) is dict and record.keys() <= PLAIN_FIELDS:
            resolved = self._plain(record)
            if resolved is not None:
                return resolved
        try:
            return self._resolve(record)
        except _Invalid as exc:
            raise SenMLError(index, str(exc)) from None

    def _plain(self, record: dict) -> NormalisedRecord | None:
        """A record of ``PLAIN_FIELDS`` with a number ``v``, resolved; ``None`` when any check
        fails or the record needs more than this (the general path then decides).

        Exactly what ``_resolve`` returns for such a record: no base field to apply, no
        must-understand field, one value; the same arithmetic in the same order.
        """
        if self.base_sum is not None:
            return None  # every record then carries a sum
        value = record.get("v")
        kind = type(value)
        if kind is int and -_FLOAT_INT_LIMIT < value < _FLOAT_INT_LIMIT:
            value = float(value)
        elif kind is not float:
            return None  # absent, null, a bool, text...: the general path explains
        if self.base_value is not None:
            value = self.base_value + value
        if not math.isfinite(value):
            return None
        offset = record.get("t", 0.0)
        kind = type(offset)
        if kind is int and -_FLOAT_INT_LIMIT < offset < _FLOAT_INT_LIMIT:
            offset = float(offset)
        elif kind is not float:
            return None  # (an infinite or NaN time fails in _time below)
        name = record.get("n", "")
        if type(name) is not str:
            return None
        if self.base_name:
            name = self.base_name + name
        if name not in self._names:
            # The pattern admits neither NUL nor surrogates: n is storable text too.
            if NAME_PATTERN.fullmatch(name) is None:
                return None
            _remember(self._names, name)
        unit = record.get("u", self.base_unit)
        if type(unit) is not str:
            return None
        if unit not in self._units:
            if _UNSTORABLE.search(unit) is not None:
                return None
            _remember(self._units, unit)
        try:
            time = self._time(self.base_time + offset)
        except _Invalid:
            return None
        # tuple.__new__ directly: the named tuple's own __new__ costs twice as much.
        # No string, bool or data value, no sum, no update time.
        return _new_record(
            NormalisedRecord, (name, unit, time, value, None, None, None, None, None)
        )

    def _resolve(self, record: Any) -> NormalisedRecord:
        if not isinstance(record, dict):
            raise _Invalid(f"a record must be a JSON object, not {_json_type(record)}.")
        for key in record:
            if key in BASE_FIELDS or key in REGULAR_FIELDS:
                continue
            if key.endswith("_"):
                # RFC 8428 §4.4: labels ending in "_" must be understood to use the pack.
                raise _Invalid(f"unsupported must-understand field {key!r}.")
        fields = {key: _typed(record, key, kind) for key, kind in FIELDS if key in record}
        self._apply_base(fields)

        name = self.base_name + fields.get("n", "")
        if not name:
            raise _Invalid("the name is empty: give n, or bn in this or an earlier record.")
        if not NAME_PATTERN.fullmatch(name):
            raise _Invalid(
                f"name {name!r} must start with a letter or digit and contain only "
                "A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)."
            )

        present = [key for key in VALUE_FIELDS if key in fields]
        if len(present) > 1:
            raise _Invalid(f"a record holds one value, not {', '.join(present)}.")
        has_sum = "s" in fields or self.base_sum is not None
        if not present and not has_sum:
            raise _Invalid("no value: give one of v, vs, vb, vd, or a sum s.")

        # bv offsets a numeric v; it never stands in for a missing value field (§4.2).
        value = fields.get("v")
        if value is not None and self.base_value is not None:
            value = self.base_value + value
        data_value = fields.get("vd")
        if data_value is not None:
            _check_base64url(data_value)
        total = None
        if has_sum:
            total = (self.base_sum or 0.0) + fields.get("s", 0.0)
        for label, number in (("value", value), ("sum", total)):
            if number is not None and not math.isfinite(number):
                raise _Invalid(f"the resolved {label} is out of range.")

        return NormalisedRecord(
            name=name,
            unit=fields.get("u", self.base_unit),
            time=self._time(self.base_time + fields.get("t", 0.0)),
            value=value,
            string_value=fields.get("vs"),
            bool_value=fields.get("vb"),
            data_value=data_value,
            sum=total,
            update_time=fields.get("ut"),
        )

    def _apply_base(self, fields: dict[str, Any]) -> None:
        if "bver" in fields:
            version = fields["bver"]
            if version > SENML_VERSION:
                shown = version if version < 10**9 else "above 10**9"
                raise _Invalid(
                    f"SenML version {shown} is newer than the supported {SENML_VERSION}."
                )
            if self.version is not None and version != self.version:
                raise _Invalid(
                    f"bver changes from {self.version} to {version}; "
                    "all records of a pack share one version."
                )
            self.version = version
        if "bn" in fields:
            self.base_name = fields["bn"]
        if "bt" in fields:
            self.base_time = fields["bt"]
        if "bu" in fields:
            self.base_unit = fields["bu"]
        if "bv" in fields:
            self.base_value = fields["bv"]
        if "bs" in fields:
            self.base_sum = fields["bs"]

    def _time(self, seconds: float) -> datetime:
        if seconds == self._last_seconds:
            return self._last_time  # records of one reading share their time
        resolved = seconds
        if resolved < RELATIVE_TIME_LIMIT:
            resolved += self.now
        try:
            time = from_micros(round(resolved * MICROS))
        except (OverflowError, ValueError):
            raise _Invalid(f"the resolved time {resolved!r} is out of range.") from None
        self._last_seconds, self._last_time = seconds, time
        return time


def parse_pack(
    records: Any, *, now: float, resolver: Resolver | None = None
) -> list[NormalisedRecord]:
    """Resolve a whole pack (a JSON array of records) against ``now`` (Unix seconds).

    Returns the records in pack order. Raises ``SenMLError`` at the first bad record.
    ``resolver``: one to :meth:`~Resolver.restart` for this pack instead of making a new one
    (the same result; many small packs in a row then share its checked names and units).
    """
    if isinstance(records, dict):
        records = [records]  # a lone record object is a pack of one
    if not isinstance(records, list):
        raise SenMLError(0, f"a SenML pack is a JSON array of records, not {_json_type(records)}.")
    if resolver is None:
        resolver = Resolver(now=now)
    else:
        resolver.restart(now=now)
    return [resolver.resolve(record) for record in records]


def iter_json_lines(stream: IO[str] | Iterable[str], *, now: float) -> Iterator[NormalisedRecord]:
    """Resolve JSON lines: each line holds one record object or a pack array.

    The lines form one SenML stream (RFC 8428 §4.8): base fields set on one line still
    apply on the next. Blank lines are skipped. Yields records lazily; raises
    ``SenMLError`` with the 1-based line number and the record index in the stream.
    """
    resolver = Resolver(now=now)
    resolve = resolver.resolve
    for line_number, line in enumerate(stream, start=1):
        try:
            data = _decode(line)
        except json.JSONDecodeError as exc:
            if not line.strip():
                continue  # a blank line is never JSON: checked only when decoding fails
            raise SenMLError(
                resolver.index, f"not valid JSON: {exc.msg} at column {exc.colno}.", line_number
            ) from None
        except RecursionError:
            raise SenMLError(
                resolver.index, "not a SenML record: arrays are nested too deeply.", line_number
            ) from None
        except ValueError:  # Python reads integers of at most 4300 digits
            raise SenMLError(
                resolver.index, "not valid JSON: a number has too many digits.", line_number
            ) from None
        try:
            if type(data) is list:
                for record in data:
                    yield resolve(record)
            else:
                yield resolve(data)
        except SenMLError as exc:
            raise SenMLError(exc.index, exc.reason, line_number) from None


class _Invalid(Exception):
    """Reason a record is invalid; :class:`Resolver` adds the index."""


_new_record = tuple.__new__
# json.loads without its per-call keyword checks: the same decoder, the same errors.
_decode = json.JSONDecoder().decode


def _remember(checked: set[str], text: str) -> None:
    if len(checked) >= _CHECKED_LIMIT:
        checked.clear()  # a stream of ever new names must not grow memory
    checked.add(text)


def _typed(record: dict, key: str, kind: type) -> Any:
    value = record[key]
    if kind is str and isinstance(value, str):
        if _UNSTORABLE.search(value) and (reason := storable_text_error(value)):
            raise _Invalid(f"{key} {reason}")
        return value
    if kind is bool and isinstance(value, bool):
        return value
    # JSON booleans are ints in Python; they are never numbers in SenML.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is float and is_number:
        try:
            number = float(value)  # a JSON integer of 400 digits does not fit a float
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise _Invalid(f"{key} must be a finite number.")
        return number
    # bver: JSON has one number type, so 10 and 10.0 are both the integer 10.
    whole = isinstance(value, int) or (is_number and math.isfinite(value) and value == int(value))
    if kind is int and is_number and whole and value >= 1:
        return int(value)
    raise _Invalid(f"{key} must be {_TYPE_NAMES[kind]}, not {_json_type(value)}.")


def _check_base64url(text: str) -> None:
    """RFC 8428 §5: vd is base64 with the URL-safe alphabet, padding optional."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise _Invalid("vd must be base64url data (A-Z a-z 0-9 - _).")
    data = text.rstrip("=")
    padded = len(text) != len(data)
    if len(data) % 4 == 1 or (padded and len(text) % 4):
        raise _Invalid("vd is not valid base64url data: wrong length.")
    try:
        base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise _Invalid("vd is not valid base64url data.") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"[:80]
    if isinstance(value, list):
        return "an array"
    return "an object"
