"""Pages benchmark (not a test): the request list and the polled job table at scale, against
raw SQL baselines in the same run.

Usage:  .venv/bin/python bench/bench_pages.py [--requests 2000] [--jobs 50] [--minute-jobs 10000]

Builds a fresh SQLite database: one user with ``--requests`` requests of ``--jobs`` jobs each,
plus a PT1M request with ``--minute-jobs`` jobs (a week of a one-minute schedule). Then measures
(median of several runs, with the number of SQL queries):
  * the list page, unfiltered, searched, filtered by last status and sorted by last run,
    against a raw ``SELECT ... ORDER BY created_at DESC LIMIT 25`` of the same requests;
  * the job table fragment of the PT1M request (first and last page), against a raw
    ``SELECT ... ORDER BY slot DESC LIMIT 25`` of its jobs.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 1, 1, tzinfo=UTC)
RUNS = 7


def django_setup(db_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
    os.environ.setdefault("MEDIA_ROOT", str(Path(db_path).parent / "media"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def populate(requests: int, jobs: int, minute_jobs: int):
    """The user, their requests and jobs; returns (user, the PT1M request)."""
    from django.contrib.auth import get_user_model

    from exports.models import Channel, ExportItem, ExportJob, ExportRequest, JobStatus

    user = get_user_model().objects.create_user("alice", password="bench-pass-123")
    statuses = [JobStatus.DONE, JobStatus.FAILED, JobStatus.DONE, JobStatus.SKIPPED]
    made = ExportRequest.objects.bulk_create(
        ExportRequest(
            owner=user,
            name=f"Export {index:05d}",
            type="recurring",
            periodicity="P1D",
            period_start=START,
            created_at=START + timedelta(minutes=index),
        )
        for index in range(requests)
    )
    ExportItem.objects.bulk_create(
        ExportItem(
            request=export,
            target_value=f"metric{index % 50},humidity",
            channel_id=f"channel-{index % 20}",
            subtopic="events.data",
        )
        for index, export in enumerate(made)
    )
    Channel.objects.bulk_create(
        Channel(channel_id=f"channel-{index}", name=f"Site {index}") for index in range(20)
    )
    ExportJob.objects.bulk_create(
        (
            ExportJob(
                request=export,
                slot=START + timedelta(days=day),
                status=statuses[(index + day) % len(statuses)],
                row_count=(index + day) % 7,
            )
            for index, export in enumerate(made)
            for day in range(jobs)
        ),
        batch_size=5000,
    )
    minute = ExportRequest.objects.create(
        owner=user, name="Every minute", type="recurring", periodicity="PT1M", period_start=START
    )
    ExportItem.objects.create(
        request=minute, target_value="temperature", channel_id="channel-0", subtopic="events.data"
    )
    ExportJob.objects.bulk_create(
        (
            ExportJob(
                request=minute,
                slot=START + timedelta(minutes=k),
                status=JobStatus.DONE,
                row_count=k % 3,
            )
            for k in range(1, minute_jobs + 1)
        ),
        batch_size=5000,
    )
    return user, minute


def timed(action) -> tuple[float, list[str]]:
    """Median seconds of ``action`` over RUNS runs, and the SQL queries of one run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    with CaptureQueriesContext(connection) as queries:
        action()
    return statistics.median(times), [query["sql"] for query in queries.captured_queries]


def raw_sql_alone(db_path: str, statements: list[str]) -> float:
    """Median seconds of running a page's own SQL statements through a plain cursor."""
    conn = sqlite3.connect(db_path)
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        for sql in statements:
            conn.execute(sql).fetchall()
        times.append(time.perf_counter() - began)
    conn.close()
    return statistics.median(times)


def raw(db_path: str, sql: str, params: tuple) -> float:
    conn = sqlite3.connect(db_path)
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        conn.execute(sql, params).fetchall()
        times.append(time.perf_counter() - began)
    conn.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--minute-jobs", type=int, default=10000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        db_path = str(Path(tmp) / "bench.sqlite3")
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_path}")
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], check=True, env=env
        )
        django_setup(db_path)
        from django.test import Client
        from django.urls import reverse

        began = time.perf_counter()
        user, minute = populate(args.requests, args.jobs, args.minute_jobs)
        total_jobs = args.requests * args.jobs + args.minute_jobs
        print(
            f"{args.requests + 1} requests, {total_jobs} jobs "
            f"(one PT1M request with {args.minute_jobs}) in {time.perf_counter() - began:.1f} s"
        )
        client = Client()
        client.force_login(user)

        def page(url: str, query: dict):
            def get():
                response = client.get(url, query)
                assert response.status_code == 200, response.status_code

            return get

        list_baseline = raw(
            db_path,
            "SELECT * FROM exports_exportrequest WHERE owner_id = ? "
            "ORDER BY created_at DESC, id DESC LIMIT 25",
            (user.pk,),
        )
        print(f"\nlist: raw baseline (25 newest requests)  {list_baseline * 1000:8.2f} ms")
        cases = [
            ("unfiltered", {}),
            ("q=site 7 (channel name)", {"q": "site 7"}),
            ("status=failed", {"status": "failed"}),
            ("status=noData&sort=-last", {"status": "noData", "sort": "-last"}),
            ("sort=name&page=40", {"sort": "name", "page": 40}),
        ]
        print("      (× is against the raw baseline; 'its SQL' is the page's own queries run raw)")
        for label, query in cases:
            seconds, statements = timed(page(reverse("exports:list"), query))
            sql = raw_sql_alone(db_path, statements)
            figures = (
                f"{seconds * 1000:8.2f} ms  {len(statements):3d} queries  "
                f"×{seconds / list_baseline:,.0f}  its SQL {sql * 1000:.2f} ms"
            )
            print(f"list: {label:<32}{figures}")

        jobs_baseline = raw(
            db_path,
            "SELECT * FROM exports_exportjob WHERE request_id = ? "
            "ORDER BY slot DESC, id DESC LIMIT 25",
            (minute.pk,),
        )
        print(f"\njob table: raw baseline (25 newest jobs) {jobs_baseline * 1000:8.2f} ms")
        last_page = (args.minute_jobs + 24) // 25
        for label, query in (("page 1", {}), (f"page {last_page}", {"page": last_page})):
            seconds, statements = timed(page(reverse("exports:jobs", args=[minute.pk]), query))
            sql = raw_sql_alone(db_path, statements)
            figures = (
                f"{seconds * 1000:8.2f} ms  {len(statements):3d} queries  "
                f"×{seconds / jobs_baseline:,.0f}  its SQL {sql * 1000:.2f} ms"
            )
            print(f"job table: {label:<27}{figures}")


if __name__ == "__main__":
    main()
