"""Retention: finished export files are kept for ``EXPORTS_RETENTION`` and, optionally,
within a total size cap; older files are deleted and their jobs marked ``expired``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from exports.files.storage import StorageUnavailable
from exports.models import ExportJob, Installation, JobStatus
from exports.queue import lifecycle
from exports.requests.validation import parse_duration
from exports.scheduling import conf as scheduling_conf

log = logging.getLogger(__name__)


@dataclass
class PruneResult:
    expired_by_age: int = 0
    expired_by_size: int = 0
    bytes_freed: int = 0


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Jobs that finished before this instant have outlived ``EXPORTS_RETENTION``."""
    return parse_duration(settings.EXPORTS_RETENTION).before(now or timezone.now())


def expire_job(job: ExportJob) -> bool:
    """Mark one done job expired and delete its file; False if another process got there first.

    The status flips first, with a compare-and-set, so a download that starts
    afterwards sees ``expired`` instead of a file that is about to vanish. When the
    store cannot be reached (a bucket briefly down), the job goes back to ``done`` so a
    later prune deletes the object instead of leaving it orphaned; False then too.
    """
    if not lifecycle.expire(job):
        return False
    if job.file:
        try:
            job.file.storage.delete(job.file.name)
        except StorageUnavailable as exc:
            log.warning("Could not delete %s of job %s, will retry: %s", job.file.name, job.pk, exc)
            lifecycle.unexpire(job)
            return False
        except OSError as exc:  # already gone is fine; anything else is worth a log line
            log.warning("Could not delete %s of expired job %s: %s", job.file.name, job.pk, exc)
    return True


def prune(now: datetime | None = None, max_total_bytes: int | None = None) -> PruneResult:
    """Expire done jobs past retention, then the oldest ones until under the size cap."""
    result = PruneResult()
    done = ExportJob.objects.filter(status=JobStatus.DONE)
    for job in done.filter(finished_at__lt=retention_cutoff(now)).iterator():
        if expire_job(job):
            result.expired_by_age += 1
            result.bytes_freed += job.size or 0
    cap = max_total_bytes if max_total_bytes is not None else settings.EXPORTS_MAX_TOTAL_BYTES
    if cap:
        total = done.aggregate(total=Sum("size"))["total"] or 0
        for job in done.order_by("finished_at", "id").iterator():
            if total <= cap:
                break
            total -= job.size or 0
            if expire_job(job):
                result.expired_by_size += 1
                result.bytes_freed += job.size or 0
    return result


def prune_if_due(now: datetime | None = None) -> PruneResult | None:
    """Run :func:`prune` if it has not run for ``EXPORTS_PRUNE_INTERVAL`` (the scheduler's step).

    Several schedulers agree through a compare-and-set on ``Installation.last_pruned_at``:
    one of them wins the turn, the others skip it. Returns the result, or ``None`` when it
    was not this process's turn (or the interval is ``P0D``: retention only by command).
    """
    interval = scheduling_conf.prune_interval()
    if interval is None:
        return None
    now = now or timezone.now()
    installation = Installation.current()
    won = (
        Installation.objects.filter(pk=installation.pk)
        .filter(Q(last_pruned_at__isnull=True) | Q(last_pruned_at__lte=interval.before(now)))
        .update(last_pruned_at=now)
    )
    return prune(now) if won else None
