"""Changing who may read and publish: finding grantees and channels by name, giving and taking.

The ``grant``/``revoke`` commands, the access pages and the API all go through here, so a name
is found (or refused, with the closest names) the same way everywhere and adding rights to an
existing grant merges them. Deciding what a user may read stays in ``exports.data.access``.
Each save and delete emits its IAM event through the signals in ``exports.iam``.
"""

from __future__ import annotations

import difflib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from exports.models import Channel, ChannelGrant, Series


class GrantError(ValueError):
    """Input that names nothing, or asks for nothing: ``message`` for people, ``field`` for
    forms and the API's error path ("" when about the whole request)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def closest(text: str, known: list[str]) -> str:
    """`` Did you mean 'a', 'b'?`` for names like ``text``, or nothing."""
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def find_user(name: str, field: str = "user"):
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        known = list(get_user_model().objects.values_list("username", flat=True))
        raise GrantError(f"No user named {name!r}.{closest(name, known)}", field)
    return user


def find_group(name: str, field: str = "group") -> Group:
    group = Group.objects.filter(name=name).first()
    if group is None:
        known = list(Group.objects.values_list("name", flat=True))
        raise GrantError(f"No group named {name!r}.{closest(name, known)}", field)
    return group


def find_grantee(text: str) -> dict:
    """``{"user": …, "group": None}`` or ``{"group": …, "user": None}`` for ``alice``/``@team``."""
    if text.startswith("@"):
        return {"group": find_group(text[1:], "grantee"), "user": None}
    return {"user": find_user(text, "grantee"), "group": None}


def channel_name(channel_id: str) -> str | None:
    """The channel's name ("" when unnamed), or ``None`` when nothing knows this id.

    Known means: a catalog row, a series, or a grant (so a grant left on a channel that has
    gone from the catalog can still be seen and revoked).
    """
    named = Channel.objects.filter(channel_id=channel_id).values_list("name", flat=True).first()
    if named is not None:
        return named
    if (
        Series.objects.filter(channel=channel_id).exists()
        or ChannelGrant.objects.filter(channel_id=channel_id).exists()
    ):
        return ""
    return None


def find_channel(text: str, field: str = "channel") -> tuple[str, str]:
    """(channel id, display name) for a channel named or identified by ``text``.

    A name is matched without regard to case; a name two channels share is refused with
    their ids. An id the catalog does not know (no message yet, no name) is refused too, so
    a typo cannot create a grant on nothing.
    """
    text = text.strip()
    by_name = list(Channel.objects.filter(name__iexact=text).values_list("channel_id", "name"))
    if len(by_name) > 1:
        ids = ", ".join(channel_id for channel_id, _ in by_name)
        raise GrantError(f"Two or more channels are named {text!r} ({ids}): give the id.", field)
    if by_name:
        return by_name[0]
    named = Channel.objects.filter(channel_id=text).values_list("name", flat=True).first()
    if named is not None or Series.objects.filter(channel=text).exists():
        return text, named or ""
    known = list(Channel.objects.exclude(name="").values_list("name", flat=True))
    raise GrantError(f"No channel named or with id {text!r}.{closest(text, known)}", field)


def clean_subtopic(text: str, field: str = "subtopic") -> str:
    """A subtopic prefix as stored: trimmed; "" for the whole channel."""
    subtopic = text.strip()
    if subtopic != subtopic.strip("."):
        raise GrantError("A subtopic prefix neither starts nor ends with a dot.", field)
    if any(c.isspace() for c in subtopic):
        raise GrantError("A subtopic prefix has no spaces.", field)
    if ".." in subtopic:
        raise GrantError("A subtopic prefix has no empty segment (two dots in a row).", field)
    if len(subtopic) > ChannelGrant._meta.get_field("subtopic").max_length:
        raise GrantError("A subtopic prefix has at most 255 characters.", field)
    return subtopic


def clean_group_name(text: str, field: str = "name") -> str:
    """A new team's name: trimmed, without a slash (the API addresses teams by name), and
    not one that exists already, without regard to case."""
    name = text.strip()
    if not name:
        raise GrantError("A team needs a name.", field)
    if "/" in name:
        raise GrantError("A team name has no slash (the API addresses teams by name).", field)
    if len(name) > Group._meta.get_field("name").max_length:
        raise GrantError("A team name has at most 150 characters.", field)
    clash = Group.objects.filter(name__iexact=name).values_list("name", flat=True).first()
    if clash is not None:
        raise GrantError(f"A team named {clash!r} exists already.", field)
    return name


def _grant_of(grantee: dict, channel_id: str, subtopic: str) -> ChannelGrant | None:
    return (
        ChannelGrant.objects.select_for_update()
        .filter(channel_id=channel_id, subtopic=subtopic, **grantee)
        .first()
    )


def give(
    grantee: dict, channel_id: str, subtopic: str, *, read: bool, publish: bool
) -> tuple[ChannelGrant, bool]:
    """Add read and/or publish to what ``grantee`` holds on ``channel_id``/``subtopic``.

    Rights merge into an existing grant (nothing is taken away). Returns the grant and
    whether it is new. Call it acting as whoever asked (``exports.iam.acting_as``).
    """
    if not (read or publish):
        raise GrantError("Choose what to grant: read, publish, or both.", "read")
    with transaction.atomic():
        grant = _grant_of(grantee, channel_id, subtopic)
        created = grant is None
        if created:
            grant = ChannelGrant(channel_id=channel_id, subtopic=subtopic, **grantee)
        changed = (read and not grant.can_read) or (publish and not grant.can_publish)
        grant.can_read = grant.can_read or read
        grant.can_publish = grant.can_publish or publish
        if created or changed:  # granting what is held already emits no event
            grant.save()
    return grant, created


def take(
    grantee: dict, channel_id: str, subtopic: str, *, read: bool, publish: bool
) -> ChannelGrant | None:
    """Take read and/or publish from the grantee's grant; the grant goes when nothing is left.

    Returns the grant that remains, or ``None`` when it was deleted. Raises ``GrantError``
    when there is no such grant.
    """
    with transaction.atomic():
        grant = _grant_of(grantee, channel_id, subtopic)
        if grant is None:
            raise GrantError("There is no such grant.")
        keep_read = grant.can_read and not read
        keep_publish = grant.can_publish and not publish
        if keep_read or keep_publish:
            grant.can_read, grant.can_publish = keep_read, keep_publish
            grant.save()
            return grant
        grant.delete()  # its IAM event shows what was held
        return None


def delete_team(group: Group) -> None:
    """Delete a team so that the IAM events say what went: its grants (one event each), its
    members (one ``members.remove`` naming them), then the team."""
    with transaction.atomic():
        for grant in group.channel_grants.select_related("group"):
            grant.delete()
        members = list(group.user_set.all())
        if members:
            group.user_set.remove(*members)
        group.delete()


def describe(grantee: dict, channel_id: str, name: str, subtopic: str) -> str:
    """ "@team on Greenhouse (c1), subtopic events" for messages."""
    who = f"@{grantee['group'].name}" if grantee["group"] else grantee["user"].username
    where = f"{name} ({channel_id})" if name else channel_id
    return f"{who} on {where}" + (f", subtopic {subtopic}" if subtopic else "")
