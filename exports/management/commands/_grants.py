"""What ``grant`` and ``revoke`` share: finding the grantee and the channel by name."""

from __future__ import annotations

import difflib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError

from exports.models import Channel, Series


def add_grant_arguments(parser, verb: str) -> None:
    parser.add_argument("grantee", help="A user name, or @GROUP for a team (a Django group).")
    parser.add_argument("channel", help="The channel's name (as in the catalog) or its id.")
    parser.add_argument("--read", action="store_true", help=f"{verb} read access.")
    parser.add_argument("--publish", action="store_true", help=f"{verb} publish access.")
    parser.add_argument(
        "--subtopic",
        default="",
        help="Narrow to a subtopic prefix (events covers events.data); default: whole channel.",
    )


def find_grantee(text: str) -> dict:
    """``{"user": …}`` or ``{"group": …}`` for ``alice`` or ``@team``."""
    if text.startswith("@"):
        name = text[1:]
        group = Group.objects.filter(name=name).first()
        if group is None:
            known = list(Group.objects.values_list("name", flat=True))
            raise CommandError(f"No group named {name!r}.{_closest(name, known)}")
        return {"group": group, "user": None}
    user = get_user_model().objects.filter(username=text).first()
    if user is None:
        known = list(get_user_model().objects.values_list("username", flat=True))
        raise CommandError(f"No user named {text!r}.{_closest(text, known)}")
    return {"user": user, "group": None}


def find_channel(text: str) -> tuple[str, str]:
    """(channel id, display name) for a channel named or identified by ``text``.

    A name is matched without regard to case; a name two channels share is refused with
    their ids. An id the catalog does not know (no message yet, no name) is refused too, so
    a typo cannot create a grant on nothing.
    """
    text = text.strip()
    by_name = list(Channel.objects.filter(name__iexact=text).values_list("channel_id", "name"))
    if len(by_name) > 1:
        ids = ", ".join(channel_id for channel_id, _ in by_name)
        raise CommandError(f"Two or more channels are named {text!r} ({ids}): give the id.")
    if by_name:
        return by_name[0]
    named = Channel.objects.filter(channel_id=text).values_list("name", flat=True).first()
    if named is not None or Series.objects.filter(channel=text).exists():
        return text, named or ""
    known = list(Channel.objects.exclude(name="").values_list("name", flat=True))
    raise CommandError(f"No channel named or with id {text!r}.{_closest(text, known)}")


def _closest(text: str, known: list[str]) -> str:
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def describe(grantee: dict, channel_id: str, name: str, subtopic: str) -> str:
    who = f"@{grantee['group'].name}" if grantee["group"] else grantee["user"].username
    where = f"{name} ({channel_id})" if name else channel_id
    return f"{who} on {where}" + (f", subtopic {subtopic}" if subtopic else "")
