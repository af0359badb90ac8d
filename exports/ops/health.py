"""``/healthz`` for load balancers: can this web process reach its database, Redis and files?

Answered by a middleware placed first, before host validation and the HTTPS redirect,
because load balancers probe each backend by its address over plain HTTP. No login, and
nothing secret in the answer: each check says ``ok`` or the class of its error; the
details go to the log.

    {"status": "ok", "checks": {"database": {"ok": true}, "redis": {"ok": true},
                                "storage": {"ok": true}}}

200 when every check passes, 503 otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from exports.queue.namespace import queue_settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
PROBE_TIMEOUT = 2  # seconds; a probe that waits longer than the balancer is useless


def check_database() -> None:
    """``SELECT 1`` on the default database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    """PING the Redis of the queues, with short timeouts of its own (and no database)."""
    import redis

    url = queue_settings("default")["URL"]
    client = redis.Redis.from_url(
        url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def check_storage() -> None:
    """The export-file store answers (bucket ``HEAD``) or its directory is writable."""
    from exports.files.storage import export_storage

    export_storage().check()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def run_checks() -> tuple[bool, dict[str, dict]]:
    """Run every check; return (all passed, {name: {"ok": bool[, "error": class name]}})."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check, reported
            log.warning("Health check %s failed: %s", name, exc)
            results[name] = {"ok": False, "error": exc.__class__.__name__}
        else:
            results[name] = {"ok": True}
    return all(result["ok"] for result in results.values()), results


def health_response() -> HttpResponse:
    """The JSON answer of ``/healthz``: 200 when every check passed, 503 otherwise."""
    healthy, results = run_checks()
    response = JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
    response["Cache-Control"] = "no-store"
    return response


class HealthCheckMiddleware:
    """Answer GET/HEAD ``/healthz`` before the rest of the stack sees the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != HEALTH_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return health_response()
