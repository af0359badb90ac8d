"""The placeholder language of message titles and texts: ``{name}`` from a fixed list.

``{{`` and ``}}`` stand for literal braces. This module holds the vocabulary and the
save-time check, which the models run (``exports`` never imports ``notifications``);
``notifications.placeholders.render`` fills the placeholders in when a message is sent.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# name → what it is replaced with (documented in the README).
PLACEHOLDERS: dict[str, str] = {
    "request_name": "the export request's name",
    "status": "the job's outcome: done or failed",
    "slot": "the scheduled instant of the job, in the request's time zone",
    "window": "the data window exported, in the request's time zone",
    "timezone": "the request's time zone, e.g. Europe/Rome",
    "format": "the file format: csv, xlsx, pdf, json or parquet",
    "rows": "the number of rows written (for none, with why: 0 — no data in the window)",
    "empty": "why the export has no rows (no data for the metrics in the window, or none of "
    "the metrics exist); empty when it has rows",
    "size": "the file size, e.g. 1.2 MB",
    "link": "the download link (on success) or the request page (on failure)",
    "error": "the error summary (on failure; empty on success)",
    "schedule": "the schedule in words, e.g. Every day at 08:00 (Europe/Rome), or Once",
}

TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")


def unknown_placeholders(text: str) -> list[str]:
    """The ``{...}`` fields of ``text`` that are not placeholders, in order."""
    return [
        match.group(0)
        for match in TOKEN.finditer(text or "")
        if match.group(1) is not None and match.group(1) not in PLACEHOLDERS
    ]


def validate_placeholders(text: str) -> None:
    """Refuse a title or text that uses an unknown placeholder.

    Raises ``ValidationError`` naming the unknown fields and the known ones.
    """
    unknown = unknown_placeholders(text)
    if unknown:
        raise ValidationError(
            "Unknown placeholder %(unknown)s; use %(known)s (write {{ and }} for literal braces).",
            params={
                "unknown": ", ".join(dict.fromkeys(unknown)),
                "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS),
            },
            code="unknown_placeholder",
        )
