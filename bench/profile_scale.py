"""Where the time of one small queued export goes (issue 21 §1): a per-job breakdown.

Usage (from the project root; ``DATABASE_URL`` for PostgreSQL, else SQLite)::

    .venv/bin/python bench/profile_scale.py --exports 60

Runs the same small exports as ``bench/bench_scale.py`` (one Slack message each, to a local
HTTP stand-in) twice: one by one in this process (``run_job``, then the message sent here), and
through a real forking ``PreloadingWorker`` (burst) fed by ``dispatch``, as the worker processes
of ``manage.py runworker`` run them. Every phase is timed by wrapping the real functions; its
SQL statements and Redis round trips (a pipeline is one) are counted and timed, and each time
is *exclusive* (a phase's nested phases are not counted in it). The horse writes its record
before it exits; the worker (parent) writes its own (dequeue, fork, wait, bookkeeping). Prints
one table: mean milliseconds, SQL and Redis round trips per job, in-process vs queued.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.argv += [] if "--storage" in sys.argv else ["--storage", "local"]
import bench_scale as bs  # noqa: E402  (sets the environment, django.setup())
import django_rq  # noqa: E402
import redis.connection  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.base.base import BaseDatabaseWrapper  # noqa: E402

from exports.management.commands.runstack import start_redis  # noqa: E402
from exports.models import ExportRequest  # noqa: E402
from exports.queue import dispatch as export_dispatch  # noqa: E402
from exports.queue import lifecycle, runner  # noqa: E402
from exports.queue.namespace import queue_name  # noqa: E402
from exports.queue.worker import PreloadingWorker  # noqa: E402
from notifications import jobs as notification_jobs  # noqa: E402
from notifications.models import Delivery  # noqa: E402
from notifications.transports.slack import Slack as SlackTransport  # noqa: E402

# --- exclusive phase timing ------------------------------------------------------------------

# per phase: ms, SQL statements, SQL ms, Redis round trips, Redis ms
STATS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0.0, 0, 0.0])
STACK: list[list] = []  # [name, started, child seconds]


def _current() -> str:
    return STACK[-1][0] if STACK else "other"


@contextmanager
def phase(name: str):
    STACK.append([name, time.perf_counter(), 0.0])
    try:
        yield
    finally:
        entry = STACK.pop()
        total = time.perf_counter() - entry[1]
        STATS[name][0] += (total - entry[2]) * 1000
        if STACK:
            STACK[-1][2] += total


def timed(name: str, func):
    def wrapper(*args, **kwargs):
        with phase(name):
            return func(*args, **kwargs)

    wrapper.__wrapped__ = func
    return wrapper


def patch(owner, attribute: str, name: str) -> None:
    setattr(owner, attribute, timed(name, getattr(owner, attribute)))


def count_sql(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        stats = STATS[_current()]
        stats[1] += 1
        stats[2] += (time.perf_counter() - started) * 1000


_send = redis.connection.AbstractConnection.send_packed_command
_read = redis.connection.AbstractConnection.read_response


def send_packed_command(self, command, check_health=True):
    started = time.perf_counter()
    try:
        return _send(self, command, check_health)
    finally:
        stats = STATS[_current()]
        stats[3] += 1
        stats[4] += (time.perf_counter() - started) * 1000


def read_response(self, *args, **kwargs):
    started = time.perf_counter()
    try:
        return _read(self, *args, **kwargs)
    finally:
        STATS[_current()][4] += (time.perf_counter() - started) * 1000


LIGHT = bool(os.environ.get("PROFILE_LIGHT"))  # phases only: no SQL or Redis counting
if not LIGHT:
    redis.connection.AbstractConnection.send_packed_command = send_packed_command
    redis.connection.AbstractConnection.read_response = read_response
patch(BaseDatabaseWrapper, "connect", "db connect (new connection)")
patch(runner, "run_export_job", "run_export_job (ours? row exists?)")
patch(lifecycle, "start", "claim (lifecycle.start)")
patch(runner, "_produce", "export: read request, rows, write file")
patch(lifecycle, "finish", "finish (lifecycle.finish)")
patch(lifecycle, "_announce", "deliveries recorded (job_finished)")
patch(notification_jobs, "deliver", "message: claim, link, render, store")
patch(SlackTransport, "notify", "message: HTTP POST to the chat stand-in")
patch(runner, "refill_quietly", "dispatch the next job (in the horse)")
patch(runner.ExportJob, "refresh_from_db", "refresh rows")


class ProfilingWorker(PreloadingWorker):
    """PreloadingWorker with its phases timed; each horse appends its record to OUT."""

    out = ""

    def dequeue_job_and_maintain_ttl(self, *args, **kwargs):
        with phase("worker: dequeue (BLMOVE, heartbeats)"):
            return super().dequeue_job_and_maintain_ttl(*args, **kwargs)

    def prepare_execution(self, job):
        with phase("worker: prepare execution"):
            return super().prepare_execution(job)

    def fork_work_horse(self, job, queue):
        self._forked_at = time.perf_counter()
        self._fresh = self._reusable is None  # a new horse (else the idle one runs it)
        with phase("worker: fork() in the parent"):
            return super().fork_work_horse(job, queue)

    def monitor_work_horse(self, job, queue, execution):
        with phase("worker: horse exit, reaped (wait - alive)"):
            result = super().monitor_work_horse(job, queue, execution)
        return result

    def heartbeat(self, *args, **kwargs):
        with phase("worker: heartbeats"):
            return super().heartbeat(*args, **kwargs)

    def perform_job(self, job, queue, execution):
        STATS.clear()
        if self._fresh:
            since_fork = (time.perf_counter() - self._forked_at) * 1000
            STATS["horse: from fork() to running"][0] += since_fork
            self._fresh = False
        started = time.perf_counter()
        try:
            with phase("horse: RQ bookkeeping"):
                return super().perform_job(job, queue, execution)
        finally:
            alive = (time.perf_counter() - started) * 1000
            STATS["horse: alive (not a phase; in the wait)"] = [alive, 0, 0, 0, 0]
            with open(self.out, "a") as handle:
                handle.write(json.dumps({"side": "horse", "stats": STATS}) + "\n")


def table(in_process: dict, queued: dict, n_in: int, n_q: int) -> None:
    names = list(dict.fromkeys([*in_process, *queued]))
    print(
        f"{'phase (per job, exclusive)':48} {'in-process ms':>13} {'queued ms':>10} "
        f"{'SQL':>5} {'SQL ms':>7} {'Redis':>6} {'Redis ms':>8}"
    )
    totals = [0.0, 0.0]
    alive = queued.pop("horse: alive (not a phase; in the wait)", [0])[0]
    queued["worker: horse exit, reaped (wait - alive)"][0] -= alive
    names.remove("horse: alive (not a phase; in the wait)")
    for name in names:
        a = in_process.get(name, [0, 0, 0, 0, 0])
        b = queued.get(name, [0, 0, 0, 0, 0])
        totals[0] += a[0] / n_in
        totals[1] += b[0] / n_q
        print(
            f"{name:48} {a[0] / n_in:13.1f} {b[0] / n_q:10.1f} {b[1] / n_q:5.1f} "
            f"{b[2] / n_q:7.1f} {b[3] / n_q:6.1f} {b[4] / n_q:8.1f}"
        )
    print(f"{'total':48} {totals[0]:13.1f} {totals[1]:10.1f}")


def merge(into: dict, stats: dict) -> None:
    for name, values in stats.items():
        row = into.setdefault(name, [0.0, 0, 0.0, 0, 0.0])
        for i, value in enumerate(values):
            row[i] += value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exports", type=int, default=60)
    parser.add_argument("--storage", default="local")
    options = parser.parse_args()
    server = start_redis(os.environ["REDIS_URL"])
    folder = tempfile.mkdtemp(prefix="profile-scale-")
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = os.path.join(folder, "bench.sqlite3")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    chat = bs.ChatCounter()
    if not LIGHT:
        connection.execute_wrappers.append(count_sql)
    try:
        ids = bs.make_data(options.exports, 50, chat.url)
        bs.copying.keep_connections()  # as bench_scale's baseline and a worker's horse
        for _ in range(2):  # the first run warms this process up (as the worker's warm_up)
            slot = bs.reset(ids)
            STATS.clear()
            started = time.perf_counter()
            for request in ExportRequest.objects.filter(pk__in=ids):
                with phase("in-process: create job"):
                    job = runner.create_job(request, slot)
                job = runner.run_job(job.pk)
                for delivery_id in Delivery.objects.filter(job=job).values_list("pk", flat=True):
                    notification_jobs.deliver(delivery_id)
            in_process_s = time.perf_counter() - started
        in_process = {k: list(v) for k, v in STATS.items()}

        slot = bs.reset(ids)
        for request in ExportRequest.objects.filter(pk__in=ids):
            runner.create_job(request, slot)
        connection.close()  # as runworker does before forking
        out = os.path.join(folder, "horses.jsonl")
        ProfilingWorker.out = out
        worker = ProfilingWorker(
            [queue_name("exports"), queue_name("notifications")],
            connection=django_rq.get_connection(queue_name("exports")),
        )
        export_dispatch.dispatch()
        connection.close()
        STATS.clear()
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        queued_s = time.perf_counter() - started
        queued = {k: list(v) for k, v in STATS.items()}
        horses = [json.loads(line) for line in Path(out).read_text().splitlines()]
        for record in horses:
            merge(queued, record["stats"])
        print(f"Database: {connection.vendor}; {options.exports} exports; load {bs_load()}")
        print(
            f"in-process: {options.exports / in_process_s:.1f}/s; queued, one forking worker: "
            f"{len(horses) / queued_s:.1f}/s ({len(horses)} horses)"
        )
        table(in_process, queued, options.exports, len(horses))
    finally:
        chat.server.shutdown()
        bs.copying.close_kept_connections()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if server is not None:
            server.terminate()
            server.wait(timeout=10)


def bs_load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


if __name__ == "__main__":
    main()
