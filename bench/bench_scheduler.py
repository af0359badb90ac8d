"""Benchmark: scheduler ticks over many due recurring requests; prints the figures.

Usage (from the project root)::

    .venv/bin/python bench/bench_scheduler.py                  # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sched_dev \\
        .venv/bin/python bench/bench_scheduler.py              # PostgreSQL (test_sched_dev)

Options: ``--requests 10000`` (due requests, one slot each), ``--catchup 1000`` (requests that
missed 48 hourly slots), ``--users 200``. The data lives in a throw-away database made by
Django's test-database machinery (``test_<NAME>`` on PostgreSQL, a temporary file on SQLite),
destroyed at the end. Redis: ``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/10``),
flushed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import django_rq  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402

from exports.models import ExportItem, ExportJob, ExportRequest, JobStatus  # noqa: E402
from exports.queue.dispatch import dispatch  # noqa: E402
from exports.queue.namespace import queue_name  # noqa: E402
from exports.queue.reaper import reap  # noqa: E402
from exports.scheduling.scheduler import schedule_due, skip_beyond_user_cap  # noqa: E402
from exports.scheduling.slots import Schedule  # noqa: E402

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night Europe changes to summer time
# (periodicity, timezone): a spread of calendar and exact schedules.
KINDS = [
    ("PT15M", "UTC"),
    ("PT1H", "Europe/Rome"),
    ("P1D", "Europe/Rome"),
    ("P1D", "America/New_York"),
    ("P1W", "Asia/Tokyo"),
    ("P1M", "America/New_York"),
]


def timed(label: str, function, rows: list) -> object:
    """Run ``function``, recording wall time and the number of SQL statements it sent."""
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - started
    rows.append((label, elapsed, statements, result))
    return result


def make_requests(users: list, count: int, name: str, due_slots: int) -> None:
    """Requests whose pending slot is ``due_slots`` slots before NOW (1 = one slot due)."""
    requests = []
    for i in range(count):
        periodicity, zone = KINDS[i % len(KINDS)] if due_slots == 1 else ("PT1H", "UTC")
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i % 60)
        schedule = Schedule.create(start, periodicity, zone)
        pending = schedule.slot_at(schedule.index_at_or_before(NOW) - due_slots + 1)
        requests.append(
            ExportRequest(
                owner=users[i % len(users)],
                name=f"{name} {i}",
                type="recurring",
                periodicity=periodicity,
                period_start=start,
                timezone=zone,
                next_run_at=pending,
            )
        )
    # bulk_create skips the signals, so next_run_at is set above as the scheduler left it.
    created = ExportRequest.objects.bulk_create(requests, batch_size=1000)
    items = [
        ExportItem(
            request=request,
            position=p,
            target_value="t",
            channel_id="c",
            subtopic="s",
            period="P1D" if p else "",
        )  # fmt: skip
        for request in created
        for p in range(2)
    ]
    ExportItem.objects.bulk_create(items, batch_size=2000)


def slot_math_rates() -> list[tuple[str, float]]:
    rates = []
    for periodicity, zone in (
        ("PT15M", "UTC"),
        ("P1D", "Europe/Rome"),
        ("P1M", "America/New_York"),
    ):
        schedule = Schedule.create(datetime(2020, 1, 31, tzinfo=UTC), periodicity, zone)
        started = time.perf_counter()
        for k in range(20000):
            schedule.slot_at(k)
        rates.append((f"slot_at {periodicity} {zone}", 20000 / (time.perf_counter() - started)))
        started = time.perf_counter()
        for i in range(5000):
            schedule.index_at_or_before(NOW + timedelta(minutes=7 * i))
        rates.append((f"index_at_or_before {periodicity}", 5000 / (time.perf_counter() - started)))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--catchup", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    options = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="bench-scheduler-")
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = os.path.join(folder, "bench.sqlite3")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    redis = django_rq.get_connection(queue_name("exports"))
    redis.flushdb()
    rows: list = []
    try:
        users = get_user_model().objects.bulk_create(
            get_user_model()(username=f"user{i}") for i in range(options.users)
        )
        make_requests(users, options.requests, "due", due_slots=1)
        timed(
            f"tick: schedule {options.requests} due requests", lambda: schedule_due(now=NOW), rows
        )
        timed("tick: schedule, nothing due", lambda: schedule_due(now=NOW), rows)
        timed("tick: reap, nothing stale", lambda: reap(now=NOW), rows)
        waiting = ExportJob.objects.filter(status=JobStatus.NOT_PROCESSED).count()
        timed(f"dispatch with {waiting} waiting jobs", dispatch, rows)
        samples, handed = [], 0
        for _ in range(20):  # what a worker pays at the end of each job
            ExportJob.objects.filter(
                status=JobStatus.NOT_PROCESSED, enqueued_at__isnull=False
            ).update(status=JobStatus.DONE)
            started = time.perf_counter()
            handed = dispatch()
            samples.append(time.perf_counter() - started)
        median = statistics.median(samples)
        rows.append(("dispatch after jobs ended (median of 20)", median, "-", handed))
        ExportJob.objects.all().delete()
        make_requests(users, options.catchup, "catch-up", due_slots=48)
        timed(
            f"tick: catch up {options.catchup} requests x 48 missed slots",
            lambda: schedule_due(now=NOW),
            rows,
        )
        # The per-user cap runs after every tick that created jobs: first its cost when nobody
        # is over the cap (the common case), then skipping down to 20 waiting per user, against
        # the bare GROUP BY it starts with as the raw baseline.
        if connection.vendor == "postgresql":
            # Fresh statistics, as autovacuum keeps them: right after the bulk inserts above the
            # planner misjudges the join and the cap's first query takes seconds, not ms.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        timed(
            "raw: count waiting jobs per user (GROUP BY)",
            lambda: len(
                ExportJob.objects.filter(status=JobStatus.NOT_PROCESSED)
                .values("request__owner_id")
                .annotate(n=Count("pk"))
            ),
            rows,
        )
        timed("cap: nobody over 200 waiting", lambda: skip_beyond_user_cap(now=NOW), rows)
        settings.EXPORTS_MAX_SCHEDULED_PER_USER = 20
        timed("cap: skip down to 20 waiting per user", lambda: skip_beyond_user_cap(now=NOW), rows)
        print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
        print(f"{'step':58} {'seconds':>8} {'queries':>8}  result")
        for label, elapsed, queries, result in rows:
            print(f"{label:58} {elapsed:8.3f} {queries:>8}  {result}")
        jobs = ExportJob.objects.count()
        print(f"Jobs in the catch-up table: {jobs}")
        for label, rate in slot_math_rates():
            print(f"{label:58} {rate:10,.0f} /s")
    finally:
        redis.flushdb()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
