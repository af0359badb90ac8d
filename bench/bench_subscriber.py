"""Subscriber benchmark (not a test): SenML through mosquitto, core NATS and NATS JetStream into
the message table, beside ``manage.py ingest`` of the same records, in one run.

Usage:  .venv/bin/python bench/bench_subscriber.py [--records 1000000] [--sizes 1,100]
            [--transports mqtt,nats,jetstream] [--paced-seconds 10] [--paced-rate 10000]

Starts its own mosquitto and nats-server on free 127.0.0.1 ports and uses a Redis database for
the heartbeat (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/7). The database is a fresh
SQLite file per case, or, with ``DATABASE_URL=postgres://…/<own database>``, that database
emptied per case (it is migrated first). Per case (transport × records per message), one
``manage.py runsubscriber`` (default batch settings) runs two phases:

* **sustained**: every record published as fast as the publisher can, the subscriber's
  stored records/s = records / (last batch stored − first publish);
* **paced**: then ``--paced-rate`` records/s for ``--paced-seconds``, and per message the
  publish-to-stored latency (``Message.created`` — stamped as its batch's transaction starts —
  minus the publish time), p50 and p99.

The publishers are not the subscriber's rival for the CPU: MQTT goes through ``mosquitto_pub
-l`` (C; its stdin stays open until all is stored, as it drops what is in flight at EOF), NATS
through a separate Python process publishing on core NATS (``nc.publish``, no ack awaited; a
JetStream stream stores what is published on its subjects). Core NATS is at most once: what a
slower subscriber cannot take is dropped, and the table says how much was stored.
The subscriber's peak RSS is sampled over both phases, and the CPU time it used in the
sustained phase is given per 100,000 messages (user + system, all its threads).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.subscriber_brokers import Mosquitto, NatsServer  # noqa: E402

T0 = 1_767_225_600
CHANNEL, SUBTOPIC = "bench-channel", "events.data"
MQTT_TOPIC = f"channels/{CHANNEL}/messages/events/data"
NATS_SUBJECT = f"channels.{CHANNEL}.events.data"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
# As in production: DEBUG off (with it, Django keeps the text of every query, parameters
# spelled out, which costs both ingest and the subscriber time and memory).
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "bench-" + "x" * 50}
TICK = 0.01  # seconds between the paced publisher's bursts
TARGET_RATIO, TARGET_RSS, TARGET_P99 = 0.5, 200, 2.0


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def record(index: int) -> dict:
    return {"n": "temperature", "u": "Cel", "t": T0 + index, "v": 20 + index % 50 / 10}


def lines(first: int, count: int, size: int) -> list[bytes]:
    """Messages (one JSON pack per line) of ``size`` records, record times T0+first …"""
    end = first + count
    return [
        json.dumps([record(i) for i in range(start, min(start + size, end))]).encode() + b"\n"
        for start in range(first, end, size)
    ]


class Database:
    """A fresh database per case: a SQLite copy of a migrated template, or PostgreSQL emptied."""

    def __init__(self, workdir: Path):
        self.url = os.environ.get("DATABASE_URL", "")
        self.workdir = workdir
        if self.url.startswith("postgres"):
            self.template = None
            manage("migrate", "-v", "0", env={"DATABASE_URL": self.url})
        else:
            self.template = workdir / "template.sqlite3"
            manage("migrate", "-v", "0", env={"DATABASE_URL": f"sqlite:///{self.template}"})

    def fresh(self, case: str) -> str:
        if self.template is None:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as db:
                db.execute(
                    "TRUNCATE exports_message, exports_series, exports_busmessagekey,"
                    " exports_busdeadletter"
                )
            return self.url
        path = self.workdir / f"{case}.sqlite3"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def query(self, url: str, sql: str) -> list[tuple]:
        if url.startswith("sqlite:///"):
            with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(url) as db:
            return db.execute(sql).fetchall()


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        check=True,
        env=dict(os.environ, **PRODUCTION, **env),
        capture_output=True,
        text=True,
    )


def run_ingest(db: Database, records: int, workdir: Path) -> dict:
    url = db.fresh("ingest")
    path = workdir / "records.jsonl"
    with path.open("w") as out:
        for index in range(records):
            out.write(json.dumps(record(index)) + "\n")
    started = time.perf_counter()
    manage(
        "ingest", str(path), "--channel", CHANNEL, "--subtopic", SUBTOPIC, "--publisher", "d",
        env={"DATABASE_URL": url},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    path.unlink()
    return {"case": "manage.py ingest", "rate": records / seconds}


class Publisher:
    """Publishes lines: ``flood`` all at once, ``paced`` ``per_tick`` lines every TICK seconds
    (returns each message's publish time)."""

    def __init__(self, transport: str, broker, workdir: Path):
        self.transport = transport
        if transport == "mqtt":
            argv = ["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", MQTT_TOPIC, "-l"]
            # A window of 1000 unacknowledged messages instead of mosquitto_pub's 20: with 20
            # the publisher, not the subscriber, set the pace (26-29k messages/s here even
            # into a mosquitto_sub that stores nothing).
            argv += ["-i", "bench-publisher", "-M", "1000"]
        else:
            argv = [sys.executable, __file__, "--publish-nats", broker.url]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def flood(self, messages: list[bytes]) -> None:
        for start in range(0, len(messages), 10000):
            self.process.stdin.write(b"".join(messages[start : start + 10000]))
        self.process.stdin.flush()

    def paced(self, messages: list[bytes], per_tick: int) -> list[float]:
        sent: list[float] = []
        next_tick = time.perf_counter()
        for start in range(0, len(messages), per_tick):
            chunk = messages[start : start + per_tick]
            sent.extend([time.time()] * len(chunk))
            self.process.stdin.write(b"".join(chunk))
            self.process.stdin.flush()
            next_tick += TICK
            delay = next_tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        return sent

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def publish_nats_from_stdin(url: str) -> None:
    """The NATS publisher process: each stdin line a message on NATS_SUBJECT, on core NATS."""

    async def main():
        import nats

        nc = await nats.connect(url, pending_size=64 * 2**20)
        loop = asyncio.get_running_loop()
        read = sys.stdin.buffer.read1
        rest = b""
        while chunk := await loop.run_in_executor(None, read, 1 << 20):
            *complete, rest = (rest + chunk).split(b"\n")
            for line in complete:
                await nc.publish(NATS_SUBJECT, line)
            await nc.flush()
        await nc.close()

    asyncio.run(main())


class Watch:
    """Samples the subscriber's RSS while waiting for stored records."""

    def __init__(self, db: Database, url: str, process: subprocess.Popen):
        self.db, self.url, self.process = db, url, process
        self.memory = psutil.Process(process.pid)
        self.peak = 0

    def sample(self) -> None:
        self.peak = max(self.peak, self.memory.memory_info().rss)
        assert self.process.poll() is None, "the subscriber died"

    def count(self) -> int:
        return self.db.query(self.url, "SELECT COUNT(*) FROM exports_message")[0][0]

    def until(self, records: int, quiet: float = 10.0, limit: float = 3600) -> int:
        """Wait until ``records`` are stored, or nothing more came for ``quiet`` seconds."""
        started, last, last_change = time.monotonic(), -1, time.monotonic()
        while True:
            for _ in range(5):
                self.sample()
                time.sleep(0.1)
            stored = self.count()
            if stored >= records:
                return stored
            if stored != last:
                last, last_change = stored, time.monotonic()
            elif time.monotonic() - last_change > quiet:
                return stored
            assert time.monotonic() - started < limit, "too slow"


def stored_times(db: Database, url: str, first: int, size: int) -> dict[int, float]:
    """Per message index (from record ``first`` on): when its batch was stored."""
    since = datetime.fromtimestamp(T0 + first, UTC)
    where = f"WHERE time >= '{since.isoformat(' ')[:19]}'"
    stored: dict[int, float] = {}
    for when, created in db.query(url, f"SELECT time, created FROM exports_message {where}"):
        index = (round(_epoch(when)) - T0 - first) // size
        stored[index] = max(stored.get(index, 0.0), _epoch(created))
    return stored


def _epoch(value) -> float:
    if isinstance(value, str):  # SQLite keeps datetimes as text, in UTC
        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    return value.timestamp()


def run_case(db: Database, transport: str, size: int, args, broker, workdir: Path) -> dict:
    url = db.fresh(f"{transport}-{size}")
    heartbeat = redis.Redis.from_url(REDIS_URL)
    heartbeat.delete("exporter:bench:subscriber")
    env = dict(
        os.environ,
        **PRODUCTION,
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        EXPORTS_INSTANCE="bench",
        SUBSCRIBER_PUBLISH_RULE="any",
        SUBSCRIBER_CLIENT_ID=f"bench-{size}",
        SUBSCRIBER_DURABLE=f"bench{size}",
    )
    if transport == "mqtt":
        env["MQTT_URL"] = broker.url
    else:
        env["NATS_URL"] = broker.url
        if transport == "jetstream":
            env["NATS_STREAM"] = f"BENCH{size}"
    log = open(args.logs / f"{transport}-{size}.log", "wb") if args.logs else None  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsubscriber"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
    )
    publisher = None
    try:
        deadline = time.monotonic() + 30
        while True:
            raw = heartbeat.get("exporter:bench:subscriber")
            if raw and all(json.loads(raw)["connected"].values()):
                break
            assert time.monotonic() < deadline and process.poll() is None, "subscriber not up"
            time.sleep(0.1)
        time.sleep(0.5)  # subscribed (MQTT) / consumer bound (NATS)
        watch = Watch(db, url, process)
        cpu_before = sum(watch.memory.cpu_times()[:2])
        publisher = Publisher(transport, broker, workdir)
        # Sustained: everything at once.
        messages = lines(0, args.records, size)
        started = time.time()
        publisher.flood(messages)
        del messages
        stored = watch.until(args.records)
        last = db.query(url, "SELECT MAX(created) FROM exports_message")[0][0]
        sustained = stored / (_epoch(last) - started)
        cpu = sum(watch.memory.cpu_times()[:2]) - cpu_before
        # Paced: --paced-rate records/s.
        paced = args.paced_rate * args.paced_seconds
        first = args.records
        messages = lines(first, paced, size)
        per_tick = max(1, round(args.paced_rate * TICK / size))
        sent = publisher.paced(messages, per_tick)
        paced_stored = watch.until(stored + paced, quiet=5) - stored
        times = stored_times(db, url, first, size)
        latencies = [times[index] - at for index, at in enumerate(sent) if index in times]
        p50 = statistics.median(latencies) if latencies else float("nan")
        p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else float("nan")
        watch.sample()
    finally:
        if publisher is not None:
            publisher.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log is not None:
            log.close()
    return {
        "case": f"{transport} × {size}",
        "rate": sustained,
        "stored": stored,
        "paced_stored": paced_stored,
        "paced": paced,
        "p50": p50,
        "p99": p99,
        "rss": watch.peak / 2**20,
        "cpu": cpu / (stored / size) * 100_000 if stored else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="1,100", help="records per message, comma list")
    parser.add_argument("--transports", default="mqtt,nats,jetstream")
    parser.add_argument("--paced-rate", type=int, default=10_000, help="records/s")
    parser.add_argument("--paced-seconds", type=int, default=10)
    parser.add_argument("--logs", type=Path, help="keep each subscriber's log in this directory")
    parser.add_argument("--publish-nats", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish_nats:
        publish_nats_from_stdin(args.publish_nats)
        return
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
    workdir = Path(tempfile.mkdtemp(prefix="exporter-bench-subscriber-"))
    brokers = {"mqtt": Mosquitto().start(), "nats": NatsServer().start()}
    try:
        db = Database(workdir)
        database = "PostgreSQL" if db.template is None else "SQLite"
        print(
            f"{args.records:,} records per case, {database}, {os.cpu_count()} CPUs, load {load()}",
            flush=True,
        )
        baseline = run_ingest(db, args.records, workdir)
        print(f"  {baseline['case']:<16} {baseline['rate']:>9,.0f} records/s", flush=True)
        print(
            f"  {'case':<16} {'records/s':>9} {'× ingest':>8}  {'p50 ms':>7} {'p99 ms':>7}"
            f"  {'RSS MB':>6} {'CPU s':>6}  (paced {args.paced_rate:,} rec/s ×"
            f" {args.paced_seconds} s; CPU s per 100k messages, sustained)",
            flush=True,
        )
        failed = []
        for transport in args.transports.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                if transport != "mqtt":  # a fresh server per case: streams may not overlap
                    brokers["nats"].close()
                    brokers["nats"] = NatsServer().start()
                broker = brokers["mqtt" if transport == "mqtt" else "nats"]
                result = run_case(db, transport, size, args, broker, workdir)
                ratio = result["rate"] / baseline["rate"]
                met = (
                    ratio >= TARGET_RATIO
                    and result["rss"] < TARGET_RSS
                    and result["p99"] < TARGET_P99
                )
                note = ""
                if result["stored"] < args.records or result["paced_stored"] < result["paced"]:
                    note = (
                        f"  stored {result['stored']:,}/{args.records:,}"
                        f" + {result['paced_stored']:,}/{result['paced']:,} paced"
                    )
                if not met:
                    failed.append(result["case"])
                print(
                    f"  {result['case']:<16} {result['rate']:>9,.0f} {ratio:>7.2f}×"
                    f"  {result['p50'] * 1000:>7,.0f} {result['p99'] * 1000:>7,.0f}"
                    f"  {result['rss']:>6.0f} {result['cpu']:>6.1f}"
                    f"  {'ok' if met else 'MISSED'}{note}",
                    flush=True,
                )
        print(
            f"targets: ≥ {TARGET_RATIO}× ingest, p99 < {TARGET_P99 * 1000:,.0f} ms at the paced"
            f" rate, peak RSS < {TARGET_RSS} MB; missed: {', '.join(failed) or 'none'};"
            f" load {load()}",
            flush=True,
        )
    finally:
        for broker in brokers.values():
            broker.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
