"""The rules an export request obeys — the only copy.

Model fields and ``clean()`` methods call these, so the JSON parser (which
builds model instances and runs ``full_clean``), the forms and the admin all
enforce exactly the same rules with the same messages.

Two families of rules protect the system rather than the user's intent:

* **Storable text** (:func:`validate_storable_text`): PostgreSQL text cannot hold a NUL
  character and no UTF-8 database or HTTP response can hold a lone UTF-16 surrogate (which
  JSON's ``\\ud800`` escapes produce); such text is refused as a field error instead of
  failing later as a 500.
* **Bounded durations** (:func:`parse_duration`, over the one duration type in
  ``exports.requests.durations``): every duration is a whole number of months and at most
  ``MAX_DURATION`` long, and a periodicity is at least
  ``EXPORTS_MIN_PERIODICITY``, so slot, window and bucket arithmetic stays far inside the
  years a ``datetime`` can hold and no schedule can flood the queue.
"""

import re
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError

from exports.requests.durations import MAX_DURATION, NOMINAL_MONTH, NOMINAL_YEAR, Duration, shown
from exports.requests.vocabulary import ColumnId

# The range of times a recurrence may start at and an item's window may name, so that slot and
# window arithmetic (durations are at most ``MAX_DURATION_TEXT``) stays within datetime's
# years (and decimation buckets, counted from 1970, stay within year 1 even at 100y).
INSTANT_MIN = datetime(1900, 1, 1, tzinfo=UTC)
INSTANT_MAX = datetime(3000, 1, 1, tzinfo=UTC)


class BucketUnit(NamedTuple):
    """A decimation unit: its nominal length, and whether its buckets are local calendar
    ones (from local midnight) or wall-clock ones of a fixed length (``exports.engine.buckets``).
    """

    length: timedelta
    calendar: bool


# The decimation (bucket) units, the only table of them: a granularity (``ds``) is a count and
# one of these letters. Validation bounds ``count × length`` by ``MAX_DURATION``; the engine
# cuts calendar buckets by the calendar and the others every ``count × length``.
DS_UNITS = {
    "s": BucketUnit(timedelta(seconds=1), calendar=False),
    "m": BucketUnit(timedelta(minutes=1), calendar=False),
    "h": BucketUnit(timedelta(hours=1), calendar=False),
    "d": BucketUnit(timedelta(days=1), calendar=True),
    "w": BucketUnit(timedelta(weeks=1), calendar=True),
    "M": BucketUnit(NOMINAL_MONTH, calendar=True),
    "y": BucketUnit(NOMINAL_YEAR, calendar=True),
}
DS_PATTERN = re.compile(rf"^([1-9][0-9]*)([{''.join(DS_UNITS)}])$")


