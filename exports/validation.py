"""The rules an export request obeys — the only copy.

Model fields and ``clean()`` methods call these, so the JSON parser (which
builds model instances and runs ``full_clean``), the forms and the admin all
enforce exactly the same rules with the same messages.
"""

import re
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime

import isodate
from django.core.exceptions import ValidationError

from .vocabulary import ColumnId

DS_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdwMy])$")
_REFERENCE = datetime(2001, 1, 1, tzinfo=UTC)


def parse_duration(text: str):
    """Parse a positive ISO 8601 duration.

    Returns a ``timedelta`` or an ``isodate.Duration`` (when it has months or
    years). Raises ``ValidationError`` when the text is not a duration or is
    not longer than zero.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Enter an ISO 8601 duration such as P1D, PT15M or P1M.")
    try:
        duration = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, TypeError):
        raise ValidationError(
            "%(value)r is not an ISO 8601 duration (examples: P1D, PT15M, P1M, P1Y6M).",
            params={"value": text},
        ) from None
    try:
        positive = _REFERENCE + duration > _REFERENCE
    except (OverflowError, ValueError):
        raise ValidationError("%(value)r is too long.", params={"value": text}) from None
    if not positive:
        raise ValidationError(
            "%(value)r must be longer than zero.", params={"value": text}, code="not_positive"
        )
    return duration


def validate_duration(text: str) -> None:
    parse_duration(text)


def validate_ds(text: str) -> None:
    if not isinstance(text, str) or not DS_PATTERN.match(text):
        raise ValidationError(
            "%(value)r is not a decimation granularity: use a positive whole number followed by "
            "s, m, h, d, w, M or y (for example 15m, 1h, 1d, 1M).",
            params={"value": text},
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
