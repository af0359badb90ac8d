"""Template helpers of the export pages: ``local_time`` (the one time format),
``schedule_words`` and ``list_query`` (the list's query string with one parameter changed)."""

from __future__ import annotations

from datetime import datetime

from django import template

from exports.requests.display import format_time
from exports.scheduling.words import describe_request_schedule

register = template.Library()


@register.filter
def local_time(moment: datetime | None, zone: str = "") -> str:
    """``{{ job.slot|local_time:export.timezone }}`` → ``2026-11-30 06:37 CET``; empty for None."""
    return format_time(moment, zone)


@register.filter
def schedule_words(export) -> str:
    """``{{ export|schedule_words }}`` → "Every day at 08:00 (Europe/Rome)" or "Once"."""
    return describe_request_schedule(export)


@register.simple_tag(takes_context=True)
def list_query(context: template.Context, **changes) -> str:
    """The current page's query string with ``changes`` applied (``page`` reset unless given).

    Usage: ``<a href="{% list_query sort='-name' %}">``. A value of ``None`` or ``""`` drops
    the parameter, so links keep every other filter and stay bookmarkable.
    """
    query = context["request"].GET.copy()
    if "page" not in changes:
        query.pop("page", None)
    for key, value in changes.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"
