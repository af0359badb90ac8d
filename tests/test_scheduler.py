"""Scheduler, dispatcher and reaper, against a real Redis, real RQ workers and the real database.

The export work itself is played by ``complete_export_job`` below (claim the row, write a file
from the pinned windows, end done, dispatch the next job), enqueued under the dotted path
that ``exports.queue.runner.run_export_job`` will have.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from rq import SimpleWorker

from exports.models import ExportItem, ExportJob, ExportRequest, JobStatus
from exports.queue import dispatch as dispatch_module
from exports.queue import signals as queue_signals
from exports.queue.dispatch import dispatch, rq_job_id
from exports.queue.lifecycle import beat, finish, start
from exports.queue.namespace import queue_name, queue_settings
from exports.queue.ondemand import QueueFull, enqueue_one_time, run_now
from exports.queue.reaper import reap
from exports.scheduling import scheduler as scheduler_module
from exports.scheduling import signals as scheduling_signals
from exports.scheduling.scheduler import schedule_due
from exports.scheduling.slots import Schedule

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = "test:exports:executed"
STARTED = "test:exports:started"
JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)


# --- stand-ins for exports.queue.runner.run_export_job, run by real RQ workers ---------------


def complete_export_job(job_id: int) -> None:
    """Claim the job, write a file made of its slot and pinned windows, end done, dispatch."""
    job = start(job_id)
    if job is None:
        return  # a stale RQ job of an earlier attempt: the row is not expecting it
    django_rq.get_connection(queue_name("exports")).rpush(EXECUTED, job_id)
    content = json.dumps({"slot": job.slot.isoformat(), "windows": job.windows}).encode()
    name = default_storage.save(f"exports/test/job-{job.pk}.json", ContentFile(content))
    if not finish(job, file=name, size=len(content)):
        default_storage.delete(name)
    dispatch()


def export_job_dying_on_first_attempt(job_id: int) -> None:
    """First attempt: register a partial file and beat until the process is killed.

    Later attempts complete normally."""
    if ExportJob.objects.get(pk=job_id).attempts >= 1:
        complete_export_job(job_id)
        return
    job = start(job_id)
    name = default_storage.save(f"exports/test/partial-{job.pk}.json", ContentFile(b'{"slot'))
    ExportJob.objects.filter(pk=job.pk).update(file=name)
    django_rq.get_connection(queue_name("exports")).set(STARTED, f"{job_id}:{os.getpid()}")
    while beat(job, stage="writing"):
        time.sleep(0.2)


def export_job_crashing_before_claiming(job_id: int) -> None:
    """An entry point that fails before it can claim the row (say, a broken import)."""
    raise ImportError("exports.queue.runner is broken in this deployment")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def next_run_maintained():
    """The lead connects these in ExportsConfig.ready(); connecting twice is harmless."""
    scheduling_signals.connect()


@pytest.fixture
def fake_jobs(monkeypatch, redis_conn):
    monkeypatch.setattr(
        dispatch_module, "RUN_EXPORT_JOB", "tests.test_scheduler.complete_export_job"
    )
    return redis_conn


def run_worker() -> None:
    django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker).work(burst=True)


def queued_ids() -> list[str]:
    return django_rq.get_queue(queue_name("exports")).job_ids


def executed(redis_conn) -> list[int]:
    return [int(job_id) for job_id in redis_conn.lrange(EXECUTED, 0, -1)]


def make_recurring(owner, periodicity="PT1H", start=JAN_1, tz="UTC", name="Hourly"):
    request = ExportRequest.objects.create(
        owner=owner,
        name=name,
        type="recurring",
        periodicity=periodicity,
        period_start=start,
        timezone=tz,
    )
    ExportItem.objects.create(request=request, target_value="t", channel_id="c", subtopic="s")
    return request


def make_one_time(owner, name="Once"):
    request = ExportRequest.objects.create(owner=owner, name=name)
    ExportItem.objects.create(request=request, target_value="t", channel_id="c", subtopic="s")
    return request


def scheduler_down_since(request, instant: datetime) -> None:
    """Pretend the scheduler last ran before ``instant``: that slot is the pending one."""
    ExportRequest.objects.filter(pk=request.pk).update(next_run_at=instant)
    request.refresh_from_db()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def database_for_subprocesses():
    """A DATABASE_URL through which other processes reach this test's committed data.

    PostgreSQL: the test database itself. SQLite: the test database lives in this process's
    memory, so it is copied to a file for the block (other processes then use it with the
    production SQLite options) and copied back afterwards.
    """
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        host, port = db["HOST"] or "localhost", db["PORT"] or 5432
        yield f"postgres://{auth}@{host}:{port}/{db['NAME']}"
        return
    if not connection.is_in_memory_db():
        yield f"sqlite:///{db['NAME']}"
        return
    connection.ensure_connection()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "shared.sqlite3")
        copy = sqlite3.connect(path)
        connection.connection.backup(copy)
        # WAL is persistent; a deployed database has it since its first connection. Switching
        # needs an exclusive lock, which processes opening a fresh file at once would race for.
        copy.execute("PRAGMA journal_mode=WAL")
        copy.close()
        yield f"sqlite:///{path}"
        copy = sqlite3.connect(path)
        copy.backup(connection.connection)
        copy.close()


def subprocess_env(database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=database_url,
        TEST_REDIS_URL=queue_settings("exports")["URL"],
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )


# --- next_run_at follows the request ----------------------------------------------------------


@pytest.mark.django_db
def test_a_new_recurring_request_is_scheduled_for_its_first_slot_after_now(alice):
    start = (timezone.now() - timedelta(hours=36)).replace(microsecond=0)
    request = make_recurring(alice, "P1D", start=start)
    assert request.next_run_at == start + timedelta(days=2)
    request.refresh_from_db()
    assert request.next_run_at == start + timedelta(days=2)


@pytest.mark.django_db
def test_a_one_time_request_has_no_next_run(alice):
    assert make_one_time(alice).next_run_at is None


@pytest.mark.django_db
def test_editing_other_fields_keeps_a_pending_slot_even_when_it_is_due(alice):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=5))
    request.name = "Renamed"
    request.save()
    request.refresh_from_db()
    assert request.next_run_at == JAN_1 + timedelta(hours=5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("periodicity", "PT15M"),
        ("period_start", JAN_1 + timedelta(minutes=7)),
        ("timezone", "Asia/Kolkata"),
    ],
)
def test_changing_the_schedule_recomputes_next_run_from_now(alice, field, value):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=5))
    setattr(request, field, value)
    before = timezone.now()
    request.save()
    request.refresh_from_db()
    expected = Schedule.of(request).next_slot_after(before)[1]
    assert request.next_run_at in (expected, Schedule.of(request).next_slot_after(expected)[1])
    assert request.next_run_at > before


@pytest.mark.django_db
def test_pausing_stops_new_slots_and_resuming_continues_from_the_next_future_slot(alice):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=5))
    request.paused = True
    request.save(update_fields=["paused"])
    request.refresh_from_db()
    assert request.next_run_at is None
    assert not schedule_due()
    request.paused = False
    request.save()
    request.refresh_from_db()
    assert request.next_run_at > timezone.now()
    assert not schedule_due()  # the paused interval is neither run nor recorded
    assert not ExportJob.objects.exists()


# --- ticks --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tick_creates_one_job_per_due_slot_and_advances_next_run(alice):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=24))
    now = JAN_1 + timedelta(hours=26, minutes=30)
    result = schedule_due(now=now)
    assert (result.requests, result.created, result.skipped) == (1, 3, 0)
    jobs = list(request.jobs.order_by("pk"))
    assert [job.slot for job in jobs] == [JAN_1 + timedelta(hours=h) for h in (24, 25, 26)]
    assert {job.status for job in jobs} == {JobStatus.NOT_PROCESSED}
    assert jobs[0].windows[0]["start"] == "2024-01-01T23:00:00+00:00"
    request.refresh_from_db()
    assert request.next_run_at == JAN_1 + timedelta(hours=27)
    assert not schedule_due(now=now)
    assert request.jobs.count() == 3


@pytest.mark.django_db
def test_missed_slots_are_caught_up_oldest_first_and_older_ones_recorded_as_skipped(alice):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=1))
    result = schedule_due(now=JAN_1 + timedelta(hours=30))  # slots 1..30 missed
    assert (result.created, result.skipped) == (24, 6)
    skipped = list(request.jobs.filter(status=JobStatus.SKIPPED).order_by("slot"))
    assert [job.slot for job in skipped] == [JAN_1 + timedelta(hours=h) for h in range(1, 7)]
    assert all("EXPORTS_MAX_CATCHUP" in job.error and job.finished_at for job in skipped)
    runs = list(request.jobs.filter(status=JobStatus.NOT_PROCESSED).order_by("pk"))
    assert [job.slot for job in runs] == [JAN_1 + timedelta(hours=h) for h in range(7, 31)]


@pytest.mark.django_db
def test_the_catch_up_cap_follows_the_setting(alice, settings):
    settings.EXPORTS_MAX_CATCHUP = 2
    request = make_recurring(alice, "P1D")
    scheduler_down_since(request, JAN_1 + timedelta(days=1))
    result = schedule_due(now=JAN_1 + timedelta(days=10, hours=1))
    assert (result.created, result.skipped) == (2, 8)


@pytest.mark.django_db
def test_a_very_long_outage_records_skipped_slots_in_batches_and_loses_none(alice, monkeypatch):
    monkeypatch.setattr(scheduler_module, "SKIP_BATCH", 10)
    request = make_recurring(alice, "PT1M")
    scheduler_down_since(request, JAN_1 + timedelta(minutes=1))
    now = JAN_1 + timedelta(minutes=50)  # 50 slots: 26 skipped, 24 run
    first, second, third = (schedule_due(now=now) for _ in range(3))
    assert [(r.skipped, r.created) for r in (first, second, third)] == [(10, 0), (10, 0), (6, 24)]
    slots = sorted(request.jobs.values_list("slot", flat=True))
    assert slots == [JAN_1 + timedelta(minutes=m) for m in range(1, 51)]


@pytest.mark.django_db
def test_a_slot_that_already_has_a_job_is_left_alone(alice):
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=1))
    existing = ExportJob.objects.create(
        request=request, slot=JAN_1 + timedelta(hours=2), status=JobStatus.DONE
    )
    result = schedule_due(now=JAN_1 + timedelta(hours=3))
    assert (result.created, result.duplicates) == (2, 1)
    existing.refresh_from_db()
    assert existing.status == JobStatus.DONE
    assert request.jobs.count() == 3


@pytest.mark.django_db
def test_slots_follow_the_request_timezone_across_dst(alice):
    rome_midnight = datetime(2024, 3, 29, 23, 0, tzinfo=UTC)  # 30 March 00:00 CET
    request = make_recurring(alice, "P1D", start=rome_midnight, tz="Europe/Rome")
    scheduler_down_since(request, rome_midnight + timedelta(days=1))
    schedule_due(now=datetime(2024, 4, 1, 12, tzinfo=UTC))
    assert sorted(request.jobs.values_list("slot", flat=True)) == [
        datetime(2024, 3, 30, 23, 0, tzinfo=UTC),  # 31 March 00:00 CET
        datetime(2024, 3, 31, 22, 0, tzinfo=UTC),  # 1 April 00:00 CEST
    ]


TICKER = """
import json, sys, time
from datetime import datetime, timedelta
import django
django.setup()
import django_rq
from exports.queue.namespace import queue_name
from exports.scheduling.scheduler import schedule_due
processes, start, ticks = int(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
redis = django_rq.get_connection(queue_name("exports"))
redis.incr("test:barrier")
while int(redis.get("test:barrier")) < processes:
    time.sleep(0.005)
totals = dict(requests=0, created=0, lost=0, duplicates=0)
for tick in range(ticks):
    result = schedule_due(now=start + timedelta(minutes=tick), chunk_size=7)
    for key in totals:
        totals[key] += getattr(result, key)
print(json.dumps(totals))
"""


@pytest.mark.django_db(transaction=True)
def test_schedulers_ticking_concurrently_create_each_slot_once(alice, bob, redis_conn):
    processes, ticks = 4, 15
    requests = [make_recurring((alice, bob)[i % 2], "PT1M", name=f"r{i}") for i in range(40)]
    first_slot = JAN_1 + timedelta(hours=1)
    ExportRequest.objects.update(next_run_at=first_slot)
    with database_for_subprocesses() as url:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", TICKER, str(processes), first_slot.isoformat(), str(ticks)],
                cwd=ROOT,
                env=subprocess_env(url),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        outputs = [child.communicate(timeout=180) for child in children]
    assert [child.returncode for child in children] == [0] * processes, outputs
    totals = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    expected_slots = [first_slot + timedelta(minutes=m) for m in range(ticks)]
    assert sum(t["created"] for t in totals) == len(requests) * ticks
    assert sum(t["duplicates"] for t in totals) == 0  # the claim, not the constraint, decided
    for request in requests:
        assert sorted(request.jobs.values_list("slot", flat=True)) == expected_slots
        request.refresh_from_db()
        assert request.next_run_at == first_slot + timedelta(minutes=ticks)


# --- one-time requests and "Run now" ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_one_time_request_is_enqueued_only_after_its_transaction_commits(alice, fake_jobs):
    with transaction.atomic():
        request = make_one_time(alice)
        job = enqueue_one_time(request)
        assert queued_ids() == []
    assert queued_ids() == [f"test-export-job-{job.pk}"]
    job.refresh_from_db()
    assert (job.status, job.rq_job_id, job.enqueued_at is not None) == (
        JobStatus.NOT_PROCESSED, queued_ids()[0], True,
    )  # fmt: skip
    assert job.windows[0]["start"] is None and job.windows[0]["end"] == job.slot.isoformat()
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 1) and job.file


@pytest.mark.django_db(transaction=True)
def test_nothing_is_enqueued_when_the_creating_transaction_rolls_back(alice, fake_jobs):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_one_time(make_one_time(alice))
        raise RuntimeError("the page failed after creating the request")
    assert not ExportRequest.objects.exists() and not ExportJob.objects.exists()
    assert queued_ids() == []


@pytest.mark.django_db(transaction=True)
def test_a_job_is_never_enqueued_twice(alice, fake_jobs):
    job = run_now(make_one_time(alice))
    assert dispatch() == 0
    assert run_now(job.request, now=job.slot) == job  # a double click within the second
    assert queued_ids() == [rq_job_id(job.pk, 1)]
    assert ExportJob.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_now_of_a_recurring_request_exports_the_last_period(alice, fake_jobs):
    request = make_recurring(alice, "P1D")
    now = timezone.now().replace(microsecond=0)
    # "Up to now": the last whole periodicity ending now.
    job = run_now(request, now=now, up_to_now=True)
    assert job.windows[0]["start"] == (now - timedelta(days=1)).isoformat()
    assert job.windows[0]["end"] == now.isoformat()
    # By default: the most recent scheduled period, as the schedule wrote it.
    schedule = Schedule.of(request)
    k = schedule.index_at_or_before(now)
    latest = run_now(request, now=now + timedelta(seconds=1))
    assert latest.windows[0]["end"] == schedule.slot_at(k).isoformat()
    run_worker()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


# --- per-user cap ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_user_at_the_cap_is_refused_with_the_platform_message(alice, bob, fake_jobs, settings):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 3
    settings.EXPORTS_DISPATCH_BACKLOG = 1  # nobody works: jobs stay notProcessed
    request = make_one_time(alice)
    for second in range(3):
        run_now(request, now=JAN_1 + timedelta(seconds=second))
    with pytest.raises(QueueFull) as refused:
        run_now(request, now=JAN_1 + timedelta(seconds=10))
    assert str(refused.value) == "Maximum number of queued exports reached"
    assert "3 exports waiting" in refused.value.detail
    assert request.jobs.count() == 3
    run_now(make_one_time(bob))  # other users are not affected
    ExportJob.objects.filter(pk=request.jobs.first().pk).update(status=JobStatus.DONE)
    run_now(request, now=JAN_1 + timedelta(seconds=11))  # a finished job frees a place


@pytest.mark.django_db
def test_scheduled_slots_are_not_refused_by_the_cap(alice, settings):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 1
    request = make_recurring(alice)
    scheduler_down_since(request, JAN_1 + timedelta(hours=1))
    assert schedule_due(now=JAN_1 + timedelta(hours=3)).created == 3
    with pytest.raises(QueueFull):
        run_now(request)


# --- fairness ---------------------------------------------------------------------------------


def queue_jobs(owner, count: int) -> list[ExportJob]:
    request = make_one_time(owner, name=f"{owner.username} bulk")
    return ExportJob.objects.bulk_create(
        ExportJob(request=request, slot=JAN_1 + timedelta(seconds=i)) for i in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_jobs_of_different_users_interleave(alice, bob, fake_jobs, settings):
    settings.EXPORTS_DISPATCH_BACKLOG = 1
    carol = get_user_model().objects.create_user("carol", "carol@example.com", "carol-pass-123")
    owner_of = {}
    for user, count in ((alice, 5), (bob, 5), (carol, 1)):
        owner_of |= {job.pk: user.username[0] for job in queue_jobs(user, count)}
    dispatch()
    run_worker()
    order = "".join(owner_of[job_id] for job_id in executed(fake_jobs))
    assert order == "abcabababab"
    assert ExportJob.objects.filter(status=JobStatus.DONE).count() == 11


@pytest.mark.django_db(transaction=True)
def test_a_thousand_queued_jobs_of_one_user_do_not_starve_another_users_single_job(
    alice, bob, fake_jobs, settings
):
    settings.EXPORTS_DISPATCH_BACKLOG = 2
    alices = queue_jobs(alice, 1000)
    (bobs,) = queue_jobs(bob, 1)
    dispatch()
    assert queued_ids() == [rq_job_id(alices[0].pk, 1), rq_job_id(bobs.pk, 1)]
    worker = django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker)
    worker.work(burst=True, max_jobs=2)
    assert executed(fake_jobs) == [alices[0].pk, bobs.pk]


# --- the reaper -------------------------------------------------------------------------------


def started_job(owner) -> ExportJob:
    """A job handed to RQ and claimed by a (pretend) worker, with a partial file registered."""
    job = run_now(make_one_time(owner))
    job.refresh_from_db()
    job = start(job.pk, rq_job_id=job.rq_job_id)
    job.file.save(f"partial-{job.pk}.json", ContentFile(b'{"slo'), save=False)
    ExportJob.objects.filter(pk=job.pk).update(file=job.file.name, rows_written=500)
    return job


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_went_silent_is_rerun_with_the_same_windows(alice, fake_jobs):
    job = started_job(alice)
    partial = job.file.name
    assert not reap()  # heartbeat is fresh
    result = reap(now=timezone.now() + timedelta(seconds=61))
    assert (result.requeued, result.failed) == (1, 0)
    reaped = ExportJob.objects.get(pk=job.pk)
    assert (reaped.status, reaped.enqueued_at, reaped.file.name, reaped.rows_written) == (
        JobStatus.NOT_PROCESSED, None, "", 0,
    )  # fmt: skip
    assert not default_storage.exists(partial)  # a partial file is never served
    assert (reaped.slot, reaped.windows, reaped.attempts) == (job.slot, job.windows, 1)
    dispatch()
    assert rq_job_id(job.pk, 2) in queued_ids()
    run_worker()  # the dead attempt's RQ job runs first and must do nothing
    done = ExportJob.objects.get(pk=job.pk)
    assert (done.status, done.attempts, executed(fake_jobs)) == (JobStatus.DONE, 2, [job.pk])
    assert json.loads(done.file.read()) == {"slot": job.slot.isoformat(), "windows": job.windows}


@pytest.mark.django_db(transaction=True)
def test_a_reaped_worker_can_neither_beat_nor_finish(alice, fake_jobs):
    zombie = started_job(alice)
    reap(now=timezone.now() + timedelta(seconds=61))
    assert not beat(zombie, rows_written=900)
    assert not finish(zombie, file="exports/zombie.csv")
    job = ExportJob.objects.get(pk=zombie.pk)
    assert (job.status, job.rows_written, job.file.name) == (JobStatus.NOT_PROCESSED, 0, "")


@pytest.mark.django_db(transaction=True)
def test_a_job_that_lost_its_worker_too_often_fails_with_worker_lost(alice, fake_jobs, settings):
    settings.EXPORTS_MAX_ATTEMPTS = 1
    job = started_job(alice)
    received = []
    queue_signals.job_reaped.connect(
        lambda job, failed, **kw: received.append((job.pk, failed)), weak=False, dispatch_uid="t"
    )
    try:
        result = reap(now=timezone.now() + timedelta(seconds=61))
    finally:
        queue_signals.job_reaped.disconnect(dispatch_uid="t")
    assert result.failed == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("worker lost")
    assert job.finished_at and not job.file
    assert received == [(job.pk, True)]


@pytest.mark.django_db(transaction=True)
def test_a_handed_over_job_whose_rq_job_vanished_is_handed_over_again(alice, fake_jobs):
    job = run_now(make_one_time(alice))
    fake_jobs.flushdb()  # Redis lost its data
    assert not reap()  # within the grace period the enqueue may still be on its way
    result = reap(now=timezone.now() + timedelta(seconds=61))
    assert result.released == 1
    job.refresh_from_db()
    assert (job.enqueued_at, job.attempts) == (None, 0)  # that attempt never reached a worker
    assert dispatch() == 1
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_rq_job_keeps_dying_before_it_starts_ends_failed(
    alice, fake_jobs, monkeypatch, settings
):
    settings.EXPORTS_MAX_ATTEMPTS = 2
    monkeypatch.setattr(
        dispatch_module,
        "RUN_EXPORT_JOB",
        "tests.test_scheduler.export_job_crashing_before_claiming",
    )
    job = run_now(make_one_time(alice))
    run_worker()
    assert reap(now=timezone.now() + timedelta(seconds=61)).released == 1
    job.refresh_from_db()
    assert (job.status, job.attempts, job.enqueued_at) == (JobStatus.NOT_PROCESSED, 1, None)
    assert dispatch() == 1 and queued_ids() == [rq_job_id(job.pk, 2)]
    run_worker()
    assert reap(now=timezone.now() + timedelta(seconds=61)).failed == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert "could not start" in job.error


WORKER = """
import sys
import django
django.setup()
from django.conf import settings
settings.MEDIA_ROOT = sys.argv[1]
from django.core.management import call_command
call_command("runworker", "exports", "--burst")
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_job_is_noticed_and_the_job_rerun(
    alice, fake_jobs, monkeypatch, settings
):
    monkeypatch.setattr(
        dispatch_module, "RUN_EXPORT_JOB", "tests.test_scheduler.export_job_dying_on_first_attempt"
    )
    settings.EXPORTS_HEARTBEAT_TIMEOUT = 1
    job = run_now(make_one_time(alice))  # handed to RQ as attempt 1
    with database_for_subprocesses() as url:
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, settings.MEDIA_ROOT],
            cwd=ROOT,
            env=subprocess_env(url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        horse_pid = None
        try:
            wait_for(lambda: fake_jobs.get(STARTED), 60, "the job to start")
            job_id, horse_pid = map(int, fake_jobs.get(STARTED).split(b":"))
            time.sleep(0.5)  # a few heartbeats
        finally:
            # RQ runs each job in a forked "work horse" with its own process group: kill -9
            # the horse and the worker, as when the machine dies.
            if horse_pid:
                os.kill(horse_pid, signal.SIGKILL)
            worker.kill()
            worker.wait()
    assert job_id == job.pk
    job.refresh_from_db()
    assert job.status == JobStatus.IN_PROGRESS and job.stage == "writing" and job.worker_name
    partial = job.file.name
    assert default_storage.exists(partial)
    time.sleep(1.2)  # the heartbeat goes stale
    assert reap().requeued == 1
    assert not default_storage.exists(partial)
    dispatch()
    run_worker()
    done = ExportJob.objects.get(pk=job.pk)
    assert (done.status, done.attempts) == (JobStatus.DONE, 2)
    assert json.loads(done.file.read()) == {"slot": job.slot.isoformat(), "windows": job.windows}


# --- the command ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_runscheduler_once_does_one_tick_and_says_what_it_did(alice, fake_jobs, capsys):
    request = make_recurring(alice)
    scheduler_down_since(
        request, Schedule.of(request).next_slot_after(timezone.now())[1] - timedelta(hours=2)
    )
    call_command("runscheduler", "--once")
    out = capsys.readouterr().out
    assert "Scheduled: 1 due request(s), 2 job(s) created" in out
    assert "Dispatched: 2 job(s)" in out
    assert "Reaped: 0 job(s)" in out and "IAM events published" in out
    assert len(queued_ids()) == 2


@pytest.mark.django_db(transaction=True)
def test_runscheduler_loops_until_sigterm(alice, fake_jobs):
    request = make_recurring(alice)
    due = Schedule.of(request).next_slot_after(timezone.now())[1] - timedelta(hours=1)
    scheduler_down_since(request, due)
    with database_for_subprocesses() as url:
        scheduler = subprocess.Popen(
            [sys.executable, "manage.py", "runscheduler", "--interval", "0.2"],
            cwd=ROOT,
            env=subprocess_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: len(queued_ids()) == 1, 60, "the scheduler to dispatch the due job")
            time.sleep(0.5)  # a few idle ticks
            scheduler.send_signal(signal.SIGTERM)
            out, _ = scheduler.communicate(timeout=10)
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
    assert scheduler.returncode == 0, out
    assert "Scheduler started" in out and "Scheduler stopped" in out
    assert request.jobs.get().slot == due
