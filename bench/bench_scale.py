"""Benchmark: many small exports with notifications through real workers and two schedulers.

Usage (from the project root)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/exporter \\
        .venv/bin/python bench/bench_scale.py          # data in test_exporter, dropped after

Options: ``--exports 500`` (recurring requests with one due slot each, one Slack message each),
``--users 50``, ``--workers 1,2,4`` (one run per count), ``--schedulers 2``, ``--timeout 600``,
``--storage s3`` (default: export files in a bucket of moto's S3 server, started by the bench
on a free port of 127.0.0.1, as ``EXPORTS_STORAGE=s3`` in production; ``local`` for the disk).

Each run starts from the same state: no jobs, no deliveries, an empty Redis (a server of the
bench's own on a free port, db 5). It starts the schedulers (``manage.py runscheduler``) and the
workers (``manage.py runworker exports notifications``) as subprocesses with nothing due, waits
until they are up (start-up reported apart, as ``start_up_s``), then makes every request due
(as at midnight) and times until every export is done and every message sent. A local HTTP
server stands in for Slack and counts what it receives. Printed per run: wall time, exports per
second, CPU seconds of the schedulers and of the workers (with their work horses), duplicates
(a slot with two jobs, a message received twice) and lost (a job not done, a message not
received, a done job whose file is not in the bucket), the ratio to the baseline, per worker,
against the target of issue 21 (≥ 0.6× per worker). The raw baseline in the same run: the same
exports run one after the other in this process with ``exports.queue.runner.run_job``, each
followed by its message sent here (``notifications.jobs.deliver``), same storage, no workers,
the COPY connection kept from one export to the next as a worker's horse keeps it; run twice,
and the second (warm) run is the baseline, since the workers warm up before they take jobs too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _s3server import start_moto_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
MEDIA = tempfile.mkdtemp(prefix="bench-scale-media-")
os.environ["MEDIA_ROOT"] = MEDIA
os.environ["EXPORTS_INSTANCE"] = "bench"
# The Slack stand-in is plain http on 127.0.0.1: allowed here (the baseline sends in-process)
# and in the workers (they inherit the environment).
os.environ["NOTIFICATIONS_ALLOWED_HOSTS"] = "127.0.0.1"

with socket.socket() as _probe:
    _probe.bind(("127.0.0.1", 0))
    REDIS_PORT = _probe.getsockname()[1]
# A Redis server of the bench's own (started below, flushed between runs); db 5 of it.
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/5"


def start_moto() -> tuple[subprocess.Popen, str]:
    """moto's S3 server on a free port of 127.0.0.1 and a fresh bucket in it."""
    server, endpoint = start_moto_server()
    bucket = f"bench-scale-{uuid.uuid4().hex[:8]}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    os.environ.update(
        EXPORTS_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_S3_REGION_NAME="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return server, bucket


# Storage is chosen by settings, so before django.setup(): the same for this process (the
# baseline) and for the workers it starts (they inherit the environment).
_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--storage", choices=("s3", "local"), default="s3")
MOTO, BUCKET = start_moto() if _early.parse_known_args()[0].storage == "s3" else (None, None)

import django  # noqa: E402

django.setup()

import django_rq  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from rq import Worker  # noqa: E402

from exports.management.commands.runstack import start_redis  # noqa: E402
from exports.models import (  # noqa: E402
    ChannelGrant,
    ExportItem,
    ExportJob,
    ExportRequest,
    JobStatus,
    Message,
    NotificationMessage,
)
from exports.queue.namespace import queue_name  # noqa: E402
from exports.queue.runner import create_job, run_job  # noqa: E402
from exports.writers import copying  # noqa: E402
from notifications.jobs import deliver  # noqa: E402
from notifications.models import Delivery, DeliveryStatus, DownloadLink  # noqa: E402

CHANNEL = "bench-chan"


class ChatCounter:
    """A Slack stand-in on 127.0.0.1 counting the messages it receives, per webhook path."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        lock = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    counter.received[self.path] += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def make_data(exports: int, users: int, chat_url: str) -> list[int]:
    """Messages to export and ``exports`` recurring requests (PT1H), each with one slot due."""
    now = timezone.now()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher="dev",
            name="t",
            unit="Cel",
            time=start + timedelta(seconds=30 * i),
            value=float(i),
        )
        for i in range(120)
    )
    owners = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bench{i}", email=f"bench{i}@example.com") for i in range(users)
    )
    # Since channel grants (h5-access) an owner must be allowed to read the channel.
    ChannelGrant.objects.bulk_create(
        ChannelGrant(user=owner, channel_id=CHANNEL, can_read=True) for owner in owners
    )
    requests = ExportRequest.objects.bulk_create(
        ExportRequest(
            owner=owners[i % users],
            name=f"bench {i}",
            type="recurring",
            periodicity="PT1H",
            period_start=start,
            timezone="UTC",
            extension="csv",
        )
        for i in range(exports)
    )
    ExportItem.objects.bulk_create(
        ExportItem(request=r, target_value="t", channel_id=CHANNEL, subtopic="s") for r in requests
    )
    NotificationMessage.objects.bulk_create(
        NotificationMessage(request=r, medium="slack", target=f"{chat_url}/hook/{r.pk}")
        for r in requests
    )
    return [r.pk for r in requests]


def bucket_keys() -> set[str]:
    """Names of the files in the bench's bucket (empty set on local storage)."""
    if BUCKET is None:
        return set()
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"])
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(item["Key"] for item in page.get("Contents", ()))
    return keys


