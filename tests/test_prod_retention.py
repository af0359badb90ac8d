"""Retention of rows (issue 17, item 7): finished job rows, published IAM events, messages;
and the scheduler's lines as JSON (item 8)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from exports.files import retention
from exports.management.commands import runscheduler
from exports.models import ExportJob, IamEvent, Installation, JobStatus, Message
from tests.builders import one_day_of_temperature

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def job(request, status: str, finished: datetime, days: int) -> ExportJob:
    made = ExportJob.objects.create(request=request, slot=NOW - timedelta(days=days), windows=[])
    ExportJob.objects.filter(pk=made.pk).update(status=status, finished_at=finished)
    return made


def test_old_finished_job_rows_go_but_the_latest_of_each_request_and_done_ones_stay(alice):
    old, recent = NOW - timedelta(days=100), NOW - timedelta(days=10)
    request = one_day_of_temperature(alice, name="a", channel="c", start=NOW)
    old_failed = job(request, JobStatus.FAILED, old, 200)
    old_expired = job(request, JobStatus.EXPIRED, old, 199)
    old_done = job(request, JobStatus.DONE, old, 198)  # still has its file: retention's first
    recent_failed = job(request, JobStatus.FAILED, recent, 197)
    latest_skipped = job(request, JobStatus.SKIPPED, old, 1)  # the request's last run
    other = one_day_of_temperature(alice, name="b", channel="c", start=NOW)
    only_job = job(other, JobStatus.EXPIRED, old, 300)
    result = retention.prune_records(NOW)
    assert result.jobs == 2
    kept = set(ExportJob.objects.values_list("pk", flat=True))
    assert kept == {old_done.pk, recent_failed.pk, latest_skipped.pk, only_job.pk}
    assert not {old_failed.pk, old_expired.pk} & kept


def test_published_iam_events_go_after_their_retention_unpublished_ones_never(settings):
    settings.IAM_EVENTS_RETENTION = "P30D"
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)
    IamEvent.objects.all().delete()
    published_old = IamEvent.objects.create(operation="x", occurred_at=old, published_at=old)
    unpublished_old = IamEvent.objects.create(operation="x", occurred_at=old)
    published_recent = IamEvent.objects.create(
        operation="x", occurred_at=recent, published_at=recent
    )
    assert retention.prune_records(NOW).iam_events == 1
    assert set(IamEvent.objects.values_list("pk", flat=True)) == {
        unpublished_old.pk,
        published_recent.pk,
    }
    assert not IamEvent.objects.filter(pk=published_old.pk).exists()


def add_messages(count: int, start: datetime) -> None:
    Message.objects.bulk_create(
        Message(channel="c", publisher="p", name="t", time=start + timedelta(minutes=i), value=i)
        for i in range(count)
    )


def test_messages_are_kept_unless_messages_retention_is_set_then_pruned_in_batches(
    settings, monkeypatch
):
    add_messages(25, NOW - timedelta(days=60))
    add_messages(5, NOW - timedelta(days=1))
    assert settings.MESSAGES_RETENTION == "P0D"  # off by default
    assert retention.prune_records(NOW).messages == 0
    settings.MESSAGES_RETENTION = "P30D"
    monkeypatch.setattr(retention, "PRUNE_BATCH", 10)
    monkeypatch.setattr(retention, "MESSAGE_BATCHES_PER_PRUNE", 2)
    assert retention.prune_records(NOW).messages == 20  # two batches of ten, the rest later
    assert retention.prune_records(NOW).messages == 5
    assert Message.objects.count() == 5


def test_p0d_keeps_every_row(settings, alice):
    settings.EXPORTS_JOB_ROW_RETENTION = "P0D"
    settings.IAM_EVENTS_RETENTION = "P0D"
    request = one_day_of_temperature(alice, name="a", channel="c", start=NOW)
    job(request, JobStatus.FAILED, NOW - timedelta(days=999), 5)
    job(request, JobStatus.FAILED, NOW - timedelta(days=999), 4)
    assert not retention.prune_records(NOW)


def test_the_scheduler_prunes_rows_and_writes_json_lines(settings, alice):
    settings.LOG_FORMAT = "json"
    settings.EXPORTS_PRUNE_INTERVAL = "PT1H"
    Installation.objects.update(last_pruned_at=None)
    request = one_day_of_temperature(alice, name="a", channel="c", start=NOW)
    long_ago = timezone.now() - timedelta(days=400)
    job(request, JobStatus.FAILED, long_ago, 5)
    job(request, JobStatus.FAILED, long_ago, 4)
    out = io.StringIO()
    scheduler = runscheduler.Command(stdout=out)
    scheduler.handle_one_prune(verbose=True)
    scheduler.say("Scheduler stopped.")
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 3 and all(line["level"] == "INFO" for line in lines)
    messages = [line["message"] for line in lines]
    assert any("deleted 1 old job row(s)" in message for message in messages), messages
    assert lines[0]["logger"] == "exports.management.commands.runscheduler"
