"""runsubscriber as its own process, killed with SIGKILL while a batch is open and started
again: with an MQTT persistent session and with a JetStream durable consumer nothing is lost
and nothing doubled. SIGTERM stores the open batch and exits cleanly."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest

from exports.data.bus.subscriber import heartbeat_key
from exports.models import Message
from tests.subscriber_brokers import (
    Mosquitto,
    NatsServer,
    mqtt_publish,
    nats_add_stream,
    nats_publish,
    pack,
)
from tests.test_scheduler import ROOT, database_for_subprocesses, subprocess_env, wait_for

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]
T0 = 1_767_225_600
COUNT = 400


def stored(url: str) -> int:
    """Messages in the database at ``url``, read as another process sees them."""
    sql = "SELECT COUNT(*) FROM exports_message"
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return db.execute(sql).fetchone()[0]
    with psycopg.connect(url) as db:
        return db.execute(sql).fetchone()[0]


STARTED: list[subprocess.Popen] = []


def start(env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsubscriber"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def no_subscriber_left():
    """A failed test must not leave its subscriber running."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def wait_connected(redis_conn, process: subprocess.Popen, previous: float = 0.0) -> None:
    def connected() -> bool:
        assert process.poll() is None, process.stdout.read()
        raw = redis_conn.get(heartbeat_key("test"))
        status = json.loads(raw) if raw else {}
        return (
            status.get("at", 0) > previous
            and status.get("running")
            and all(status.get("connected", {"x": False}).values())
        )

    wait_for(connected, 20, "the subscriber's heartbeat, connected")


@pytest.fixture(params=["mqtt", "nats"])
def broker(request):
    broker = (Mosquitto if request.param == "mqtt" else NatsServer)().start()
    if request.param == "nats":
        nats_add_stream(broker.url, "MESSAGES", ["channels.>", "m.*.c.>"])
    yield request.param, broker
    broker.close()


def publish(transport: str, broker, messages: list[tuple[int, bytes]]) -> None:
    if transport == "mqtt":
        topics = [(f"channels/c1/messages/s{i % 4}", payload) for i, payload in messages]
        mqtt_publish(broker.port, topics, client_id="pub")
    else:
        subjects = [(f"channels.c1.s{i % 4}", payload) for i, payload in messages]
        nats_publish(broker.url, subjects, jetstream=True)


def test_a_subscriber_killed_mid_batch_loses_and_doubles_nothing_when_started_again(
    broker, redis_conn
):
    transport, server = broker
    messages = [(i, pack("n", T0 + i, float(i))) for i in range(COUNT)]
    with database_for_subprocesses() as url:
        env = subprocess_env(url) | {
            "MQTT_URL" if transport == "mqtt" else "NATS_URL": server.url,
            "NATS_STREAM": "MESSAGES",
            "SUBSCRIBER_PUBLISH_RULE": "any",
            "SUBSCRIBER_BATCH_SIZE": "100000",
            "SUBSCRIBER_BATCH_MS": "1500",  # a batch stays open long enough to be killed
        }
        process = start(env)
        wait_connected(redis_conn, process)
        publish(transport, server, messages[: COUNT // 2])
        wait_for(lambda: stored(url) >= COUNT // 2, 30, "the first half stored")
        publish(transport, server, messages[COUNT // 2 :])
        time.sleep(0.5)  # received, in the open batch, not committed
        assert stored(url) == COUNT // 2
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()

        process = start(env)
        wait_for(lambda: stored(url) >= COUNT, 90, "every message stored after the restart")
        time.sleep(2)  # a redelivery would be stored by now
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        process.stdout.close()
    counts = Counter(Message.objects.values_list("subtopic", "name", "time"))
    assert len(counts) == COUNT and set(counts.values()) == {1}


def test_sigterm_stores_the_open_batch_acknowledges_it_and_exits(broker, redis_conn):
    transport, server = broker
    with database_for_subprocesses() as url:
        env = subprocess_env(url) | {
            "MQTT_URL" if transport == "mqtt" else "NATS_URL": server.url,
            "NATS_STREAM": "MESSAGES",
            "SUBSCRIBER_PUBLISH_RULE": "any",
            "SUBSCRIBER_BATCH_MS": "60000",  # only SIGTERM closes this batch
        }
        process = start(env)
        wait_connected(redis_conn, process)
        publish(transport, server, [(i, pack("n", T0 + i, 1.0)) for i in range(10)])
        time.sleep(1)
        assert stored(url) == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0, process.stdout.read()
        output = process.stdout.read()
        process.stdout.close()
        assert stored(url) == 10
        assert "stored=10" in output
        # Acknowledged: started again, it gets nothing more.
        process = start(env)
        wait_connected(redis_conn, process)
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
        assert "received=0" in process.stdout.read()
        process.stdout.close()
