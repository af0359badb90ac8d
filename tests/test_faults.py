"""Fault suite (``-m fault``): the real export and delivery code against a worker killed with
SIGKILL mid-export, a Redis restarted empty, and a database connection terminated mid-export.

Each test injects one fault and checks the outcome from the outside: the job ends ``done``
with the same rows and the same bytes as an undisturbed run, and each notification arrives
exactly once (counted by an SMTP server and an HTTP server on 127.0.0.1). Time-outs that
would make the suite wait (heartbeat, re-hand grace) are shortened through settings.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_rq.settings import QUEUES
from rq import SimpleWorker

from exports.management.commands.runstack import start_redis
from exports.models import ExportJob, JobStatus, Message
from exports.queue.dispatch import dispatch
from exports.queue.namespace import queue_name
from exports.queue.ondemand import run_now
from exports.queue.reaper import reap
from exports.queue.runner import create_job, run_job
from exports.requests.vocabulary import Medium
from notifications.models import Delivery, DeliveryStatus
from tests.builders import one_day_of_temperature
from tests.test_notifications_fakes import FakeChatService, Reply, SmtpSink, add_message
from tests.test_scheduler import ROOT, database_for_subprocesses, subprocess_env, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

CHANNEL = "fault-chan"
START = datetime(2026, 2, 1, tzinfo=UTC)
ROWS = 2000
STARTED = "test:faults:started"

# The real worker command (`manage.py runworker`, forking a work horse per job), whose
# first attempt at a job is slowed down so that the fault lands mid-export: every progress
# report sleeps, and the first one tells the test the horse's pid (and its PostgreSQL backend).
SLOW_WORKER = """
import os, sys, time
import django
django.setup()
from django.conf import settings
settings.MEDIA_ROOT = sys.argv[1]
import django_rq
from django.core.management import call_command
from django.db import connection
from exports.queue import runner as jobs
from exports.queue.namespace import queue_name
from exports.writers.csv import CsvWriter

CsvWriter.chunk_rows = 50
original = jobs._Progress.__call__

def slow(self, rows):
    if self.job.attempts == 1:
        if rows <= CsvWriter.chunk_rows:
            backend = ""
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
            django_rq.get_connection(queue_name("exports")).set(
                "test:faults:started", f"{self.job.pk}:{os.getpid()}:{backend}"
            )
        time.sleep(0.15)
    original(self, rows)

jobs._Progress.__call__ = slow
call_command("runworker", "exports", "--burst")
"""


@pytest.fixture
def readings():
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="events.data",
            publisher="dev-1",
            name="temperature",
            unit="Cel",
            time=START + timedelta(seconds=30 * i),
            value=float(i % 97) / 4,
        )
        for i in range(ROWS)
    )


def make_request(owner, name: str = "Fault run"):
    return one_day_of_temperature(owner, name=name, channel=CHANNEL, start=START)


def reference_bytes(owner) -> bytes:
    """The file an undisturbed run of the same request produces."""
    done = run_job(create_job(make_request(owner, name="Reference"), timezone.now()).pk)
    assert done.status == JobStatus.DONE and done.row_count == ROWS
    return file_bytes(done)


def file_bytes(job: ExportJob) -> bytes:
    with job.file.open("rb") as handle:
        return handle.read()


def burst(*queues: str) -> None:
    for queue in queues:
        django_rq.get_worker(queue_name(queue), worker_class=SimpleWorker).work(burst=True)


def start_slow_worker(media_root: str, database_url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER, media_root],
        cwd=ROOT,
        env=subprocess_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_a_worker_killed_mid_export_leaves_a_job_that_ends_done_with_the_same_bytes(
    alice, readings, redis_conn, settings
):
    expected = reference_bytes(alice)
    job = run_now(make_request(alice))  # handed to RQ after commit: attempt 1
    with database_for_subprocesses() as url:
        worker = start_slow_worker(settings.MEDIA_ROOT, url)
        horse = None
        try:
            wait_for(lambda: redis_conn.get(STARTED), 60, "the export to start")
            job_pk, horse, _ = redis_conn.get(STARTED).decode().split(":")
            time.sleep(2.5)  # well inside the export: progress has been recorded
            os.kill(int(horse), signal.SIGKILL)  # the horse has its own process group
            worker.send_signal(signal.SIGKILL)
        finally:
            stop(worker)
    assert int(job_pk) == job.pk
    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS and job.stage == "writing" and not job.file
    assert 0 < job.rows_written < ROWS  # it really died mid-export
    assert reap(now=timezone.now() + timedelta(seconds=61)).requeued == 1
    assert dispatch() == 1
    burst("exports")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 2, ROWS)
    assert file_bytes(job) == expected


@contextmanager
def own_redis(monkeypatch) -> Iterator[Callable[[], None]]:
    """A Redis server of this test's own on a free port (no persistence), pointed at by every
    queue, and a function restarting it empty."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    server = [start_redis(url)]

    def restart_empty() -> None:
        server[0].terminate()
        server[0].wait(timeout=10)
        server[0] = start_redis(url)

    for config in QUEUES.values():
        monkeypatch.setitem(config, "URL", url)
    try:
        yield restart_empty
    finally:
        server[0].terminate()
        server[0].wait(timeout=10)


