"""``/healthz`` for load balancers: can this web process reach its database, Redis and files?

Answered by a middleware placed first, before host validation and the HTTPS redirect,
because load balancers probe each backend by its address over plain HTTP. No login, and
nothing secret in the answer: each check says ``ok`` or the class of its error; the
details go to the log.

    {"status": "ok", "checks": {"database": {"ok": true}, "redis": {"ok": true},
                                "storage": {"ok": true}}}

200 when every check passes, 503 otherwise. When a broker is configured (``MQTT_URL`` or
``NATS_URL``) a fourth check, ``subscriber``, reads the heartbeat ``manage.py runsubscriber``
keeps in Redis: it passes while the subscriber runs and every broker is connected, and says
when the last message came and the lag of the last batch:

    "subscriber": {"ok": true, "connected": {"mqtt": true}, "last_message": "2026-…Z",
                   "lag_seconds": 0.21}
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
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


class SubscriberDown(Exception):
    """The subscriber is not running, or a broker is not connected (``details`` say more)."""

    def __init__(self, reason: str, details: dict | None = None):
        super().__init__(reason)
        self.details = details or {}


def check_subscriber() -> dict:
    """The bus subscriber's heartbeat: running and connected; its last message and lag."""
    import redis

    from exports.data.bus.subscriber import heartbeat_key
    from exports.queue.namespace import instance

    url = queue_settings("default")["URL"]
    client = redis.Redis.from_url(
        url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
    )
    try:
        raw = client.get(heartbeat_key(instance()))
    finally:
        client.close()
    if raw is None:
        raise SubscriberDown("no heartbeat: runsubscriber is not running")
    status = json.loads(raw)
    last = status.get("last_message")
    details = {
        "connected": status["connected"],
        "last_message": None
        if last is None
        else datetime.fromtimestamp(last, UTC).isoformat().replace("+00:00", "Z"),
        "lag_seconds": status.get("lag_seconds"),
    }
    if not status.get("running") or not all(status["connected"].values()):
        raise SubscriberDown("stopped or disconnected", details)
    return details


def check_storage() -> None:
    """The export-file store answers (bucket ``HEAD``) or its directory is writable."""
    from exports.files.storage import export_storage

    export_storage().check()


CHECKS: dict[str, Callable[[], dict | None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


def active_checks() -> dict[str, Callable[[], dict | None]]:
    """:data:`CHECKS`, and the subscriber's when a broker is configured."""
    if getattr(settings, "MQTT_URL", "") or getattr(settings, "NATS_URL", ""):
        return {**CHECKS, "subscriber": check_subscriber}
    return CHECKS


def run_checks() -> tuple[bool, dict[str, dict]]:
    """Run every check; return (all passed, {name: {"ok": bool[, "error": class name]}}).

    A check may return more to say, shown beside ``ok``; so may a failed subscriber check.
    """
    results: dict[str, dict] = {}
    for name, check in active_checks().items():
        try:
            details = check()
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check, reported
            log.warning("Health check %s failed: %s", name, exc)
            extra = exc.details if isinstance(exc, SubscriberDown) else {}
            results[name] = {"ok": False, "error": exc.__class__.__name__, **extra}
        else:
            results[name] = {"ok": True, **(details or {})}
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
