"""Request bodies: SenML packs or JSON lines for ingest, and JSON Merge Patch.

The ingest parsers read at most ``INGEST_MAX_BYTES`` + 1 bytes, so an oversized body is
refused with 413 before it is held in memory whole, whatever its ``Content-Length`` says.
JSON bodies are capped by Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (see ``errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser

from .problems import Problem


@dataclass
class SenMLBody:
    """A decoded body: ``pack`` (the JSON value) or ``lines`` (the text, one value a line)."""

    kind: str
    content: Any


def too_large(setting: str = "INGEST_MAX_BYTES") -> Problem:
    limit = getattr(settings, setting)
    return Problem(413, f"The body is larger than {setting} ({limit} bytes).")


def _read(stream, setting: str) -> bytes:
    limit = getattr(settings, setting)
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise too_large(setting)
    return body


def _read_text(stream) -> str:
    body = _read(stream, "INGEST_MAX_BYTES")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("The body is not UTF-8 text.") from None


class SenMLPackParser(BaseParser):
    media_type = "application/senml+json"

    def parse(self, stream, media_type=None, parser_context=None) -> SenMLBody:
        text = _read_text(stream)
        try:
            return SenMLBody("pack", json.loads(text))
        except json.JSONDecodeError as exc:
            hint = " (one JSON value per line? send application/x-ndjson)"
            raise ParseError(
                f"The body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                + (hint if exc.msg == "Extra data" else "")
                + "."
            ) from None


class JSONPackParser(SenMLPackParser):
    media_type = "application/json"


class SenMLLinesParser(BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> SenMLBody:
        return SenMLBody("lines", _read_text(stream))


class JSONLinesParser(SenMLLinesParser):
    media_type = "application/jsonl"


class MergePatchParser(JSONParser):
    """``application/merge-patch+json`` (RFC 7396), the media type of a JSON Merge Patch."""

    media_type = "application/merge-patch+json"


PARSERS = [SenMLPackParser, JSONPackParser, SenMLLinesParser, JSONLinesParser]
MEDIA_TYPES = [parser.media_type for parser in PARSERS]
