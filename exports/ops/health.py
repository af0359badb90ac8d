"""Health probes for load balancers and monitors: liveness, and readiness of each dependency.

Answered by a middleware placed first, before host validation and the HTTPS redirect,
because load balancers probe each backend by its address over plain HTTP. No login, and
nothing secret in the answer: each check says ``ok`` or the class of its error; the
details go to the log, once per change of state (not a line every probe).

* ``/livez``: the process answers (no dependency is asked). What a load balancer should
  probe: every web server shares the same database, Redis and bucket, so dropping them all
  from rotation when one of those is down helps nobody, and pages that do not need the
  failing one (a bucket outage) keep working.
* ``/readyz`` (and ``/healthz``, its old name): every check of ``CHECKS``::

    {"status": "ok", "checks": {"database": {"ok": true}, "redis": {"ok": true},
                                "storage": {"ok": true}}}

  200 when every check passes, 503 otherwise. When a broker is configured (``MQTT_URL`` or
  ``NATS_URL``) a fourth check, ``subscriber``, reads the heartbeat ``manage.py runsubscriber``
  keeps in Redis: it passes while the subscriber runs and every broker is connected, and says
  when the last message came and the lag of the last batch::

    "subscriber": {"ok": true, "connected": {"mqtt": true}, "last_message": "2026-…Z",
                   "lag_seconds": 0.21}

Each check runs in a thread of its own (one per check and process, kept between probes) and
is given ``PROBE_TIMEOUT`` seconds: a dependency that accepts connections and never answers
fails its check (``"error": "Timeout"``) in that time, and while it still hangs, later probes
fail it at once instead of piling up threads — a hung bucket cannot use up gunicorn's threads.
The checks themselves use short timeouts and no retries too (Redis socket timeouts, an S3
client of their own). A new check is one line: ``CHECKS["name"] = function`` (no argument;
it raises on failure, and may return a dict of details shown beside ``ok``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse, JsonResponse

from exports.queue.namespace import queue_settings

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
LIVE_PATH = "/livez"
PROBE_TIMEOUT = 2.0  # seconds; a probe that waits longer than the balancer is useless


class ProbeTimeout(Exception):
    """The check did not answer within ``PROBE_TIMEOUT`` (or still hangs from an earlier probe)."""


def database_connection() -> BaseDatabaseWrapper:
    """The connection the database check uses (the prober thread's own)."""
    return connections["default"]


def check_database() -> None:
    """``SELECT 1`` on the default database (a dropped connection is replaced first)."""
    connection = database_connection()
    connection.close_if_unusable_or_obsolete()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        # Kept between probes only as long as DATABASE_CONN_MAX_AGE allows (0: closed now).
        connection.close_if_unusable_or_obsolete()


def check_redis() -> None:
    """PING the Redis of the queues, with short timeouts of its own (and no database)."""
    import redis

    url = queue_settings("default")["URL"]
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=PROBE_TIMEOUT,
        socket_timeout=PROBE_TIMEOUT,
        retry_on_timeout=False,
    )
    try:
        client.ping()
    finally:
        client.close()


def check_storage() -> None:
    """The export-file store answers (bucket ``HEAD``, one try, short timeouts) or its
    directory is writable."""
    from exports.files.storage import StorageUnavailable, export_storage

    storage = export_storage()
    if not hasattr(storage, "bucket_name"):
        storage.check()
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _s3_probe_client(storage).head_bucket(Bucket=storage.bucket_name)
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable(
            f"object storage did not answer ({exc.__class__.__name__})"
        ) from exc


