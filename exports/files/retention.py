"""Retention: finished export files are kept for ``EXPORTS_RETENTION`` and, optionally,
within a total size cap; older files are deleted and their jobs marked ``expired``.

Each prune then sweeps **orphans**: files under the storage's ``exports/`` folder that no job
row names (older versions re-pointed a rerun job at a new file and left the old one behind).
Only files older than ``ORPHAN_MIN_AGE`` go, so a file a worker is writing right now (saved
before its job row names it) is never touched. The same for local storage and S3.

Rows are kept for their own settings (``prune_records``): finished job rows
(``EXPORTS_JOB_ROW_RETENTION``), published IAM events (``IAM_EVENTS_RETENTION``) and, when
``MESSAGES_RETENTION`` is set, messages. The scheduler runs both (``prune_if_due``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from exports.files.storage import StorageUnavailable, export_storage
from exports.models import ExportJob, IamEvent, Installation, JobStatus, Message
from exports.queue import lifecycle
from exports.requests.validation import parse_duration
from exports.scheduling import conf as scheduling_conf

log = logging.getLogger(__name__)
# An unnamed file younger than this may still be on its way into a job row: left alone.
ORPHAN_MIN_AGE = timedelta(days=1)
ORPHAN_ROOT = "exports"  # where ExportJob.file's upload_to puts every file


@dataclass
class PruneResult:
    expired_by_age: int = 0
    expired_by_size: int = 0
    bytes_freed: int = 0
    orphans_deleted: int = 0
    storage_unavailable: bool = False
    records: RecordsPruned | None = None  # rows deleted (prune_records), when it ran


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
    return _expire(job) == "expired"


def _expire(job: ExportJob) -> str:
    """:func:`expire_job`, saying what happened: ``expired``, ``raced`` or ``unavailable``."""
    if not lifecycle.expire(job):
        return "raced"
    if job.file:
        try:
            job.file.storage.delete(job.file.name)
        except StorageUnavailable as exc:
            log.warning("Could not delete %s of job %s, will retry: %s", job.file.name, job.pk, exc)
            lifecycle.unexpire(job)
            return "unavailable"
        except OSError as exc:  # already gone is fine; anything else is worth a log line
            log.warning("Could not delete %s of expired job %s: %s", job.file.name, job.pk, exc)
    return "expired"


def prune(now: datetime | None = None, max_total_bytes: int | None = None) -> PruneResult:
    """Expire done jobs past retention, then the oldest ones until under the size cap; then
    delete orphaned files (see the module; skipped while the store is unreachable)."""
    result = PruneResult()
    done = ExportJob.objects.filter(status=JobStatus.DONE)
    for job in done.filter(finished_at__lt=retention_cutoff(now)).iterator():
        if _count(_expire(job), result):
            result.expired_by_age += 1
            result.bytes_freed += job.size or 0
    cap = max_total_bytes if max_total_bytes is not None else settings.EXPORTS_MAX_TOTAL_BYTES
    if cap:
        total = done.aggregate(total=Sum("size"))["total"] or 0
        for job in done.order_by("finished_at", "id").iterator():
            if total <= cap:
                break
            total -= job.size or 0
            if _count(_expire(job), result):
                result.expired_by_size += 1
                result.bytes_freed += job.size or 0
    if not result.storage_unavailable:
        result.orphans_deleted = sweep_orphans(now)
    return result


def _count(outcome: str, result: PruneResult) -> bool:
    result.storage_unavailable |= outcome == "unavailable"
    return outcome == "expired"


def sweep_orphans(now: datetime | None = None, min_age: timedelta = ORPHAN_MIN_AGE) -> int:
    """Delete files under ``exports/`` that no job names and that are older than ``min_age``.

    Returns how many were deleted. Best effort: a store that cannot be listed (or a file that
    cannot be deleted) is logged and left for the next prune.
    """
    storage = export_storage()
    cutoff = (now or timezone.now()) - min_age
    deleted = 0
    try:
        batch: list[str] = []
        for name in _files(storage, ORPHAN_ROOT):
            batch.append(name)
            if len(batch) == 500:  # within SQLite's limit on query parameters
                deleted += _delete_orphans(storage, batch, cutoff)
                batch = []
        deleted += _delete_orphans(storage, batch, cutoff)
    except Exception as exc:  # noqa: BLE001 - housekeeping must never fail a prune
        log.warning("Orphaned export files not swept this time: %s", exc)
    return deleted


def _files(storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _files(storage, f"{folder}/{sub}")


def _delete_orphans(storage, names: list[str], cutoff: datetime) -> int:
    named = set(ExportJob.objects.filter(file__in=names).values_list("file", flat=True))
    deleted = 0
    for name in names:
        if name in named or storage.get_modified_time(name) >= cutoff:
            continue
        # Named meanwhile? (A job finished between the query and now: leave its file.)
        if ExportJob.objects.filter(file=name).exists():
            continue
        storage.delete(name)
        log.info("Deleted orphaned export file %s (no job names it).", name)
        deleted += 1
    return deleted


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
    if not won:
        return None
    result = prune(now)
    result.records = prune_records(now)
    return result


# --- rows: finished jobs, IAM events, messages ------------------------------------------------

# Rows deleted per statement, so a long backlog never holds one huge transaction or lock.
PRUNE_BATCH = 2000
# Batches of messages one prune may delete (at most 200,000 rows): the rest waits for the next.
MESSAGE_BATCHES_PER_PRUNE = 100
# Jobs whose row may go: final, without a file (a done job's file expires first).
_PRUNABLE_JOB_STATUSES = (JobStatus.EXPIRED, JobStatus.FAILED, JobStatus.SKIPPED)


@dataclass
class RecordsPruned:
    jobs: int = 0
    iam_events: int = 0
    messages: int = 0

    def __bool__(self) -> bool:
        return bool(self.jobs or self.iam_events or self.messages)


def record_cutoff(setting: str, now: datetime | None = None) -> datetime | None:
    """``now`` minus the duration of ``setting`` (ISO 8601); None when it is ``P0D``: kept."""
    text = getattr(settings, setting, "P0D") or "P0D"
    if text in ("P0D", "PT0S", "0"):
        return None
    return parse_duration(text).before(now or timezone.now())


def prune_records(now: datetime | None = None) -> RecordsPruned:
    """Delete the rows that outlived their retention setting (each ``P0D`` = kept for ever):

    * job rows ``expired``, ``failed`` or ``skipped`` that ended before
      ``EXPORTS_JOB_ROW_RETENTION`` (their deliveries and links go with them); the latest job of
      each request is kept, so its list still shows the last run;
    * IAM events published before ``IAM_EVENTS_RETENTION`` (never an unpublished one: that is
      the outbox);
    * messages whose time is older than ``MESSAGES_RETENTION`` (off by default), at most
      ``MESSAGE_BATCHES_PER_PRUNE`` batches per run.
    """
    now = now or timezone.now()
    result = RecordsPruned()
    if cutoff := record_cutoff("EXPORTS_JOB_ROW_RETENTION", now):
        latest = ExportJob.objects.filter(request_id=OuterRef("request_id")).order_by("-pk")
        old = (
            ExportJob.objects.filter(status__in=_PRUNABLE_JOB_STATUSES, finished_at__lt=cutoff)
            .exclude(pk=Subquery(latest.values("pk")[:1]))
            .order_by("pk")
        )
        result.jobs = _delete_in_batches(old)
    if cutoff := record_cutoff("IAM_EVENTS_RETENTION", now):
        published = IamEvent.objects.filter(published_at__isnull=False, occurred_at__lt=cutoff)
        result.iam_events = _delete_in_batches(published.order_by("pk"))
    if cutoff := record_cutoff("MESSAGES_RETENTION", now):
        old_messages = Message.objects.filter(time__lt=cutoff).order_by("pk")
        result.messages = _delete_in_batches(old_messages, MESSAGE_BATCHES_PER_PRUNE)
    if result:
        log.info(
            "Retention deleted %s job row(s), %s IAM event(s), %s message(s)",
            result.jobs,
            result.iam_events,
            result.messages,
        )
    return result


def _delete_in_batches(rows: QuerySet, max_batches: int | None = None) -> int:
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        pks = list(rows.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not pks:
            break
        rows.model.objects.filter(pk__in=pks).delete()
        deleted += len(pks)
        batches += 1
    return deleted
