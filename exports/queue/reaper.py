"""The reaper: jobs whose worker is gone never stay ``inProgress`` (or handed over) forever.

Two cases, both checked in every scheduler tick and both settled with compare-and-set
updates, so two schedulers reaping at once act on a job once:

* **Running job without heartbeat**: ``inProgress`` and no heartbeat for
  ``EXPORTS_HEARTBEAT_TIMEOUT`` (the worker was killed, its machine died, ...). The attempt
  is over (the worker's claim counted it): the job goes back to waiting, for the dispatcher
  to hand out again, or, after ``EXPORTS_MAX_ATTEMPTS`` attempts, ends ``failed`` with
  "worker lost" (``lifecycle.requeue`` / ``lifecycle.fail``).
  Progress is reset and any file the dead attempt registered is deleted, so a partial file is
  never served. Its windows are pinned, so the rerun exports exactly the same data.
* **Handed-over job whose RQ job is gone or dead**: ``notProcessed`` with ``enqueued_at``
  older than ``EXPORTS_REQUEUE_AFTER``, and RQ no longer has a live job for it (Redis was
  flushed or lost data, the RQ job failed before ``run_export_job`` could claim the row, or it
  waits in a queue named before queue names carried the instance, which no worker serves).
  A vanished RQ job never reached a worker, and a finished one was dropped unclaimed by
  another installation's worker, so no attempt is counted; a dead one (a worker took it and it
  failed before claiming the row) counts one, so a job that cannot even start ends failed
  (``lifecycle.release`` / ``lifecycle.fail``).

A job the reaper fails sends ``exports.queue.signals.job_finished`` like any other, so its
``onFailure`` messages go out; ``job_reaped`` additionally tells what the reaper did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import django_rq
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqStatus

from exports.models import ExportJob, JobStatus
from exports.queue import conf, lifecycle, namespace
from exports.queue.dispatch import QUEUE
from exports.queue.lifecycle import handed_over_jobs
from exports.queue.signals import job_reaped

log = logging.getLogger(__name__)

_DEAD_RQ_STATUSES = {RqStatus.FAILED, RqStatus.STOPPED, RqStatus.CANCELED, RqStatus.FINISHED}
# A finished RQ job whose row is still waiting for it never claimed the row: a worker of
# another installation sharing the queue dropped it (see exports.queue.runner.run_export_job). No
# attempt of ours happened, like a job that vanished from Redis.
_NO_ATTEMPT_RQ_STATUSES = {None, RqStatus.FINISHED}


@dataclass
class ReapResult:
    requeued: int = 0  # running jobs whose worker died, waiting again
    failed: int = 0  # jobs that used up their attempts: failed
    released: int = 0  # handed-over jobs whose RQ job vanished or died, waiting again

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed or self.released)


def reap(now: datetime | None = None) -> ReapResult:
    """Settle jobs whose worker or RQ job is gone (see the module text).

    Returns counts of what was done. Raises ``redis.exceptions.RedisError`` when Redis is
    unreachable while checking handed-over jobs (running jobs are reaped before that).
    """
    now = now or timezone.now()
    cutoff = now - conf.heartbeat_timeout()
    result = ReapResult()
    stale = (
        ExportJob.objects.filter(status=JobStatus.IN_PROGRESS)
        .annotate(last_sign=Coalesce("heartbeat_at", "started_at", "enqueued_at", "created_at"))
        .filter(last_sign__lt=cutoff)
        .order_by("pk")
    )
    for job in stale:
        outcome = _reap_running(job, now)
        if outcome == JobStatus.FAILED:
            result.failed += 1
        elif outcome == JobStatus.NOT_PROCESSED:
            result.requeued += 1
    connection = django_rq.get_connection(namespace.queue_name(QUEUE))
    handed_before = now - conf.requeue_after()
    for job in handed_over_jobs().filter(enqueued_at__lt=handed_before).order_by("pk"):
        outcome = _settle_handed_over(job, connection, now)
        if outcome == JobStatus.FAILED:
            result.failed += 1
        elif outcome == JobStatus.NOT_PROCESSED:
            result.released += 1
    return result


def _reap_running(job: ExportJob, now: datetime) -> str | None:
    """Requeue or fail one silent running job. Returns its new status, or None if it moved."""
    silent = (now - job.last_sign).total_seconds()
    worker = job.worker_name or "an unknown worker"
    # Still that attempt, silent as we saw it: no beat, no finish, no other reaper since.
    unchanged = lifecycle.this_attempt(job) & Q(heartbeat_at=job.heartbeat_at)
    attempts = job.attempts
    if _told_to_stop(job.worker_name):
        # A deploy stopped the worker and its stop timeout cut the export off: not the job's
        # fault, so the attempt is given back and the attempts limit cannot fail it.
        new_status = JobStatus.NOT_PROCESSED
        moved = lifecycle.requeue(job, expect=unchanged, uncount_attempt=True)
    elif attempts >= conf.max_attempts():
        new_status = JobStatus.FAILED
        error = (
            f"worker lost: {worker} stopped sending heartbeats ({silent:.0f} s of silence) "
            f"on attempt {attempts} of {conf.max_attempts()}."
        )
        moved = lifecycle.fail(job, error, expect=unchanged, now=now)
    else:
        new_status = JobStatus.NOT_PROCESSED
        moved = lifecycle.requeue(job, expect=unchanged)
    if not moved:
        return None  # the worker beat or finished meanwhile, or another reaper got it
    log.warning(
        "Export job %s: %s went silent for %.0f s on attempt %s; job is now %s.",
        job.pk,
        worker,
        silent,
        attempts,
        new_status,
    )
    job.refresh_from_db()
    job_reaped.send(sender=ExportJob, job=job, failed=new_status == JobStatus.FAILED)
    return new_status


def _told_to_stop(worker_name: str) -> bool:
    """Whether ``worker_name`` was told to stop (``PreloadingWorker.mark_stopping``)."""
    if not worker_name:
        return False
    try:
        connection = django_rq.get_connection(namespace.queue_name(QUEUE))
        return bool(connection.exists(namespace.stopping_worker_key(worker_name)))
    except Exception as exc:  # noqa: BLE001 - without Redis, count the attempt as usual
        log.warning("Could not ask Redis whether worker %s was stopping: %s", worker_name, exc)
        return False


def _settle_handed_over(job: ExportJob, connection, now: datetime) -> str | None:
    """Release (or fail) a handed-over job whose RQ job is gone or dead.

    Returns the job's new status, or ``None`` when RQ still owns the job or the row moved.
    """
    try:
        rq_job = Job.fetch(job.rq_job_id, connection=connection)
    except NoSuchJobError:
        rq_status = None
    else:
        rq_status = rq_job.get_status()
        if namespace.is_stranded(rq_job):
            # Never taken: drop it, so the next hand-over can use its id in our queue.
            rq_job.delete()
            rq_status = None
    if rq_status is not None and rq_status not in _DEAD_RQ_STATUSES:
        return None  # queued or started: RQ still owns it
    new_status = JobStatus.NOT_PROCESSED
    if rq_status in _NO_ATTEMPT_RQ_STATUSES:
        # Vanished from Redis before any worker took it, or dropped unclaimed by a foreign
        # worker: that attempt never happened.
        moved = lifecycle.release(job.pk, job.rq_job_id, enqueued_at=job.enqueued_at)
    elif job.attempts + 1 >= conf.max_attempts():
        new_status = JobStatus.FAILED
        error = (
            f"The worker could not start the job (RQ status {rq_status}) "
            f"on attempt {job.attempts + 1} of {conf.max_attempts()}."
        )
        moved = lifecycle.fail(
            job, error, expect=lifecycle.this_hand_over(job), count_attempt=True, now=now
        )
    else:
        # A worker took it and it died before claiming the row: that was an attempt, and the
        # next hand-over gets the next attempt's RQ id.
        moved = lifecycle.release(
            job.pk, job.rq_job_id, enqueued_at=job.enqueued_at, count_attempt=True
        )
    if not moved:
        return None
    log.warning(
        "Export job %s: RQ job %s is %s; job is now %s.",
        job.pk,
        job.rq_job_id,
        rq_status or "gone",
        new_status,
    )
    if new_status == JobStatus.FAILED:
        job.refresh_from_db()
        job_reaped.send(sender=ExportJob, job=job, failed=True)
    return new_status
