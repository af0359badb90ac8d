"""Subscriber benchmark (not a test): SenML through mosquitto and NATS JetStream into the
message table, beside ``manage.py ingest`` of the same records, in one run.

Usage:  .venv/bin/python bench/bench_subscriber.py [--records 200000] [--sizes 1,100]
                                                   [--transports mqtt,nats]

Starts its own mosquitto and nats-server on free 127.0.0.1 ports and a Redis database for the
heartbeat (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/7). The database is a fresh
SQLite file per case, or, with ``DATABASE_URL=postgres://…/<own database>``, that database
emptied per case (it is migrated first). Cases:
  * ``ingest``: ``manage.py ingest`` of all records as JSON lines (one transaction);
  * ``<transport> × <records per message>``: ``manage.py runsubscriber`` (default batch
    settings) running, then every message published at QoS 1 (MQTT) or into a JetStream stream
    (NATS); done when every record is stored.
Prints stored records/s, publish-to-stored latency p50/p99 (``Message.created``, stamped when
the batch is stored, minus the publish time) and the subscriber's peak RSS.
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
import threading
import time
from collections import deque
from pathlib import Path

import paho.mqtt.client as paho
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.subscriber_brokers import Mosquitto, NatsServer  # noqa: E402

T0 = 1_767_225_600
CHANNEL, SUBTOPIC = "bench-channel", "events.data"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def record(index: int) -> dict:
    return {"n": "temperature", "u": "Cel", "t": T0 + index, "v": 20 + index % 50 / 10}


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
        env=dict(os.environ, **env),
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
    return {"case": "manage.py ingest", "rate": records / seconds, "seconds": seconds}


def payloads(records: int, size: int) -> list[bytes]:
    return [
        json.dumps([record(i) for i in range(start, min(start + size, records))]).encode()
        for start in range(0, records, size)
    ]


def publish_mqtt(port: int, messages: list[bytes], sent: list[float]) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = f"channels/{CHANNEL}/messages/events/data"
    pending: deque = deque()
    for payload in messages:
        if len(pending) >= 20000:  # packet ids wrap at 65535: keep fewer unacknowledged
            pending.popleft().wait_for_publish(120)
        sent.append(time.time())
        pending.append(client.publish(topic, payload, qos=1))
    for info in pending:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def publish_nats(url: str, messages: list[bytes], sent: list[float]) -> None:
    async def main():
        import nats

        nc = await nats.connect(url)
        js = nc.jetstream()
        subject = f"channels.{CHANNEL}.events.data"
        for start in range(0, len(messages), 500):  # 500 acks awaited at a time
            chunk = messages[start : start + 500]
            sent.extend([time.time()] * len(chunk))
            await asyncio.gather(*(js.publish(subject, payload) for payload in chunk))
        await nc.close()

    asyncio.run(main())


def run_subscriber(db: Database, transport: str, size: int, records: int, broker) -> dict:
    case = f"{transport} × {size}"
    url = db.fresh(f"{transport}-{size}")
    heartbeat = redis.Redis.from_url(REDIS_URL)
    heartbeat.delete("exporter:bench:subscriber")
    env = dict(
        os.environ,
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
        env |= {"NATS_URL": broker.url, "NATS_STREAM": f"BENCH{size}"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsubscriber"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        raw = heartbeat.get("exporter:bench:subscriber")
        if raw and all(json.loads(raw)["connected"].values()):
            break
        assert time.monotonic() < deadline and process.poll() is None, "subscriber not up"
        time.sleep(0.1)
    time.sleep(0.5)  # subscribed (MQTT) / consumer bound (NATS)
    messages = payloads(records, size)
    sent: list[float] = []
    publish = publish_mqtt if transport == "mqtt" else publish_nats
    target = broker.port if transport == "mqtt" else broker.url
    publisher = threading.Thread(target=publish, args=(target, messages, sent))
    peak = 0
    memory = psutil.Process(process.pid)
    started = time.time()
    publisher.start()
    count_sql = "SELECT COUNT(*) FROM exports_message"
    while db.query(url, count_sql)[0][0] < records:
        peak = max(peak, memory.memory_info().rss)
        assert process.poll() is None, "subscriber died"
        assert time.time() - started < 1800, "too slow"
        time.sleep(0.2)
    finished = time.time()
    publisher.join()
    peak = max(peak, memory.memory_info().rss)
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    latencies = latency(db, url, sent, size)
    return {
        "case": case,
        "rate": records / (finished - started),
        "seconds": finished - started,
        "p50": statistics.median(latencies),
        "p99": statistics.quantiles(latencies, n=100)[98],
        "rss": peak / 2**20,
    }


def latency(db: Database, url: str, sent: list[float], size: int) -> list[float]:
    """Per message: when its batch was stored minus when it was published (seconds)."""
    rows = db.query(url, "SELECT time, created FROM exports_message")
    stored: dict[int, float] = {}
    for when, created in rows:
        when, created = (_epoch(value) for value in (when, created))
        message = (round(when) - T0) // size
        stored[message] = max(stored.get(message, 0.0), created)
    return [stored[index] - sent[index] for index in range(len(sent))]


def _epoch(value) -> float:
    if isinstance(value, str):  # SQLite keeps datetimes as text, in UTC
        from datetime import UTC, datetime

        return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()
    return value.timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--sizes", default="1,100", help="records per message, comma list")
    parser.add_argument("--transports", default="mqtt,nats")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
    workdir = Path(tempfile.mkdtemp(prefix="exporter-bench-subscriber-"))
    brokers = {"mqtt": Mosquitto().start(), "nats": NatsServer().start()}
    try:
        db = Database(workdir)
        database = "PostgreSQL" if db.template is None else "SQLite"
        print(f"{args.records} records, {database}, {os.cpu_count()} CPUs", flush=True)
        results = [run_ingest(db, args.records, workdir)]
        print(f"  {results[0]['case']:<18} {results[0]['rate']:>9,.0f} records/s", flush=True)
        for transport in args.transports.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                if transport == "nats":  # a stream per case: their subjects may not overlap
                    brokers["nats"].close()
                    brokers["nats"] = NatsServer().start()
                result = run_subscriber(db, transport, size, args.records, brokers[transport])
                ratio = result["rate"] / results[0]["rate"]
                p50, p99 = result["p50"] * 1000, result["p99"] * 1000
                print(
                    f"  {result['case']:<18} {result['rate']:>9,.0f} records/s"
                    f" ({ratio:.2f}× ingest)  latency p50 {p50:,.0f} ms p99 {p99:,.0f} ms"
                    f"  peak RSS {result['rss']:.0f} MB",
                    flush=True,
                )
    finally:
        for broker in brokers.values():
            broker.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
