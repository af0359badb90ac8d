"""Real brokers for the subscriber tests: mosquitto and nats-server on free 127.0.0.1 ports,
each with its own directory (persistence), started, stopped and restarted by the test."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import paho.mqtt.client as paho

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


class Broker:
    """A broker process we own: ``start``, ``stop`` (SIGTERM, it saves its state), ``kill``."""

    def __init__(self):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix=f"exporter-{self.kind}-")
        self.process: subprocess.Popen | None = None

    kind = "broker"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Broker:
        self.process = subprocess.Popen(
            self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class Mosquitto(Broker):
    kind = "mosquitto"

    def argv(self) -> list[str]:
        config = os.path.join(self.directory, "mosquitto.conf")
        with open(config, "w") as out:
            out.write(
                f"listener {self.port} 127.0.0.1\n"
                "allow_anonymous true\n"
                "persistence true\n"
                f"persistence_location {self.directory}/\n"
                "max_queued_messages 0\n"
                # Run as root, mosquitto would switch to its own user, which may not write
                # its persistence to our directory: keep the user we are.
                f"user {getpass.getuser()}\n"
                f"log_dest file {self.directory}/mosquitto.log\n"
            )
        return [MOSQUITTO, "-c", config]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class NatsServer(Broker):
    kind = "nats"

    def argv(self) -> list[str]:
        return [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.directory]

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


def pack(name: str, t: float, v: float, count: int = 1) -> bytes:
    """A SenML JSON pack of ``count`` records one second apart."""
    return json.dumps([{"n": name, "t": t + i, "v": v + i} for i in range(count)]).encode()


def mqtt_publish(port: int, messages: list[tuple[str, bytes]], client_id: str = "") -> None:
    """Publish (topic, payload) pairs at QoS 1 and wait for every PUBACK; reconnects as needed."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def nats_publish(url: str, messages: list[tuple[str, bytes]], *, jetstream: bool) -> None:
    """Publish (subject, payload) pairs; with ``jetstream`` each waits for the stream's ack."""

    async def main():
        import nats

        nc = await nats.connect(url)
        js = nc.jetstream() if jetstream else None
        for subject, payload in messages:
            if js is not None:
                await js.publish(subject, payload, timeout=10)
            else:
                await nc.publish(subject, payload)
        await nc.flush()
        await nc.close()

    asyncio.run(main())


def nats_add_stream(url: str, name: str, subjects: list[str]) -> None:
    async def main():
        import nats

        nc = await nats.connect(url)
        await nc.jetstream().add_stream(name=name, subjects=subjects)
        await nc.close()

    asyncio.run(main())


def nats_consumer_info(url: str, stream: str, durable: str):
    """The JetStream consumer's state (``num_ack_pending``, ``num_redelivered``, ``ack_floor``)."""

    async def main():
        import nats

        nc = await nats.connect(url)
        try:
            return await nc.jetstream().consumer_info(stream, durable)
        finally:
            await nc.close()

    return asyncio.run(main())
