"""The subscriber's storer thread: batches stored in the order they were collected, at most
two decoded batches in hand while one is stored, and a storer that fails stops the subscriber
(run() raises what it raised) with nothing of the failed batch stored. On PostgreSQL, a key
another subscriber is inserting is claimed once."""

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


def _other_connection():
    """A connection of another process's kind (not Django's) to the test database."""
    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )


@pytest.mark.parametrize("other_commits", [True, False])
def test_a_key_another_subscriber_is_inserting_is_claimed_once_on_postgresql(other_commits):
    """The claim waits for the other insert; after its commit the batch claims the rest (not
    that key), after its rollback that key too; a key already there is left out."""
    from django.db import connection, transaction
    from django.utils import timezone

    from exports.data.bus.storing import _claim

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: no other insert to wait for")
    now = timezone.now()
    BusMessageKey.objects.create(key="0" * 32, received=now)
    ours = {"0" * 32, "1" * 32, "2" * 32, "3" * 32}
    other = _other_connection()
    other.execute(
        'INSERT INTO exports_busmessagekey ("key", received) VALUES (%s, now())', ["2" * 32]
    )
    finish = other.commit if other_commits else other.rollback
    timer = threading.Timer(0.5, finish)
    timer.start()
    started = time.monotonic()
    try:
        with transaction.atomic():
            claimed = _claim(ours, now)
    finally:
        timer.join()
        other.close()
    assert time.monotonic() - started >= 0.4  # it waited for the other transaction
    expected = {"1" * 32, "3" * 32} | (set() if other_commits else {"2" * 32})
    assert claimed == expected
    # Every key is there once: the other's (committed) or ours (after its rollback).
    assert set(BusMessageKey.objects.values_list("key", flat=True)) == ours
