"""HTTP ingest: a SenML pack (or JSON lines) stored as messages of a channel and subtopic.

The same parser, checks and storage as ``manage.py ingest``: ``exports.data.senml`` resolves the
records, ``exports.data.ingestion`` checks they fit and stores them all or none, keeping the series
catalog. Who may publish: staff anywhere, others on channels granted to them in the admin.
The publisher is the ``publisher`` query parameter, or the caller's user name. A token bound to
publishers (a device's token: ``ApiToken.publishers``) stores only under those ids: another
``publisher`` is a 403 naming it, and without the parameter its (first) bound id is used.
"""

from __future__ import annotations

import time

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.api.errors import documented
from exports.api.paging import read_query
from exports.api.parsers import MEDIA_TYPES, PARSERS, SenMLBody, too_large
from exports.api.problems import Problem
from exports.api.request_shapes import SenMLRecordSerializer
from exports.api.serializers import IngestQuerySerializer, IngestResultSerializer
from exports.data.access import can_publish
from exports.data.ingestion import checked_records, origin_problems, store_records
from exports.data.senml import SenMLError, iter_json_lines, parse_pack
from exports.models import ApiToken

PACK_EXAMPLE = [
    {"bn": "greenhouse-1:", "bt": 1767225600, "bu": "Cel", "n": "temperature", "v": 21.5},
    {"n": "temperature", "t": 60, "v": 21.7},
]


class IngestView(APIView):
    parser_classes = PARSERS

    @extend_schema(
        operation_id="messages_ingest",
        summary="Publish SenML messages to a channel",
        description="A SenML pack (RFC 8428 JSON array of records; base fields and relative "
        "times are resolved) as application/senml+json or application/json, or the same "
        "records as JSON lines (one record per line) as application/x-ndjson or "
        "application/jsonl; another Content-Type, or none, is a 415. Every record is checked "
        "first: a malformed body stores nothing and the error names the record. Staff may "
        "publish to any channel, other users where a publish grant reaches them (403 "
        "otherwise). A token bound to publisher ids (a device's token) stores only under "
        "those: another `publisher` is a 403; without the parameter its first bound id is used.",
        parameters=[IngestQuerySerializer],
        request={media_type: SenMLRecordSerializer(many=True) for media_type in MEDIA_TYPES},
        responses={202: IngestResultSerializer, **documented(400, 401, 403, 413, 415, 429)},
        examples=[OpenApiExample("A pack with base fields", value=PACK_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request, channel: str, subtopic: str) -> Response:
        media_type = request.content_type.split(";")[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise Problem(
                415,
                f"Unsupported media type {media_type or '(none)'!r}: send one of "
                f"{', '.join(MEDIA_TYPES)}.",
            )
        if _declared_length(request) > settings.INGEST_MAX_BYTES:
            raise too_large()  # refused before a byte of the body is read
        query = read_query(IngestQuerySerializer, request)
        if not can_publish(request.user, channel, subtopic):
            raise Problem(403, "You may not publish to this channel.", "channel")
        origin = {
            "channel": channel,
            "subtopic": subtopic,
            "publisher": _publisher(request, query.get("publisher")),
            "protocol": "senml",
        }
        problems = origin_problems(origin)
        if problems:
            key, problem = next(iter(problems.items()))
            raise Problem(400, f"The {key} {problem}", key)
        records = _records(request)
        stored = store_records(records, origin)
        result = {key: origin[key] for key in ("channel", "subtopic", "publisher")}
        return Response({"stored": stored, **result}, status=status.HTTP_202_ACCEPTED)


def _publisher(request: Request, asked: str | None) -> str:
    """The publisher the readings are stored under; a 403 when the token may not use it."""
    token = request.auth if isinstance(request.auth, ApiToken) else None
    bound = token.publishers if token is not None else []
    if not asked:
        return bound[0] if bound else request.user.get_username()
    if bound and asked not in bound:
        allowed = ", ".join(repr(publisher) for publisher in bound)
        raise Problem(
            403,
            f"This token may publish only as {allowed}, not as {asked[:255]!r}.",
            "publisher",
        )
    return asked


def _declared_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _records(request: Request) -> list:
    """The body's records, resolved and checked; a ``Problem`` naming the first bad one."""
    body = request.data
    if not isinstance(body, SenMLBody):
        raise Problem(400, "The body is empty: send a SenML pack or JSON lines.")
    now = time.time()  # one "now" for every relative time in the body
    try:
        if body.kind == "pack":
            records = parse_pack(body.content, now=now)
        else:
            records = list(iter_json_lines(body.content.splitlines(), now=now))
        return list(checked_records(records))
    except SenMLError as exc:
        raise Problem(400, f"Malformed SenML, nothing stored: {exc}", f"[{exc.index}]") from None
