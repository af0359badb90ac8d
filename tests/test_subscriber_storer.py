"""The subscriber's storer thread: batches stored in the order they were collected, at most
two decoded batches in hand while one is stored, and a storer that fails stops the subscriber
(run() raises what it raised) with nothing of the failed batch stored."""

from __future__ import annotations

import threading
import time

import pytest

import exports.data.bus.subscriber as loop
from exports.data.bus.decoding import Incoming
from exports.models import BusMessageKey, Message
from tests.subscriber_brokers import pack
from tests.test_subscriber import T0, subscriber

pytestmark = pytest.mark.django_db(transaction=True)


def test_batches_are_stored_in_order_two_in_hand_and_a_failed_storer_stops_run(monkeypatch):
    sub = subscriber(batch_size=10, batch_ms=1)
    messages = [
        Incoming("mqtt", "channels/c1/messages", pack("n", T0 + i, i), T0) for i in range(50)
    ]
    assert sub.deliver_many(messages, 0)
    decoded: list[float] = []  # the first record time of each batch decoded
    stored: list[float] = []  # ... and of each batch handed to store_batch
    first_may_finish = threading.Event()
    real_decode, real_store = loop.decode_batch, loop.store_batch

    def decode_batch(batch, **options):
        decoded.append(batch[0].payload)
        return real_decode(batch, **options)

    def store_batch(pairs, **options):
        stored.append(pairs[0][0].payload)
        if len(stored) == 1:
            assert first_may_finish.wait(10)
        if len(stored) == 3:
            raise RuntimeError("the storer broke")
        return real_store(pairs, **options)

    monkeypatch.setattr(loop, "decode_batch", decode_batch)
    monkeypatch.setattr(loop, "store_batch", store_batch)
    seen_while_blocked: list[int] = []

    def watch():
        # While the first batch is being stored, the loop decodes one more and then waits.
        deadline = time.monotonic() + 10
        while len(decoded) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # time enough to decode a third, were there room for it
        seen_while_blocked.append(len(decoded))
        first_may_finish.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    timer = threading.Timer(30, sub.stop)  # a safety net: the failure must stop it first
    timer.start()
    try:
        with pytest.raises(RuntimeError, match="the storer broke"):
            sub.run()
    finally:
        timer.cancel()
        watcher.join()
    assert seen_while_blocked == [2]
    payloads = [message.payload for message in messages]
    assert stored == [payloads[0], payloads[10], payloads[20]]  # in the order collected
    assert decoded[:3] == stored
    # The first two batches stored; of the third, nothing (not even a key).
    assert Message.objects.count() == BusMessageKey.objects.count() == 20
    assert sorted(Message.objects.values_list("value", flat=True)) == [float(i) for i in range(20)]
    assert sub.stopping.is_set() and sub.totals.stored == 20
