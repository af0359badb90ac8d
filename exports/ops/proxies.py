"""Who the client is behind our proxies: ``X-Forwarded-For`` read only as far as we trust it.

``TRUSTED_PROXY_COUNT`` is the number of proxies in front of the web servers (nginx: 1; a
load balancer and nginx: 2). Each appends the address it received the request from to
``X-Forwarded-For``, so the client is the ``TRUSTED_PROXY_COUNT``-th address from the right;
whatever stands left of it was written by the client and is ignored. With 0 (the default:
gunicorn faces the clients itself) the header is ignored altogether and the address is the
connection's (``REMOTE_ADDR``). DRF's throttles count by the same rule (``NUM_PROXIES``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def trusted_proxy_count() -> int:
    return int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)


def forwarded_client_address(request: HttpRequest) -> str:
    """The client's address: from ``X-Forwarded-For`` as far as ``TRUSTED_PROXY_COUNT``
    proxies vouch for it, else the connection's own (``REMOTE_ADDR``, may be empty)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = trusted_proxy_count()
    if count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    # Fewer addresses than proxies: the first proxy saw the client itself (as DRF reads it).
    return addresses[-min(count, len(addresses))]
