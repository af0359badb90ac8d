"""File names of exports: ``<filename or request name>_<slot in local time>.<ext>``."""

import re
import zoneinfo
from datetime import datetime

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_stem(text: str, fallback: str = "export") -> str:
    """A name safe for file systems, zip members and Content-Disposition headers."""
    cleaned = _UNSAFE.sub("_", text).strip(" ._")
    return (cleaned or fallback)[:120]


def local_slot_label(slot: datetime, tz_name: str) -> str:
    """The slot in the request's timezone, as a file-name friendly stamp (20260105T0000+0100)."""
    return slot.astimezone(zoneinfo.ZoneInfo(tz_name)).strftime("%Y%m%dT%H%M%S%z")


def export_filename(stem_source: str, slot: datetime, tz_name: str, extension: str) -> str:
    return f"{safe_stem(stem_source)}_{local_slot_label(slot, tz_name)}.{extension}"
