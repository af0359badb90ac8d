"""The catalog for the editor's type-ahead: the same narrowed options the page serves."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from exports.data import pickers
from exports.data.access import read_scope
from exports.requests.validation import validate_timezone


@login_required
@require_safe
def catalog_series(request: HttpRequest) -> HttpResponse:
    """``?field=channel|subtopic|publisher|name`` narrowed by ``channel``, ``subtopic``,
    ``publisher`` and matched by ``q``: ``{"field", "options": [{value, label, detail}]}``.

    Only what the user may read is offered (``exports.data.access.read_scope``), as in the
    pickers on the page. A bad field or time zone is a 400 with the reason.
    """
    query = request.GET
    field = query.get("field", "")
    if field not in pickers.FIELDS:
        return JsonResponse(
            {"error": f"field must be one of {', '.join(pickers.FIELDS)}."}, status=400
        )
    zone = query.get("tz") or "UTC"
    try:
        validate_timezone(zone)
    except ValidationError:
        return JsonResponse({"error": f"{zone!r} is not an IANA time zone."}, status=400)
    found = pickers.options(
        field,
        channel=query.get("channel", ""),
        subtopic=query.get("subtopic", ""),
        publisher=query.get("publisher", ""),
        q=query.get("q", "")[:200],
        tz_name=zone,
        scope=read_scope(request.user),
    )
    return JsonResponse({"field": field, "options": [option.as_json() for option in found]})
