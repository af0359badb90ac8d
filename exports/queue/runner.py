"""Running one export job end to end — the only code path that produces an export file.

Workers execute ``run_export_job`` (RQ entry point); ``exportnow``/``runexport`` call
``run_job`` directly. A job is claimed with a compare-and-set from ``notProcessed``
to ``inProgress``, so two workers never run the same job; the file is written to a
temporary file first and stored only when complete, so a partial file is never served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from rq import get_current_job

from exports.data.access import unreadable_items
from exports.engine.reading import metrics_exist
from exports.engine.tables import (
    build_report_info,
    build_tables,
    estimate_rows,
    pinned_windows,
)
from exports.files.naming import export_filename
from exports.files.storage import spool_file, stored_content
from exports.models import ExportJob, ExportRequest
from exports.queue import conf, lifecycle, namespace
from exports.queue.dispatch import refill_quietly
from exports.requests.vocabulary import EmptyReason
from exports.scheduling.windows import job_windows
from exports.writers import writer_for

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 2.0  # seconds between progress/heartbeat writes to the job row


class PermanentExportError(Exception):
    """A failure that a retry cannot fix (bad request, unknown metric, ...); its text is
    written for people and stored as the job's error as it is."""


def create_job(request: ExportRequest, slot: datetime) -> ExportJob:
    """Create the job of ``request`` for ``slot`` with each item's window pinned to the slot.

    Pinning makes a rerun (or a late run) of the slot export the same data even if
    the wall clock has moved on. Raises ``IntegrityError`` if the slot already has a job.
    """
    with transaction.atomic():  # a savepoint, so a duplicate slot leaves callers usable
        return ExportJob.objects.create(
            request=request, slot=slot, windows=job_windows(request, slot)
        )


class _Progress:
    """Throttled writer of progress + heartbeat to the job row (via ``lifecycle.beat``).

    Raises ``JobLost`` when the row is no longer this worker's (the reaper gave it to
    another attempt), so the export stops instead of racing the new attempt.
    """

    def __init__(self, job: ExportJob, clock: Callable[[], float] = time.monotonic):
        self.job = job
        self.clock = clock
        self.last = 0.0
        self.stage = ""

    def set_stage(self, stage: str, rows: int | None = None, **more) -> None:
        """Enter ``stage`` (written at once, with ``rows`` and any ``more`` fields of the row)."""
        self.stage = stage
        self._write(rows, force=True, **more)

    def __call__(self, rows: int) -> None:
        self._write(rows)

    def _write(self, rows: int | None, force: bool = False, **more) -> None:
        now = self.clock()
        if not force and now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        fields = {"stage": self.stage, **more}
        if rows is not None:
            fields["rows_written"] = rows
        if not lifecycle.beat(self.job, **fields):
            raise JobLost(f"Export job {self.job.pk} was taken over; stopping this attempt.")


class JobLost(Exception):
    """This worker's attempt was reaped; another attempt owns the job now."""


def run_job(job_id: int) -> ExportJob:
    """Run the job if it is waiting; return it in its final (or current) state.

    A failure is recorded on the row: a transient one (database, Redis, storage I/O)
    puts the job back to ``notProcessed`` for another attempt while attempts remain;
    anything else, or the last attempt, ends it ``failed`` with the error text. Reaching
    ``done`` or ``failed`` sends ``exports.queue.signals.job_finished`` (notifications).
    """
    job = lifecycle.start(job_id)
    if job is None:  # not ours to run: already running, finished, or re-dispatched
        refill_quietly()  # this worker is free again all the same
        return ExportJob.objects.get(pk=job_id)
    progress = _Progress(job)
    try:
        _produce(job, progress)
    except JobLost:
        log.warning("Export job %s was reaped while running; abandoning this attempt", job_id)
    except Exception as exc:
        _record_failure(job, exc)
    job.refresh_from_db()
    refill_quietly()  # this worker is free: hand out waiting jobs when the backlog is low
    return job


