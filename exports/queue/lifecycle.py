"""The worker's side of the contract with the reaper: claim, heartbeat, finish.

Every update a worker makes to its job row is a compare-and-set on ``(status, rq_job_id)``.
If the reaper presumed the worker dead (no heartbeat for ``EXPORTS_HEARTBEAT_TIMEOUT``) and
handed the job to another worker, the old worker's next :func:`beat` returns ``False`` and
its :func:`finish_job` changes nothing, so a zombie can neither overwrite the new attempt's
progress nor publish a file for it.
"""

from __future__ import annotations

import os
import socket

from django.db.models import F
from django.utils import timezone
from rq import get_current_job

from exports.models import ExportJob, JobStatus


def _current_rq_job():
    job = get_current_job()
    return (job.id, job.worker_name or "") if job is not None else (None, "")


def start_job(job_id: int, rq_job_id: str | None = None) -> ExportJob | None:
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
    updated = ExportJob.objects.filter(
        pk=job.pk, status=JobStatus.IN_PROGRESS, rq_job_id=job.rq_job_id
    ).update(heartbeat_at=now, **progress)
    if updated:
        job.heartbeat_at = now
        for field, value in progress.items():
            setattr(job, field, value)
    return bool(updated)


def finish_job(job: ExportJob, status: str, **fields) -> bool:
    """End this worker's attempt with ``done`` or ``failed`` plus the given fields.

    Returns ``False`` (and changes nothing) when the attempt was reaped meanwhile; the caller
    must then delete the file it produced instead of serving it.
    Raises ``ValueError`` for a status other than done/failed.
    """
    if status not in (JobStatus.DONE, JobStatus.FAILED):
        raise ValueError(f"A worker ends a job done or failed, not {status!r}.")
    now = timezone.now()
    return bool(
        ExportJob.objects.filter(
            pk=job.pk, status=JobStatus.IN_PROGRESS, rq_job_id=job.rq_job_id
        ).update(status=status, finished_at=now, heartbeat_at=now, **fields)
    )
