"""Where a notification message goes: validating targets and refusing private network addresses.

A message's target is part of the export request, so its validator lives here, beside the
request's other validators: the models check it when a request is saved (``exports`` never
imports ``notifications``), and the notifications app judges webhook URLs again with the same
functions when it connects.

A target is an email address or ``@team`` (email: every member of the Django group ``team``,
read when the message is sent; the models check that the group exists), a webhook URL (Slack,
Discord) or a chat id (Telegram). Webhook URLs are user input that this server will POST to, so
the same two functions judge them when a request is saved and again when the
HTTP wrapper connects (DNS may have changed in between):

* :func:`parse_webhook_url` — the URL must parse to https (http only for hosts
  the operator allowed), a well-formed host name or IP literal, no credentials,
  no IPv6 zone id, no control characters or spaces;
* :func:`resolve_public` — the host must resolve, and every address it resolves
  to must be public: not loopback, private, link-local, shared, reserved or
  multicast, including those forms hidden inside IPv6 (IPv4-mapped, NAT64
  ``64:ff9b::/96``, 6to4 ``2002::/16``, IPv4-compatible ``::/96``).

Both raise ``ValidationError``; ``code="unresolvable"`` marks a DNS failure,
which the sender treats as transient (a save refuses it all the same).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from exports.requests.validation import storable_text_error
from exports.requests.vocabulary import Medium

TELEGRAM_CHAT = re.compile(r"^(-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
WEBHOOK_MEDIA = {Medium.SLACK: "Slack", Medium.DISCORD: "Discord"}
# One DNS label of an IDNA-encoded host name (underscores occur in real service names).
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# A last label of digits or hex (127.1, 2130706433, 0x7f.1) is an IP address in a form
# that C resolvers accept and people cannot read; only the usual forms are allowed.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# Two settings of the notifications app that saving a target depends on; notifications.conf
# re-exports them, so each default is still written once.
def allowed_hosts() -> set[str]:
    """Webhook hosts exempt from the private-address rule (and allowed to use plain http)."""
    return {host.lower() for host in getattr(settings, "NOTIFICATIONS_ALLOWED_HOSTS", [])}


def telegram_bot_token() -> str:
    return getattr(settings, "TELEGRAM_BOT_TOKEN", "")


@dataclass(frozen=True)
class WebhookURL:
    """A parsed webhook URL: what to connect to and what to ask for."""

    scheme: str
    host: str  # lower case, IDNA-encoded (ASCII); an IPv6 literal without brackets
    port: int
    target: str  # path and query, as sent in the request line
    is_allowed: bool  # listed in NOTIFICATIONS_ALLOWED_HOSTS: private addresses and http allowed

    @property
    def is_ip_literal(self) -> bool:
        return _ip_or_none(self.host) is not None


def parse_webhook_url(url: str, service: str) -> WebhookURL:
    """Parse a webhook URL by the rules in the module text.

    Returns a :class:`WebhookURL`. Raises ``ValidationError`` saying what is wrong.
    """
    if not isinstance(url, str) or not url:
        raise ValidationError(f"Enter a {service} webhook URL such as https://host/path.")
    if reason := storable_text_error(url):
        raise ValidationError(f"The {service} webhook URL {reason}")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        # urlsplit would silently drop tabs and line breaks: refuse rather than guess.
        raise ValidationError(f"The {service} webhook URL cannot contain spaces or line breaks.")
    try:
        parts = urlsplit(url)
        raw_host = parts.hostname or ""
    except ValueError as exc:  # say, an unclosed [ of an IPv6 address
        raise ValidationError(f"The {service} webhook URL cannot be read: {exc}.") from None
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(f"The {service} webhook URL has an invalid port.") from None
    if "%" in raw_host:
        raise ValidationError(
            f"The {service} webhook URL names an IPv6 zone (%…); use a public host name."
        )
    host = _host_name(raw_host, service)
    allowed = bool(host) and is_allowed_host(host)
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allowed and scheme == "http"):
        raise ValidationError(f"A {service} target must be an https:// webhook URL.")
    if not host or parts.username is not None or parts.password is not None:
        raise ValidationError(f"Enter a {service} webhook URL such as https://host/path.")
    if port == 0:
        raise ValidationError(f"The {service} webhook URL has an invalid port.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookURL(scheme, host, port or (443 if scheme == "https" else 80), target, allowed)


def _host_name(raw: str, service: str) -> str:
    """The host as an IP literal or an IDNA-encoded, well-formed DNS name ('' if none)."""
    if not raw or _ip_or_none(raw) is not None:
        return raw
    invalid = ValidationError(f"The {service} webhook URL has an invalid host name.")
    name = raw[:-1] if raw.endswith(".") else raw  # one trailing dot: the DNS root
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:  # an empty label (a..b), a label too long, bad characters
        raise invalid from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise invalid
    if _NUMERIC_LABEL.match(labels[-1]):
        raise ValidationError(
            f"The {service} webhook URL writes an IP address in an unusual form; "
            "use a host name or a dotted IPv4 / bracketed IPv6 address."
        )
    return ascii_name


def _ip_or_none(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast IP address.

    Loopback, private, shared (100.64/10), link-local, reserved, unspecified and multicast
    addresses are not public, nor an IPv6 address with a zone id; an IPv6 address that
    embeds an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address it carries.
    """
    if "%" in address:
        return False  # a zone id only makes sense for link-local addresses
    ip = _ip_or_none(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _is_public(embedded)
    return _is_public(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global alone misses ranges Python files under "reserved" (::/8, which holds the
    # IPv4-compatible ::a.b.c.d) and the deprecated site-local fec0::/10.
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not getattr(ip, "is_site_local", False)
    )


def is_allowed_host(host: str) -> bool:
    """True if the operator listed the host in ``NOTIFICATIONS_ALLOWED_HOSTS``."""
    return host.lower().strip("[]") in allowed_hosts()


def resolve_public(webhook: WebhookURL, service: str) -> list[str]:
    """The addresses to connect to for ``webhook``, all of them public (see the module text).

    An allowed host is exempt from the public-address rule. Raises ``ValidationError``
    (``code="unresolvable"`` when the name does not resolve, ``code="private"`` when an
    address is not public).
    """
    try:
        addresses = resolve(webhook.host, webhook.port)
    except (OSError, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "no address"
        raise ValidationError(
            f"The {service} webhook host {webhook.host} does not resolve ({reason}).",
            code="unresolvable",
        ) from None
    if not addresses:
        raise ValidationError(
            f"The {service} webhook host {webhook.host} does not resolve (no address).",
            code="unresolvable",
        )
    if not webhook.is_allowed and not all(is_public_address(ip) for ip in addresses):
        raise ValidationError(
            f"The {service} webhook URL points to a private or local network address.",
            code="private",
        )
    return addresses


def resolve(host: str, port: int) -> list[str]:
    """The IP addresses a host name resolves to (the literal itself for an IP).

    Raises ``OSError`` when the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def validate_webhook_url(url: str, service: str) -> None:
    """Check a webhook URL as it will be used when sending: parse it and resolve it.

    Raises ``ValidationError`` with a message for the form.
    """
    resolve_public(parse_webhook_url(url, service), service)


def team_name(medium: str, target: str) -> str | None:
    """The group an email target ``@team`` names (``None`` for any other target)."""
    target = (target or "").strip()
    if medium == Medium.EMAIL and target.startswith("@"):
        return target[1:].strip()
    return None


def validate_target(medium: str, target: str) -> None:
    """Check a message's target for its medium.

    Email: empty (the request owner), one address, or ``@team`` (a group name; whether it
    exists is the models' question: this module reads no table). Slack, Discord: an https
    webhook URL whose host resolves to public addresses only (hosts in
    ``NOTIFICATIONS_ALLOWED_HOSTS`` excepted, and they may use http). Telegram:
    a numeric chat id (negative for groups) or an @channel name, and a bot token
    configured to send with. Raises ``ValidationError``.
    """
    if reason := storable_text_error(target or ""):
        raise ValidationError(f"The target {reason}")
    target = (target or "").strip()
    if medium not in Medium.values:
        raise ValidationError(f"Unknown medium {medium!r}.")
    if medium == Medium.EMAIL:
        if team_name(medium, target) == "":
            raise ValidationError("Name a team after the @, such as @cold-chain.")
        if target and team_name(medium, target) is None:
            validate_email(target)
        return
    if not target:
        raise ValidationError(f"A {Medium(medium).label} message needs a target.")
    if medium in WEBHOOK_MEDIA:
        validate_webhook_url(target, WEBHOOK_MEDIA[medium])
    elif medium == Medium.TELEGRAM:
        if not TELEGRAM_CHAT.match(target):
            raise ValidationError(
                "A Telegram target is a chat id such as 123456789 or -1001234567890, "
                "or a channel name such as @my_channel."
            )
        if not telegram_bot_token():
            raise ValidationError(
                "Telegram messages cannot be sent: this server has no TELEGRAM_BOT_TOKEN "
                "configured. Ask the operator to set it, or choose another medium."
            )


def describe_target(medium: str, target: str) -> str:
    """A target as it may be shown to people: webhook URLs are reduced to their host."""
    if medium in WEBHOOK_MEDIA:
        try:
            return urlsplit(target).hostname or ""
        except ValueError:
            return ""
    return target
