"""The per-installation namespace of our RQ queues, job ids and Redis keys.

Installations may share one Redis (two sites, a test run next to a dev server). Our RQ queues
are named ``<instance>:<alias>`` (``<instance>:exports``), every RQ job id we make starts with
``<instance>-`` and every Redis key of ours (locks, counters, the IAM stream) with
``exporter:<instance>:``, so one installation's workers never see another's jobs and one
installation never refuses, takes or overwrites another's work. The instance is
``EXPORTS_INSTANCE`` when set, otherwise a random id stored in the database on first use
(``Installation``), so a fresh database never reuses the job ids of a previous one.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rq.job import Job, JobStatus

# RQ job ids allow [A-Za-z0-9_-]; "-" separates the instance from the rest, so it is not
# allowed inside the instance itself.
INSTANCE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,24}$")
# Our RQ queues by alias, in the order a worker serves them.
QUEUES = ("exports", "notifications", "default")


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
    from exports.models import Installation

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


def stopping_worker_key(worker_name: str) -> str:
    """Set by a worker told to stop (a deploy, ``drainworkers``): an export it was running
    and that a later kill cut off was stopped on purpose, not lost to a fault of its own."""
    return redis_key(f"worker-stopping:{worker_name}")


def queue_name(alias: str) -> str:
    """The Redis name of our RQ queue ``alias`` (one of ``QUEUES``): ``<instance>:<alias>``.

    The only names to give django-rq (``get_queue``, ``get_connection``, ``get_worker``).
    Raises ``ValueError`` for an alias that is not one of ours.
    """
    if alias not in QUEUES:
        raise ValueError(f"No queue {alias!r}: ours are {', '.join(QUEUES)}.")
    return f"{instance()}:{alias}"


def queue_names(aliases: Iterable[str] = QUEUES) -> list[str]:
    """The Redis names of the queues ``aliases`` (default all of ours, in serving order)."""
    return [queue_name(alias) for alias in aliases]


def queue_settings(alias: str) -> dict[str, Any]:
    """django-rq's settings of our queue ``alias`` (``URL``, ``DEFAULT_TIMEOUT``), read without
    the instance, so without the database (the health probe)."""
    return settings.RQ_QUEUES.configs[alias]


_clients: dict[tuple, Any] = {}


def redis_client(alias: str):
    """A Redis client for our queue ``alias``, made once per process and configuration.

    ``django_rq.get_connection`` builds a new client, with a pool and a TCP connection of its
    own, at every call: five set-up round trips (HELLO, CLIENT ×3, SELECT) before the first
    command. A dispatch at the end of every job made three of them (issue 21). The key holds
    the process id (a forked horse makes its own) and the queue's settings as they are now.
    """
    import django_rq
    from django_rq.settings import QUEUES

    name = queue_name(alias)
    key = (os.getpid(), name, repr(sorted(QUEUES[name].items())))
    client = _clients.get(key)
    if client is None:
        _clients.clear()
        client = _clients[key] = django_rq.get_connection(name)
    return client


def is_stranded(rq_job: Job) -> bool:
    """True for an RQ job waiting in a queue no worker of ours serves: one enqueued before
    queue names carried the instance (``exports`` rather than ``<instance>:exports``)."""
    return rq_job.get_status(refresh=False) == JobStatus.QUEUED and rq_job.origin not in set(
        queue_names()
    )


class NamespacedQueues(Mapping[str, dict[str, Any]]):
    """``settings.RQ_QUEUES``: each queue's django-rq settings under its namespaced name.

    django-rq names a queue in Redis after its ``RQ_QUEUES`` key, so the keys must be the
    namespaced names. The instance may live in the database, which is not ready when the
    settings load, so the keys are worked out on each use (``instance()`` caches the stored
    id). Built from the settings of each alias; an un-namespaced alias is not a key, so no
    queue of ours can be made under a shared name by mistake.
    """

    def __init__(self, configs: dict[str, dict[str, Any]]):
        unknown = set(configs) - set(QUEUES)
        if unknown:
            raise ImproperlyConfigured(f"RQ_QUEUES: no queue {', '.join(sorted(unknown))}.")
        self.configs = configs

    def __getitem__(self, name: str) -> dict[str, Any]:
        prefix, colon, alias = name.rpartition(":")
        if colon and alias in self.configs and prefix == instance():
            return self.configs[alias]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(queue_names(self.configs))

    def __len__(self) -> int:
        return len(self.configs)

    def __repr__(self) -> str:
        return f"NamespacedQueues({self.configs!r})"