def _s3_probe_client(storage):
    """A client of the storage's bucket that gives up after ``PROBE_TIMEOUT``, without retries
    (the storage's own client waits a minute and tries three times: right for an upload)."""
    client = getattr(storage, "_health_probe_client", None)
    if client is None:
        from botocore.config import Config

        probe = Config(
            connect_timeout=PROBE_TIMEOUT,
            read_timeout=PROBE_TIMEOUT,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        config = storage.client_config.merge(probe) if storage.client_config else probe
        client = storage._create_session().client(
            "s3",
            region_name=storage.region_name,
            use_ssl=storage.use_ssl,
            endpoint_url=storage.endpoint_url,
            config=config,
            verify=storage.verify,
        )
        storage._health_probe_client = client  # dies with the storage (settings changed)
    return client


# The readiness checks by name, in the order they are reported. One more check is one line.
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


CHECKS: dict[str, Callable[[], dict | None]] = {
    "database": check_database,
    "redis": check_redis,
    "storage": check_storage,
}


class _Prober:
    """One daemon thread running one check on demand; at most one run in flight."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.busy = threading.Lock()
        threading.Thread(target=self._serve, name=f"health-{name}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            check, answer = self.requests.get()
            try:
                details = check()
            except Exception as exc:  # noqa: BLE001 - any failure is a failed check, reported
                answer.put((exc, getattr(exc, "details", None)))
            else:
                answer.put((None, details))
            finally:
                self.busy.release()

    def submit(self, check: Callable[[], dict | None]) -> queue.SimpleQueue | None:
        """Start a run; None when the previous one has not returned yet (still hanging)."""
        if not self.busy.acquire(blocking=False):
            return None
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self.requests.put((check, answer))
        return answer


_probers: dict[str, _Prober] = {}
_probers_lock = threading.Lock()
_last_ok: dict[str, bool] = {}  # each check's last result in this process, for the log


def _prober(name: str) -> _Prober:
    with _probers_lock:
        if name not in _probers:
            _probers[name] = _Prober(name)
        return _probers[name]


def active_checks() -> dict[str, Callable[[], dict | None]]:
    """:data:`CHECKS`, and the subscriber's when a broker is configured."""
    if getattr(settings, "MQTT_URL", "") or getattr(settings, "NATS_URL", ""):
        return {**CHECKS, "subscriber": check_subscriber}
    return dict(CHECKS)


def run_checks(timeout: float | None = None) -> tuple[bool, dict[str, dict]]:
    """Run every check at once; return (all passed, {name: {"ok": bool[, "error": class]}}).

    Answers within ``timeout`` (default ``PROBE_TIMEOUT``) whatever the dependencies do.
    """
    timeout = PROBE_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    pending = {name: _prober(name).submit(check) for name, check in active_checks().items()}
    results: dict[str, dict] = {}
    for name, answer in pending.items():
        error: BaseException | None
        details: dict | None = None
        if answer is None:
            error = ProbeTimeout(f"still waiting for the previous {name} check")
        else:
            try:
                error, details = answer.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                error = ProbeTimeout(f"no answer within {timeout:g} s")
        _log_change(name, error)
        if error is None:
            results[name] = {"ok": True, **(details or {})}
        else:
            kind = "Timeout" if isinstance(error, ProbeTimeout) else error.__class__.__name__
            results[name] = {"ok": False, "error": kind, **(details or {})}
    return all(result["ok"] for result in results.values()), results


def _log_change(name: str, error: BaseException | None) -> None:
    """One log line when a check starts failing (a warning) and one when it recovers."""
    ok = error is None
    if _last_ok.get(name, True) != ok:
        if ok:
            log.info("Health check %s passes again", name)
        else:
            log.warning("Health check %s failed: %s: %s", name, error.__class__.__name__, error)
    _last_ok[name] = ok


def health_response() -> HttpResponse:
    """The JSON answer of ``/readyz``: 200 when every check passed, 503 otherwise."""
    healthy, results = run_checks()
    response = JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results},
        status=200 if healthy else 503,
    )
    response["Cache-Control"] = "no-store"
    return response


def live_response() -> HttpResponse:
    """The JSON answer of ``/livez``: this process answers requests."""
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


PROBES: dict[str, Callable[[], HttpResponse]] = {
    HEALTH_PATH: health_response,
    READY_PATH: health_response,
    LIVE_PATH: live_response,
}


class HealthCheckMiddleware:
    """Answer GET/HEAD of the probe paths (and ``/metrics``, see ``exports.ops.metrics``)
    before the rest of the stack sees the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from exports.ops import metrics

        answer = PROBES.get(request.path_info)
        if answer is None and request.path_info == metrics.METRICS_PATH:
            answer = metrics.view_for(request)
        if answer is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return answer()
