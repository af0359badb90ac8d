"""File names of exports: ``<filename or request name>_<slot in local time>.<ext>``."""

import re
import zoneinfo
from datetime import datetime

from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename

_LIST_SEPARATORS = re.compile(r"\s*[,;]\s*")


def safe_stem(text: str, fallback: str = "export") -> str:
    """A name safe for file systems, zip members and Content-Disposition headers.

    Commas and semicolons between words (a list of metrics) become hyphens, so
    ``temperature,humidity`` reads ``temperature-humidity``, not ``temperaturehumidity``.
    """
    try:
        return get_valid_filename(_LIST_SEPARATORS.sub("-", text))[:150]
    except SuspiciousFileOperation:  # nothing usable left, e.g. a name made of "/" only
        return fallback


def local_slot_label(slot: datetime, tz_name: str) -> str:
    """The slot's wall time in the request's timezone: ``2026-01-05T0000`` (seconds if any).

    No offset: storages strip "+" from names, and the zone is the request's anyway.
    """
    local = slot.astimezone(zoneinfo.ZoneInfo(tz_name or "UTC"))
    return local.strftime("%Y-%m-%dT%H%M%S" if local.second else "%Y-%m-%dT%H%M")


def export_filename(stem_source: str, slot: datetime, tz_name: str, extension: str) -> str:
    return f"{safe_stem(f'{stem_source}_{local_slot_label(slot, tz_name)}')}.{extension}"
