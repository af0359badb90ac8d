"""The facts about a finished export that messages report, formatted for people.

Times are shown in the request's time zone (DESIGN.md §3), sizes and counts in
readable units. The same facts feed the placeholders of the user's title and
text and the operator's layout templates.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.utils import timezone

from exports.models import ExportJob, ExportRequest, JobStatus
from exports.requests.display import format_time, format_window
from exports.requests.vocabulary import EmptyReason
from exports.scheduling.words import describe_request_schedule

ERROR_SUMMARY_LENGTH = 300


@dataclass(frozen=True)
class ExportFacts:
    request_name: str
    status: str
    slot: str
    window: str
    timezone: str
    format: str
    rows: str
    empty: str
    size: str
    link: str
    error: str
    is_success: bool
    schedule: str = ""  # "Every day at 08:00 (Europe/Rome)" or "Once"

    def values(self) -> dict[str, str]:
        """The placeholder values (every field but ``is_success``)."""
        values = asdict(self)
        del values["is_success"]
        return values


def facts_for_job(job: ExportJob, link: str) -> ExportFacts:
    """The facts of a finished job; ``link`` is the download link or the request page."""
    request = job.request
    zone = _zone(request)
    return ExportFacts(
        request_name=request.name,
        status=job.status,
        slot=format_time(job.slot, zone),
        window=format_window(job.windows, zone),
        timezone=request.timezone,
        format=request.extension,
        rows=format_rows(job),
        empty=empty_text(job),
        size=format_size(job.size) if job.size is not None else "",
        link=link,
        error=error_summary(job.error) if job.status != JobStatus.DONE else "",
        is_success=job.status == JobStatus.DONE,
        schedule=describe_request_schedule(request),
    )


def sample_facts(request: ExportRequest, link: str, *, success: bool) -> ExportFacts:
    """Made-up facts for a test send: the last whole day before now, in the request's zone."""
    zone = _zone(request)
    slot = timezone.now().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    start = slot - timedelta(days=1)
    return ExportFacts(
        request_name=request.name,
        status=JobStatus.DONE if success else JobStatus.FAILED,
        slot=format_time(slot, zone),
        window=f"{format_time(start, zone)} – {format_time(slot, zone)}",
        timezone=request.timezone,
        format=request.extension,
        rows="1,234" if success else "",
        empty="",
        size="56.7 KB" if success else "",
        link=link,
        error="" if success else "Sample error: this is a test notification.",
        is_success=success,
        schedule=describe_request_schedule(request),
    )


def empty_text(job: ExportJob) -> str:
    """Why a finished job wrote no rows, for people; empty when it wrote some."""
    if job.status != JobStatus.DONE or job.row_count != 0 or not job.empty_reason:
        return ""
    return EmptyReason(job.empty_reason).label


def format_rows(job: ExportJob) -> str:
    """``12,345``; for an empty export ``0 — no data for the metrics in the window``, so
    every layout says why without a change."""
    if job.row_count is None:
        return ""
    reason = empty_text(job)
    return f"0 — {reason}" if reason else f"{job.row_count:,}"


def format_size(size: int) -> str:
    """``512 B``, ``1.2 KB``, ``3.4 MB``... (binary multiples, as file managers show)."""
    if size < 1024:
        return f"{size} B"
    exponent = min(int(math.log(size, 1024)), 4)
    return f"{size / 1024**exponent:.1f} {'KMGT'[exponent - 1]}B"


def error_summary(error: str) -> str:
    """The first non-empty line of a job's error, shortened for a message."""
    line = next((line.strip() for line in (error or "").splitlines() if line.strip()), "")
    if len(line) > ERROR_SUMMARY_LENGTH:
        line = line[: ERROR_SUMMARY_LENGTH - 1] + "…"
    return line


def _zone(request: ExportRequest) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(request.timezone or "UTC")
