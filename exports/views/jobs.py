"""Jobs on the pages: a request's job table (also served alone, for the open page to poll),
and the file download."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from exports.data.access import get_job_for_user, get_request_for_user
from exports.files.downloads import DownloadRefused, serve_job_file
from exports.iam import record_download
from exports.models import ExportJob, ExportRequest, JobStatus
from exports.requests.display import describe_no_data, format_window, metrics_looked_for
from notifications.queries import with_job_deliveries

PAGE_SIZE = 25


# Seconds between refreshes of an open job table: quick while a job may change, slower
# otherwise (a recurring request's next job still appears without a reload).
REFRESH_ACTIVE, REFRESH_IDLE = 2, 10
RUNNING = {JobStatus.NOT_PROCESSED, JobStatus.IN_PROGRESS}


@dataclass
class JobRow:
    """What the job table shows about one job, computed once in Python."""

    job: ExportJob
    window: str
    duration: str
    no_data: str  # why a done job has no rows; empty otherwise


def job_rows(jobs: Iterable[ExportJob], export: ExportRequest) -> list[JobRow]:
    """Table rows for ``jobs`` of ``export``, with times in the request's time zone."""
    items = list(export.items.all())
    rows = []
    for job in jobs:
        windows = job.windows or []
        no_data = ""
        if job.has_no_data:
            metrics = metrics_looked_for(windows, items)
            no_data = describe_no_data(windows, metrics, export.timezone)
        rows.append(
            JobRow(
                job=job,
                window=format_window(windows, export.timezone),
                duration=duration_text(job.duration),
                no_data=no_data,
            )
        )
    return rows


def jobs_context(request: HttpRequest, export: ExportRequest) -> dict:
    """The job table of ``export``: one page of jobs (``?page=``), their rows, and how soon
    the open page should ask again."""
    jobs = with_job_deliveries(export.jobs.all())
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = job_rows(page.object_list, export)
    active = any(row.job.status in RUNNING for row in rows)
    access = getattr(export, "access", None)
    return {
        "export": export,
        # Viewers see the deliveries without the buttons that change them.
        "can_change": access is not None and access.can_change,
        "page": page,
        "job_rows": rows,
        "refresh_seconds": REFRESH_ACTIVE if active else REFRESH_IDLE,
    }


@never_cache
@login_required
@require_safe
def request_jobs(request: HttpRequest, pk: int) -> HttpResponse:
    """The job table of a request alone (an HTML fragment), polled by the open request page."""
    export = get_request_for_user(request.user, pk)
    return render(request, "exports/_jobs.html", jobs_context(request, export))


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
    """Stream a done job's file as an attachment (to whoever may see its request).

    An expired or vanished file is a 410 page; a job that has no file (yet) is a 404 page.
    """
    job = get_job_for_user(request.user, request_pk, job_pk)
    try:
        response = serve_job_file(job)
    except DownloadRefused as refused:
        return refused.with_headers(_unavailable(request, job, refused.status, refused.reason))
    if request.method == "GET":  # a HEAD downloads nothing
        record_download(job, request.user, via="page")
    return response
