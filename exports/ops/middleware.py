"""Site-wide HTTP middleware of the exports app."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from exports.requests.validation import storable_text_error

# Where the JSON API is mounted (exporter_site/urls.py): its clients get its error shape.
API_PREFIX = "/api/"


class RefuseUnstorableQueryMiddleware:
    """Answer 400 to an address or query string holding text no database can hold (a NUL).

    Query parameters and path parameters reach querysets directly (admin list filters such
    as ``?name=…``, search, pagination, ``/api/channels/<channel>/…``); PostgreSQL would
    fail on a NUL with a 500. Forms are not concerned: their fields report such text as a
    field error. A lone surrogate cannot arrive here (percent-decoding replaces invalid
    UTF-8), but the same helper judges both.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if reason := storable_text_error(request.path):  # path parameters reach lookups too
            return _bad_request(request, "", f"The address {reason}")
        for name, values in request.GET.lists():
            for text in (name, *values):
                if reason := storable_text_error(text):
                    if text is name:
                        return _bad_request(request, "", f"A query parameter's name {reason}")
                    return _bad_request(request, name, f"The query parameter {name!r} {reason}")
        return self.get_response(request)


def _bad_request(request: HttpRequest, parameter: str, message: str) -> HttpResponse:
    if request.path.startswith(API_PREFIX):  # the API's one error shape (exports.api.errors)
        return JsonResponse({"errors": [{"path": parameter, "message": message}]}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class ContentSecurityPolicyMiddleware:
    """Send ``CONTENT_SECURITY_POLICY`` with every HTML page (none when it is empty).

    The pages load scripts, styles and images from the site itself only (no inline script,
    no CDN), so the policy allows nothing else. Paths in ``CONTENT_SECURITY_POLICY_EXEMPT``
    (prefixes: the Django admin and its RQ pages, the API docs, whose third-party templates
    use inline code) go without it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if (
            policy
            and "Content-Security-Policy" not in response
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(
                tuple(getattr(settings, "CONTENT_SECURITY_POLICY_EXEMPT", ()))
            )
        ):
            response["Content-Security-Policy"] = policy
        return response
