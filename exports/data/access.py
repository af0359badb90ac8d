"""Who may see what: the one place that decides access to data, requests and their jobs.

Data: a user reads a channel's messages (preview, export, the catalog's names and figures)
only through a read grant — to the user or to a group they belong to, optionally narrowed to a
subtopic — and publishes through a publish grant. Staff read and publish everywhere. With
``EXPORTS_DATA_ACCESS=open`` every signed-in user reads every channel (one team). Every exit
asks :func:`read_scope` (or :func:`can_read`, which uses it).

Requests: a user sees the requests they own and those shared with them or with a team they
belong to (``RequestShare``); staff see all. A viewer sees a request, its jobs and deliveries and
downloads its files; an editor also changes, pauses, resumes and runs it; only the owner (and
staff) deletes it and decides whom it is shared with. A request one may not see is a 404, never
a 403, so the pages do not reveal which ids exist; one that is seen but may not be changed this
way raises :class:`RequestRefused` — a 404 on the pages, a 403 in the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from exports.models import ChannelGrant, ExportJob, ExportRequest, RequestShare, ShareRole
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


def publishable_anywhere(channels: set[str]):
    """A test ``(channel, subtopic) -> bool``: does some publish grant, to anyone, cover it?

    For messages that arrive with no identity of ours (the bus subscriber's ``grants`` rule):
    one query for all of ``channels``.
    """
    prefixes: dict[str, set[str]] = {}
    grants = ChannelGrant.objects.filter(channel_id__in=channels, can_publish=True)
    for channel, prefix in grants.values_list("channel_id", "subtopic"):
        prefixes.setdefault(channel, set()).add(prefix)

    def allows(channel: str, subtopic: str) -> bool:
        return any(subtopic_covers(prefix, subtopic) for prefix in prefixes.get(channel, ()))

    return allows


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


def _shares_of(user) -> QuerySet[RequestShare]:
    """The request shares that apply to ``user``: their own and their groups'."""
    return RequestShare.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))


def _requests(user, shared: QuerySet[RequestShare]) -> QuerySet[ExportRequest]:
    requests = ExportRequest.objects.all()
    if user is None or not user.is_authenticated or not user.is_active:
        return requests.none()
    if user.is_staff:
        return requests
    return requests.filter(Q(owner=user) | Q(pk__in=shared.values("request_id")))


def visible_requests(user) -> QuerySet[ExportRequest]:
    """The requests ``user`` may see: their own, those shared with them or their teams, or
    every request for staff."""
    if user is None or not user.is_authenticated:
        return ExportRequest.objects.none()
    return _requests(user, _shares_of(user))


def changeable_requests(user) -> QuerySet[ExportRequest]:
    """The requests ``user`` may change, pause and run: their own, those shared with them (or
    their teams) as editor, or every request for staff."""
    if user is None or not user.is_authenticated:
        return ExportRequest.objects.none()
    return _requests(user, _shares_of(user).filter(role=ShareRole.EDITOR))


def shared_with(user) -> QuerySet[ExportRequest]:
    """The requests shared with ``user`` or their teams that they do not own (any role)."""
    if user is None or not user.is_authenticated:
        return ExportRequest.objects.none()
    shared = _shares_of(user).values("request_id")
    return ExportRequest.objects.filter(pk__in=shared).exclude(owner=user)


@dataclass(frozen=True)
class RequestAccess:
    """What one user may do with one request they can see."""

    role: str  # "owner", "staff", "editor" or "viewer"

    @property
    def can_change(self) -> bool:
        """Edit, pause, resume, run, test-send, resend, revoke links."""
        return self.role != ShareRole.VIEWER

    @property
    def can_manage(self) -> bool:
        """Delete the request and decide whom it is shared with."""
        return self.role in ("owner", "staff")


def request_access(user, export: ExportRequest) -> RequestAccess | None:
    """``user``'s role on ``export``: ``None`` when they may not see it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if export.owner_id == user.pk:
        return RequestAccess("owner")
    if user.is_staff:
        return RequestAccess("staff")
    roles = set(_shares_of(user).filter(request=export).values_list("role", flat=True))
    if not roles:
        return None
    return RequestAccess(ShareRole.EDITOR if ShareRole.EDITOR in roles else ShareRole.VIEWER)


class RequestRefused(Http404):
    """The user sees the request but may not do this to it. A ``Http404``, so the pages answer
    404 as for a request they cannot see; the API answers 403 with the message."""


def get_request_for_user(user, pk: int, *, edit: bool = False, manage: bool = False):
    """The request ``pk`` if ``user`` may see it — and, with ``edit``, change it (owner,
    editors, staff), with ``manage``, delete it or change its shares (owner, staff).

    The request comes with ``access`` (a :class:`RequestAccess`). Raises ``Http404`` when it
    does not exist or is not visible, :class:`RequestRefused` when it is visible but the
    wanted right is missing.
    """
    export = get_object_or_404(visible_requests(user).select_related("owner"), pk=pk)
    export.access = request_access(user, export)
    if manage and not export.access.can_manage:
        raise RequestRefused("Only the owner of this export (or staff) may do that.")
    if edit and not export.access.can_change:
        raise RequestRefused("You may see this export but not change it (you are a viewer).")
    return export


def get_any_job_for_user(user, job_pk: int, *, edit: bool = False) -> ExportJob:
    """The job ``job_pk`` (with its ``request`` loaded) if ``user`` may see its request — and,
    with ``edit``, change it (revoke the file's links, resend its messages).

    Raises ``Http404`` otherwise, like :func:`get_job_for_user`.
    """
    requests = changeable_requests(user) if edit else visible_requests(user)
    jobs = ExportJob.objects.select_related("request__owner").filter(request__in=requests)
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


def unreadable_items(
    owner, items, *, again: bool = False, scope: ReadScope | None = None
) -> list[tuple[int, str]]:
    """(index, reason) of every item (anything with ``channel_id`` and ``subtopic``) whose
    data ``owner`` may not read — one scope lookup for all of them (or ``scope``, when the
    caller has it already)."""
    scope = scope if scope is not None else read_scope(owner)
    refusals = []
    for index, item in enumerate(items):
        reason = read_refusal(owner, item.channel_id, item.subtopic or "", scope=scope, again=again)
        if reason:
            refusals.append((index, reason))
    return refusals
