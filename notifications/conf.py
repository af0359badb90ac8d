"""The notifications app's settings, each with its default in one place.

The site's settings module reads these from the environment through its strict
helpers; this module only supplies defaults, so the app also works with bare
Django settings (tests, scripts). The two that saving a message's target depends on
(``allowed_hosts``, ``telegram_bot_token``) are defined beside the target validator in
``exports.requests.recipients`` and re-exported here.
"""

from __future__ import annotations

from django.conf import settings

from exports.requests.durations import Duration
from exports.requests.recipients import allowed_hosts as allowed_hosts
from exports.requests.recipients import telegram_bot_token as telegram_bot_token
from exports.requests.validation import parse_duration


def site_url() -> str:
    """The absolute base of every link in a message, without a trailing slash."""
    return getattr(settings, "SITE_URL", "http://127.0.0.1:8000").rstrip("/")


def capability_links_enabled() -> bool:
    """Whether messages carry ``/d/<token>`` links (False: the login-protected link instead)."""
    return bool(getattr(settings, "NOTIFICATIONS_CAPABILITY_LINKS", True))


def http_timeout() -> float:
    """Seconds to wait for a provider to connect or answer."""
    return float(getattr(settings, "NOTIFICATIONS_HTTP_TIMEOUT", 10))


def max_attempts() -> int:
    """How many times a delivery is tried before a transient error becomes final."""
    return int(getattr(settings, "NOTIFICATIONS_MAX_ATTEMPTS", 5))


def retry_backoff() -> list[float]:
    """Seconds to wait before attempt 2, 3, ...; the last value repeats."""
    return [float(s) for s in getattr(settings, "NOTIFICATIONS_RETRY_BACKOFF", [30, 120, 600])]


def max_retry_after() -> float:
    """The longest Retry-After we honour; a provider asking for more is retried at this cap."""
    return float(getattr(settings, "NOTIFICATIONS_MAX_RETRY_AFTER", 3600))


def sending_timeout() -> float:
    """Seconds a delivery may stay ``sending`` before it is marked ``unknown``.

    Longer than any provider timeout plus the notifications queue's job timeout, so only a
    worker that died mid-send leaves a row this long."""
    return float(getattr(settings, "NOTIFICATIONS_SENDING_TIMEOUT", 300))


def telegram_api_base() -> str:
    return getattr(settings, "TELEGRAM_API_BASE", "https://api.telegram.org").rstrip("/")


def retention() -> Duration:
    """How long a finished export file is kept (``EXPORTS_RETENTION``), counted in UTC."""
    return parse_duration(getattr(settings, "EXPORTS_RETENTION", "P7D"))


def link_ttl() -> Duration:
    """How long a capability link lives (``EXPORTS_LINK_TTL``, default the retention)."""
    return parse_duration(
        getattr(settings, "EXPORTS_LINK_TTL", None) or getattr(settings, "EXPORTS_RETENTION", "P7D")
    )


def attach_max_bytes() -> int:
    """The largest file an email message attaches (``attach: true``); bigger ones are linked."""
    return int(getattr(settings, "NOTIFICATIONS_ATTACH_MAX_BYTES", 10 * 1024 * 1024))
