"""Every change of an export job's state, in one place: the only writer of a job's status.

A job is **waiting** (``notProcessed``, ``enqueued_at`` empty), **handed over** to RQ
(``notProcessed``, ``enqueued_at`` set), **running** (``inProgress``), then **done** or
**failed**. The transitions, and who makes them:

* :func:`hand_over` / :func:`release`: waiting ⇄ handed over (``dispatch``; the reaper
  releases a hand-over whose RQ job vanished or died before it started);
* :func:`start` and :func:`beat`: the worker claims the job and reports that it is alive
  (``runner``);
* :func:`finish`: running → done (``runner``);
* :func:`fail`: running or handed over → failed (``runner``; the reaper, for a lost worker
  or an RQ job that keeps dying);
* :func:`requeue`: back to waiting, for another attempt (``runner`` after a transient failure;
  the reaper after a lost worker; the admin's "Retry" action; ``runexport``/``exportnow``
  rerunning a slot).

Each is a compare-and-set: the caller says which state it expects the row to be in (by
default, for a worker, "running under my RQ job"), and the function changes nothing and returns
``False`` when the row moved on. So if the reaper presumed a worker dead (no heartbeat for
``EXPORTS_HEARTBEAT_TIMEOUT``) and handed the job to another worker, the old worker's next
:func:`beat` returns ``False`` and its :func:`finish` changes nothing: a zombie can neither
overwrite the new attempt's progress nor publish a file for it.

:func:`finish` and :func:`fail` send ``exports.queue.signals.job_finished`` once the row is
final; that is how notifications learn of it. Two transitions are not attempts:
:func:`skip_waiting` (waiting → skipped, the scheduler's per-user cap) and :func:`expire` /
:func:`unexpire` (done ⇄ expired, retention deleting the file); they live here too, so no
other module writes a job's status (``tests/test_layout.py`` checks).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from django.db.models import F, Q, QuerySet, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Greatest
from django.utils import timezone
from rq import get_current_job

from exports.models import ExportJob, JobStatus
from exports.queue.signals import job_finished

log = logging.getLogger(__name__)

# What an attempt leaves on the row (who ran it, when, how far it got, what it produced), none
# of which a job back to waiting may keep: the next attempt starts from these values.
_FRESH_ATTEMPT = {
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
}
# A failed job serves no file, whatever the attempt registered.
_NO_FILE = {"file": "", "size": None, "content_type": "", "row_count": None}


# --- the states, as querysets -----------------------------------------------------------------


def waiting_jobs() -> QuerySet[ExportJob]:
    """Jobs not yet handed to RQ."""
    return ExportJob.objects.filter(status=JobStatus.NOT_PROCESSED, enqueued_at__isnull=True)


def due_jobs(now: datetime) -> QuerySet[ExportJob]:
    """Waiting jobs that may be handed out now (not inside a retry backoff)."""
    return waiting_jobs().filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))


def handed_over_jobs() -> QuerySet[ExportJob]:
    """Jobs in RQ's queue that no worker has started yet."""
    return ExportJob.objects.filter(status=JobStatus.NOT_PROCESSED, enqueued_at__isnull=False)


def this_attempt(job: ExportJob) -> Q:
    """The row still running under the RQ job ``job`` was read with (the worker's own attempt)."""
    return Q(status=JobStatus.IN_PROGRESS, rq_job_id=job.rq_job_id)


def this_hand_over(job: ExportJob) -> Q:
    """The row still handed over exactly as ``job`` was read (same RQ job, same moment)."""
    return Q(status=JobStatus.NOT_PROCESSED, rq_job_id=job.rq_job_id, enqueued_at=job.enqueued_at)


# --- waiting ⇄ handed over ----------------------------------------------------------------------


def hand_over(job_pk: int, attempts: int, rq_job_id: str, now: datetime) -> bool:
    """Mark a waiting job handed to RQ under ``rq_job_id``; False if it is not waiting any more.

    Matching ``attempts`` too: the RQ id must belong to the attempt the worker will count.
    """
    return bool(
        waiting_jobs()
        .filter(pk=job_pk, attempts=attempts)
        .update(enqueued_at=now, rq_job_id=rq_job_id)
    )


