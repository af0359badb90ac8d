"""Sharing a request on its page: who it is shared with, and (owner and staff) the form that
shares it with a user or a team and the buttons that stop sharing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from exports.data.access import get_request_for_user
from exports.models import ExportRequest
from exports.requests.sharing import ShareForm, shares_of


def shares_context(export: ExportRequest, form: ShareForm | None = None) -> dict:
    """What the request page shows about sharing: the user's role, the shares, the form."""
    access = export.access
    manage = access is not None and access.can_manage
    return {
        "access": access,
        "shares": list(shares_of(export)),
        "share_form": (form or ShareForm(export=export)) if manage else None,
    }


@login_required
@require_POST
def share_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Share the request with a user or a team, or change their role (owner and staff)."""
    export = get_request_for_user(request.user, pk, manage=True)
    form = ShareForm(request.POST, export=export)
    if not form.is_valid():
        reasons = " ".join(error for errors in form.errors.values() for error in errors)
        messages.error(request, f"Not shared: {reasons}")
        return redirect(f"{export.get_absolute_url()}#sharing")
    with transaction.atomic():
        share = form.save()
    messages.success(
        request, f"Export “{export.name}” is shared with {share.grantee} as {share.role}."
    )
    return redirect(f"{export.get_absolute_url()}#sharing")


@login_required
@require_POST
def share_remove(request: HttpRequest, pk: int, share_pk: int) -> HttpResponse:
    """Stop sharing the request with one user or team (owner and staff)."""
    export = get_request_for_user(request.user, pk, manage=True)
    share = export.shares.select_related("user", "group").filter(pk=share_pk).first()
    if share is None:
        raise Http404("No such share of this export.")
    with transaction.atomic():
        share.delete()
    messages.success(request, f"Export “{export.name}” is no longer shared with {share.grantee}.")
    return redirect(f"{export.get_absolute_url()}#sharing")
