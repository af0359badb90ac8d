"""Where a message goes: validating targets and refusing private network addresses.

A target is an email address (email), a webhook URL (Slack, Discord) or a chat
id (Telegram). Webhook URLs are user input that this server will POST to, so a
URL pointing into the private network (the database, Redis, a cloud metadata
endpoint) is refused here when the request is saved and again by the HTTP
wrapper when it connects, because DNS may have changed in between.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from exports.vocabulary import Medium

from . import conf

TELEGRAM_CHAT = re.compile(r"^(-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
WEBHOOK_MEDIA = {Medium.SLACK: "Slack", Medium.DISCORD: "Discord"}


def is_public_address(address: str) -> bool:
    """True for a globally routable IP address (not private, loopback, link-local, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is loopback, whatever its spelling
    return ip.is_global and not ip.is_multicast


def is_allowed_host(host: str) -> bool:
    """True if the operator listed the host in ``NOTIFICATIONS_ALLOWED_HOSTS``."""
    return host.lower().strip("[]") in conf.allowed_hosts()


def resolve(host: str, port: int) -> list[str]:
    """The IP addresses a host name resolves to (the literal itself for an IP).

    Raises ``OSError`` when the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def validate_webhook_url(url: str, service: str) -> None:
    """Check a webhook URL: https, a host, and no private address unless the host is allowed.

    A name that does not resolve right now is accepted (DNS may be unreachable
    from where the request is saved); the connection-time check still applies.
    Raises ``ValidationError`` with a message for the form.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = bool(host) and is_allowed_host(host)
    if parts.scheme != "https" and not (allowed and parts.scheme == "http"):
        raise ValidationError(f"A {service} target must be an https:// webhook URL.")
    if not host or parts.username or parts.password:
        raise ValidationError(f"Enter a {service} webhook URL such as https://host/path.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError(f"The {service} webhook URL has an invalid port.") from None
    if allowed:
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return
    if not all(is_public_address(address) for address in addresses):
        raise ValidationError(
            f"The {service} webhook URL points to a private or local network address."
        )


def validate_target(medium: str, target: str) -> None:
    """Check a message's target for its medium.

    Email: empty (the request owner) or one address. Slack, Discord: an https
    webhook URL outside private address ranges (hosts in
    ``NOTIFICATIONS_ALLOWED_HOSTS`` excepted, and they may use http). Telegram:
    a numeric chat id (negative for groups) or an @channel name.
    Raises ``ValidationError``.
    """
    target = (target or "").strip()
    if medium not in Medium.values:
        raise ValidationError(f"Unknown medium {medium!r}.")
    if medium == Medium.EMAIL:
        if target:
            validate_email(target)
        return
    if not target:
        raise ValidationError(f"A {Medium(medium).label} message needs a target.")
    if medium in WEBHOOK_MEDIA:
        validate_webhook_url(target, WEBHOOK_MEDIA[medium])
    elif medium == Medium.TELEGRAM and not TELEGRAM_CHAT.match(target):
        raise ValidationError(
            "A Telegram target is a chat id such as 123456789 or -1001234567890, "
            "or a channel name such as @my_channel."
        )


def describe_target(medium: str, target: str) -> str:
    """A target as it may be shown to people: webhook URLs are reduced to their host."""
    if medium in WEBHOOK_MEDIA:
        return urlsplit(target).hostname or ""
    return target
