"""Settings checked when a process starts (web, worker, scheduler, subscriber, commands).

``exporter_site.env`` already refuses text that is no number, boolean or ISO 8601 duration.
What it cannot know are the product's own rules, which live in the product's modules: every
duration follows ``exports.requests.durations`` (positive, whole months, at most a century —
P0D where the setting documents it as "off"), every rate follows ``exports.ops.ratelimit``.
Checked here once, at start-up, a typo stops the process with every bad setting named,
instead of turning the first request that reads it into a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

# Durations and whether P0D is allowed (documented as "off" or "keep for ever").
DURATION_SETTINGS = {
    "EXPORTS_RETENTION": True,
    "EXPORTS_MIN_PERIODICITY": False,
    "EXPORTS_PRUNE_INTERVAL": True,
    "EXPORTS_JOB_ROW_RETENTION": True,
    "IAM_EVENTS_RETENTION": True,
    "MESSAGES_RETENTION": True,
    "API_TOKEN_DEFAULT_LIFETIME": False,
    "EXPORTS_LINK_TTL": True,
    "SUBSCRIBER_DEDUP_WINDOW": False,
}
RATE_SETTINGS = (
    "API_THROTTLE_RATE",
    "API_ANON_THROTTLE_RATE",
    "AUTH_FAILURE_RATE",
    "LOGIN_FAILURE_RATE_PER_USER",
)


def problems() -> list[str]:
    """One line per setting that breaks its rule (empty when all are fine)."""
    from exports.ops.ratelimit import Rate
    from exports.requests.durations import Duration

    found = []
    for name, zero_allowed in DURATION_SETTINGS.items():
        if not hasattr(settings, name):
            continue
        value = getattr(settings, name)
        try:
            Duration.parse(value)
        except ValidationError as error:
            if not (zero_allowed and error.code == "not_positive"):
                found.append(f"{name}={value!r}: {error.messages[0]}")
    for name in RATE_SETTINGS:
        if not hasattr(settings, name):
            continue
        try:
            Rate.parse(getattr(settings, name), name)
        except ImproperlyConfigured as error:
            found.append(str(error))
    return found


def check_settings() -> None:
    """Raise ``ImproperlyConfigured`` naming every setting that breaks its rule."""
    found = problems()
    if found:
        raise ImproperlyConfigured("Settings to fix before start-up:\n  " + "\n  ".join(found))
