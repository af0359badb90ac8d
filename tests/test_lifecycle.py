"""The job lifecycle (exports.queue.lifecycle) is the one owner of job transitions.

One ``requeue()`` puts a job back to waiting, resetting everything any of its former copies
(runner, reaper, admin "Retry", runexport/exportnow rerun) reset; each of those callers goes
through it. ``finish()``/``fail()`` send ``job_finished``, the one way notifications learn of a
final job; the scheduler tick only catches up when that did not happen.
"""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import CommandError
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from exports.management.commands._runjob import run_slot
from exports.models import ExportJob, JobStatus
from exports.queue import lifecycle
from exports.queue.reaper import reap
from exports.queue.runner import create_job, run_job
from exports.queue.signals import job_finished
from exports.requests.vocabulary import EmptyReason, Medium, Policy
from notifications.dispatch import on_job_finished, tick
from notifications.models import Delivery
from tests import test_jobs, test_notifications_fakes

pytestmark = pytest.mark.django_db

# Every field a job back to waiting must have, whatever an attempt or a final state left there.
FRESH = {
    "status": JobStatus.NOT_PROCESSED,
    "enqueued_at": None,
    "rq_job_id": "",
    "started_at": None,
    "heartbeat_at": None,
    "finished_at": None,
    "worker_name": "",
    "notified_at": None,
    "rows_written": 0,
    "rows_estimated": None,
    "row_count": None,
    "empty_reason": "",
    "file": "",
    "size": None,
    "content_type": "",
    "error": "",
    "stage": "",
    "retry_at": None,
}


def soil(job: ExportJob, status: str, **fields) -> ExportJob:
    """Leave on ``job`` everything an attempt can leave, including a stored file."""
    now = timezone.now()
    values = {
        "status": status,
        "attempts": 2,
        "stage": "writing",
        "rows_written": 500,
        "rows_estimated": 1000,
        "row_count": 500,
        "empty_reason": EmptyReason.NO_DATA,
        "size": 4,
        "content_type": "text/csv",
        "error": "boom",
        "rq_job_id": f"test-export-job-{job.pk}-attempt-2",
        "worker_name": "host.1234",
        "enqueued_at": now - timedelta(minutes=4),
        "started_at": now - timedelta(minutes=3),
        "heartbeat_at": now - timedelta(minutes=3),
        "finished_at": now - timedelta(minutes=2),
        "notified_at": now - timedelta(minutes=1),
        "retry_at": now - timedelta(minutes=10),
    } | fields
    name = default_storage.save(f"exports/test/soiled-{job.pk}.csv", ContentFile(b"a,b\n"))
    ExportJob.objects.filter(pk=job.pk).update(file=name, **values)
    return ExportJob.objects.get(pk=job.pk)


def a_job(owner, status: str = JobStatus.FAILED, **fields) -> ExportJob:
    request = test_notifications_fakes.make_request(owner)
    job = ExportJob.objects.create(request=request, slot=timezone.now(), windows=[{"item": 1}])
    return soil(job, status, **fields)


def broken_write(self, *args, **kwargs):
    raise OSError("disk briefly unavailable")


def row(job: ExportJob, *fields: str) -> dict:
    return ExportJob.objects.filter(pk=job.pk).values(*(fields or FRESH)).get()


def assert_waiting_afresh(job: ExportJob, old_file: str, **why) -> None:
    assert row(job) == FRESH | why
    assert not default_storage.exists(old_file)  # a stale or partial file is never served


# --- requeue() itself -------------------------------------------------------------------------


def test_requeue_resets_everything_an_attempt_left_and_deletes_its_file(alice):
    job = a_job(alice)
    kept = row(job, "slot", "windows", "attempts", "request")
    file = job.file.name
    assert lifecycle.requeue(job, expect=Q(status=JobStatus.FAILED))
    assert_waiting_afresh(job, file)
    # Same slot and pinned windows: the rerun exports the same data; attempts keep counting.
    assert row(job, "slot", "windows", "attempts", "request") == kept
    assert (job.status, job.file.name, job.rq_job_id) == (JobStatus.NOT_PROCESSED, "", "")


def test_requeue_records_why_the_job_waits_and_until_when(alice):
    job = a_job(alice, JobStatus.IN_PROGRESS)
    file = job.file.name
    retry_at = timezone.now() + timedelta(seconds=30)
    assert lifecycle.requeue(job, error="attempt 2 failed: x", stage="retry", retry_at=retry_at)
    assert_waiting_afresh(job, file, error="attempt 2 failed: x", stage="retry", retry_at=retry_at)


def test_requeue_changes_nothing_when_the_row_moved_on(alice):
    job = a_job(alice)  # failed, so not "this worker's running attempt" (the default)
    before = row(job)
    assert not lifecycle.requeue(job)
    assert not lifecycle.requeue(job, expect=Q(status=JobStatus.DONE))
    assert row(job) == before and default_storage.exists(before["file"])


