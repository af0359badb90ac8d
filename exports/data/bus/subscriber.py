"""The subscriber's loop: collect a batch, store it once, then acknowledge it.

Brokers hand messages over in lists to :meth:`Subscriber.deliver_many` from their own
threads; the loop takes up to
``SUBSCRIBER_BATCH_SIZE`` messages (fewer when their payloads reach ``SUBSCRIBER_BATCH_BYTES``),
or what came within ``SUBSCRIBER_BATCH_MS`` of the first,
decodes them (:func:`~exports.data.bus.decoding.decode_batch`) and hands them to the storer
thread, which stores each batch in one transaction
(:func:`~exports.data.bus.storing.store_batch`) and only then acknowledges it, each source's
acks in one burst (``source.ack(handles)``). Batches are stored and acknowledged in the order
they were collected; the next one is collected and decoded while the last is stored (on
PostgreSQL the storer mostly waits for the server, so the two overlap), and at most two
decoded batches are in hand, so a slow database holds the brokers back. A database that fails
is retried with a doubling delay, acknowledging nothing meanwhile. :meth:`Subscriber.stop`
(SIGTERM) stores the open batch and what is already queued, acknowledges it and disconnects;
anything later stays with the broker.

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
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connections, reset_queries

from exports.data.bus.decoding import Incoming, decode_batch
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
    batch_size: int = 5000
    batch_ms: int = 200
    batch_bytes: int = 2 * 2**20  # payload bytes: a batch of large packs closes sooner
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
        # A deque and an event rather than a queue.Queue: brokers append without a lock, and
        # the loop takes a whole batch at once (a Queue locks twice per message).
        self.inbox: deque[Incoming] = deque()
        # At most four batches queued, counted in messages and in payload bytes (the bytes
        # under a lock: brokers add them, the loop takes them away).
        self.capacity = 4 * self.config.batch_size
        self.capacity_bytes = 4 * self.config.batch_bytes
        self._queued_bytes = 0
        self._bytes_lock = threading.Lock()
        self._arrived = threading.Event()
        self.stopping = threading.Event()
        self.sources = self._sources()
        self.last_message: float | None = None
        self.lag: float | None = None
        self._beat_at = 0.0
        self._pruned_at = time.monotonic()
        # Decoded batches on their way to the storer thread, in order (None: no more), and
        # the room for them: two, one being stored and one waiting or being decoded.
        self._handoff: queue.SimpleQueue = queue.SimpleQueue()
        self._room = threading.Semaphore(2)
        self._storer: threading.Thread | None = None
        self._failure: BaseException | None = None  # what stopped the storer, raised by run()

    def _sources(self) -> list:
        config, sources = self.config, []
        if config.mqtt_url:
            from exports.data.bus.mqtt import MqttSource

            sources.append(
                MqttSource(
                    config.mqtt_url,
                    filters=mqtt_filters(config.layouts),
                    client_id=config.client_id,
                    deliver=self.deliver_many,
                    session_expiry=int(config.dedup_window.total_seconds()),
                )
            )
        if config.nats_url:
            from exports.data.bus.nats import NatsSource

            sources.append(
                NatsSource(
                    config.nats_url,
                    subjects=nats_subjects(config.layouts),
                    deliver=self.deliver_many,
                    stream=config.nats_stream,
                    durable=config.durable,
                    batch_size=config.batch_size,
                    batch_ms=config.batch_ms,
                    batch_bytes=config.batch_bytes,
                )
            )
        return sources

    def deliver_many(self, messages, timeout: float = 0.5) -> bool:
        """Queue ``messages`` (in order) for the next batches; False when the queue stayed
        full for ``timeout`` seconds (then none was queued)."""
        if len(self.inbox) >= self.capacity or self._queued_bytes >= self.capacity_bytes:
            deadline = time.monotonic() + timeout
            while len(self.inbox) >= self.capacity or self._queued_bytes >= self.capacity_bytes:
                if time.monotonic() >= deadline or self.stopping.is_set():
                    return False
                time.sleep(0.002)
        size = sum([len(message.payload) for message in messages])
        with self._bytes_lock:
            self._queued_bytes += size
        self.inbox.extend(messages)
        if not self._arrived.is_set():
            self._arrived.set()
        return True

    def stop(self) -> None:
        self.stopping.set()
        self._arrived.set()

    def run(self) -> None:
        """Run until :meth:`stop`: start the brokers and the storer, hand batches over, beat.
        Raises what stopped the storer, if anything but a database error did."""
        self._storer = threading.Thread(target=self._store_loop, name="storer", daemon=True)
        self._storer.start()
        for source in self.sources:
            source.start()
        try:
            while not self.stopping.is_set():
                batch = self._collect()
                if batch:
                    self._hand_over(batch)
                self._beat()
        finally:
            self._finish()

    def _finish(self) -> None:
        self.stop()  # also when the loop ended in an error: the storer must not retry forever
        try:
            batch, _ = self._take(len(self.inbox), budget=float("inf"))
            if batch and self._failure is None:
                self._hand_over(batch)
        finally:
            self._handoff.put(None)
            self._storer.join()
            for source in self.sources:
                source.stop()
            self._beat(force=True)
            close_old_connections()
        if self._failure is not None:
            raise self._failure

    def _hand_over(self, batch: list[Incoming]) -> None:
        """Decode ``batch`` and queue it for the storer, once there is room for it."""
        while not self._room.acquire(timeout=0.5):
            if self._failure is not None:
                return  # the storer is gone: these stay unacknowledged, with the broker
            self._beat()
        config = self.config
        decoded = decode_batch(batch, layouts=config.layouts, default_publisher=config.publisher)
        self._handoff.put((batch, decoded))

    def _store_loop(self) -> None:
        """The storer thread: store and acknowledge each batch handed over, in order; prune
        old keys when due. Its database connection is its own (Django's are per thread)."""
        try:
            while True:
                try:
                    item = self._handoff.get(timeout=1.0)
                except queue.Empty:
                    self._prune_when_due()
                    continue
                if item is None:
                    return
                try:
                    self._flush(*item)
                finally:
                    self._room.release()
                self._prune_when_due()
        except BaseException as exc:
            log.exception("the subscriber's storer failed; stopping")
            self._failure = exc
            self.stop()
        finally:
            connections.close_all()

    def _take(self, count: int, budget: float) -> tuple[list[Incoming], int]:
        """Up to ``count`` queued messages, stopping after the one that reaches ``budget``
        payload bytes; and their bytes."""
        inbox, batch, taken = self.inbox, [], 0
        take, add = inbox.popleft, batch.append
        for _ in range(min(count, len(inbox))):
            message = take()
            add(message)
            taken += len(message.payload)
            if taken >= budget:
                break
        with self._bytes_lock:
            self._queued_bytes -= taken
        return batch, taken

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a message; whether one is queued."""
        if self.inbox:
            return True
        self._arrived.clear()
        if self.inbox:  # came between the check and the clear
            return True
        self._arrived.wait(seconds)
        return bool(self.inbox)

    def _collect(self) -> list[Incoming]:
        if not self._wait(0.5):
            return []
        size, budget = self.config.batch_size, self.config.batch_bytes
        deadline = time.monotonic() + self.config.batch_ms / 1000
        batch, taken = self._take(size, budget)
        while len(batch) < size and taken < budget and not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # In short waits, so a stop (SIGTERM) closes the batch at once.
            if self._wait(min(remaining, 0.1)):
                more, more_bytes = self._take(size - len(batch), budget - taken)
                batch.extend(more)
                taken += more_bytes
        return batch

    def _flush(self, batch: list[Incoming], decoded: list) -> None:
        config = self.config
        pairs = list(zip(batch, decoded, strict=True))
        backoff = 0.5
        while True:
            try:
                result = store_batch(
                    pairs, rule=config.publish_rule, dead_letters=config.dead_letters
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
        self._acknowledge(batch)
        self.totals.received += len(batch)
        self.totals.add(result)
        received = [message.received for message in batch]
        self.last_message = max(received)
        self.lag = stored_at - min(received)
        log.debug("bus batch: %s", result)
        # With DEBUG on, Django keeps each query's text (up to 9,000, a batch's keys spelled
        # out in each): hundreds of MB in a process that never ends a request.
        reset_queries()
        self._beat()

    def _acknowledge(self, batch: list[Incoming]) -> None:
        """Give each source the handles of its messages in this batch, in one call."""
        handles: dict[str, list] = {}
        for message in batch:
            if message.handle is not None:
                handles.setdefault(message.transport, []).append(message.handle)
        for source in self.sources:
            if handles.get(source.name):
                source.ack(handles[source.name])

    def _prune_when_due(self) -> None:
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
