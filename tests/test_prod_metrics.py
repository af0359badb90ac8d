"""Prometheus metrics at /metrics (issue 17, item 8): protected, read from rows and queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from exports.models import ExportJob, JobStatus
from exports.queue.ondemand import run_now
from tests.builders import one_day_of_temperature

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-123"


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_without_a_token_configured_there_is_no_metrics_endpoint(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_it_needs_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_it_reports_queues_jobs_deliveries_and_durations(
    client, settings, alice, redis_conn, django_capture_on_commit_callbacks
):
    settings.METRICS_TOKEN = TOKEN
    settings.ALLOWED_HOSTS = ["exporter.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    start = datetime(2026, 2, 1, tzinfo=UTC)
    request = one_day_of_temperature(alice, name="m", channel="chan", start=start)
    with django_capture_on_commit_callbacks(execute=True):
        waiting = run_now(request)  # handed to RQ: one job in the exports queue
    now = timezone.now()
    done = ExportJob.objects.create(request=request, slot=now - timedelta(hours=1), windows=[])
    ExportJob.objects.filter(pk=done.pk).update(
        status=JobStatus.DONE, started_at=now - timedelta(seconds=40), finished_at=now
    )
    # Scraped by address over plain HTTP, like the health probes.
    response = client.get(
        "/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_HOST="10.0.0.5:8000"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    found = samples(response.content)
    assert found[("exporter_queue_depth", (("queue", "exports"),))] == 1
    assert found[("exporter_jobs", (("status", "notProcessed"),))] == 1
    assert found[("exporter_jobs", (("status", "done"),))] == 1
    assert found[("exporter_jobs", (("status", "failed"),))] == 0
    assert ("exporter_deliveries", (("status", "pending"),)) in found
    assert found[("exporter_export_duration_seconds_bucket", (("le", "15.0"),))] == 0
    assert found[("exporter_export_duration_seconds_bucket", (("le", "60.0"),))] == 1
    assert found[("exporter_export_duration_seconds_gsum", ())] == pytest.approx(40)
    assert waiting.pk != done.pk


def test_a_failing_collector_leaves_the_others(client, settings, monkeypatch):
    from exports.ops import metrics

    def broken():
        raise ConnectionError("redis down")
        yield  # pragma: no cover

    monkeypatch.setattr(metrics, "COLLECTORS", [broken, metrics.jobs_by_status])
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and b"exporter_jobs{" in response.content
