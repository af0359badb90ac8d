"""Who is on the other end of a request, as far as limits are concerned.

One function, so that trusting a reverse proxy's ``X-Forwarded-For`` (when the site runs behind
one) is decided in one place: every per-address limit (the API's anonymous rate, failed bearer
tokens, failed sign-ins) asks :func:`client_address`.
"""

from __future__ import annotations

from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address limits count against: ``REMOTE_ADDR`` (``"unknown"`` when absent).

    Headers a client can write (``X-Forwarded-For``, ``X-Real-IP``) are not trusted here.
    """
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    return (request.META.get("REMOTE_ADDR") or "").strip() or "unknown"
