"""Pages for managing access: channels by name with their grants, granting and revoking, teams.

For staff and holders of ``exports.manage_access``; to everyone else signed in these pages do
not exist (404), as the pages never reveal what exists. Rights are given and taken through
``exports.data.granting`` (the ``grant`` command's rules: rights merge into an existing
grant); each change emits its IAM event through the model signals, acting as the signed-in
user (``exports.iam.ActorMiddleware``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from exports.data.access import OPEN, access_mode, may_manage_access
from exports.data.channels import channel_grants, channel_rows, subtopic_options
from exports.data.granting import (
    channel_name,
    delete_team,
    describe,
    give,
)
from exports.models import Channel, ChannelGrant
from exports.views.access_forms import GrantForm, GroupForm, MemberForm

MODE_WORDS = {
    OPEN: "Every signed-in user reads every channel (one team); grants still decide who publishes.",
    "grants": "Users read only the channels (or subtopics) granted to them or to their teams; "
    "staff read everything.",
}


def manages_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in first; then staff or ``exports.manage_access``, else a 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not may_manage_access(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def _mode() -> dict[str, str]:
    mode = access_mode()
    return {"mode": mode, "mode_words": MODE_WORDS.get(mode, MODE_WORDS["grants"])}


@manages_access
@require_safe
def channel_list(request: HttpRequest) -> HttpResponse:
    """Every channel by name, with its series count and grants; the access mode on top."""
    return render(request, "exports/access/channels.html", {"rows": channel_rows(), **_mode()})


def _known_channel(channel_id: str) -> str:
    name = channel_name(channel_id)
    if name is None:
        raise Http404("No such channel.")
    return name


@manages_access
@require_http_methods(["GET", "HEAD", "POST"])
def channel_detail(request: HttpRequest, channel_id: str) -> HttpResponse:
    """One channel's grants; a POST grants read and/or publish to a team or a user."""
    name = _known_channel(channel_id)
    subtopics = subtopic_options(channel_id)
    form = GrantForm(request.POST if request.method == "POST" else None, subtopics=subtopics)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            grantee, where = data["grantee"], data["where"]
            grant, _ = give(grantee, channel_id, where, read=data["read"], publish=data["publish"])
            label = describe(grantee, channel_id, name, where)
            messages.success(request, f"{label}: may now {grant.rights}.")
            return redirect("exports:access-channel", channel_id=channel_id)
        status = 422
    context = {
        "channel_id": channel_id,
        "name": name,
        "grants": channel_grants(channel_id),
        "subtopics": subtopics,
        "form": form,
        **_mode(),
    }
    return render(request, "exports/access/channel.html", context, status=status)


@manages_access
@require_POST
def grant_revoke(request: HttpRequest, channel_id: str, pk: int) -> HttpResponse:
    """Take the whole grant ``pk`` away (its IAM event records what it allowed)."""
    grant = get_object_or_404(
        ChannelGrant.objects.select_related("user", "group"), pk=pk, channel_id=channel_id
    )
    grantee = {"user": grant.user, "group": grant.group}
    label = describe(grantee, channel_id, channel_name(channel_id) or "", grant.subtopic)
    grant.delete()
    messages.success(request, f"{label}: {grant.rights} revoked.")
    return redirect("exports:access-channel", channel_id=channel_id)


def _groups():
    members = Prefetch("user_set", queryset=get_user_model().objects.order_by("username"))
    return (
        Group.objects.order_by("name")
        .annotate(grant_count=Count("channel_grants", distinct=True))
        .prefetch_related(members)
    )


@manages_access
@require_http_methods(["GET", "HEAD", "POST"])
def group_list(request: HttpRequest) -> HttpResponse:
    """Every team with its members; a POST creates a team."""
    form = GroupForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            group = Group.objects.create(name=form.cleaned_data["name"])
            messages.success(request, f"Team @{group.name} created: add its members.")
            return redirect("exports:access-group", pk=group.pk)
        status = 422
    context = {"groups": _groups(), "form": form}
    return render(request, "exports/access/groups.html", context, status=status)


@manages_access
@require_http_methods(["GET", "HEAD", "POST"])
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One team: its members and grants; a POST adds a member."""
    group = get_object_or_404(_groups(), pk=pk)
    form = MemberForm(request.POST if request.method == "POST" else None, group=group)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = form.cleaned_data["user"]
            group.user_set.add(user)
            messages.success(request, f"{user.get_username()} is now in @{group.name}.")
            return redirect("exports:access-group", pk=group.pk)
        status = 422
    grants = list(group.channel_grants.all())
    names = dict(
        Channel.objects.filter(channel_id__in={g.channel_id for g in grants}).values_list(
            "channel_id", "name"
        )
    )
    context = {
        "group": group,
        "members": group.user_set.all(),
        "grants": [(grant, names.get(grant.channel_id, "")) for grant in grants],
        "form": form,
    }
    return render(request, "exports/access/group.html", context, status=status)


@manages_access
@require_POST
def member_remove(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    """Take one member out of a team (a user not in it is a 404)."""
    group = get_object_or_404(Group, pk=pk)
    user = get_object_or_404(group.user_set, pk=user_pk)
    group.user_set.remove(user)
    messages.success(request, f"{user.get_username()} is no longer in @{group.name}.")
    return redirect("exports:access-group", pk=group.pk)


@manages_access
@require_http_methods(["GET", "HEAD", "POST"])
def group_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then delete a team with its grants (its members keep their own grants)."""
    group = get_object_or_404(_groups(), pk=pk)
    if request.method == "POST":
        name = group.name
        delete_team(group)
        messages.success(request, f"Team @{name} deleted, with its grants.")
        return redirect("exports:access-groups")
    return render(request, "exports/access/group_confirm_delete.html", {"group": group})
