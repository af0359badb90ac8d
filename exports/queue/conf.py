"""Settings of the export queue (dispatch, workers, retries, the reaper), read at call time
so ``override_settings`` and tests see changes. This module is their only reader.

Settings that ``exporter_site/settings.py`` does not define yet fall back to the defaults
here; each is documented where it is used. The scheduler's own settings (catch-up, per-user
cap on scheduled jobs, its loop interval, retention's pace) are in ``exports.scheduling.conf``.
"""

from datetime import timedelta

from django.conf import settings


def max_queued_per_user() -> int:
    """EXPORTS_MAX_QUEUED_PER_USER: waiting jobs one user may have before on-demand runs
    are refused."""
    return max(1, int(getattr(settings, "EXPORTS_MAX_QUEUED_PER_USER", 10)))


def max_attempts() -> int:
    """EXPORTS_MAX_ATTEMPTS: attempts (a worker taking the job) a job gets: a transient failure
    is retried, and a lost worker's job run again, only while fewer have been made."""
    return max(1, int(getattr(settings, "EXPORTS_MAX_ATTEMPTS", 3)))


def heartbeat_timeout() -> timedelta:
    """EXPORTS_HEARTBEAT_TIMEOUT (seconds, default 60): silence after which a running job's
    worker is presumed dead. Workers beat at least every 10 s, so 60 s is six missed beats."""
    return timedelta(seconds=float(getattr(settings, "EXPORTS_HEARTBEAT_TIMEOUT", 60)))


def dispatch_backlog() -> int | None:
    """EXPORTS_DISPATCH_BACKLOG: jobs handed to RQ but not started yet, at most.

    ``None`` (the default) means two per registered ``exports`` worker (at least two): enough
    that a worker finishing a job finds the next one already queued, small enough that a
    newcomer's job waits behind at most about two jobs per worker.
    """
    value = getattr(settings, "EXPORTS_DISPATCH_BACKLOG", None)
    return None if value is None else max(1, int(value))


def job_timeout() -> int:
    """EXPORTS_JOB_TIMEOUT: RQ's hard limit on one export job, in seconds."""
    return int(getattr(settings, "EXPORTS_JOB_TIMEOUT", 6 * 3600))


def requeue_after() -> timedelta:
    """EXPORTS_REQUEUE_AFTER (seconds, default 30): how long after a hand-over to RQ a job or
    delivery whose RQ job is missing from Redis (flushed, restarted empty) is handed over
    again. Only the moment between our commit and the enqueue needs this grace."""
    return timedelta(seconds=float(getattr(settings, "EXPORTS_REQUEUE_AFTER", 30)))


def retry_delay(attempts: int) -> timedelta:
    """EXPORTS_RETRY_BACKOFF (seconds, default 30): the wait before attempt ``attempts + 1``
    after a transient failure of attempt ``attempts``; it doubles each time, at most an hour."""
    base = float(getattr(settings, "EXPORTS_RETRY_BACKOFF", 30))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600.0))


def horse_jobs() -> int:
    """EXPORTS_HORSE_JOBS (default 100): jobs one work horse may run before it exits; 1 forks
    a horse for every job (RQ's way). See ``exports.queue.worker._Horse``."""
    return max(1, int(getattr(settings, "EXPORTS_HORSE_JOBS", 100)))


def horse_reuse_seconds() -> float:
    """EXPORTS_HORSE_REUSE_SECONDS (default 10): a horse whose job ran longer exits after it,
    so a long export's memory is handed back and only short jobs share a horse."""
    return float(getattr(settings, "EXPORTS_HORSE_REUSE_SECONDS", 10))


def horse_max_growth() -> int:
    """EXPORTS_HORSE_MAX_GROWTH_MB (default 200): a horse that has grown by this much since
    it was forked exits after its job. Returned in bytes."""
    return int(float(getattr(settings, "EXPORTS_HORSE_MAX_GROWTH_MB", 200)) * 1024 * 1024)
