"""Strict readers for settings that come from the environment.

Each helper returns the default when the variable is unset and raises
ImproperlyConfigured when it is set to something it cannot parse, so a typo in
a deployment fails at start-up instead of being silently ignored.
"""

import os
from datetime import timedelta

import isodate
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared lower-case)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def env_required(name: str, reason: str) -> str:
    """A variable that must be set (non-empty) because of ``reason``."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set {reason}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_duration(name: str, default: str, *, positive: bool = False) -> str:
    """Return an ISO 8601 duration string after checking that it parses (and, if
    ``positive``, that it is longer than zero)."""
    raw = os.environ.get(name, default)
    try:
        parsed = isodate.parse_duration(raw)
    except (isodate.ISO8601Error, ValueError):
        raise ImproperlyConfigured(f"{name} must be an ISO 8601 duration, got {raw!r}") from None
    if positive and not _longer_than_zero(parsed):
        raise ImproperlyConfigured(f"{name} must be longer than zero, got {raw!r}")
    return raw


def _longer_than_zero(parsed) -> bool:
    if isinstance(parsed, isodate.Duration):
        return parsed.years > 0 or parsed.months > 0 or parsed.tdelta > timedelta(0)
    return parsed > timedelta(0)