def test_redis_restarted_empty_loses_no_job_and_no_delivery_and_doubles_none(
    alice, readings, monkeypatch, settings
):
    settings.EXPORTS_REQUEUE_AFTER = 1
    settings.EXPORTS_DISPATCH_BACKLOG = 1
    settings.NOTIFICATIONS_RETRY_BACKOFF = [2]
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with own_redis(monkeypatch) as restart_empty, SmtpSink() as smtp, FakeChatService() as chat:
        settings.EMAIL_PORT = smtp.port
        chat.replies.append(Reply(503, "busy"))  # the first Slack message goes into retry
        requests = []
        for n in range(3):
            request = make_request(alice, name=f"Run {n}")
            add_message(request, Medium.EMAIL)
            add_message(request, Medium.SLACK, f"{chat.base_url}/hook/{n}")
            requests.append(request)
        jobs = [run_now(request) for request in requests]  # one handed over, two waiting
        # One export runs (the next is handed over as it ends); its Slack message fails.
        worker = django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker)
        worker.work(burst=True, max_jobs=1)
        burst("notifications")
        retrying = Delivery.objects.get(status=DeliveryStatus.PENDING, attempts=1)
        assert retrying.enqueued_at is None  # its due time lives in the row only
        waiting = ExportJob.objects.filter(status=JobStatus.NOT_PROCESSED)
        # One job sits in Redis (handed over as the first ended), one waits in the database.
        assert waiting.filter(enqueued_at__isnull=False).count() == 1
        assert waiting.filter(enqueued_at__isnull=True).count() == 1
        assert len(chat.requests) == 1

        restart_empty()
        assert django_rq.get_connection(queue_name("exports")).dbsize() == 0

        def settled() -> bool:
            call_command("runscheduler", "--once", stdout=io.StringIO())
            burst("exports", "notifications")
            return not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists() and (
                Delivery.objects.count() == 6
            )

        wait_for(settled, 60, "every job and delivery to complete")
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.DONE and job.row_count == ROWS
    assert sorted(mail.recipients[0] for mail in smtp.mails) == ["alice@example.com"] * 3
    paths = sorted(received.path for received in chat.requests)
    # Three Slack messages, each received once, plus the one refused with a 503.
    assert paths == ["/hook/0", "/hook/0", "/hook/1", "/hook/2"]
    assert Delivery.objects.get(pk=retrying.pk).attempts == 2


def test_a_terminated_database_connection_mid_export_is_retried_and_ends_done(
    alice, readings, redis_conn, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL; SQLite has no server connection")
    expected = reference_bytes(alice)
    job = run_now(make_request(alice))
    with database_for_subprocesses() as url:
        worker = start_slow_worker(settings.MEDIA_ROOT, url)
        try:
            wait_for(lambda: redis_conn.get(STARTED), 60, "the export to start")
            _, _, backend = redis_conn.get(STARTED).decode().split(":")
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [int(backend)])
                assert cursor.fetchone()[0] is True
            worker.wait(timeout=90)  # a burst worker: it ends when the queue is empty
        finally:
            stop(worker)
        # The dropped connection is transient: the job waits out its retry backoff.
        job.refresh_from_db()
        assert (job.status, job.attempts) == (JobStatus.NOT_PROCESSED, 1)
        assert job.retry_at is not None
        ExportJob.objects.filter(pk=job.pk).update(retry_at=timezone.now())  # backoff over
        assert dispatch() == 1  # the scheduler tick hands it out again
        worker = start_slow_worker(settings.MEDIA_ROOT, url)
        try:
            worker.wait(timeout=90)
        finally:
            stop(worker)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 2, ROWS)
    assert file_bytes(job) == expected
