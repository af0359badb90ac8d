"""Running one export job end to end — the only code path that produces an export file.

Workers execute ``run_export_job`` (RQ entry point); ``exportnow``/``runexport`` call
``run_job`` directly. A job is claimed with a compare-and-set from ``notProcessed``
to ``inProgress``, so two workers never run the same job; the file is written to a
temporary file first and stored only when complete, so a partial file is never served.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime

from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .engine.tables import (
    build_report_info,
    build_tables,
    estimate_rows,
    pin_windows,
    pinned_windows,
)
from .models import ExportJob, ExportRequest, JobStatus
from .naming import export_filename
from .writers import writer_for

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 2.0  # seconds between progress/heartbeat writes to the job row


class PermanentExportError(Exception):
    """A failure that a retry cannot fix (bad request, unknown metric, ...)."""


def create_job(request: ExportRequest, slot: datetime) -> ExportJob:
    """Create the job of ``request`` for ``slot`` with each item's window pinned to the slot.

    Pinning makes a rerun (or a late run) of the slot export the same data even if
    the wall clock has moved on. Raises ``IntegrityError`` if the slot already has a job.
    """
    with transaction.atomic():  # a savepoint, so a duplicate slot leaves callers usable
        return ExportJob.objects.create(
            request=request, slot=slot, windows=pin_windows(request, slot)
        )


class _Progress:
    """Throttled writer of progress + heartbeat to the job row."""

    def __init__(self, job_id: int, clock: Callable[[], float] = time.monotonic):
        self.job_id = job_id
        self.clock = clock
        self.last = 0.0
        self.stage = ""

    def set_stage(self, stage: str, rows: int | None = None) -> None:
        self.stage = stage
        self._write(rows, force=True)

    def __call__(self, rows: int) -> None:
        self._write(rows)

    def _write(self, rows: int | None, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        fields = {"stage": self.stage, "heartbeat_at": timezone.now()}
        if rows is not None:
            fields["rows_written"] = rows
        ExportJob.objects.filter(pk=self.job_id, status=JobStatus.IN_PROGRESS).update(**fields)


def _claim(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        ExportJob.objects.filter(pk=job_id, status=JobStatus.NOT_PROCESSED).update(
            status=JobStatus.IN_PROGRESS,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            worker_name=f"{socket.gethostname()}:{os.getpid()}",
            stage="starting",
            rows_written=0,
            error="",
        )
    )


def run_job(job_id: int) -> ExportJob:
    """Run the job if it is waiting; return it in its final (or current) state.

    Errors are recorded on the row (``failed`` with the error text) rather than
    raised, except for transient infrastructure errors which propagate so the
    caller (the worker) can retry.
    """
    if not _claim(job_id):
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("request", "request__owner").get(pk=job_id)
    progress = _Progress(job_id)
    try:
        _produce(job, progress)
    except Exception as exc:
        _fail(job, exc)
        if not isinstance(exc, PermanentExportError) and is_transient(exc):
            raise
    job.refresh_from_db()
    _after_finish(job)
    return job


def _produce(job: ExportJob, progress: _Progress) -> None:
    request = ExportRequest.objects.prefetch_related("items", "columns").get(pk=job.request_id)
    if not request.items.all():
        raise PermanentExportError("The request has no items to export.")
    writer = writer_for(request)
    windows = pinned_windows(job.windows)
    progress.set_stage("counting")
    estimate = estimate_rows(request, job.slot, windows=windows)
    ExportJob.objects.filter(pk=job.pk).update(rows_estimated=estimate)
    tables = build_tables(request, job.slot, windows=windows)
    info = build_report_info(request, job.slot, windows=windows)
    progress.set_stage("writing", 0)
    with tempfile.TemporaryFile() as tmp:
        result = writer.write(
            tables, tmp, info, expanded=request.template == "expanded", progress=progress
        )
        size = tmp.tell()
        tmp.seek(0)
        progress.set_stage("storing", result.rows)
        name = export_filename(
            request.filename or request.name, job.slot, request.timezone, result.extension
        )
        with transaction.atomic():
            # Only now does the job get a file: a half-written export is never visible.
            job.file.save(f"{request.pk}/{job.pk}/{name}", File(tmp), save=False)
            updated = ExportJob.objects.filter(pk=job.pk, status=JobStatus.IN_PROGRESS).update(
                file=job.file.name,
                size=size,
                content_type=result.content_type,
                row_count=result.rows,
                rows_written=result.rows,
                status=JobStatus.DONE,
                stage="",
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
        if not updated:  # reaped or cancelled meanwhile: this file belongs to nobody
            job.file.storage.delete(job.file.name)


def _fail(job: ExportJob, exc: Exception) -> None:
    log.exception("Export job %s failed", job.pk)
    ExportJob.objects.filter(pk=job.pk, status=JobStatus.IN_PROGRESS).update(
        status=JobStatus.FAILED,
        error=describe_error(exc),
        stage="",
        finished_at=timezone.now(),
    )


def describe_error(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:4000]


def is_transient(exc: Exception) -> bool:
    """Database/Redis connection trouble and storage I/O errors are worth a retry."""
    from django.db import InterfaceError, OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeoutError | OSError
    )


def _after_finish(job: ExportJob) -> None:
    """Hooks that run once a job reached a final state (notifications, dispatch)."""


def run_export_job(job_id: int) -> str:
    """RQ entry point: run the job and return its final status."""
    return run_job(job_id).status
