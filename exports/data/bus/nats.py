"""The NATS side of the subscriber: core subscriptions, or a JetStream durable consumer.

Without ``NATS_STREAM`` the subscriber reads core NATS: at most once, nothing published while
it is down reaches it. With ``NATS_STREAM`` it reads the stream through the durable pull
consumer ``SUBSCRIBER_DURABLE`` (created when missing; the stream too, on the layouts'
subjects), explicit acks sent after the batch commits, all of a batch in one burst from the
event loop (:meth:`NatsSource.ack`): whatever was not acknowledged — the
subscriber was down, killed, or the broker restarted — is delivered again. The client
reconnects by itself; a failed first connection or fetch is retried with a doubling delay.
asyncio runs in a thread of its own; :meth:`NatsSource.stop` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable

from exports.data.bus.decoding import Incoming
from exports.data.bus.natsbulk import Taken, read_in_bulk

log = logging.getLogger("exports.bus")
MAX_BACKOFF = 30.0
# Seconds a delivered, unacknowledged message waits before JetStream delivers it again (a
# killed subscriber's open batch comes back after this; a slow commit only makes duplicates).
ACK_WAIT = 30
PULL_EXPIRES = 1.0  # seconds a pull request waits at the server (then another is sent)
CORE_PENDING = 65536  # core NATS messages the client buffers before it drops (slow consumer)


class NatsSource:
    """Subscribes ``subjects`` (or reads ``stream``) at ``url``; hands messages to ``deliver``."""

    name = "nats"

    def __init__(
        self,
        url: str,
        *,
        subjects: list[str],
        deliver: Callable[[list[Incoming], float], bool],
        stream: str = "",
        durable: str = "exporter",
        batch_size: int = 1000,
        batch_ms: int = 200,
        batch_bytes: int = 2 * 2**20,
    ):
        self.url = url
        self.subjects = subjects
        self.deliver_many = deliver
        self.stream = stream
        self.durable = durable
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.wait = max(batch_ms / 1000, 0.05)
        self._connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = None  # the connected nats-py client (acks are written to it)
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        # Buffered before we hold back: messages, and payload bytes.
        self.capacity = max(4 * batch_size, 1000)
        self.capacity_bytes = 4 * batch_bytes
        self._buffer: list = []
        self._buffer_bytes = 0
        self._pulled, self._pulled_at = 0, 0.0  # since the last pull request
        self.dropped, self._dropped_logged = 0, 0.0  # slow-consumer episodes (core NATS)
        self.ready = threading.Event()  # subscribed, or the consumer bound

    @property
    def connected(self) -> bool:
        """Connected, and (JetStream) the consumer bound: messages can come."""
        return self._connected and (self.ready.is_set() or not self.stream)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="nats", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
        self._connected = False

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        import nats

        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._buffered, self._drained, self._pull_done = (asyncio.Event() for _ in range(3))
        self._started.set()
        backoff = 0.5
        nc = None
        while not self._stopping.is_set():
            try:
                nc = await nats.connect(
                    self.url,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
                break
            except Exception as exc:  # noqa: BLE001 - any failure to connect is retried
                log.warning("NATS %s unreachable (%s); retrying in %.1fs", self.url, exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        if nc is None:
            return
        self._client = nc
        self._connected = True
        log.info("NATS connected to %s", nc.connected_url.netloc if nc.connected_url else "")
        try:
            if self.stream:
                await self._consume(nc)
            else:
                for subject in self.subjects:
                    await nc.subscribe(subject, cb=self._take, pending_msgs_limit=CORE_PENDING)
                await nc.flush()
                self.ready.set()
                await self._forward()
        finally:
            self._connected = False
            # Closing a broken connection may fail: we are done with it either way.
            with contextlib.suppress(Exception):
                await nc.close()

    async def _consume(self, nc) -> None:
        """Read the stream through the durable pull consumer: pull requests of ``batch_size``
        messages to our own inbox, a new one when half of the last has come or it expired."""
        from nats.js.errors import NotFoundError

        js = nc.jetstream()
        backoff = 0.5
        inbox = nc.new_inbox()
        subscription = await nc.subscribe(inbox, cb=self._take)
        # Plain deliveries skip nats-py's per-message path (natsbulk); the rest come to _take.
        read_in_bulk(nc, subscription._id, self._take_plain)
        forwarding = asyncio.create_task(self._forward())
        try:
            while not self._stopping.is_set():
                try:
                    if not self.ready.is_set():
                        await self._bind(js, NotFoundError)
                        self.ready.set()
                        self._pulled, self._pulled_at = 0, 0.0
                    await self._pull(nc, inbox)
                    backoff = 0.5
                except Exception as exc:  # noqa: BLE001 - a broker away: wait, then pull again
                    if self._stopping.is_set():
                        break
                    log.warning("NATS pull from %s failed (%r); retrying", self.stream, exc)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarding

    async def _bind(self, js, not_found) -> None:
        """The stream (made on the layouts' subjects when missing) and the durable consumer."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        try:
            await js.stream_info(self.stream)
        except not_found:
            await js.add_stream(name=self.stream, subjects=self.subjects)
        config = ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ACK_WAIT,
            max_ack_pending=max(4 * self.batch_size, 1000),
        )
        try:
            await js.consumer_info(self.stream, self.durable)
        except not_found:
            await js.add_consumer(self.stream, config)

    async def _pull(self, nc, inbox: str) -> None:
        """Ask for the next ``batch_size`` messages (at most ``batch_bytes``, or two of the
        largest messages the server takes) when due, then wait a little. None while the
        buffer is full: what the subscriber has not taken stays at the server."""
        if self._full():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), PULL_EXPIRES)
            return
        now = time.monotonic()
        due = self._pulled >= self.batch_size // 2 or now - self._pulled_at > PULL_EXPIRES
        if due or self._pull_done.is_set():  # half has come, it expired, or it is over
            self._pull_done.clear()
            self._pulled, self._pulled_at = 0, now
            request = {
                "batch": self.batch_size,
                "max_bytes": max(self.batch_bytes, 2 * nc.max_payload),
                "expires": int(PULL_EXPIRES * 1e9),
            }
            subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"
            await nc.publish(subject, json.dumps(request).encode(), reply=inbox)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pull_done.wait(), min(self.wait, PULL_EXPIRES))

    async def _take(self, message) -> None:
        """Every message of our subscriptions: into the buffer (statuses of pulls aside)."""
        headers = message.headers
        status = headers.get("Status") if headers else None
        if status:
            description = headers.get("Description", "").lower()
            if status == "503" or (status == "409" and "deleted" in description):
                # No responders (no consumer, or JetStream not up yet), or the consumer was
                # deleted: bind again — making what is missing, with backoff while that fails.
                self.ready.clear()
                self._pull_done.set()
            elif status in ("404", "408") or "maxbytes" in description:
                self._pull_done.set()  # the pull request is over: send the next one
            return  # 100: a heartbeat; another 409 (say, too many requests waiting): on expiry
        reply = message.reply if self.stream and message.reply else None
        publisher = (message.headers or {}).get("publisher", "")
        self._add([Incoming("nats", message.subject, message.data, time.time(), publisher, reply)])
        if self._full():
            # The subscriber is behind: hold this subscription (core NATS then drops what
            # exceeds its pending limit; JetStream sends no more than max_ack_pending).
            await self._drained.wait()

    def _take_plain(self, messages: Taken) -> None:
        """Plain deliveries to our pull inbox, cut from the client's buffer (natsbulk): into
        the buffer, the reply subject as the handle that acknowledges each. Never waits: no
        more arrives than the pull requests we send, and none is sent while the buffer is
        full."""
        now = time.time()
        self._add(
            [
                Incoming("nats", subject.decode(), payload, now, "", reply.decode())
                for subject, payload, reply in messages
            ]
        )

    def _add(self, messages: list[Incoming]) -> None:
        half, before = self.batch_size // 2, self._pulled
        if self.stream:
            self._pulled += len(messages)
            if before < half <= self._pulled:
                self._pull_done.set()  # half of the pull has come: time for the next request
        if not self._buffer:
            self._buffered.set()
        self._buffer.extend(messages)
        self._buffer_bytes += sum([len(message.payload) for message in messages])

    def _full(self) -> bool:
        return len(self._buffer) >= self.capacity or self._buffer_bytes >= self.capacity_bytes

    async def _forward(self) -> None:
        """Hand the buffered messages over in chunks, until stopped."""
        while not self._stopping.is_set():
            if not self._buffer:
                self._buffered.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._buffered.wait(), 0.5)
                continue
            messages, self._buffer, self._buffer_bytes = self._buffer, [], 0
            self._drained.set()
            self._drained = asyncio.Event()
            await self._hand_over(messages)

    def ack(self, handles: list) -> None:
        """Acknowledge stored JetStream messages: one call into the event loop for the batch,
        whose acks then leave in the client's next flush. A stale ack (the broker restarted)
        is ignored by the server: acks are by reply subject, one per delivery."""
        if self._loop is not None and self._client is not None:
            asyncio.run_coroutine_threadsafe(_quiet_acks(self._client, handles), self._loop)

    async def _hand_over(self, batch: list[Incoming]) -> None:
        if self.deliver_many(batch, 0):
            return
        # The batch queue is full: wait for room off the event loop.
        while not await asyncio.to_thread(self.deliver_many, batch, 0.5):
            if self._stopping.is_set():
                return

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _disconnected(self) -> None:
        if self._connected:
            log.warning("NATS connection lost; reconnecting")
        self._connected = False

    async def _reconnected(self) -> None:
        self._connected = True
        log.info("NATS reconnected")

    async def _error(self, exc: Exception) -> None:
        from nats.errors import SlowConsumerError

        if not isinstance(exc, SlowConsumerError):
            log.debug("NATS: %r", exc)
            return
        # Core NATS dropped messages we could not take in time (the client tells once per
        # episode, not per message): one line per 10 s at most.
        self.dropped += 1
        if time.monotonic() - self._dropped_logged > 10:
            self._dropped_logged = time.monotonic()
            log.warning("NATS slow consumer: core messages dropped (%d times so far)", self.dropped)


async def _quiet_acks(client, replies: list[str]) -> None:
    """Acknowledge JetStream deliveries (by their reply subjects) in one write: per message
    what ``Msg.ack`` sends (a PUB of nothing to its reply subject), queued as one command and
    flushed once, instead of a ``publish`` call each (checks, a command, a flush request: most
    of an ack's cost)."""
    try:
        if not client.is_connected:
            raise ConnectionError("not connected")
        await client._send_command(b"".join([b"PUB %s  0\r\n\r\n" % r.encode() for r in replies]))
        await client._flush_pending()
    except Exception as exc:  # noqa: BLE001 - the redeliveries are then refused as duplicates
        log.debug("NATS acks failed: %r", exc)