def reset(request_ids: list[int]) -> datetime:
    """Every request due for its slot again; no jobs, deliveries or links; Redis empty."""
    DownloadLink.objects.all().delete()
    Delivery.objects.all().delete()
    ExportJob.objects.all().delete()
    slot = timezone.now().replace(minute=0, second=0, microsecond=0)
    ExportRequest.objects.filter(pk__in=request_ids).update(next_run_at=slot)
    django_rq.get_connection(queue_name("exports")).flushdb()
    return slot


def baseline(request_ids: list[int], slot: datetime) -> float:
    """Seconds to run the same exports one after the other in this process (no queue),
    each followed by its notification, sent here too (``deliver`` called directly)."""
    started = time.perf_counter()
    for request in ExportRequest.objects.filter(pk__in=request_ids):
        job = run_job(create_job(request, slot).pk)
        for delivery_id in Delivery.objects.filter(job=job).values_list("pk", flat=True):
            deliver(delivery_id)
    return time.perf_counter() - started


def subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        url = f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    return dict(
        os.environ,
        DATABASE_URL=url,
        NOTIFICATIONS_ALLOWED_HOSTS="127.0.0.1",
        EXPORTS_SCHEDULER_INTERVAL="1",
    )


def run(workers: int, schedulers: int, request_ids: list[int], chat: ChatCounter, timeout: float):
    slot = reset(request_ids)
    # Nothing is due while the processes start: the run is timed from the moment the requests
    # become due to a running service (as at midnight), the start-up is reported apart.
    ExportRequest.objects.filter(pk__in=request_ids).update(next_run_at=None)
    chat.received.clear()
    env = subprocess_env()
    manage = [sys.executable, str(ROOT / "manage.py")]
    log = open(os.environ.get("BENCH_LOG", os.devnull), "a")  # noqa: SIM115
    launched = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*manage, "runscheduler", "--interval", "0.5"],
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
        )
        for _ in range(schedulers)
    ] + [
        subprocess.Popen(
            [*manage, "runworker", "exports", "notifications"], stdout=log, stderr=log, env=env
        )
        for _ in range(workers)
    ]
    ready = [threading.Event() for _ in range(schedulers)]
    for process, event in zip(processes, ready, strict=False):
        threading.Thread(target=drain, args=(process.stdout, log, event), daemon=True).start()
    total = len(request_ids)
    try:
        deadline = time.monotonic() + timeout
        queue = django_rq.get_queue(queue_name("exports"))
        while Worker.count(queue=queue) < workers or not all(e.is_set() for e in ready):
            if time.monotonic() > deadline:
                raise SystemExit("The workers and schedulers did not start in time.")
            time.sleep(0.05)
        start_up = time.perf_counter() - launched
        cpu_before = [cpu_seconds(process.pid) for process in processes]
        started = time.perf_counter()
        ExportRequest.objects.filter(pk__in=request_ids).update(next_run_at=slot)
        while time.monotonic() < deadline:
            done = ExportJob.objects.filter(status=JobStatus.DONE).count()
            sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
            if done >= total and sent >= total:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = {"scheduler": 0.0, "worker": 0.0}
        for index, process in enumerate(processes):
            used = cpu_seconds(process.pid) - cpu_before[index]
            cpu["scheduler" if index < schedulers else "worker"] += used
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    jobs_per_request = Counter(ExportJob.objects.values_list("request_id", flat=True))
    done_files = set(ExportJob.objects.filter(status=JobStatus.DONE).values_list("file", flat=True))
    missing_files = len(done_files - bucket_keys()) if BUCKET is not None else 0
    expected_paths = {f"/hook/{pk}" for pk in request_ids}
    return {
        "workers": workers,
        "start_up_s": round(start_up, 2),
        "seconds": round(elapsed, 2),
        "exports_per_s": round(total / elapsed, 1),
        "jobs_done": ExportJob.objects.filter(status=JobStatus.DONE).count(),
        "duplicate_jobs": sum(n - 1 for n in jobs_per_request.values() if n > 1),
        "lost_jobs": total - ExportJob.objects.filter(status=JobStatus.DONE).count(),
        "messages_once": sum(1 for p in expected_paths if chat.received[p] == 1),
        "duplicate_messages": sum(n - 1 for n in chat.received.values() if n > 1),
        "lost_messages": sum(1 for p in expected_paths if chat.received[p] == 0),
        "files_missing_in_bucket": missing_files,
        "cpu_s_schedulers": round(cpu["scheduler"], 2),
        "cpu_s_workers": round(cpu["worker"], 2),
    }


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``, its reaped children and
    its live ones (a worker's work horse)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def drain(stream, log, ready: threading.Event) -> None:
    """Copy a scheduler's output to the log; set ``ready`` at its first line ("started")."""
    for line in iter(stream.readline, b""):
        ready.set()
        log.write(line.decode(errors="replace"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=int, default=500)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--storage", choices=("s3", "local"), default="s3")
    parser.add_argument(
        "--keepdb",
        action="store_true",
        help="PostgreSQL: reuse test_<name> and leave it emptied instead of dropping it "
        "(DROP DATABASE waits for every backend of the server, a stuck one included)",
    )
    options = parser.parse_args()

    redis = start_redis(os.environ["REDIS_URL"])
    folder = tempfile.mkdtemp(prefix="bench-scale-")
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = os.path.join(folder, "bench.sqlite3")
    old_name = connection.settings_dict["NAME"]
    keepdb = options.keepdb and connection.vendor == "postgresql"
    if keepdb:  # a database of the bench's own, not the test suite's test_<name>
        connection.settings_dict["TEST"]["NAME"] = f"test_{old_name}_bench"
    connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=keepdb
    )
    if keepdb:
        call_command("flush", interactive=False, verbosity=0)
    chat = ChatCounter()
    try:
        request_ids = make_data(options.exports, options.users, chat.url)
        # The baseline keeps its COPY connection between exports, as a worker's horse does:
        # the same work on both sides, not a connection per export on one of them.
        copying.keep_connections()
        # The first run warms this process up (imports, URL resolver, templates, caches), as a
        # worker's start-up does before it takes jobs. Then, before each queued run, a warm
        # baseline of its own: on a shared machine the load drifts within minutes, and a ratio
        # of two runs far apart would measure the drift.
        cold = baseline(request_ids, reset(request_ids))
        storage = f"S3 bucket {BUCKET} on moto" if BUCKET else "local disk"
        print(f"Database: {connection.vendor}; storage: {storage}; {os.cpu_count()} CPU(s)")
        print(f"first (cold) in-process run: {options.exports / cold:.1f}/s")
        results = []
        for workers in (int(n) for n in options.workers.split(",")):
            cpu_started = time.process_time()
            raw = baseline(request_ids, reset(request_ids))
            raw_cpu_ms = (time.process_time() - cpu_started) * 1000 / options.exports
            print(
                f"raw baseline: {options.exports} exports in-process, one by one, warm: "
                f"{raw:.2f} s ({options.exports / raw:.1f}/s), CPU {raw_cpu_ms:.0f} ms per export"
            )
            result = run(workers, options.schedulers, request_ids, chat, options.timeout)
            result["raw_per_s"] = round(options.exports / raw, 1)
            result["vs_raw"] = round(raw / result["seconds"], 2)
            result["per_worker"] = round(result["vs_raw"] / workers, 2)
            # Less at the mercy of the machine's load than wall time: CPU per export.
            used = result["cpu_s_schedulers"] + result["cpu_s_workers"]
            result["cpu_ms_per_export"] = round(used * 1000 / options.exports)
            result["cpu_vs_raw"] = round(raw_cpu_ms / result["cpu_ms_per_export"], 2)
            results.append(result)
            print(json.dumps(result))
        print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
        print(
            "workers  in-process/s  queued/s  ratio  per worker  target/worker  "
            "CPU ms/export (in-process)  dup  lost  ok"
        )
        for r in results:
            clean = not (r["duplicate_jobs"] or r["lost_jobs"] or r["duplicate_messages"])
            clean = clean and not (r["lost_messages"] or r["files_missing_in_bucket"])
            met = r["per_worker"] >= 0.6 and clean
            duplicates = r["duplicate_jobs"] + r["duplicate_messages"]
            lost = r["lost_jobs"] + r["lost_messages"] + r["files_missing_in_bucket"]
            raw_cpu = round(r["cpu_ms_per_export"] * r["cpu_vs_raw"])
            print(
                f"{r['workers']:7}  {r['raw_per_s']:12.1f}  {r['exports_per_s']:8.1f}  "
                f"{r['vs_raw']:4.2f}x  {r['per_worker']:9.2f}x  {0.6:12.1f}x  "
                f"{r['cpu_ms_per_export']:13} ({raw_cpu:3})  {duplicates:11}  {lost:4}  "
                f"{'yes' if met else 'NO'}"
            )
    finally:
        chat.server.shutdown()
        copying.close_kept_connections()
        if keepdb:
            call_command("flush", interactive=False, verbosity=0)
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keepdb)
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(MEDIA, ignore_errors=True)
        if MOTO is not None:
            MOTO.terminate()
            MOTO.wait(timeout=10)


if __name__ == "__main__":
    main()