# --- every caller goes through it ----------------------------------------------------------------


def test_the_admin_retry_action_requeues_failed_jobs_only(client, admin_user, alice, redis_conn):
    failed = a_job(alice)
    done = soil(failed.request.jobs.create(slot=timezone.now() - timedelta(days=1)), "done")
    file = failed.file.name
    done_before = row(done)
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:exports_exportjob_changelist"),
        {"action": "retry_jobs", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )
    assert "Queued 1 failed job(s) again." in response.content.decode()
    # The dispatcher may have handed it over already: that part is dispatch's, not the reset.
    assert row(failed) | {"enqueued_at": None, "rq_job_id": ""} == FRESH
    assert not default_storage.exists(file)
    assert row(done) == done_before


def test_the_reaper_requeues_a_silent_running_job_with_the_same_reset(alice, redis_conn):
    job = a_job(alice, JobStatus.IN_PROGRESS)
    file = job.file.name
    assert reap(now=timezone.now() + timedelta(seconds=61)).requeued == 1
    assert_waiting_afresh(job, file)


def test_the_runner_requeues_after_a_transient_failure_with_the_same_reset(
    alice, monkeypatch, settings
):
    from exports.writers.csv import CsvWriter

    settings.EXPORTS_MAX_ATTEMPTS = 3
    monkeypatch.setattr(CsvWriter, "write", broken_write)
    job = create_job(test_jobs.make_request(alice), test_jobs.SLOT)
    # A rerun of a slot that had run: its old file, notification mark, ... are still there.
    job = soil(job, JobStatus.NOT_PROCESSED, attempts=0, rq_job_id="")
    file = job.file.name
    job = run_job(job.pk)
    assert job.attempts == 1 and job.retry_at > timezone.now()
    error = "attempt 1 failed: OSError: disk briefly unavailable"
    assert_waiting_afresh(job, file, error=error, stage="retry", retry_at=job.retry_at)


def test_a_rerun_of_a_slot_requeues_it_first(alice, tmp_path):
    request = test_jobs.make_request(alice)
    job = soil(create_job(request, test_jobs.SLOT), JobStatus.DONE)
    old = row(job, "file", "notified_at", "attempts")
    run_slot(request, test_jobs.SLOT, tmp_path)
    rerun = row(job, *FRESH, "attempts")
    assert rerun["status"] == JobStatus.DONE and not default_storage.exists(old["file"])
    # What the run itself does not write comes from requeue(), not from the previous run.
    assert (rerun["retry_at"], rerun["enqueued_at"], rerun["rq_job_id"]) == (None, None, "")
    assert (rerun["error"], rerun["attempts"]) == ("", old["attempts"] + 1)
    assert rerun["notified_at"] > old["notified_at"]  # notified again, for this run


def test_a_rerun_leaves_a_running_job_alone(alice, tmp_path):
    request = test_jobs.make_request(alice)
    job = soil(create_job(request, test_jobs.SLOT), JobStatus.IN_PROGRESS)
    before = row(job)
    with pytest.raises(CommandError, match="inProgress"):
        run_slot(request, test_jobs.SLOT, tmp_path)
    assert row(job) == before


# --- final states and the job_finished signal ----------------------------------------------------


@pytest.fixture
def finished():
    """The (job id, status) of every job_finished sent while the test runs."""
    seen = []

    def receiver(sender, job, **kwargs):
        seen.append((job.pk, job.status))

    job_finished.connect(receiver, weak=False, dispatch_uid="test-finished")
    yield seen
    job_finished.disconnect(dispatch_uid="test-finished")


def test_finish_and_fail_send_job_finished_once_and_requeue_does_not(
    alice, finished, monkeypatch, settings
):
    from exports.writers.csv import CsvWriter

    done = run_job(create_job(test_jobs.make_request(alice), test_jobs.SLOT).pk)
    failed = run_job(create_job(test_notifications_fakes.make_request(alice), timezone.now()).pk)
    assert (done.status, failed.status) == (JobStatus.DONE, JobStatus.FAILED)
    assert finished == [(done.pk, JobStatus.DONE), (failed.pk, JobStatus.FAILED)]

    settings.EXPORTS_MAX_ATTEMPTS = 3
    monkeypatch.setattr(CsvWriter, "write", broken_write)
    retried = run_job(create_job(test_jobs.make_request(alice), test_jobs.SLOT).pk)
    assert retried.status == JobStatus.NOT_PROCESSED and len(finished) == 2


