"""Export jobs (with retry of failed ones) and IAM events: records, read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.template.defaultfilters import filesizeformat

from exports.admin.base import ReadOnlyAdmin
from exports.models import ExportJob, IamEvent, JobStatus
from exports.queue.dispatch import dispatch_quietly
from exports.queue.lifecycle import requeue
from exports.requests.display import format_time


@admin.action(description="Retry the selected failed jobs")
def retry_jobs(modeladmin, request, queryset) -> None:
    # Same slot and pinned windows, so the file comes out the same; attempts keep counting
    # so the new RQ job gets a fresh id.
    failed = Q(status=JobStatus.FAILED)
    retried = sum(requeue(job, expect=failed) for job in queryset.filter(failed))
    dispatch_quietly()
    modeladmin.message_user(request, f"Queued {retried} failed job(s) again.", messages.SUCCESS)


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "request",
        "run_for",
        "status_words",
        "row_count",
        "empty_reason",
        "file_size",
        "attempts",
        "started",
        "finished",
    )
    list_filter = ("status",)
    actions = (retry_jobs,)
    search_fields = ("=id", "request__name", "rq_job_id")
    list_select_related = ("request",)
    date_hierarchy = "slot"
    show_full_result_count = False

    @admin.display(description="size", ordering="size")
    def file_size(self, job: ExportJob) -> str:
        return filesizeformat(job.size) if job.size is not None else "–"

    # Job times read as on the pages: in the request's time zone, with the zone.
    @admin.display(description="run for", ordering="slot")
    def run_for(self, job: ExportJob) -> str:
        return format_time(job.slot, job.request.timezone)

    @admin.display(description="status", ordering="status")
    def status_words(self, job: ExportJob) -> str:
        return job.status_label

    @admin.display(description="started", ordering="started_at")
    def started(self, job: ExportJob) -> str:
        return format_time(job.started_at, job.request.timezone) or "–"

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, job: ExportJob) -> str:
        return format_time(job.finished_at, job.request.timezone) or "–"


@admin.register(IamEvent)
class IamEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "action", "resource", "actor_name", "published_at")
    list_filter = ("action", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("=resource", "actor_name")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
