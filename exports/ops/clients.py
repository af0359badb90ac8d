"""Who is on the other end of a request, as far as limits are concerned.

One function, so that trusting a reverse proxy's ``X-Forwarded-For`` is decided in one place:
every per-address limit (the API's anonymous rate, failed bearer tokens, failed sign-ins) asks
:func:`client_address`, which reads the header only as far as ``TRUSTED_PROXY_COUNT`` proxies
vouch for it (``exports.ops.proxies``).
"""

from __future__ import annotations

from django.http import HttpRequest

from exports.ops.proxies import forwarded_client_address


def client_address(request: HttpRequest) -> str:
    """The address limits count against (``"unknown"`` when there is none).

    With ``TRUSTED_PROXY_COUNT=0`` (the default) that is ``REMOTE_ADDR``: headers a client can
    write (``X-Forwarded-For``, ``X-Real-IP``) are not trusted.
    """
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    return forwarded_client_address(request).strip() or "unknown"