def release(
    job_pk: int,
    rq_job_id: str,
    *,
    enqueued_at: datetime | None = None,
    count_attempt: bool = False,
) -> bool:
    """Undo a hand-over no worker claimed: the job is waiting again, as it was before it.

    Only while the row is still handed over under ``rq_job_id`` (and, when given, since
    ``enqueued_at``). Nothing ran, so nothing else is reset; ``count_attempt`` counts one
    attempt all the same (an RQ job a worker took and that died before claiming the row).
    """
    rows = handed_over_jobs().filter(pk=job_pk, rq_job_id=rq_job_id)
    if enqueued_at is not None:
        rows = rows.filter(enqueued_at=enqueued_at)
    changes: dict = {"enqueued_at": None}
    if count_attempt:
        changes["attempts"] = F("attempts") + 1
    return bool(rows.update(**changes))


# --- a worker's attempt ------------------------------------------------------------------------


def _current_rq_job():
    job = get_current_job()
    return (job.id, job.worker_name or "") if job is not None else (None, "")


def start(job_id: int, rq_job_id: str | None = None) -> ExportJob | None:
    """Mark a handed-over job ``inProgress`` for this worker, counting an attempt.

    ``rq_job_id`` defaults to the id of the RQ job being executed; the claim succeeds only if
    the row still expects that RQ job, so a stale or duplicate RQ job cannot start it.
    Returns the fresh row, or ``None`` when the job is gone, already started, finished, or
    was re-dispatched under another RQ job id (the caller should then do nothing).
    """
    current_id, worker_name = _current_rq_job()
    rq_job_id = rq_job_id or current_id
    now = timezone.now()
    claimable = ExportJob.objects.filter(pk=job_id, status=JobStatus.NOT_PROCESSED)
    if rq_job_id:
        claimable = claimable.filter(rq_job_id=rq_job_id)
    claimed = claimable.update(
        status=JobStatus.IN_PROGRESS,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        worker_name=worker_name or f"{socket.gethostname()}.{os.getpid()}",
        error="",
    )
    return ExportJob.objects.get(pk=job_id) if claimed else None


def beat(job: ExportJob, **progress) -> bool:
    """Record that the worker is alive (and optionally progress: ``rows_written``, ``stage``).

    Call it at least every 10 seconds while the job runs. Returns ``False`` when the job is
    no longer this worker's (reaped, deleted): stop working and do not write the file.
    """
    now = timezone.now()
    updated = ExportJob.objects.filter(this_attempt(job), pk=job.pk).update(
        heartbeat_at=now, **progress
    )
    if updated:
        _apply(job, {"heartbeat_at": now, **progress})
    return bool(updated)


def finish(job: ExportJob, **result) -> bool:
    """End this worker's attempt ``done`` with its ``result`` (``file``, ``size``,
    ``content_type``, ``row_count``, ``rows_written``, ``empty_reason``).

    Returns ``False`` (and changes nothing) when the attempt was reaped meanwhile; the caller
    must then delete the file it produced instead of serving it. Sends ``job_finished``.
    """
    now = timezone.now()
    changes = {
        "status": JobStatus.DONE,
        "finished_at": now,
        "heartbeat_at": now,
        "stage": "",
        **result,
    }
    if not ExportJob.objects.filter(this_attempt(job), pk=job.pk).update(**changes):
        return False
    _apply(job, changes)
    _announce(job)
    return True


def fail(
    job: ExportJob,
    error: str,
    *,
    expect: Q | None = None,
    count_attempt: bool = False,
    now: datetime | None = None,
) -> bool:
    """End the job ``failed`` with ``error``; any file its attempt registered is deleted.

    ``expect`` is the state the row must still be in (default: this worker's running
    attempt, :func:`this_attempt`); ``count_attempt`` counts an attempt that never claimed the
    row (an RQ job that died first); ``now`` is the finishing time (default: the clock).
    Returns ``False`` (and changes nothing) when the row moved on. Sends ``job_finished``.
    """
    changes: dict = {
        "status": JobStatus.FAILED,
        "finished_at": now or timezone.now(),
        "error": error,
        "stage": "",
        **_NO_FILE,
    }
    if count_attempt:
        changes["attempts"] = F("attempts") + 1
    if not _update(job, expect, changes):
        return False
    _announce(job)
    return True


