"""Who may see what: the one place the pages decide access to requests and their jobs.

A user sees and edits only the requests they own; staff see and edit all. Anything
else is a 404, never a 403, so the pages do not reveal which ids exist.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from exports.models import ChannelGrant, ExportJob, ExportRequest


def visible_requests(user) -> QuerySet[ExportRequest]:
    """The requests ``user`` may see: their own, or every request for staff."""
    requests = ExportRequest.objects.all()
    if user.is_staff:
        return requests
    if not user.is_authenticated:
        return requests.none()
    return requests.filter(owner=user)


def get_request_for_user(user, pk: int) -> ExportRequest:
    """The request ``pk`` if ``user`` owns it or is staff.

    Raises ``Http404`` otherwise (and when it does not exist).
    """
    return get_object_or_404(visible_requests(user).select_related("owner"), pk=pk)


def get_any_job_for_user(user, job_pk: int) -> ExportJob:
    """The job ``job_pk`` (with its ``request`` loaded) if ``user`` may see its request.

    Raises ``Http404`` otherwise, like :func:`get_job_for_user`.
    """
    jobs = ExportJob.objects.select_related("request__owner").filter(
        request__in=visible_requests(user)
    )
    return get_object_or_404(jobs, pk=job_pk)


def can_ingest(user, channel_id: str) -> bool:
    """Whether ``user`` may publish messages to ``channel_id`` over HTTP.

    Staff may publish anywhere; other users only to channels granted to them in the admin
    (``ChannelGrant``). Reading exports is not affected: that follows request ownership.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    return ChannelGrant.objects.filter(user=user, channel_id=channel_id).exists()


def get_job_for_user(user, request_pk: int, job_pk: int) -> ExportJob:
    """The job ``job_pk`` of request ``request_pk`` if ``user`` may see that request.

    The job comes with its ``request`` loaded. Raises ``Http404`` when either is not
    visible, or when the job belongs to another request.
    """
    export_request = get_request_for_user(user, request_pk)
    try:
        job = export_request.jobs.get(pk=job_pk)
    except ExportJob.DoesNotExist:
        raise Http404("No such job for this export.") from None
    job.request = export_request
    return job
