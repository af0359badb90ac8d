"""The rules an export request obeys — the only copy.

Model fields and ``clean()`` methods call these, so the JSON parser (which
builds model instances and runs ``full_clean``), the forms and the admin all
enforce exactly the same rules with the same messages.

Two families of rules protect the system rather than the user's intent:

* **Storable text** (:func:`validate_storable_text`): PostgreSQL text cannot hold a NUL
  character and no UTF-8 database or HTTP response can hold a lone UTF-16 surrogate (which
  JSON's ``\\ud800`` escapes produce); such text is refused as a field error instead of
  failing later as a 500.
* **Bounded durations** (:func:`parse_duration`): every duration is a whole number of
  months and at most ``MAX_DURATION`` long, and a periodicity is at least
  ``EXPORTS_MIN_PERIODICITY``, so slot, window and bucket arithmetic stays far inside the
  years a ``datetime`` can hold and no schedule can flood the queue.
"""

import re
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import isodate
from django.conf import settings
from django.core.exceptions import ValidationError

from .vocabulary import ColumnId

DS_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdwMy])$")

# The longest duration (periodicity, item period, decimation, retention): a century keeps
# "slot + 5 × periodicity" and "slot − period" within datetime's years 1–9999 for every
# period start allowed below, with centuries to spare.
MAX_DURATION_TEXT = "P100Y"
# The range of times a recurrence may start at and an item's window may name, for the same
# reason (and decimation buckets, counted from 1970, stay within year 1 even at 100y).
INSTANT_MIN = datetime(1900, 1, 1, tzinfo=UTC)
INSTANT_MAX = datetime(3000, 1, 1, tzinfo=UTC)

# Nominal lengths, used only to compare durations with each other (a month is 1/12 of an
# average Gregorian year); the schedule itself always counts real calendar months.
_YEAR = timedelta(days=365.2425)
_MONTH = _YEAR / 12
_DS_UNITS = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "M": _MONTH,
    "y": _YEAR,
}
MAX_DURATION = 100 * _YEAR
# The designator form (P1Y2M3W4DT5H6M7S) with a fraction allowed anywhere, so that a
# fractional month can be named as the problem instead of being misread.
_NUMBER = r"\d+(?:[.,]\d+)?"
_DESIGNATORS = re.compile(
    rf"^P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?"
    rf"(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?=\d)(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?"
    rf"(?:(?P<seconds>{_NUMBER})S)?)?$"
)
_SECONDS_PER = {
    "years": Decimal(_YEAR.total_seconds()),
    "months": Decimal(_MONTH.total_seconds()),
    "weeks": Decimal(7 * 86400),
    "days": Decimal(86400),
    "hours": Decimal(3600),
    "minutes": Decimal(60),
    "seconds": Decimal(1),
}


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


def nominal_length(duration) -> timedelta:
    """A duration's nominal length (a month is 1/12 of an average year), for comparisons."""
    if isinstance(duration, isodate.Duration):
        years, months = float(duration.years), float(duration.months)
        return years * _YEAR + months * _MONTH + duration.tdelta
    return duration


def parse_duration(text: str):
    """Parse a positive, bounded ISO 8601 duration.

    Returns a ``timedelta`` or an ``isodate.Duration`` (when it has months or years).
    Raises ``ValidationError`` naming the problem: not a duration, not storable text,
    fractional years or months, not longer than zero, or longer than ``MAX_DURATION_TEXT``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Enter an ISO 8601 duration such as P1D, PT15M or P1M.")
    validate_storable_text(text)
    text = text.strip()
    not_a_duration = ValidationError(
        "%(value)r is not an ISO 8601 duration (examples: P1D, PT15M, P1M, P1Y6M).",
        params={"value": _shown(text)},
        code="invalid",
    )
    match = _DESIGNATORS.match(text)
    if match is not None:
        if not any(match.groupdict().values()):
            raise not_a_duration  # "P" or "PT" alone
        _check_parts({name: _decimal(value) for name, value in match.groupdict().items()}, text)
    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError, OverflowError, InvalidOperation):
        raise not_a_duration from None
    if match is None:  # the alternative form (P0001-02-03T04:05:06) or a sign
        _check_isodate(duration, text)
    return duration


def _shown(text: str) -> str:
    """The value as quoted in a message: long input is cut, the message stays readable."""
    return text if len(text) <= 40 else f"{text[:40]}…"


def _decimal(text: str | None) -> Decimal:
    return Decimal(text.replace(",", ".")) if text else Decimal(0)


def _check_parts(parts: dict[str, Decimal], text: str) -> None:
    if parts["years"] != int(parts["years"]) or parts["months"] != int(parts["months"]):
        raise ValidationError(
            "%(value)r has a fractional number of years or months, which is not allowed: a "
            "month has no fixed length. Use whole months (P1M) or days (P45D).",
            params={"value": _shown(text)},
            code="fractional_months",
        )
    seconds = sum(parts[name] * _SECONDS_PER[name] for name in _SECONDS_PER)
    _check_length(seconds, text)


def _check_isodate(duration, text: str) -> None:
    if isinstance(duration, isodate.Duration) and (
        duration.years != int(duration.years) or duration.months != int(duration.months)
    ):
        raise ValidationError(
            "%(value)r has a fractional number of years or months, which is not allowed.",
            params={"value": _shown(text)},
            code="fractional_months",
        )
    try:
        seconds = Decimal(nominal_length(duration).total_seconds())
    except OverflowError:
        seconds = Decimal(MAX_DURATION.total_seconds()) + 1
    _check_length(seconds, text)


def _check_length(seconds: Decimal, text: str) -> None:
    if seconds <= 0:
        raise ValidationError(
            "%(value)r must be longer than zero.",
            params={"value": _shown(text)},
            code="not_positive",
        )
    if seconds > Decimal(MAX_DURATION.total_seconds()):
        raise ValidationError(
            "%(value)r is longer than %(max)s (100 years), the longest duration allowed.",
            params={"value": _shown(text), "max": MAX_DURATION_TEXT},
            code="too_long",
        )


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
    length = nominal_length(parse_duration(text))
    shortest = min_periodicity()
    if length < nominal_length(isodate.parse_duration(shortest)):
        raise ValidationError(
            "%(value)r is shorter than %(min)s, the shortest periodicity allowed "
            "(EXPORTS_MIN_PERIODICITY).",
            params={"value": _shown(text.strip()), "min": shortest},
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
            params={"value": _shown(text) if isinstance(text, str) else text},
        )
    count, unit = match.groups()
    # Compare before multiplying: a count with hundreds of digits must not overflow timedelta.
    if len(count) > 12 or int(count) * _DS_UNITS[unit] > MAX_DURATION:
        raise ValidationError(
            "%(value)r is longer than 100 years, the longest decimation allowed.",
            params={"value": _shown(text)},
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
