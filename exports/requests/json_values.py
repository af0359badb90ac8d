"""JSON values typed or uploaded by people: documents and timestamps, read and written back."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from exports.requests.validation import storable_text_error


def decode_json(text: str) -> Any:
    """Decode a JSON document typed or uploaded by someone.

    Raises ``ValueError`` with a message for people: where the syntax is wrong, that the
    document is nested too deeply for the decoder (which would otherwise overflow), or that
    a number has more digits than Python reads.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("arrays or objects are nested too deeply") from None
    except ValueError:  # Python reads integers of at most 4300 digits
        raise ValueError("a number has too many digits") from None


def parse_timestamp(value: Any) -> datetime:
    """A Unix timestamp in seconds (number) or an ISO 8601 date-time with offset.

    Kept to millisecond precision so that dumping it back as a number is exact.
    Raises ``ValueError`` with a human message.
    """
    if isinstance(value, bool):
        raise ValueError("must be a Unix timestamp in seconds or an ISO 8601 date-time.")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number.")
        try:
            millis = round(value * 1000)
            return datetime.fromtimestamp(millis // 1000, tz=UTC).replace(
                microsecond=(millis % 1000) * 1000
            )
        except (OverflowError, OSError, ValueError):
            raise ValueError("is out of range.") from None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time or Unix timestamp.")
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} needs a UTC offset (for example Z or +01:00).")
        return parsed.astimezone(UTC).replace(microsecond=parsed.microsecond // 1000 * 1000)
    raise ValueError("must be a Unix timestamp in seconds or an ISO 8601 date-time.")


def dump_timestamp(value: datetime | None) -> int | float | None:
    if value is None:
        return None
    seconds = value.timestamp()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def report_unstorable(data: Any, errors) -> None:
    """Report every string (value or key) a database cannot hold, at its JSON path, to
    ``errors`` (anything with ``add(path, message)``).

    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if reason := storable_text_error(value):
                errors.add(path or "(request)", f"This text {reason}")
        elif isinstance(value, dict):
            for key, child in value.items():
                if reason := storable_text_error(key):
                    errors.add(path or "(request)", f"A field name {reason}")
                else:
                    pending.append((f"{path}.{key}" if path else key, child))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(value))
