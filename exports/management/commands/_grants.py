"""What ``grant`` and ``revoke`` share: their arguments, and the finders of
``exports.data.granting`` answering with a ``CommandError``."""

from __future__ import annotations

import contextlib

from django.core.management.base import CommandError

from exports.data import granting
from exports.data.granting import describe

__all__ = ["add_grant_arguments", "as_command_error", "describe", "find_channel", "find_grantee"]


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


@contextlib.contextmanager
def as_command_error():
    """Turn a ``GrantError`` raised inside the block into a ``CommandError``."""
    try:
        yield
    except granting.GrantError as exc:
        raise CommandError(exc.message) from None


def find_grantee(text: str) -> dict:
    """``{"user": …}`` or ``{"group": …}`` for ``alice`` or ``@team``."""
    with as_command_error():
        return granting.find_grantee(text)


def find_channel(text: str) -> tuple[str, str]:
    """(channel id, display name) for a channel named or identified by ``text``."""
    with as_command_error():
        return granting.find_channel(text)
