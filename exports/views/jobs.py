"""Jobs on the pages: the rows of a request's job table, and the file download."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from notifications.facts import format_window

from ..access import get_job_for_user
from ..downloads import StorageUnavailable, file_response
from ..models import ExportJob, JobStatus


@dataclass
class JobRow:
    """What the job table shows about one job, computed once in Python."""

    job: ExportJob
    window: str
    duration: str
    percent: int | None  # progress of an inProgress job; None when the total is unknown


def job_rows(jobs: Iterable[ExportJob], zone_name: str) -> list[JobRow]:
    """Table rows for ``jobs``, with windows shown in the request's time zone."""
    zone = zoneinfo.ZoneInfo(zone_name or "UTC")
    return [
        JobRow(
            job=job,
            window=format_window(job.windows or [], zone),
            duration=duration_text(job.duration),
            percent=_percent(job),
        )
        for job in jobs
    ]


def duration_text(duration: timedelta | None) -> str:
    """``850 ms``, ``12 s``, ``3 min 4 s``, ``2 h 5 min``; empty when unknown."""
    if duration is None:
        return ""
    seconds = duration.total_seconds()
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _percent(job: ExportJob) -> int | None:
    if job.status != JobStatus.IN_PROGRESS or not job.rows_estimated:
        return None
    return min(100, int(job.rows_written * 100 / job.rows_estimated))


def _unavailable(request: HttpRequest, job: ExportJob, status: int, reason: str) -> HttpResponse:
    back_url = f"{job.request.get_absolute_url()}#job-{job.pk}"
    return render(
        request,
        "exports/problem.html",
        {
            "title": "File unavailable",
            "reason": reason,
            "export": job.request,
            "back_url": back_url,
        },
        status=status,
    )


@never_cache
@login_required
@require_safe
def job_download(request: HttpRequest, request_pk: int, job_pk: int) -> HttpResponse:
    """Stream a done job's file as an attachment (owner or staff).

    An expired or vanished file is a 410 page; a job that has no file (yet) is a 404 page.
    """
    job = get_job_for_user(request.user, request_pk, job_pk)
    if job.status == JobStatus.EXPIRED:
        return _unavailable(
            request, job, 410, "This file has expired: retention deleted it. Run the export again."
        )
    if job.status != JobStatus.DONE:
        return _unavailable(
            request, job, 404, f"This run has no file to download (status: {job.status})."
        )
    missing = "This file is missing from storage. Run the export again."
    if not job.file:
        return _unavailable(request, job, 410, missing)
    try:
        return file_response(job)
    except StorageUnavailable:  # an OSError too, but the file may well be there
        return _unavailable(
            request, job, 503, "File storage is unreachable right now. Try again in a minute."
        )
    except OSError:  # deleted between the status check and the open (retention, an operator)
        return _unavailable(request, job, 410, missing)
