"""The per-installation namespace of our RQ job ids and Redis keys.

Installations may share one Redis (two sites, a test run next to a dev server). Every RQ
job id we make starts with ``<instance>-`` and every Redis key of ours (locks, counters,
the IAM stream) with ``exporter:<instance>:``, so one installation never refuses, takes or
overwrites another's work. The instance is ``EXPORTS_INSTANCE`` when set, otherwise a random
id stored in the database on first use (``Installation``), so a fresh database never reuses
the job ids of a previous one.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# RQ job ids allow [A-Za-z0-9_-]; "-" separates the instance from the rest, so it is not
# allowed inside the instance itself.
INSTANCE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,24}$")


def instance() -> str:
    """This installation's namespace. Raises ``ImproperlyConfigured`` for a malformed
    ``EXPORTS_INSTANCE`` (1 to 24 letters, digits or underscores)."""
    configured = getattr(settings, "EXPORTS_INSTANCE", "")
    if not configured:
        return _stored_instance()
    if not INSTANCE_PATTERN.match(configured):
        raise ImproperlyConfigured(
            f"EXPORTS_INSTANCE={configured!r}: use 1 to 24 letters, digits or underscores."
        )
    return configured


@functools.cache
def _stored_instance() -> str:
    # Read once per process: the row never changes after it is made.
    from ..models import Installation

    return Installation.current().instance_id


def forget_stored_instance() -> None:
    """Drop the cached stored instance (tests that replace the database)."""
    _stored_instance.cache_clear()


def rq_job_id(*parts: object) -> str:
    """An RQ job id of ours: ``<instance>-<part>-<part>...``."""
    return "-".join([instance(), *(str(part) for part in parts)])


def is_ours(rq_job_id: str | None) -> bool:
    """True when an RQ job id carries this installation's namespace."""
    return bool(rq_job_id) and rq_job_id.startswith(instance() + "-")


def redis_key(name: str) -> str:
    """A Redis key of ours (lock, counter, stream): ``exporter:<instance>:<name>``."""
    return f"exporter:{instance()}:{name}"