def _produce(job: ExportJob, progress: _Progress) -> None:
    request = ExportRequest.objects.select_related("owner").prefetch_related("items", "columns")
    request = request.get(pk=job.request_id)
    if not request.items.all():
        raise PermanentExportError("The request has no items to export.")
    # Checked again at every run: a grant revoked since the request was saved stops it here,
    # before a row of that channel is read.
    refusals = unreadable_items(request.owner, request.items.all(), again=True)
    if refusals:
        raise PermanentExportError(" ".join(dict.fromkeys(reason for _, reason in refusals)))
    writer = writer_for(request)
    windows = pinned_windows(job.windows)
    progress.set_stage("counting", 0)
    estimate = estimate_rows(request, job.slot, windows=windows)
    tables = build_tables(request, job.slot, windows=windows)
    info = build_report_info(request, job.slot, windows=windows)
    # One statement: the estimate rides on the beat that enters "writing".
    progress.set_stage("writing", 0, rows_estimated=estimate)
    with spool_file(job.file.storage) as tmp:
        result = writer.write(
            tables, tmp, info, expanded=request.template == "expanded", progress=progress
        )
        size = tmp.tell()
        tmp.seek(0)
        progress.set_stage("storing", result.rows)
        name = export_filename(
            request.filename or request.name, job.slot, request.timezone, result.extension
        )
        # Only now does the job get a file: a half-written export is never visible.
        job.file.save(f"{request.pk}/{job.pk}/{name}", stored_content(tmp), save=False)
    finished = lifecycle.finish(
        job,
        empty_reason=empty_reason(request) if result.rows == 0 else "",
        file=job.file.name,
        size=size,
        content_type=result.content_type,
        row_count=result.rows,
        rows_written=result.rows,
    )
    if not finished:  # reaped meanwhile: this file belongs to no attempt
        job.file.storage.delete(job.file.name)


def empty_reason(request: ExportRequest) -> str:
    """Why a job of ``request`` wrote no rows: none of its metrics has ever been stored
    (a typo, a device never seen), or they exist but not in the job's windows."""
    if any(metrics_exist(item) for item in request.items.all()):
        return EmptyReason.NO_DATA
    return EmptyReason.NO_METRICS


def _record_failure(job: ExportJob, exc: Exception) -> None:
    error = describe_error(exc)
    if not connection.in_atomic_block:
        # A connection the database dropped (server restart, pg_terminate_backend) cannot
        # record anything; Django reopens one on the next query once this one is closed.
        connection.close_if_unusable_or_obsolete()
    retry = (
        not isinstance(exc, PermanentExportError)
        and is_transient(exc)
        and job.attempts < conf.max_attempts()
    )
    if retry:
        retry_at = timezone.now() + conf.retry_delay(job.attempts)
        log.warning(
            "Export job %s attempt %s failed, will retry at %s: %s",
            job.pk,
            job.attempts,
            retry_at.isoformat(timespec="seconds"),
            error,
        )
        # Back to waiting; the dispatcher hands it out again once retry_at has passed.
        lifecycle.requeue(
            job, error=f"attempt {job.attempts} failed: {error}", stage="retry", retry_at=retry_at
        )
        return
    log.error("Export job %s failed: %s", job.pk, error, exc_info=exc)
    lifecycle.fail(job, error)


def describe_error(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    if isinstance(exc, PermanentExportError):
        return text[:4000]
    if is_write_error(exc) and text == "IO_ENOSPC":
        text += " (no space left on the temporary disk)"
    return f"{exc.__class__.__name__}: {text}"[:4000]


def is_transient(exc: Exception) -> bool:
    """Database/Redis connection trouble and storage I/O errors are worth a retry."""
    from django.db import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeoutError | OSError
    ) or is_write_error(exc)


def is_write_error(exc: Exception) -> bool:
    """A file write that failed in lxml (openpyxl's XML writer): a full or failing temporary
    disk reported as ``SerialisationError("IO_ENOSPC")`` (``IO_EIO``, ...), not as ``OSError``."""
    return type(exc).__name__ == "SerialisationError" and str(exc).startswith("IO_")


def run_export_job(job_id: int) -> str:
    """RQ entry point: run the job and return its final status.

    An RQ job of another installation sharing this Redis, or one whose row does not exist
    (deleted, or a database that was replaced), is dropped with one log line: no traceback,
    no entry in RQ's failed registry. The owner's scheduler hands its own jobs out again.
    """
    rq_job = get_current_job()
    if rq_job is not None and not namespace.is_ours(rq_job.id):
        log.warning("Dropped RQ job %s: it belongs to another installation.", rq_job.id)
        return "not ours"
    try:
        # A missing row claims nothing (lifecycle.start), and reading it back then raises.
        return run_job(job_id).status
    except ExportJob.DoesNotExist:
        log.warning("Dropped RQ job for export job %s: no such job in the database.", job_id)
        return "missing"
