"""A job's deliveries, read the one way the pages and the API show them.

One order everywhere: by the message's position on the request (the order of its
"Notifications" list), then by creation (``pk``) — a job has one delivery per message.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet

from exports.models import ExportJob
from notifications.models import Delivery, DownloadLink

DELIVERY_ORDER = ("message__position", "pk")
# Where with_job_deliveries leaves what it loads on each job.
_DELIVERIES = "ordered_deliveries"
_ACTIVE_LINKS = "active_download_links"


def ordered_deliveries() -> QuerySet[Delivery]:
    """Deliveries with their messages, in the one display order."""
    return Delivery.objects.select_related("message").order_by(*DELIVERY_ORDER)


def with_deliveries(jobs: QuerySet[ExportJob]) -> QuerySet[ExportJob]:
    """``jobs`` with their deliveries loaded in one query for all of them (the API)."""
    return jobs.prefetch_related(
        Prefetch("deliveries", queryset=ordered_deliveries(), to_attr=_DELIVERIES)
    )


def with_job_deliveries(jobs: QuerySet[ExportJob]) -> QuerySet[ExportJob]:
    """``jobs`` with their deliveries and live download links loaded in two queries for the
    whole page, instead of two per job (a polled job table asks every few seconds)."""
    return with_deliveries(jobs).prefetch_related(
        Prefetch("download_links", queryset=DownloadLink.objects.active(), to_attr=_ACTIVE_LINKS)
    )


def deliveries_for_job(job: ExportJob) -> Sequence[Delivery]:
    """The deliveries of ``job`` in display order (no query if loaded by with_job_deliveries)."""
    loaded = getattr(job, _DELIVERIES, None)
    if loaded is not None:
        return loaded
    return ordered_deliveries().filter(job=job)


def active_link_count(job: ExportJob) -> int:
    """How many capability links to ``job``'s file still work (no query if loaded)."""
    loaded = getattr(job, _ACTIVE_LINKS, None)
    if loaded is not None:
        return len(loaded)
    return job.download_links.active().count()
