"""Template helpers: ``json`` for the JSON layouts, and the pieces the request page includes."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.db.models import Prefetch, QuerySet
from django.utils.safestring import SafeString, mark_safe

from exports.models import ExportJob, NotificationMessage
from notifications.models import Delivery, DownloadLink

register = template.Library()


@register.filter(name="json")
def json_string(value: Any) -> SafeString:
    """A JSON string literal (quotes included), for building payloads in JSON layouts.

    Use it on a value (``{{ facts.rows|json }}``) or on a whole block
    (``{% filter json %}...{% endfilter %}``).
    """
    return mark_safe(json.dumps(str(value), ensure_ascii=False))


def with_job_deliveries(jobs: QuerySet[ExportJob]) -> QuerySet[ExportJob]:
    """``jobs`` with what ``job_deliveries`` shows loaded in two queries for the whole page,
    instead of two per job (a polled job table asks every few seconds)."""
    deliveries = Delivery.objects.select_related("message").order_by("message__position", "pk")
    return jobs.prefetch_related(
        Prefetch("deliveries", queryset=deliveries, to_attr="ordered_deliveries"),
        Prefetch(
            "download_links",
            queryset=DownloadLink.objects.active(),
            to_attr="active_download_links",
        ),
    )


@register.inclusion_tag("notifications/includes/job_deliveries.html", takes_context=True)
def job_deliveries(context: template.Context, job: ExportJob) -> dict[str, Any]:
    """A job's deliveries (status, attempts, error) and, if it has live links, a revoke button.

    Usage on the request page: ``{% load notifications %}{% job_deliveries job %}``; jobs
    loaded through :func:`with_job_deliveries` cost no further query.
    """
    deliveries = getattr(job, "ordered_deliveries", None)
    if deliveries is None:
        deliveries = job.deliveries.select_related("message").order_by("message__position", "pk")
    links = getattr(job, "active_download_links", None)
    return {
        "job": job,
        "deliveries": deliveries,
        "active_links": len(links) if links is not None else job.download_links.active().count(),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("notifications/includes/test_send_button.html", takes_context=True)
def test_send_button(context: template.Context, message: NotificationMessage) -> dict[str, Any]:
    """A small form that sends a sample of ``message`` now (POST, CSRF-protected).

    Usage: ``{% load notifications %}{% test_send_button message %}``.
    """
    return {"message": message, "csrf_token": context.get("csrf_token")}
