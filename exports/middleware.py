"""Site-wide HTTP middleware of the exports app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from .validation import storable_text_error


class RefuseUnstorableQueryMiddleware:
    """Answer 400 to an address or query string holding text no database can hold (a NUL).

    Query parameters and path parameters reach querysets directly (admin list filters such
    as ``?name=…``, search, pagination, ``/api/channels/<channel>/…``); PostgreSQL would
    fail on a NUL with a 500. Forms are not
    concerned: their fields report such text as a field error. A lone surrogate cannot
    arrive here (percent-decoding replaces invalid UTF-8), but the same helper judges both.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if reason := storable_text_error(request.path):  # path parameters reach lookups too
            return HttpResponseBadRequest(
                f"The address {reason}", content_type="text/plain; charset=utf-8"
            )
        for name, values in request.GET.lists():
            for text in (name, *values):
                if reason := storable_text_error(text):
                    where = "A query parameter's name" if text is name else "The query parameter"
                    label = "" if text is name else f" {name!r}"
                    return HttpResponseBadRequest(
                        f"{where}{label} {reason}", content_type="text/plain; charset=utf-8"
                    )
        return self.get_response(request)
