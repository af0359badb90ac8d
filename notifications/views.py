"""Pages of the notifications app: capability downloads, link revocation, test sends."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from exports.data.access import changeable_requests, get_any_job_for_user, visible_requests
from exports.files.downloads import DownloadRefused, serve_job_file
from exports.models import ExportJob, NotificationMessage
from notifications.dispatch import hand_over
from notifications.errors import TransportError
from notifications.links import find_link, revoke_links
from notifications.models import Delivery, DownloadLog
from notifications.samples import send_sample

# Each action here changes something (a link, a send), so it is for those who may change the
# request — owner, editors, staff; a viewer of a shared request gets the pages' 404.


def _get_job_for_user(request: HttpRequest, job_id: int) -> ExportJob:
    """The job if the user may change its request; 404 otherwise, like the pages."""
    return get_any_job_for_user(request.user, job_id, edit=True)


def _get_message_for_user(request: HttpRequest, message_id: int) -> NotificationMessage:
    """The message if the user may change its request; 404 otherwise."""
    messages_ = NotificationMessage.objects.select_related("request__owner").filter(
        request__in=changeable_requests(request.user)
    )
    return get_object_or_404(messages_, pk=message_id)


def _get_delivery_for_user(request: HttpRequest, delivery_id: int) -> Delivery:
    """The delivery if the user may change its job's request; 404 otherwise."""
    deliveries = Delivery.objects.select_related("job").filter(
        job__request__in=changeable_requests(request.user)
    )
    return get_object_or_404(deliveries, pk=delivery_id)


# Why a capability link does not work, and who can do what about it. A sign-in link is
# offered only where signing in helps: the export's owner can then download a file that is
# still kept, or run the export again. An invalid token has no owner to sign in as.
LINK_PROBLEMS = {
    "invalid": (
        404,
        "This download link is not valid.",
        "Check that the whole link was copied from the message (links are long). "
        "If it was, ask whoever sent it for a new one.",
        False,
    ),
    "revoked": (
        410,
        "This download link has been revoked.",
        "Someone who manages the export (its owner or an editor it is shared with) switched "
        "this link off. Ask whoever sent it for a new link. If you can see the export, sign "
        "in to download the file from its page while it is kept, or run the export again.",
        True,
    ),
    "expired": (
        410,
        "This download link has expired.",
        "Download links work for a limited time. Ask whoever sent it for a new link. "
        "If the export is yours, sign in to download the file from its page while it is "
        "kept, or run the export again.",
        True,
    ),
    "gone": (
        410,
        "The file is no longer available.",
        "Files are deleted when their retention period ends. Only the export's owner or an "
        "administrator can run the export again to make a new file: ask them, or sign in "
        "if the export is yours.",
        True,
    ),
    "storage": (
        503,
        "File storage is unreachable right now.",
        "The file is kept, but it cannot be fetched at the moment. Try the link again in a "
        "few minutes.",
        False,
    ),
}


def _unavailable(request: HttpRequest, problem: str, job: ExportJob | None = None) -> HttpResponse:
    # The same page for every holder, naming only the reason: nothing about the job, the
    # request or its owner is revealed to whoever holds the token — except to a signed-in
    # user who may see that request anyway, who gets a link to its page.
    status, reason, advice, sign_in_helps = LINK_PROBLEMS[problem]
    export = None
    if job is not None and visible_requests(request.user).filter(pk=job.request_id).exists():
        export = job.request
    context = {
        "reason": reason,
        "advice": advice,
        "export": export,
        "offer_sign_in": sign_in_helps and not request.user.is_authenticated,
    }
    response = render(request, "notifications/link_unavailable.html", context, status=status)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache
@require_safe
def download(request: HttpRequest, token: str) -> HttpResponse:
    """Stream a job's file to whoever holds a live capability link; log each download."""
    link = find_link(token)
    if link is None:
        return _unavailable(request, "invalid")
    job = link.job
    if link.is_revoked:
        return _unavailable(request, "revoked", job)
    if link.is_expired():
        return _unavailable(request, "expired", job)
    try:
        response = serve_job_file(job)
    except DownloadRefused as refused:
        # A link holder gets the link page's wording: no file here is "gone" for them.
        problem = "storage" if refused.kind == "storage" else "gone"
        return refused.with_headers(_unavailable(request, problem, job))
    if request.method == "GET":  # a HEAD downloads nothing
        DownloadLog.objects.create(
            link=link,
            job=job,
            ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_POST
def revoke_job_links(request: HttpRequest, job_id: int) -> HttpResponse:
    """Revoke every capability link to a job's file (owner, editors, staff)."""
    job = _get_job_for_user(request, job_id)
    count = revoke_links(job)
    if count:
        messages.success(request, f"Revoked {count} download link(s) to this file.")
    else:
        messages.info(request, "This file had no live download links.")
    return redirect("exports:detail", job.request_id)


@login_required
@require_POST
def test_send(request: HttpRequest, message_id: int) -> HttpResponse:
    """Send a sample of one notification message now and report the real outcome."""
    message = _get_message_for_user(request, message_id)
    label = f"{message.get_medium_display()} test notification"
    try:
        send_sample(message)
    except TransportError as exc:
        messages.error(request, f"The {label} failed: {exc}")
    else:
        messages.success(request, f"The {label} was sent.")
    return redirect("exports:detail", message.request_id)


@login_required
@require_POST
def resend_delivery(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """Send again a delivery whose outcome is unknown (owner, editors, staff): "Resend"."""
    delivery = _get_delivery_for_user(request, delivery_id)
    if delivery.resend():
        hand_over(delivery.pk)
        messages.success(request, "The notification will be sent again.")
    else:
        messages.info(request, f"This notification is {delivery.status}; it was not resent.")
    return redirect("exports:detail", delivery.job.request_id)
