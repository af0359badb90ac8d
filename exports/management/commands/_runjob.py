"""Shared by exportnow and runexport: run one slot of a request and copy out the file."""

import shutil
from datetime import datetime
from pathlib import Path

from django.core.management.base import CommandError
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from exports.files.naming import export_filename
from exports.models import ExportJob, ExportRequest, JobStatus
from exports.queue.lifecycle import requeue
from exports.queue.runner import create_job, run_job
from exports.requests.json_values import parse_timestamp


def parse_slot(text: str | None) -> datetime:
    if not text:
        return timezone.now().replace(microsecond=0)
    try:
        return parse_timestamp(float(text))
    except ValueError:
        pass
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise CommandError(f"--slot {exc}") from None


def check_out_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {path} exists and is not a directory.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"--out {path}: {exc.strerror or exc}") from None
    return out


def run_slot(request: ExportRequest, slot: datetime, out: Path) -> Path:
    """Run (or rerun) the job of ``request`` for ``slot`` synchronously; copy its file to ``out``.

    Returns the copied file's path. Raises ``CommandError`` if the job fails.
    """
    try:
        job = create_job(request, slot)
    except IntegrityError:
        # The slot ran before: rerun it from scratch (same pinned windows, same file).
        # A running job is left alone: run_job then reports it as it stands.
        job = ExportJob.objects.get(request=request, slot=slot)
        requeue(job, expect=~Q(status=JobStatus.IN_PROGRESS))
    job = run_job(job.pk)
    if job.status != JobStatus.DONE:
        raise CommandError(f"Export job {job.pk} {job.status}: {job.error or 'no file produced'}")
    extension = Path(job.file.name).suffix.lstrip(".")
    target = out / export_filename(
        request.filename or request.name, job.slot, request.timezone, extension
    )
    try:
        stored = job.file.path  # local storage: the kernel copies (copy_file_range/sendfile)
    except NotImplementedError:
        stored = None
    if stored:
        shutil.copyfile(stored, target)
    else:
        with job.file.open("rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1024 * 1024)
    return target
