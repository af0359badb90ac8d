"""The RQ worker class of the site (``RQ["WORKER_CLASS"]``), used by ``manage.py runworker``."""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import random
import signal
import time

from django.core.files.storage import default_storage
from django.db import connections
from django.urls import get_resolver
from rq import Worker
from rq.executions import Execution
from rq.worker.base import logger as horse_logger

from exports.queue import conf
from exports.queue.namespace import stopping_worker_key
from exports.writers import copying

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
        self._reusable: _Horse | None = None  # an idle horse that may run the next job
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

    def heartbeat(self, timeout=None, pipeline=None) -> None:
        """RQ's worker heartbeat (three commands) in one round trip instead of three: the
        worker sends two per job it dequeues and one after it (issue 21)."""
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        with self.connection.pipeline() as batch:
            super().heartbeat(timeout, pipeline=batch)
            batch.execute()
        return None

    def setup_work_horse_signals(self) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    # --- a horse for several short jobs (see _Horse) -------------------------------------------

    def fork_work_horse(self, job, queue) -> None:
        if conf.horse_jobs() <= 1:
            return super().fork_work_horse(job, queue)
        if self._reusable is not None:
            if self._reusable.give(job.id, queue.name, self.execution.id):
                os.environ["RQ_JOB_ID"] = job.id
                self._horse_pid = self._reusable.pid
                return None
            self._drop_horse()
        commands, to_horse = os.pipe()
        from_horse, replies = os.pipe()
        pid = os.fork()
        os.environ["RQ_WORKER_ID"] = self.name
        os.environ["RQ_JOB_ID"] = job.id
        if pid == 0:
            os.close(to_horse)
            os.close(from_horse)
            os.setpgrp()
            self.serve_jobs(job, queue, commands, replies)
            os._exit(0)  # just in case
        os.close(commands)
        os.close(replies)
        self._reusable = _Horse(pid, to_horse, from_horse)
        self._horse_pid = pid
        self.procline(f"Forked {pid} at {time.time()}")
        return None

    def wait_for_horse(self):
        horse = self._reusable
        if horse is None or self._horse_pid != horse.pid:
            return super().wait_for_horse()
        if horse.wait_done():
            return horse.pid, os.EX_OK, None  # done, and waiting for the next job
        self._drop_horse()  # it exited (after its last job, or killed): reap it
        return super().wait_for_horse()

    def teardown(self) -> None:
        if not self.is_horse and self._reusable is not None:
            self._horse_pid = self._reusable.pid
            self._drop_horse()
            super().wait_for_horse()  # it exits on the closed pipe
            self._horse_pid = 0
        super().teardown()

    def _drop_horse(self) -> None:
        if self._reusable is not None:
            self._reusable.close()
            self._reusable = None

    def serve_jobs(self, job, queue, commands: int, replies: int) -> None:
        """The horse: run ``job``, then, while it may (``_Horse.may_run_another``), tell the
        worker it is free and run the job the worker hands it next. Never returns."""
        random.seed()
        copying.keep_connections()  # its next export reuses this one's COPY connection
        self.setup_work_horse_signals()
        self._is_horse = True
        self.log = horse_logger
        reader = os.fdopen(commands, "rb")
        born, served = _rss(), 0
        while True:
            started = time.monotonic()
            try:
                self.perform_job(job, queue, self.execution)
            except BaseException:  # noqa: BLE001 - as RQ's main_work_horse
                os._exit(1)
            served += 1
            if not _Horse.may_run_another(served, time.monotonic() - started, _rss() - born):
                os._exit(0)
            _tidy_connections()
            os.write(replies, b"k")
            line = reader.readline()
            if not line:  # the worker closed the pipe: stopping, or gone
                os._exit(0)
            job_id, queue_name, execution_id = line.decode().split()
            job = self.job_class.fetch(
                job_id, connection=self.connection, serializer=self.serializer
            )
            queue = self.queue_class(
                queue_name,
                connection=self.connection,
                job_class=self.job_class,
                serializer=self.serializer,
                death_penalty_class=self.death_penalty_class,
            )
            self.execution = Execution.fetch(execution_id, job.id, connection=self.connection)
            self.execution._job = job
            os.environ["RQ_JOB_ID"] = job.id


class _Horse:
    """A work horse kept for the next job, and the two pipes to it.

    RQ forks a horse for every job, and the fork, the horse's own database connection, its
    cold caches and its exit cost about as much as a small export itself (issue 21). A horse
    here runs the next job too when the one it finished was short (under
    ``EXPORTS_HORSE_REUSE_SECONDS``), at most ``EXPORTS_HORSE_JOBS`` jobs, and while it has
    not grown by ``EXPORTS_HORSE_MAX_GROWTH_MB``; otherwise it exits after its job, as RQ's.

    What the fork gives is kept: a horse runs one job at a time, and takes the next only once
    the previous one has ended (its row final, RQ's bookkeeping written). The worker watches
    each job as RQ does: the job's timeout, heartbeats, a stop-job command or a cold shutdown
    kill the horse, which only ever holds the job being run; the worker then reaps it, fails
    that RQ job as RQ does, and forks a fresh horse for the next. A horse killed mid-job is
    recovered by the reaper like any other (its row stops beating).
    """

    def __init__(self, pid: int, to_horse: int, from_horse: int) -> None:
        self.pid, self.to_horse, self.from_horse = pid, to_horse, from_horse

    def give(self, job_id: str, queue_name: str, execution_id: str) -> bool:
        """Hand the horse its next job; False if it is gone."""
        try:
            os.write(self.to_horse, f"{job_id} {queue_name} {execution_id}\n".encode())
        except OSError:
            return False
        return True

    def wait_done(self) -> bool:
        """Block until the horse ends its job: True if it waits for another, False if it
        exited (or was killed). A signal handler that raises (RQ's monitor timer) interrupts."""
        return os.read(self.from_horse, 1) == b"k"

    def close(self) -> None:
        for fd in (self.to_horse, self.from_horse):
            with contextlib.suppress(OSError):
                os.close(fd)

    @staticmethod
    def may_run_another(served: int, seconds: float, growth: int) -> bool:
        return (
            served < conf.horse_jobs()
            and seconds < conf.horse_reuse_seconds()
            and growth < conf.horse_max_growth()
        )


def _rss() -> int:
    """Bytes of memory this process has resident."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _tidy_connections() -> None:
    """Between two jobs of one horse: no transaction may leak into the next job, and a
    connection that had an error is kept only if it still answers (as Django does between
    requests); a healthy one is kept, sparing the next job its set-up."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        broken = connection.errors_occurred and not connection.is_usable()
        if connection.in_atomic_block or broken:
            connection.close()
        connection.errors_occurred = False


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
    # What is built so far is never collected: the garbage collector of a horse then leaves
    # these objects' memory pages alone instead of copying them (copy-on-write) to scan them.
    gc.freeze()
