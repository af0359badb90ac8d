"""One Redis, many installations: our RQ queues are named ``<instance>:<queue>``, so a worker
only ever sees its own installation's jobs. Real Redis, real burst workers (``runworker``)."""

from datetime import timedelta

import django_rq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone
from rq import Queue
from rq.job import Job
from rq.job import JobStatus as RqStatus

from exports.models import Installation, JobStatus
from exports.queue import namespace
from exports.queue.dispatch import RUN_EXPORT_JOB, dispatch
from exports.queue.ondemand import run_now
from exports.queue.reaper import reap
from exports.requests.vocabulary import Medium
from notifications.dispatch import job_finished, release_lost, tick
from notifications.models import Delivery
from tests.test_notifications_fakes import add_message, make_job, make_request
from tests.test_scheduler import make_one_time

A, B = "site_a", "site_b"


def lengths(instance: str, redis_conn) -> dict[str, int]:
    """Jobs waiting in each queue of ``instance``, read by Redis name (any instance current)."""
    return {
        alias: Queue(f"{instance}:{alias}", connection=redis_conn).count
        for alias in namespace.QUEUES
    }


def runworker(*args: str) -> None:
    """The project's worker command, in burst mode, with RQ's non-forking worker."""
    call_command("runworker", "--burst", "--worker-class", "rq.SimpleWorker", *args, verbosity=0)


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_each_queue_is_named_after_the_installation(settings):
    settings.EXPORTS_INSTANCE = A
    assert namespace.queue_names() == ["site_a:exports", "site_a:notifications", "site_a:default"]
    assert sorted(settings.RQ_QUEUES) == sorted(namespace.queue_names())
    queue = django_rq.get_queue(namespace.queue_name("exports"))
    assert queue.name == "site_a:exports" and queue.key == "rq:queue:site_a:exports"
    # No queue of ours can be made under a shared name or another installation's name.
    for name in ("exports", "notifications", "default", "site_b:exports", "site_a:other"):
        with pytest.raises(KeyError):
            django_rq.get_queue(name)
    with pytest.raises(ValueError, match="No queue 'other': ours are exports"):
        namespace.queue_name("other")


@pytest.mark.django_db
def test_without_a_configured_instance_the_queues_carry_the_stored_one(settings):
    settings.EXPORTS_INSTANCE = ""
    namespace.forget_stored_instance()
    try:
        stored = Installation.current().instance_id
        assert namespace.queue_name("notifications") == f"{stored}:notifications"
        assert sorted(settings.RQ_QUEUES) == sorted(f"{stored}:{a}" for a in namespace.QUEUES)
    finally:
        namespace.forget_stored_instance()


@pytest.mark.django_db(transaction=True)
def test_two_installations_on_one_redis_each_work_only_their_own_jobs(alice, redis_conn, settings):
    settings.EXPORTS_DISPATCH_BACKLOG = 5
    jobs = {}

    def queue_work(instance: str) -> None:
        settings.EXPORTS_INSTANCE = instance
        jobs[instance] = run_now(make_one_time(alice, name=instance))  # to <instance>:exports
        jobs[instance].refresh_from_db()
        for alias in ("notifications", "default"):
            queue = django_rq.get_queue(namespace.queue_name(alias))
            queue.enqueue("builtins.len", instance, job_id=namespace.rq_job_id("probe", alias))

    queue_work(A)
    waiting_a = lengths(A, redis_conn)
    assert all(waiting_a.values())
    assert jobs[A].rq_job_id.startswith("site_a-")

    settings.EXPORTS_INSTANCE = B
    runworker()  # B's worker: nothing of A's is visible to it
    assert lengths(B, redis_conn) == {"exports": 0, "notifications": 0, "default": 0}
    assert lengths(A, redis_conn) == waiting_a
    assert Job.fetch(jobs[A].rq_job_id, connection=redis_conn).get_status() == RqStatus.QUEUED
    jobs[A].refresh_from_db()
    assert jobs[A].status == JobStatus.NOT_PROCESSED and jobs[A].attempts == 0

    queue_work(B)
    waiting_b = lengths(B, redis_conn)
    assert all(waiting_b.values())

    settings.EXPORTS_INSTANCE = A
    runworker()  # A's worker takes A's jobs, and only those
    assert lengths(A, redis_conn) == {"exports": 0, "notifications": 0, "default": 0}
    assert lengths(B, redis_conn) == waiting_b
    jobs[A].refresh_from_db()
    jobs[B].refresh_from_db()
    assert (jobs[A].status, jobs[A].attempts) == (JobStatus.DONE, 1)
    assert (jobs[B].status, jobs[B].attempts) == (JobStatus.NOT_PROCESSED, 0)

    settings.EXPORTS_INSTANCE = B
    runworker()
    assert lengths(B, redis_conn) == {"exports": 0, "notifications": 0, "default": 0}
    jobs[B].refresh_from_db()
    assert (jobs[B].status, jobs[B].attempts) == (JobStatus.DONE, 1)


@pytest.mark.django_db
def test_runworker_serves_the_queues_it_is_given(redis_conn):
    for alias in namespace.QUEUES:
        django_rq.get_queue(namespace.queue_name(alias), commit_mode="auto").enqueue(
            "builtins.len", alias
        )
    runworker("notifications", "default")
    assert lengths("test", redis_conn) == {"exports": 1, "notifications": 0, "default": 0}


def test_runworker_refuses_a_queue_that_is_not_ours():
    with pytest.raises(CommandError, match="No queue high, test:exports: the queues are exports"):
        call_command("runworker", "--burst", "high", "test:exports")


@pytest.mark.django_db(transaction=True)
def test_a_job_left_in_a_queue_named_before_namespacing_is_handed_over_again(
    alice, redis_conn, settings
):
    job = run_now(make_one_time(alice))
    job.refresh_from_db()
    rq_id = job.rq_job_id
    # As an earlier version left it: the same RQ job, waiting in the shared queue `exports`.
    Job.fetch(rq_id, connection=redis_conn).delete()
    Queue("exports", connection=redis_conn).enqueue(RUN_EXPORT_JOB, job.pk, job_id=rq_id)
    assert reap(now=later(31)).released == 1
    assert Queue("exports", connection=redis_conn).count == 0 and not Job.exists(rq_id, redis_conn)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.enqueued_at) == (JobStatus.NOT_PROCESSED, 0, None)
    assert dispatch() == 1
    runworker("exports")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rq_job_id) == (JobStatus.DONE, 1, rq_id)


@pytest.mark.django_db
def test_a_delivery_left_in_a_queue_named_before_namespacing_is_due_again(alice, redis_conn):
    request = make_request(alice)
    add_message(request, Medium.EMAIL)
    with TestCase.captureOnCommitCallbacks(execute=True):
        job_finished(make_job(request).pk)
    delivery = Delivery.objects.get()
    old = Job.fetch(delivery.rq_job_id, connection=redis_conn)
    old.delete()
    legacy = Queue("notifications", connection=redis_conn)
    legacy.enqueue("notifications.jobs.deliver", delivery.pk, job_id=delivery.rq_job_id)
    assert release_lost(later(31)) == 1
    assert legacy.count == 0
    delivery.refresh_from_db()
    assert delivery.enqueued_at is None and delivery.attempts == 0
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert tick(later(32)).handed_over == 1
    assert lengths("test", redis_conn)["notifications"] == 1