def test_a_failing_receiver_neither_stops_nor_undoes_the_job(alice, caplog):
    def broken(sender, job, **kwargs):
        raise RuntimeError("receiver down")

    job_finished.connect(broken, weak=False, dispatch_uid="test-broken")
    try:
        job = run_job(create_job(test_jobs.make_request(alice), test_jobs.SLOT).pk)
    finally:
        job_finished.disconnect(dispatch_uid="test-broken")
    assert job.status == JobStatus.DONE and job.file
    assert "receiver down" in caplog.text


def test_notifications_learn_of_a_finished_job_from_the_signal(alice):
    request = test_jobs.make_request(alice)
    test_notifications_fakes.add_message(request, Medium.EMAIL, policy=Policy.ON_SUCCESS)
    job = run_job(create_job(request, test_jobs.SLOT).pk)
    assert job.status == JobStatus.DONE and job.notified_at is not None
    assert Delivery.objects.filter(job=job).count() == 1  # no scheduler tick involved


def test_the_tick_still_catches_up_when_the_signal_never_got_there(alice):
    """Durability: a process dying between the final update and the receiver loses nothing."""
    request = test_jobs.make_request(alice)
    test_notifications_fakes.add_message(request, Medium.EMAIL, policy=Policy.ON_SUCCESS)
    uid = "notifications-job-finished"  # as NotificationsConfig.ready() connects it
    assert job_finished.disconnect(sender=ExportJob, dispatch_uid=uid)
    try:
        job = run_job(create_job(request, test_jobs.SLOT).pk)
    finally:
        job_finished.connect(on_job_finished, sender=ExportJob, dispatch_uid=uid)
    assert job.notified_at is None and not Delivery.objects.filter(job=job).exists()
    assert tick(timezone.now() + timedelta(seconds=31)).notified_jobs == 1
    assert Delivery.objects.filter(job=job).count() == 1


def test_a_job_the_reaper_fails_gets_its_failure_messages(alice, redis_conn, settings):
    settings.EXPORTS_MAX_ATTEMPTS = 2
    job = a_job(alice, JobStatus.IN_PROGRESS, notified_at=None)
    test_notifications_fakes.add_message(job.request, Medium.EMAIL, policy=Policy.ON_FAILURE)
    assert reap(now=timezone.now() + timedelta(seconds=61)).failed == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker lost")
    assert (job.file.name, job.size, job.content_type, job.row_count) == ("", None, "", None)
    assert job.notified_at is not None and Delivery.objects.filter(job=job).count() == 1


def test_the_runner_reads_the_attempts_limit_through_the_queue_settings(
    alice, monkeypatch, settings
):
    """No EXPORTS_MAX_ATTEMPTS configured: the runner uses the queue's default (3) too."""
    from exports.writers.csv import CsvWriter

    del settings.EXPORTS_MAX_ATTEMPTS
    monkeypatch.setattr(CsvWriter, "write", broken_write)
    job = create_job(test_jobs.make_request(alice), test_jobs.SLOT)
    statuses = [run_job(job.pk).status for _ in range(3)]
    assert statuses == [JobStatus.NOT_PROCESSED, JobStatus.NOT_PROCESSED, JobStatus.FAILED]


# --- a stop we asked for ------------------------------------------------------------------------


def test_a_job_cut_off_by_a_workers_stop_is_requeued_without_counting_the_attempt(
    alice, redis_conn, settings
):
    from exports.queue.namespace import stopping_worker_key

    settings.EXPORTS_MAX_ATTEMPTS = 2  # at the limit: a lost worker would fail it
    stopped = a_job(alice, JobStatus.IN_PROGRESS, worker_name="host.stopped", attempts=2)
    lost = a_job(alice, JobStatus.IN_PROGRESS, worker_name="host.crashed", attempts=1)
    redis_conn.set(stopping_worker_key("host.stopped"), "1")
    try:
        result = reap(now=timezone.now() + timedelta(seconds=61))
    finally:
        redis_conn.delete(stopping_worker_key("host.stopped"))
    assert (result.requeued, result.failed) == (2, 0)
    assert row(stopped, "status", "attempts") == {"status": JobStatus.NOT_PROCESSED, "attempts": 1}
    assert row(lost, "status", "attempts") == {"status": JobStatus.NOT_PROCESSED, "attempts": 1}


def test_a_worker_told_to_stop_marks_itself_in_redis(redis_conn):
    from rq import Queue

    from exports.queue.namespace import stopping_worker_key
    from exports.queue.worker import PreloadingWorker

    worker = PreloadingWorker([Queue("stop-test", connection=redis_conn)], connection=redis_conn)
    try:
        worker.mark_stopping()
        assert redis_conn.exists(stopping_worker_key(worker.name))
        assert 0 < redis_conn.ttl(stopping_worker_key(worker.name)) <= 24 * 3600
    finally:
        redis_conn.delete(stopping_worker_key(worker.name))
