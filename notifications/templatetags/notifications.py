"""Template helpers: ``json`` for the JSON layouts, and the pieces the request page includes."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from exports.models import ExportJob, NotificationMessage
from notifications.queries import active_link_count, deliveries_for_job

register = template.Library()


@register.filter(name="json")
def json_string(value: Any) -> SafeString:
    """A JSON string literal (quotes included), for building payloads in JSON layouts.

    Use it on a value (``{{ facts.rows|json }}``) or on a whole block
    (``{% filter json %}...{% endfilter %}``).
    """
    return mark_safe(json.dumps(str(value), ensure_ascii=False))


@register.inclusion_tag("notifications/includes/job_deliveries.html", takes_context=True)
def job_deliveries(context: template.Context, job: ExportJob) -> dict[str, Any]:
    """A job's deliveries (status, attempts, error) and, if it has live links, a revoke button.

    Usage on the request page: ``{% load notifications %}{% job_deliveries job %}``; jobs
    loaded through ``notifications.queries.with_job_deliveries`` cost no further query.
    """
    return {
        "job": job,
        "deliveries": deliveries_for_job(job),
        "active_links": active_link_count(job),
        # Viewers of a shared request see the deliveries, not the buttons that change them.
        "can_change": context.get("can_change", True),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("notifications/includes/test_send_button.html", takes_context=True)
def test_send_button(context: template.Context, message: NotificationMessage) -> dict[str, Any]:
    """A small form that sends a sample of ``message`` now (POST, CSRF-protected).

    Usage: ``{% load notifications %}{% test_send_button message %}``.
    """
    return {"message": message, "csrf_token": context.get("csrf_token")}