def storable_text_error(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate), or ``None`` when it can.

    The message names the position (1-based) and never repeats the bad character itself,
    so it can be shown, logged and encoded anywhere.
    """
    for position, char in enumerate(text, start=1):
        if char == "\x00":
            return f"contains a NUL character (at position {position}), which cannot be stored."
        if "\ud800" <= char <= "\udfff":
            return (
                f"contains an unpaired surrogate (U+{ord(char):04X} at position {position}), "
                "which is not valid Unicode text."
            )
    return None


def validate_storable_text(text: str) -> None:
    """Raise ``ValidationError`` (code ``unstorable``) for text a database cannot hold."""
    if isinstance(text, str) and (reason := storable_text_error(text)):
        raise ValidationError(f"This text {reason}", code="unstorable")


def clean_storable_fields(instance, exclude: Sequence[str] | None = None) -> None:
    """Check every text field of a model instance with :func:`validate_storable_text`.

    Models call it from ``clean_fields()``, so the JSON schema, the editor and the admin
    (all of which run ``full_clean``) refuse such text with a field error. Raises one
    ``ValidationError`` mapping each bad field to its message.
    """
    errors: dict[str, list[ValidationError]] = {}
    for field in instance._meta.concrete_fields:
        if field.name in (exclude or ()) or field.get_internal_type() not in _TEXT_FIELDS:
            continue
        try:
            validate_storable_text(getattr(instance, field.attname))
        except ValidationError as exc:
            errors[field.name] = [exc]
    if errors:
        raise ValidationError(errors)


_TEXT_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "URLField"}


def parse_duration(text: str) -> Duration:
    """Parse a positive, bounded ISO 8601 duration into the one duration type.

    Returns a :class:`~exports.requests.durations.Duration`. Raises ``ValidationError`` naming the
    problem: not a duration, not storable text, fractional years or months, not longer than
    zero, or longer than ``MAX_DURATION_TEXT`` (see :meth:`Duration.parse`).
    """
    if isinstance(text, str):
        validate_storable_text(text)
    return Duration.parse(text)


def validate_duration(text: str) -> None:
    """A positive ISO 8601 duration of whole months, at most ``MAX_DURATION_TEXT``."""
    parse_duration(text)


def min_periodicity() -> str:
    """``EXPORTS_MIN_PERIODICITY``: the shortest time between two runs (default PT1M)."""
    return getattr(settings, "EXPORTS_MIN_PERIODICITY", "PT1M") or "PT1M"


def validate_periodicity(text: str) -> None:
    """A duration (see :func:`parse_duration`) at least ``EXPORTS_MIN_PERIODICITY`` long.

    A shorter one would make the scheduler create a job more often than workers can run it.
    """
    length = parse_duration(text).nominal
    shortest = min_periodicity()
    if length < Duration.parse(shortest).nominal:
        raise ValidationError(
            "%(value)r is shorter than %(min)s, the shortest periodicity allowed "
            "(EXPORTS_MIN_PERIODICITY).",
            params={"value": shown(text.strip()), "min": shortest},
            code="too_short",
        )


def validate_instant(value: datetime | None) -> None:
    """A time the schedule and the engine can compute with: within ``INSTANT_MIN``–``INSTANT_MAX``.

    For the start of a recurrence and an item's ``from``/``to``.
    """
    if value is not None and not (INSTANT_MIN <= value < INSTANT_MAX):
        raise ValidationError(
            "Enter a time from the year %(min)s up to the end of %(max)s.",
            params={"min": INSTANT_MIN.year, "max": INSTANT_MAX.year - 1},
            code="out_of_range",
        )


def validate_ds(text: str) -> None:
    """A decimation granularity such as ``15m`` or ``1M``, at most ``MAX_DURATION_TEXT`` long."""
    match = DS_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(
            "%(value)r is not a decimation granularity: use a positive whole number followed by "
            "s, m, h, d, w, M or y (for example 15m, 1h, 1d, 1M).",
            params={"value": shown(text) if isinstance(text, str) else text},
        )
    count, unit = match.groups()
    # Compare counts, never multiply: ``count × length`` overflows timedelta (an
    # OverflowError, not a field error) long before a count of 12 digits (99999999999y).
    if len(count) > 12 or int(count) > MAX_DURATION // DS_UNITS[unit].length:
        raise ValidationError(
            "%(value)r is longer than 100 years, the longest decimation allowed.",
            params={"value": shown(text)},
            code="too_long",
        )


def validate_timezone(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValidationError("Enter an IANA time zone such as UTC or Europe/Rome.")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)r is not an IANA time zone (for example UTC, Europe/Rome).",
            params={"value": name},
        ) from None


def validate_delimiter(text: str) -> None:
    if not isinstance(text, str) or len(text) != 1:
        raise ValidationError("The CSV delimiter must be exactly one character.")
    if text in '\r\n"':
        raise ValidationError("The CSV delimiter cannot be a quote or a line break.")


def split_list(text: str) -> list[str]:
    """Split a comma list, trimming blanks around each entry."""
    return [part.strip() for part in (text or "").split(",")]


def validate_target_value(text: str) -> None:
    names = split_list(text)
    if not text or any(not name for name in names):
        raise ValidationError("Enter one or more metric names separated by commas, none empty.")
    if len(set(names)) != len(names):
        raise ValidationError("A metric name is listed twice.")


def check_target_labels(values: str, labels: str) -> None:
    """Labels are optional; when present there is one non-empty label per metric."""
    if not labels:
        return
    value_list, label_list = split_list(values), split_list(labels)
    if len(label_list) != len(value_list):
        raise ValidationError(
            "Give one label per metric: %(v)d metric(s) but %(l)d label(s).",
            params={"v": len(value_list), "l": len(label_list)},
        )
    if any(not label for label in label_list):
        raise ValidationError("Target labels cannot be empty.")


def check_columns(columns: Sequence[tuple[str, str]]) -> dict[int, str]:
    """Check an ordered list of ``(id, label)`` pairs.

    Returns a dict mapping the index of each bad column to its error message
    (empty when all are fine).
    """
    errors: dict[int, str] = {}
    seen: set[str] = set()
    known = set(ColumnId.values)
    for index, (column_id, label) in enumerate(columns):
        if column_id not in known:
            errors[index] = f"Unknown column {column_id!r}; choose one of {', '.join(known_ids())}."
        elif column_id in seen:
            errors[index] = f"Column {column_id!r} is selected twice."
        elif not (label or "").strip():
            errors[index] = f"Column {column_id!r} needs a non-empty label."
        seen.add(column_id)
    return errors


def known_ids() -> list[str]:
    return list(ColumnId.values)


# Formats whose file holds one table: two tables become a zip of files (CSV, JSON, Parquet).
ONE_TABLE_EXTENSIONS = ("csv", "json", "parquet")


def one_table_error(template: str, extension: str, items: Sequence) -> str | None:
    """Why a ``tabular`` request cannot be written as one file, or None when it can.

    Long items (one row per point) and wide items (one row per timestamp) make two tables;
    XLSX and PDF hold both (two sheets, two sections), a CSV, JSON or Parquet file holds one,
    and the user asked for one file, not a zip.
    """
    if template != "tabular" or extension not in ONE_TABLE_EXTENSIONS:
        return None
    formats = {getattr(item, "output_format", "") or "long" for item in items}
    if len(formats) < 2:
        return None
    wide = [str(i + 1) for i, item in enumerate(items) if item.output_format == "wide"]
    long = [str(i + 1) for i, item in enumerate(items) if item.output_format != "wide"]
    return (
        f"A tabular {extension.upper()} file holds one table, but item(s) {', '.join(long)} "
        f"are long (one row per point) and item(s) {', '.join(wide)} wide (one row per "
        "timestamp), which makes two tables. Make every item long or every item wide, or "
        "choose the expanded template (one file per item, in a zip)."
    )
