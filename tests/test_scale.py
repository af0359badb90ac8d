"""Many small exports (issue 21 §1): the messages of an export are sent by the RQ job that
made its file, still once each; the worker builds what every job needs before forking."""

from datetime import timedelta

import django_rq
import pytest
from django.core import mail
from django.urls import clear_url_caches, get_resolver
from django.utils import timezone
from rq import SimpleWorker

from exports.models import ExportJob, JobStatus
from exports.queue import dispatch as export_dispatch
from exports.queue import namespace
from exports.queue.runner import run_job
from exports.queue.worker import warm_up
from notifications.models import Delivery, DeliveryStatus
from tests.test_faults import readings  # noqa: F401 - a fixture
from tests.test_notifications_fakes import add_message


def work(queue: str) -> None:
    django_rq.get_worker(namespace.queue_name(queue), worker_class=SimpleWorker).work(burst=True)


@pytest.fixture
def dispatched(alice, redis_conn, django_capture_on_commit_callbacks):
    from tests.test_scheduler import make_one_time

    request = make_one_time(alice)
    add_message(request, "email", "ops@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        job = ExportJob.objects.create(request=request, slot=timezone.now(), windows=[])
        export_dispatch.dispatch()
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_the_export_job_sends_its_messages_due_at_once(dispatched, redis_conn):
    work("exports")  # the exports queue only: no notification job is needed
    dispatched.refresh_from_db()
    assert dispatched.status == JobStatus.DONE
    [delivery] = Delivery.objects.all()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1
    assert delivery.rq_job_id == dispatched.rq_job_id  # handed to the export's own RQ job
    assert len(mail.outbox) == 1
    assert django_rq.get_queue(namespace.queue_name("notifications")).count == 0
    work("notifications")  # nothing left to send twice
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_worker_messages_still_go_through_the_notifications_queue(dispatched):
    # exportnow / runexport: no RQ job runs the export, so RQ gets a delivery job as before.
    run_job(dispatched.pk)
    [delivery] = Delivery.objects.all()
    assert delivery.enqueued_at is not None and delivery.status == DeliveryStatus.PENDING
    assert mail.outbox == []
    work("notifications")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(mail.outbox) == 1


def test_the_worker_builds_the_url_resolver_before_forking():
    clear_url_caches()
    assert not get_resolver()._populated
    warm_up()
    assert get_resolver()._populated


# A real worker (`manage.py runworker exports --burst`) whose horses write down which process ran
# which job; the export of the job named on the command line runs away (sleeps) on its first
# attempt, after telling the test it started, so the test can kill its horse.
RECORDING_WORKER = """
import os, sys, time
import django
django.setup()
from django.conf import settings
settings.MEDIA_ROOT = sys.argv[1]
import django_rq
from django.core.management import call_command
from exports.queue import runner
from exports.queue.namespace import queue_name

redis = django_rq.get_connection(queue_name("exports"))
original = runner._produce

def recording(job, progress):
    redis.rpush("test:scale:ran", f"{job.pk}:{os.getpid()}")
    if job.pk == int(sys.argv[2]) and job.attempts == 1:
        redis.set("test:scale:runaway", str(os.getpid()))
        time.sleep(600)
    original(job, progress)

runner._produce = recording
call_command("runworker", "exports", "--burst")
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("readings")
def test_a_horse_runs_short_jobs_one_after_another_and_killing_it_harms_only_its_job(
    alice, redis_conn, settings
):
    import os
    import signal
    import subprocess
    import sys
    from datetime import timedelta

    from exports.queue.reaper import reap
    from exports.queue.runner import create_job
    from tests.test_faults import ROWS, burst, make_request, stop
    from tests.test_scheduler import ROOT, database_for_subprocesses, subprocess_env, wait_for

    settings.EXPORTS_DISPATCH_BACKLOG = 1  # one job in RQ at a time: the order is A, B, C
    first, runaway, last = (
        create_job(make_request(alice, name=name), timezone.now()) for name in ("A", "B", "C")
    )
    assert export_dispatch.dispatch() == 1
    with database_for_subprocesses() as url:
        worker = subprocess.Popen(
            [sys.executable, "-c", RECORDING_WORKER, settings.MEDIA_ROOT, str(runaway.pk)],
            cwd=ROOT,
            env=subprocess_env(url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: redis_conn.get("test:scale:runaway"), 60, "the runaway export")
            horse = int(redis_conn.get("test:scale:runaway"))
            os.kill(horse, signal.SIGKILL)  # what the job timeout or a stop-job command does
            assert worker.wait(timeout=120) == 0  # the worker goes on with C, then exits
        finally:
            stop(worker)
    ran = [
        tuple(map(int, entry.split(b":"))) for entry in redis_conn.lrange("test:scale:ran", 0, -1)
    ]
    assert [pk for pk, _ in ran] == [first.pk, runaway.pk, last.pk]
    pids = dict(ran)
    assert pids[first.pk] == pids[runaway.pk] == horse  # A's horse took B once A had ended
    assert pids[last.pk] != horse  # C ran in a fresh horse, untouched by the kill
    for job in (first, last):
        job.refresh_from_db()
        assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 1, ROWS)
    runaway.refresh_from_db()
    assert runaway.status == JobStatus.IN_PROGRESS and not runaway.file  # only B was cut off
    # The reaper recovers it as any job whose horse died; the next attempt runs it to the end.
    assert reap(now=timezone.now() + timedelta(seconds=61)).requeued == 1
    assert export_dispatch.dispatch() == 1
    burst("exports")
    runaway.refresh_from_db()
    assert (runaway.status, runaway.attempts) == (JobStatus.DONE, 2)
    assert ExportJob.objects.count() == 3 and Delivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_dispatch_finding_the_lock_busy_returns_at_once_and_the_holder_hands_over_for_it(
    alice, redis_conn, monkeypatch, settings
):
    from tests.test_scheduler import make_one_time

    settings.EXPORTS_DISPATCH_BACKLOG = 10
    request = make_one_time(alice)  # its own job is handed over on commit
    first_pass = export_dispatch._hand_over_room
    late = []

    def pass_with_a_knock(connection, now):
        handed = first_pass(connection, now)
        if not late:  # a job created, and a worker's dispatch, while this one holds the lock
            late.append(ExportJob.objects.create(request=request, slot=timezone.now(), windows=[]))
            assert export_dispatch.dispatch_quietly() == 0  # busy: no wait, a mark left
        return handed

    monkeypatch.setattr(export_dispatch, "_hand_over_room", pass_with_a_knock)
    assert export_dispatch.dispatch() == 1  # the second pass, made for the knock
    late[0].refresh_from_db()
    assert late[0].enqueued_at is not None
    assert not redis_conn.exists(namespace.redis_key("dispatch:again"))


def take(queue) -> None:
    """What a worker does with the first job RQ holds: takes it and claims its row."""
    from exports.queue import lifecycle

    rq_id = queue.job_ids[0]
    queue.remove(rq_id)
    assert lifecycle.start(ExportJob.objects.get(rq_job_id=rq_id).pk, rq_id) is not None


def waiting_jobs(request, count: int) -> list:
    slot = timezone.now()
    return [
        ExportJob.objects.create(request=request, slot=slot + timedelta(minutes=n), windows=[])
        for n in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_refills_the_backlog_only_once_it_has_drained_to_half(
    alice, redis_conn, settings
):
    from tests.test_scheduler import make_one_time

    settings.EXPORTS_DISPATCH_BACKLOG = 4
    waiting_jobs(make_one_time(alice), 7)
    assert export_dispatch.dispatch() == 4  # four in RQ, three waiting
    queue = django_rq.get_queue(namespace.queue_name("exports"))
    take(queue)
    take(queue)  # two taken by workers: two left, half of four: each worker still finds one
    assert export_dispatch.refill_quietly() == 0
    assert ExportJob.objects.filter(enqueued_at__isnull=True).count() == 3
    take(queue)  # one left: below half, refilled up to the backlog in one pass
    assert export_dispatch.refill_quietly() == 3
    assert queue.count == 4 and not ExportJob.objects.filter(enqueued_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_the_default_backlog_of_two_jobs_per_worker_is_refilled_below_one_per_worker(
    alice, redis_conn, settings
):
    from tests.test_scheduler import make_one_time

    settings.EXPORTS_DISPATCH_BACKLOG = None
    waiting_jobs(make_one_time(alice), 3)
    assert export_dispatch.dispatch() == 2  # no worker registered: a backlog of two
    queue = django_rq.get_queue(namespace.queue_name("exports"))
    take(queue)
    assert not export_dispatch.backlog_low()  # one queued: not fewer than half
    take(queue)
    assert export_dispatch.backlog_low() and export_dispatch.refill_quietly() == 1


@pytest.mark.django_db(transaction=True)
def test_a_tick_that_only_dispatched_lets_the_scheduler_sleep(alice, redis_conn, settings):
    # Looping at once after a dispatch only raced the workers' horses for the lock: room in
    # the backlog appears when a worker ends a job, and that worker refills it.
    import io

    from exports.management.commands import runscheduler
    from tests.test_scheduler import make_one_time

    settings.EXPORTS_DISPATCH_BACKLOG = 2
    waiting_jobs(make_one_time(alice), 3)
    scheduler = runscheduler.Command(stdout=io.StringIO())
    assert scheduler.handle_one_dispatch(verbose=False) is False
    assert ExportJob.objects.filter(enqueued_at__isnull=False).count() == 2
    assert "Dispatched: 2 job(s)" in scheduler.stdout.getvalue()
