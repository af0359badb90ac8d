"""Pages benchmark (not a test): the request list and the polled job table at scale, against
raw SQL baselines in the same run.

Usage:  .venv/bin/python bench/bench_pages.py [--requests 2000] [--jobs 50] [--minute-jobs 10000]
            [--clients 1,10,50] [--duration 10] [--gunicorn-conf deploy/gunicorn.conf.py]

Builds a fresh SQLite database: one user with ``--requests`` requests of ``--jobs`` jobs each,
plus a PT1M request with ``--minute-jobs`` jobs (a week of a one-minute schedule). Then measures
(median of several runs, with the number of SQL queries):
  * the list page, unfiltered, searched, filtered by last status and sorted by last run,
    against a raw ``SELECT ... ORDER BY created_at DESC LIMIT 25`` of the same requests;
  * the job table fragment of the PT1M request (first and last page), against a raw
    ``SELECT ... ORDER BY slot DESC LIMIT 25`` of its jobs;
  * server time (CPU seconds of this process per request, median) of the list page and
    ``/api/exports`` (a page of 25), the ones the item's target (≤ 15 ms) is about;
  * under load: gunicorn started with ``--gunicorn-conf`` on the same database, then for each
    ``--clients`` count that many threads, each on its own HTTP/1.1 connection (kept alive when
    the server allows), GET the list page (then ``/api/exports``) for ``--duration`` seconds:
    req/s, p50/p95/p99 latency, p95/p50 (target ≤ 3 at 50 clients), errors. The clients share
    the machine's cores with the server: compare configurations within one run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
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


def server_time(client, url: str, runs: int = 40) -> float:
    """Median CPU seconds this process spends on one GET of ``url`` (the whole Django stack:
    middleware, view, SQL, template or JSON), steadier than wall time on a shared machine."""
    for _ in range(3):
        client.get(url)
    times = []
    for _ in range(runs):
        began = time.process_time()
        response = client.get(url)
        times.append(time.process_time() - began)
        assert response.status_code == 200, response.status_code
    return statistics.median(times)


def start_gunicorn(conf: str, db_path: str, tmp: str) -> tuple[subprocess.Popen, int]:
    """gunicorn with ``conf`` on a free port, serving the bench database; waits until it
    answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{db_path}",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        MEDIA_ROOT=str(Path(tmp) / "media"),
        API_THROTTLE_RATE="1000000/minute",  # the bench is one user; the limit is not measured
    )
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", conf, "exporter_site.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/livez")
            conn.getresponse().read()
            conn.close()
            return process, port
        except OSError:
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer in 60 s"
            time.sleep(0.3)


def load(port: int, path: str, cookie: str, clients: int, duration: float) -> dict:
    """``clients`` threads GET ``path`` back to back for ``duration`` seconds."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, failed = [], 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            began = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie, "Host": "localhost"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()  # the next request opens a new connection
            except (OSError, http.client.HTTPException):
                failed += 1
                conn.close()
                continue
            mine.append(time.perf_counter() - began)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + duration
    start.wait()
    for thread in threads:
        thread.join()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rate": len(latencies) / duration,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": latencies[-1] * 1000,
        "errors": errors[0],
    }


def concurrency_run(args, db_path: str, tmp: str, cookie: str) -> None:
    conf = str(Path(args.gunicorn_conf).resolve())
    process, port = start_gunicorn(conf, db_path, tmp)
    try:
        print(f"\nunder load: gunicorn -c {os.path.relpath(conf, ROOT)} ({os.cpu_count()} cores)")
        for label, path in (("list", "/"), ("api", "/api/exports")):
            load(port, path, cookie, 4, 2)  # warm every worker
            for clients in args.clients:
                r = load(port, path, cookie, clients, args.duration)
                ratio = r["p95"] / r["p50"]
                target = "  (target ≤ 3)" if clients >= 50 else ""
                print(
                    f"{label:<5}{clients:3d} clients  {r['rate']:7.1f} req/s  "
                    f"p50 {r['p50']:7.1f}  p95 {r['p95']:7.1f}  p99 {r['p99']:7.1f}  "
                    f"max {r['max']:7.1f} ms  p95/p50 {ratio:4.1f}{target}  "
                    f"{r['requests']} requests, {r['errors']} errors"
                )
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--minute-jobs", type=int, default=10000)
    parser.add_argument(
        "--clients",
        type=lambda text: [int(n) for n in text.split(",") if n],
        default=[1, 10, 50],
        help="concurrent clients of the load run (empty: no load run)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load case")
    parser.add_argument("--gunicorn-conf", default=str(ROOT / "deploy" / "gunicorn.conf.py"))
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

        print("\nserver time per request (CPU, median):")
        for label, url in (
            ("list page", reverse("exports:list")),
            ("/api/exports", "/api/exports"),
        ):
            print(f"  {label:<14}{server_time(client, url) * 1000:8.2f} ms")

        if args.clients:
            cookie = f"sessionid={client.cookies['sessionid'].value}"
            concurrency_run(args, db_path, tmp, cookie)


if __name__ == "__main__":
    main()
