"""Who may see what: the one place that decides access to data, requests and their jobs.

Data: a user reads a channel's messages (preview, export, the catalog's names and figures)
only through a read grant — to the user or to a group they belong to, optionally narrowed to a
subtopic — and publishes through a publish grant. Staff read and publish everywhere. With
``EXPORTS_DATA_ACCESS=open`` every signed-in user reads every channel (one team). Every exit
asks :func:`read_scope` (or :func:`can_read`, which uses it).

Requests: a user sees and edits only the requests they own; staff see and edit all. Anything
else is a 404, never a 403, so the pages do not reveal which ids exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from exports.models import ChannelGrant, ExportJob, ExportRequest
from exports.models.access import subtopic_covers

OPEN = "open"
GRANTS = "grants"


def access_mode() -> str:
    """``EXPORTS_DATA_ACCESS``: ``grants`` (the default: read through grants) or ``open``."""
    return getattr(settings, "EXPORTS_DATA_ACCESS", GRANTS)


def _grants_of(user) -> QuerySet[ChannelGrant]:
    """The grants that apply to ``user``: their own and their groups'."""
    return ChannelGrant.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))


@dataclass(frozen=True)
class ReadScope:
    """What one identity may read: everything, or some (channel, subtopic prefix) pairs."""

    everything: bool
    pairs: frozenset[tuple[str, str]] = frozenset()

    @property
    def nothing(self) -> bool:
        return not self.everything and not self.pairs

    def allows(self, channel: str, subtopic: str = "") -> bool:
        """Whether messages of ``channel``/``subtopic`` may be read."""
        if self.everything:
            return True
        return any(c == channel and subtopic_covers(p, subtopic) for c, p in self.pairs)

    def allows_channel(self, channel: str) -> bool:
        """Whether some part of ``channel`` may be read (it may be named and picked)."""
        return self.everything or any(c == channel for c, _ in self.pairs)

    def channels(self) -> set[str] | None:
        """The channels with something readable; ``None`` means every channel."""
        return None if self.everything else {c for c, _ in self.pairs}

    def q(self, channel_field: str = "channel", subtopic_field: str = "subtopic") -> Q:
        """A filter over rows with a channel and a subtopic column (series, messages)."""
        if self.everything:
            return Q()
        if not self.pairs:
            return Q(pk__in=[])
        condition = Q(pk__in=[])
        for channel, prefix in sorted(self.pairs):
            part = Q(**{channel_field: channel})
            if prefix:
                part &= Q(**{subtopic_field: prefix}) | Q(
                    **{f"{subtopic_field}__startswith": prefix + "."}
                )
            condition |= part
        return condition

    def filter(
        self, rows: QuerySet, channel_field: str = "channel", subtopic_field: str = "subtopic"
    ):
        return rows if self.everything else rows.filter(self.q(channel_field, subtopic_field))


NOTHING = ReadScope(everything=False)


def read_scope(user) -> ReadScope:
    """What ``user`` may read: the one decision every exit of data asks."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_staff or access_mode() == OPEN:
        return ReadScope(everything=True)
    pairs = _grants_of(user).filter(can_read=True).values_list("channel_id", "subtopic")
    return ReadScope(everything=False, pairs=frozenset(pairs))


def can_read(user, channel: str, subtopic: str = "") -> bool:
    """Whether ``user`` may read messages of ``channel``/``subtopic``."""
    return read_scope(user).allows(channel, subtopic)


MANAGE_ACCESS = "exports.manage_access"


def may_manage_access(user) -> bool:
    """Who may grant, revoke and edit teams: staff, and users holding ``exports.manage_access``
    (themselves or through a group)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or user.has_perm(MANAGE_ACCESS)


def can_publish(user, channel: str, subtopic: str = "") -> bool:
    """Whether ``user`` may store messages in ``channel``/``subtopic`` over HTTP.

    Staff may publish anywhere; others through a publish grant (to them or their group). The
    access mode does not open publishing.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    prefixes = _grants_of(user).filter(channel_id=channel, can_publish=True)
    return any(subtopic_covers(p, subtopic) for p in prefixes.values_list("subtopic", flat=True))


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


def channel_label(channel_id: str) -> str:
    """How a refusal names a channel: its catalog name when it has one, else the id."""
    from exports.models import Channel

    name = Channel.objects.filter(channel_id=channel_id).values_list("name", flat=True).first()
    return name or channel_id


def read_refusal(
    owner,
    channel_id: str,
    subtopic: str = "",
    *,
    scope: ReadScope | None = None,
    again: bool = False,
) -> str:
    """Why ``owner`` may not export ``channel_id``/``subtopic`` (empty when they may).

    The same words on pages and API ("alice may not read Greenhouse"), and, with ``again``, at
    run time after a grant was revoked ("alice may no longer read Greenhouse").
    """
    scope = scope if scope is not None else read_scope(owner)
    if scope.allows(channel_id, subtopic):
        return ""
    who = owner.get_username() if owner is not None else "nobody"
    verb = "may no longer read" if again else "may not read"
    where = channel_label(channel_id)
    if scope.allows_channel(channel_id):
        shown = f"subtopic {subtopic!r}" if subtopic else "messages without a subtopic"
        return f"{who} {verb} {shown} of {where}."
    return f"{who} {verb} {where}."


def unreadable_items(owner, items, *, again: bool = False) -> list[tuple[int, str]]:
    """(index, reason) of every item (anything with ``channel_id`` and ``subtopic``) whose
    data ``owner`` may not read — one scope lookup for all of them."""
    scope = read_scope(owner)
    refusals = []
    for index, item in enumerate(items):
        reason = read_refusal(owner, item.channel_id, item.subtopic or "", scope=scope, again=again)
        if reason:
            refusals.append((index, reason))
    return refusals
