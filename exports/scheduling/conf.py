"""Settings of the scheduler (recurring requests' slots, its loop, retention's pace), read at
call time so ``override_settings`` and tests see changes.

Settings that ``exporter_site/settings.py`` does not define yet fall back to the defaults
here; each is documented where it is used. The queue's own settings (attempts, heartbeats,
backlog, timeouts, retries) are in ``exports.queue.conf``.
"""

from django.conf import settings

from exports.requests.durations import Duration


def max_catchup() -> int:
    """EXPORTS_MAX_CATCHUP: missed slots run per request per tick (older ones are skipped)."""
    return max(1, int(getattr(settings, "EXPORTS_MAX_CATCHUP", 24)))


def max_scheduled_per_user() -> int:
    """EXPORTS_MAX_SCHEDULED_PER_USER: scheduled jobs one user may have waiting at once;
    the oldest beyond it are skipped (see ``scheduler.skip_beyond_user_cap``)."""
    return max(1, int(getattr(settings, "EXPORTS_MAX_SCHEDULED_PER_USER", 200)))


def scheduler_interval() -> float:
    """EXPORTS_SCHEDULER_INTERVAL (seconds, default 5): pause between idle scheduler ticks."""
    return max(0.1, float(getattr(settings, "EXPORTS_SCHEDULER_INTERVAL", 5)))


def prune_interval() -> Duration | None:
    """EXPORTS_PRUNE_INTERVAL (ISO 8601 duration, default PT1H): the scheduler runs retention
    at most this often, whichever scheduler gets there first. ``P0D`` turns it off."""
    from exports.requests.validation import parse_duration

    text = getattr(settings, "EXPORTS_PRUNE_INTERVAL", "PT1H")
    if text in ("P0D", "PT0S", "0", ""):
        return None
    return parse_duration(text)
