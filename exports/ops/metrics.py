"""Prometheus metrics at ``/metrics``, read from the database and Redis at each scrape.

Every number is worked out when Prometheus asks, from the rows and queues every process
shares, so any web server answers for the whole installation (no per-process counters to
add up, no multiprocess directory for gunicorn):

* ``exporter_queue_depth{queue}``: RQ jobs waiting in each of our queues;
* ``exporter_jobs{status}``: export jobs by status (the job's status is the truth, not RQ's
  failed list: a job that failed once and succeeded on retry is listed there);
* ``exporter_jobs_waiting_due``: waiting jobs due now (not inside a retry backoff);
* ``exporter_deliveries{status}``: notification deliveries by status;
* ``exporter_export_duration_seconds``: a gauge histogram of how long the exports that
  finished ``done`` in the last hour ran (start of the attempt to its end);
* ``exporter_health_check_ok{check}``: each readiness check's last result in this process.

More collectors (a subscriber's lag) join with ``COLLECTORS.append(function)``: a function
returning metric families. Protected by a bearer token (``METRICS_TOKEN``); with none set,
``/metrics`` does not exist (404). Answered before the host check and HTTPS redirect, like
the health probes, so Prometheus can scrape each server by address.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600)


def queue_depths():
    import django_rq
    from prometheus_client.core import GaugeMetricFamily

    from exports.queue import namespace

    family = GaugeMetricFamily(
        "exporter_queue_depth", "RQ jobs waiting in each of our queues.", labels=["queue"]
    )
    for alias in namespace.QUEUES:
        queue = django_rq.get_queue(
            namespace.queue_name(alias), connection=namespace.redis_client(alias)
        )
        family.add_metric([alias], queue.count)
    yield family


def jobs_by_status():
    from django.db.models import Count
    from django.utils import timezone
    from prometheus_client.core import GaugeMetricFamily

    from exports.models import ExportJob, JobStatus
    from exports.queue import lifecycle

    counts = dict(
        ExportJob.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    family = GaugeMetricFamily("exporter_jobs", "Export jobs by status.", labels=["status"])
    for status in JobStatus.values:
        family.add_metric([status], counts.get(status, 0))
    yield family
    yield GaugeMetricFamily(
        "exporter_jobs_waiting_due",
        "Waiting export jobs that are due now (not inside a retry backoff).",
        value=lifecycle.due_jobs(timezone.now()).count(),
    )


def deliveries_by_status():
    from django.db.models import Count
    from prometheus_client.core import GaugeMetricFamily

    from notifications.models import Delivery, DeliveryStatus

    counts = dict(
        Delivery.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    family = GaugeMetricFamily(
        "exporter_deliveries", "Notification deliveries by status.", labels=["status"]
    )
    for status in DeliveryStatus.values:
        family.add_metric([status], counts.get(status, 0))
    yield family


def export_durations():
    from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
    from django.utils import timezone
    from prometheus_client.core import GaugeHistogramMetricFamily

    from exports.models import ExportJob, JobStatus

    recent = ExportJob.objects.filter(
        status=JobStatus.DONE,
        started_at__isnull=False,
        finished_at__gte=timezone.now() - timedelta(hours=1),
    ).annotate(
        ran=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    )
    aggregates = {
        f"le{bound}": Count("pk", filter=Q(ran__lte=timedelta(seconds=bound)))
        for bound in DURATION_BUCKETS
    }
    row = recent.aggregate(total=Count("pk"), seconds=Sum("ran"), **aggregates)
    buckets = [(str(float(bound)), row[f"le{bound}"]) for bound in DURATION_BUCKETS]
    buckets.append(("+Inf", row["total"]))
    total = row["seconds"].total_seconds() if row["seconds"] else 0.0
    yield GaugeHistogramMetricFamily(
        "exporter_export_duration_seconds",
        "How long the exports that finished done in the last hour ran.",
        buckets=buckets,
        gsum_value=total,
    )


def health_checks():
    from prometheus_client.core import GaugeMetricFamily

    from exports.ops import health

    family = GaugeMetricFamily(
        "exporter_health_check_ok",
        "1 when the readiness check last passed in this process, 0 when it failed.",
        labels=["check"],
    )
    for name, ok in sorted(health._last_ok.items()):
        family.add_metric([name], 1 if ok else 0)
    yield family


COLLECTORS: list[Callable[[], Iterable]] = [
    queue_depths,
    jobs_by_status,
    deliveries_by_status,
    export_durations,
    health_checks,
]


class _Collector:
    """prometheus_client's collector interface over ``COLLECTORS``; one failing collector
    (Redis down) is logged and skipped, the others still answer."""

    def collect(self):
        for collector in COLLECTORS:
            try:
                yield from list(collector())
            except Exception as exc:  # noqa: BLE001 - a scrape must not fail as a whole
                log.warning("Metrics collector %s failed: %s", collector.__name__, exc)


def render() -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


def view_for(request: HttpRequest) -> Callable[[], HttpResponse] | None:
    """The answer to ``/metrics`` for this request, or None (no token configured: a 404)."""
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        return None
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return _unauthorized
    return _metrics


def _unauthorized() -> HttpResponse:
    response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def _metrics() -> HttpResponse:
    from prometheus_client import CONTENT_TYPE_LATEST

    response = HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
