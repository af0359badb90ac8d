"""One transport class per medium, and the registry that picks one for a message."""

from __future__ import annotations

from exports.models import NotificationMessage
from exports.requests.vocabulary import Medium
from notifications.errors import TransportError
from notifications.transports.base import Transport
from notifications.transports.discord import Discord
from notifications.transports.email import Email
from notifications.transports.slack import Slack
from notifications.transports.telegram import Telegram

TRANSPORTS: dict[str, type[Transport]] = {
    Medium.EMAIL: Email,
    Medium.SLACK: Slack,
    Medium.TELEGRAM: Telegram,
    Medium.DISCORD: Discord,
}


def transport_for(message: NotificationMessage) -> Transport:
    """The transport that sends ``message``.

    Raises ``TransportError`` (permanent) for a medium with no transport.
    """
    try:
        return TRANSPORTS[message.medium](message)
    except KeyError:
        raise TransportError(
            f"No transport for medium {message.medium!r}.", permanent=True
        ) from None


__all__ = ["TRANSPORTS", "Transport", "TransportError", "transport_for"]
