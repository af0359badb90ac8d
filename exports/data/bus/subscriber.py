"""The subscriber's loop: collect a batch, store it once, then acknowledge it.

Brokers hand messages to :meth:`Subscriber.deliver` from their own threads; the loop takes up
to ``SUBSCRIBER_BATCH_SIZE`` messages, or what came within ``SUBSCRIBER_BATCH_MS`` of the
first, decodes them, stores them in one transaction (:func:`~exports.data.bus.storing.store_batch`)
and only then acknowledges them. A database that fails is retried with a doubling delay,
acknowledging nothing meanwhile. :meth:`Subscriber.stop` (SIGTERM) stores the open batch and
what is already queued, acknowledges it and disconnects; anything later stays with the broker.

A heartbeat in Redis (``exporter:<instance>:subscriber``, expiring after
:data:`HEARTBEAT_TTL` seconds) says whether each broker is connected, when the last message
came, the lag of the last batch and the running totals; ``/healthz`` reads it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connections

from exports.data.bus.decoding import Incoming, decode
from exports.data.bus.storing import BatchResult, prune_keys, store_batch
from exports.data.bus.topics import LAYOUTS, mqtt_filters, nats_subjects

log = logging.getLogger("exports.bus")

HEARTBEAT_EVERY = 2.0  # seconds
HEARTBEAT_TTL = 15  # seconds: a heartbeat older than this means the subscriber is gone
PRUNE_EVERY = 3600.0  # seconds between prunes of old message keys
MAX_DB_BACKOFF = 30.0


def heartbeat_key(instance: str) -> str:
    return f"exporter:{instance}:subscriber"


@dataclass
class SubscriberConfig:
    """What the subscriber connects to and how it batches (settings ``MQTT_URL`` …)."""

    mqtt_url: str = ""
    nats_url: str = ""
    nats_stream: str = ""
    layouts: tuple[str, ...] = LAYOUTS
    batch_size: int = 1000
    batch_ms: int = 200
    publish_rule: str = "grants"
    publisher: str = "unknown"
    dedup_window: timedelta = timedelta(days=7)
    dead_letters: int = 10000
    client_id: str = "exporter-subscriber"
    durable: str = "exporter"


@dataclass
class Totals:
    received: int = 0
    stored: int = 0  # messages
    records: int = 0
    duplicates: int = 0
    malformed: int = 0
    refused: int = 0

    def add(self, result: BatchResult) -> None:
        for name, value in asdict(result).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class Subscriber:
    config: SubscriberConfig
    redis: object | None = None  # a redis.Redis for the heartbeat, or None
    instance: str = "default"
    totals: Totals = field(default_factory=Totals)

    def __post_init__(self):
        self.inbox: queue.Queue[Incoming] = queue.Queue(maxsize=4 * self.config.batch_size)
        self.stopping = threading.Event()
        self.sources = self._sources()
        self.last_message: float | None = None
        self.lag: float | None = None
        self._beat_at = 0.0
        self._pruned_at = time.monotonic()

    def _sources(self) -> list:
        config, sources = self.config, []
        if config.mqtt_url:
            from exports.data.bus.mqtt import MqttSource

            sources.append(
                MqttSource(
                    config.mqtt_url,
                    filters=mqtt_filters(config.layouts),
                    client_id=config.client_id,
                    deliver=self.deliver,
                    session_expiry=int(config.dedup_window.total_seconds()),
                )
            )
        if config.nats_url:
            from exports.data.bus.nats import NatsSource

            sources.append(
                NatsSource(
                    config.nats_url,
                    subjects=nats_subjects(config.layouts),
                    deliver=self.deliver,
                    stream=config.nats_stream,
                    durable=config.durable,
                    batch_size=config.batch_size,
                    batch_ms=config.batch_ms,
                )
            )
        return sources

    def deliver(self, message: Incoming, timeout: float = 0.5) -> bool:
        """Queue ``message`` for the next batch; False when the queue stayed full."""
        try:
            if timeout:
                self.inbox.put(message, timeout=timeout)
            else:
                self.inbox.put_nowait(message)
        except queue.Full:
            return False
        return True

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        """Run until :meth:`stop`: start the brokers, store batches, beat, prune."""
        for source in self.sources:
            source.start()
        try:
            while not self.stopping.is_set():
                batch = self._collect()
                if batch:
                    self._flush(batch)
                self._housekeeping()
        finally:
            self._finish()

    def _finish(self) -> None:
        batch = []
        while True:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        if batch:
            self._flush(batch)
        for source in self.sources:
            source.stop()
        self._beat(force=True)
        close_old_connections()

    def _collect(self) -> list[Incoming]:
        try:
            batch = [self.inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_ms / 1000
        while len(batch) < self.config.batch_size and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                # In short waits, so a stop (SIGTERM) closes the batch at once.
                batch.append(self.inbox.get(timeout=min(remaining, 0.1)))
            except queue.Empty:
                continue
        return batch

    def _flush(self, batch: list[Incoming]) -> None:
        config = self.config
        decoded = [
            (message, decode(message, layouts=config.layouts, default_publisher=config.publisher))
            for message in batch
        ]
        backoff = 0.5
        while True:
            try:
                result = store_batch(
                    decoded, rule=config.publish_rule, dead_letters=config.dead_letters
                )
                break
            except DatabaseError as exc:
                log.error("storing a batch of %d bus messages failed: %s", len(batch), exc)
                connections["default"].close()
                if self.stopping.is_set():
                    return  # unacknowledged: the broker keeps them for the next run
                self._beat()  # still alive; /healthz shows the database's failure itself
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_DB_BACKOFF)
        stored_at = time.time()
        for message in batch:
            if message.ack is not None:
                message.ack()
        self.totals.received += len(batch)
        self.totals.add(result)
        self.last_message = max(message.received for message in batch)
        self.lag = stored_at - min(message.received for message in batch)
        log.debug("bus batch: %s", result)
        self._beat()

    def _housekeeping(self) -> None:
        self._beat()
        if time.monotonic() - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = time.monotonic()
            try:
                pruned = prune_keys(self.config.dedup_window)
            except DatabaseError as exc:
                log.warning("pruning bus message keys failed: %s", exc)
            else:
                log.info("pruned %d bus message keys", pruned)

    def status(self) -> dict:
        """What the heartbeat says: brokers connected, last message, lag, totals."""
        return {
            "connected": {source.name: source.connected for source in self.sources},
            "running": not self.stopping.is_set(),
            "last_message": self.last_message,
            "lag_seconds": None if self.lag is None else round(self.lag, 3),
            "totals": asdict(self.totals),
            "at": time.time(),
        }

    def _beat(self, force: bool = False) -> None:
        if self.redis is None:
            return
        now = time.monotonic()
        if not force and now - self._beat_at < HEARTBEAT_EVERY:
            return
        self._beat_at = now
        try:
            self.redis.set(
                heartbeat_key(self.instance), json.dumps(self.status()), ex=HEARTBEAT_TTL
            )
        except Exception as exc:  # noqa: BLE001 - health shows it; storing goes on
            log.warning("subscriber heartbeat to Redis failed: %s", exc)
