"""One error shape for every API answer that is not a success.

``{"errors": [{"path": "items[0].params.decimation.ds", "message": "..."}]}``: ``path`` is the
JSON path the validator names (or the query parameter, or ``""`` when the error is about the
whole request). Headers DRF sets (``WWW-Authenticate``, ``Retry-After``) are kept. An
unexpected exception is a JSON 500 too (logged with its traceback), even with ``DEBUG``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from exports.api.problems import Problem
from exports.api.serializers import ErrorsSerializer
from exports.queue.ondemand import QueueFull
from exports.requests.schema import RequestSchemaError

# Django's own logger for 500s: whatever reports them (mail to ADMINS, a log collector) still does.
request_log = logging.getLogger("django.request")


def error_body(errors: list[dict[str, str]], **extra: Any) -> dict[str, Any]:
    return {"errors": errors, **extra}


def schema_errors(exc: RequestSchemaError) -> list[dict[str, str]]:
    """The validator's ``{path: [messages]}`` as a list of ``{path, message}``."""
    return [
        {"path": "" if path == "(request)" else path, "message": message}
        for path, messages in exc.errors.items()
        for message in messages
    ]


def _flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail (dicts, lists, strings) as ``{path, message}`` rows."""
    if isinstance(detail, dict):
        rows = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list field's errors come keyed by index
                rows += _flatten(value, f"{path}[{key}]")
                continue
            key = "" if key in ("detail", "non_field_errors") else str(key)
            rows += _flatten(value, f"{path}.{key}" if path and key else path or key)
        return rows
    if isinstance(detail, list):
        if all(not isinstance(value, dict | list) for value in detail):
            return [{"path": path, "message": str(value)} for value in detail]
        rows = []
        for index, value in enumerate(detail):
            rows += _flatten(value, f"{path}[{index}]")
        return rows
    return [{"path": path, "message": str(detail)}]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus the domain's errors, answering in the one error shape."""
    if isinstance(exc, RequestSchemaError):
        return Response(error_body(schema_errors(exc)), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):  # Django's own cap on JSON bodies
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE ({limit} bytes)."
        return Response(
            error_body([{"path": "", "message": message}]),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, QueueFull):
        return Response(
            error_body([{"path": "", "message": exc.message}], detail=exc.detail),
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return server_error(exc, context)
    if isinstance(exc, Problem):
        response.data = error_body(exc.errors, **exc.extra)
    else:
        response.data = error_body(_flatten(response.data))
    return response


def server_error(exc: Exception, context: dict) -> Response:
    """An unexpected exception: logged with its traceback, answered as a JSON 500.

    Never Django's HTML page (nor, with ``DEBUG``, its debug page with settings and
    source): API clients parse JSON, and the details belong in the log.
    """
    request = context.get("request")
    where = f"{request.method} {request.path}" if request is not None else "the API"
    request_log.error(
        "Internal Server Error: %s",
        where,
        exc_info=exc,
        extra={"status_code": 500, "request": getattr(request, "_request", None)},
    )
    message = "Internal server error: the failure has been logged."
    return Response(
        error_body([{"path": "", "message": message}]),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def documented(*codes: int) -> dict[int, Any]:
    """Error answers for ``extend_schema(responses=...)``: each code with the error shape."""
    return {code: ErrorsSerializer for code in codes}


@extend_schema(exclude=True)
@api_view(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def no_such_endpoint(request: Request) -> Response:
    """Any path under /api/ that names no endpoint (or an id that is not a number): a JSON 404."""
    raise NotFound("No such API endpoint.")