def requeue(
    job: ExportJob,
    *,
    expect: Q | None = None,
    error: str = "",
    stage: str = "",
    retry_at: datetime | None = None,
    uncount_attempt: bool = False,
) -> bool:
    """Put the job back to waiting, for the dispatcher to hand out again as a new attempt.

    Everything an attempt leaves behind is reset (who ran it and when, its RQ job, progress,
    result, notification mark) and any file it registered is deleted, so a partial or stale
    file is never served; ``slot``, pinned ``windows`` and ``attempts`` are kept, so the rerun
    exports the same data and gets a fresh RQ job id. ``error``, ``stage`` and ``retry_at``
    say why it waits and until when (a transient failure's backoff); by default nothing.

    ``expect`` is the state the row must still be in (default: this worker's running
    attempt, :func:`this_attempt`). ``uncount_attempt`` gives the attempt back: the job was
    cut off by a stop we asked for (a deploy), not by anything of its own. Returns ``False``
    (and changes nothing) when it moved on.
    """
    changes = {
        "status": JobStatus.NOT_PROCESSED,
        "error": error,
        "stage": stage,
        "retry_at": retry_at,
        **_FRESH_ATTEMPT,
    }
    if uncount_attempt:
        changes["attempts"] = Greatest(F("attempts") - 1, Value(0))
    return _update(job, expect, changes)


def skip_waiting(job_pks: list[int], reason: str, now: datetime) -> int:
    """End waiting jobs that were never handed to RQ as ``skipped`` with ``reason``; returns
    how many. A job handed over (or running) meanwhile is left alone."""
    skipped = 0
    for start in range(0, len(job_pks), 500):  # within SQLite's limit on query parameters
        skipped += (
            waiting_jobs()
            .filter(pk__in=job_pks[start : start + 500], enqueued_at__isnull=True)
            .update(status=JobStatus.SKIPPED, error=reason, finished_at=now)
        )
    return skipped


def expire(job: ExportJob) -> bool:
    """``done`` → ``expired`` (retention is about to delete the file); False if another process
    got there first. The file itself is retention's to delete."""
    return bool(
        ExportJob.objects.filter(pk=job.pk, status=JobStatus.DONE).update(status=JobStatus.EXPIRED)
    )


def unexpire(job: ExportJob) -> bool:
    """Undo :func:`expire` when the file could not be deleted, so a later prune retries."""
    return bool(
        ExportJob.objects.filter(pk=job.pk, status=JobStatus.EXPIRED).update(status=JobStatus.DONE)
    )


# --- shared -----------------------------------------------------------------------------------


def _update(job: ExportJob, expect: Q | None, changes: dict) -> bool:
    """Apply ``changes`` if the row matches ``expect``; then delete the file it had."""
    expect = this_attempt(job) if expect is None else expect
    if not ExportJob.objects.filter(expect, pk=job.pk).update(**changes):
        return False
    _delete_file(job)
    if isinstance(changes.get("attempts"), Combinable):  # computed by the database
        changes = {key: value for key, value in changes.items() if key != "attempts"}
        job.refresh_from_db(fields=["attempts"])
    _apply(job, changes)
    return True


def _apply(job: ExportJob, changes: dict) -> None:
    """Bring the in-memory ``job`` in line with what was written to its row."""
    for field, value in changes.items():
        setattr(job, field, value)


def _delete_file(job: ExportJob) -> None:
    """Delete the file ``job`` registered (before the update that dropped it), if any."""
    if not job.file:
        return
    try:
        job.file.storage.delete(job.file.name)
    except OSError as exc:  # already gone is fine; anything else deserves a line in the log
        log.warning("Could not delete file %s of job %s: %s", job.file.name, job.pk, exc)


def _announce(job: ExportJob) -> None:
    """Tell receivers (notifications) that ``job`` is final; their failures are only logged."""
    for receiver, outcome in job_finished.send_robust(sender=ExportJob, job=job):
        if isinstance(outcome, Exception):
            log.error(
                "Receiver %r of job_finished failed for export job %s: %s",
                receiver,
                job.pk,
                outcome,
                exc_info=outcome,
            )
