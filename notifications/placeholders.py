"""The placeholder language of message titles and texts: ``{name}`` from a fixed list.

User text is never handed to the template engine: a regular expression replaces
known names with values from a fixed dict, so nothing else (settings, objects,
tags, filters) is reachable. Every piece — the user's literal text as well as
each value — is escaped for the medium, so the result is inert markup whatever
the user typed. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe

# name → what it is replaced with (documented in the README).
PLACEHOLDERS: dict[str, str] = {
    "request_name": "the export request's name",
    "status": "the job's outcome: done or failed",
    "slot": "the scheduled instant of the job, in the request's time zone",
    "window": "the data window exported, in the request's time zone",
    "timezone": "the request's time zone, e.g. Europe/Rome",
    "format": "the file format: csv, xlsx, pdf or json",
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


def render(
    template: str,
    values: Mapping[str, str],
    escape: Callable[[str], str],
    format_link: Callable[[str], str] | None = None,
) -> SafeString:
    """Replace placeholders in ``template`` with ``values``, escaping every piece.

    ``escape`` turns plain text into the medium's markup; ``format_link``, when
    given, renders the ``{link}`` value as a link of the medium. An unknown
    placeholder is kept literally (validation flags it when the request is saved).
    Returns the markup, marked safe for the layout template.
    """
    pieces: list[str] = []
    position = 0
    for match in TOKEN.finditer(template or ""):
        pieces.append(escape(template[position : match.start()]))
        name = match.group(1)
        if name is None:  # a doubled brace
            pieces.append(escape(match.group(0)[0]))
        elif name in values and name == "link" and format_link and values[name]:
            pieces.append(format_link(values[name]))
        elif name in values:
            pieces.append(escape(values[name]))
        else:
            pieces.append(escape(match.group(0)))
        position = match.end()
    pieces.append(escape((template or "")[position:]))
    return mark_safe("".join(pieces))
