"""The RQ worker class of the site (``RQ["WORKER_CLASS"]``), used by ``manage.py runworker``."""

from __future__ import annotations

import importlib
import logging
import signal

from django.core.files.storage import default_storage
from django.urls import get_resolver
from rq import Worker

from exports.queue.namespace import stopping_worker_key

log = logging.getLogger(__name__)
# How long the "told to stop" mark outlives the request: longer than any stop timeout.
STOPPING_MARK_TTL = 24 * 3600

# The modules our jobs run in; see PreloadingWorker.
JOB_MODULES = ("exports.queue.runner", "notifications.jobs", "exports.iam")


class PreloadingWorker(Worker):
    """RQ's forking worker, with the job modules imported once in the parent process, and a
    work horse that a stop signal meant for the worker cannot kill.

    RQ forks a work horse for every job. A module first imported inside the horse is imported
    again for every job: for the export engine and its writers that is about half a second
    of each small export. Imported before the fork, the horses inherit them.

    Stopping: SIGTERM (or SIGINT) to the worker asks for a *warm* shutdown: no new job is
    taken, the running one finishes, then the worker exits. RQ's horse keeps SIGTERM's default
    action, so a SIGTERM sent to every process of the service (systemd's default
    ``KillMode=control-group``, ``kill -TERM -<pgid>``, a container runtime) killed the export
    mid-file. Here the horse ignores SIGTERM and SIGINT: only its worker ends it early, on a
    second signal (cold shutdown) or a job timeout, both with SIGKILL.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        warm_up()

    def request_stop(self, signum, frame):
        self.mark_stopping()
        super().request_stop(signum, frame)

    def request_force_stop(self, signum, frame):
        self.mark_stopping()
        super().request_force_stop(signum, frame)

    def mark_stopping(self) -> None:
        """Say in Redis that this worker was told to stop: if the stop timeout runs out and
        the running export is killed, the reaper requeues it without counting an attempt."""
        try:
            self.connection.set(stopping_worker_key(self.name), "1", ex=STOPPING_MARK_TTL)
        except Exception as exc:  # noqa: BLE001 - stopping must not fail on a Redis outage
            log.warning("Could not mark worker %s as stopping: %s", self.name, exc)

    def setup_work_horse_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def warm_up() -> None:
    """Do once, before any fork, the set-up every job would otherwise repeat in its horse.

    Measured in a forked horse (issue 21): the first download link of a message built
    Django's URL resolver, importing the whole URLconf (the API, DRF, drf-spectacular),
    0.58 s of a 0.75 s notification; the export modules cost about half a second more.
    """
    for module in JOB_MODULES:
        importlib.import_module(module)
    # The URL resolver (message links ``reverse()``): the URLconf imported, patterns indexed.
    get_resolver().reverse_dict  # noqa: B018 - populates the resolver
    # Likewise the object-storage client (S3): built once here, inherited by every horse.
    warm = getattr(default_storage, "warm", None)
    if warm is not None:
        warm()
