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

from exports.api.problems import Problem


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
        except (RecursionError, ValueError) as exc:
            raise ParseError(f"The body is not valid JSON: {_decoder_limit(exc)}.") from None


class JSONPackParser(SenMLPackParser):
    media_type = "application/json"


class SenMLLinesParser(BaseParser):
    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None) -> SenMLBody:
        return SenMLBody("lines", _read_text(stream))


class JSONLinesParser(SenMLLinesParser):
    media_type = "application/jsonl"


def _decoder_limit(exc: Exception) -> str:
    """What a decoder limit hit by ``json.loads`` means, for people."""
    if isinstance(exc, RecursionError):
        return "arrays or objects are nested too deeply"
    return "a number has too many digits"  # Python reads integers of at most 4300 digits


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with the decoder's own limits reported as a 400 like bad syntax.

    DRF turns a ``ValueError`` into a parse error but not the ``RecursionError`` that a
    deeply nested body raises, which would be a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - {_decoder_limit(exc)}") from None


class MergePatchParser(BoundedJSONParser):
    """``application/merge-patch+json`` (RFC 7396), the media type of a JSON Merge Patch."""

    media_type = "application/merge-patch+json"


PARSERS = [SenMLPackParser, JSONPackParser, SenMLLinesParser, JSONLinesParser]
MEDIA_TYPES = [parser.media_type for parser in PARSERS]
