"""No schedule floods the queue: a user's waiting scheduled jobs are capped, oldest skipped."""

from datetime import UTC, datetime, timedelta

import pytest

from exports.models import ExportItem, ExportJob, ExportRequest, JobStatus
from exports.scheduling import signals as scheduling_signals
from exports.scheduling.scheduler import schedule_due, skip_beyond_user_cap

pytestmark = pytest.mark.django_db
JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def next_run_maintained():
    scheduling_signals.connect()


def every_minute(owner, name: str) -> ExportRequest:
    request = ExportRequest.objects.create(
        owner=owner, name=name, type="recurring", periodicity="PT1M", period_start=JAN_1
    )
    ExportItem.objects.create(request=request, target_value="t", channel_id="c", subtopic="s")
    ExportRequest.objects.filter(pk=request.pk).update(next_run_at=JAN_1 + timedelta(minutes=1))
    return request


def test_the_oldest_waiting_slots_beyond_the_cap_are_skipped_with_the_reason(alice, bob, settings):
    settings.EXPORTS_MAX_SCHEDULED_PER_USER = 5
    alices = [every_minute(alice, f"A{i}") for i in range(3)]
    bobs = every_minute(bob, "B")
    result = None
    for minute in range(1, 5):  # four ticks, one a minute, no worker taking anything
        result = schedule_due(now=JAN_1 + timedelta(minutes=minute))
    assert result.created == 4 and result.over_cap == 3

    waiting = ExportJob.objects.filter(request__in=alices, status=JobStatus.NOT_PROCESSED)
    skipped = ExportJob.objects.filter(request__in=alices, status=JobStatus.SKIPPED)
    assert waiting.count() == 5 and skipped.count() == 7
    newest = sorted(
        ExportJob.objects.filter(request__in=alices).values_list("slot", flat=True), reverse=True
    )[:5]
    assert sorted(waiting.values_list("slot", flat=True), reverse=True) == newest
    assert max(skipped.values_list("slot", flat=True)) <= min(newest)
    assert all(
        "only the newest 5 (EXPORTS_MAX_SCHEDULED_PER_USER)" in job.error and job.finished_at
        for job in skipped
    )
    # Bob's four slots are under the cap: untouched.
    assert bobs.jobs.filter(status=JobStatus.NOT_PROCESSED).count() == 4


def test_a_job_already_handed_to_rq_is_not_skipped(alice, settings):
    settings.EXPORTS_MAX_SCHEDULED_PER_USER = 1
    request = every_minute(alice, "A")
    schedule_due(now=JAN_1 + timedelta(minutes=1))
    handed = request.jobs.get()
    ExportJob.objects.filter(pk=handed.pk).update(enqueued_at=JAN_1, rq_job_id="x")
    schedule_due(now=JAN_1 + timedelta(minutes=3))
    handed.refresh_from_db()
    assert handed.status == JobStatus.NOT_PROCESSED
    assert request.jobs.filter(status=JobStatus.NOT_PROCESSED).count() == 2  # handed + newest
    assert request.jobs.filter(status=JobStatus.SKIPPED).count() == 1


def test_nothing_is_skipped_under_the_cap(alice):
    request = every_minute(alice, "A")
    result = schedule_due(now=JAN_1 + timedelta(minutes=10))
    assert (result.created, result.over_cap) == (10, 0)
    assert skip_beyond_user_cap() == 0
    assert request.jobs.filter(status=JobStatus.NOT_PROCESSED).count() == 10
