"""runsubscriber against real brokers (mosquitto, nats-server on free 127.0.0.1 ports):
messages stored once and exportable, both layouts, a broker restarted mid-stream, malformed
payloads, the heartbeat /healthz reads. The subscriber runs in this thread (the database is
used here only); publishing and broker restarts happen in a scenario thread."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from django.core.management import call_command

from exports.data.bus.decoding import Incoming
from exports.data.bus.envelope import encode_envelope
from exports.data.bus.subscriber import Subscriber, SubscriberConfig
from exports.models import BusDeadLetter, Message
from exports.ops.health import check_subscriber
from tests.subscriber_brokers import (
    Mosquitto,
    NatsServer,
    mqtt_publish,
    nats_add_stream,
    nats_consumer_info,
    nats_publish,
    pack,
)
from tests.test_scheduler import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def mosquitto():
    broker = Mosquitto().start()
    yield broker
    broker.close()


@pytest.fixture
def nats_server():
    broker = NatsServer().start()
    yield broker
    broker.close()


def subscriber(redis=None, **options) -> Subscriber:
    options = {"publish_rule": "any", "batch_ms": 50, "client_id": "test-sub", **options}
    return Subscriber(SubscriberConfig(**options), redis=redis, instance="test")


def run(sub: Subscriber, scenario: Callable[[Subscriber], None], seconds: float = 60) -> None:
    """Run ``sub`` here until ``scenario`` (in a thread, once every broker is subscribed)
    returns; re-raise what it raised."""
    failures: list[BaseException] = []

    def drive():
        try:
            for source in sub.sources:
                assert source.ready.wait(10), f"{source.name} never subscribed"
            scenario(sub)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            failures.append(exc)
        finally:
            sub.stop()

    thread = threading.Thread(target=drive)
    timer = threading.Timer(seconds, sub.stop)
    thread.start()
    timer.start()
    try:
        sub.run()
    finally:
        timer.cancel()
        thread.join()
    if failures:
        raise failures[0]


def until_stored(sub: Subscriber, messages: int, seconds: float = 30) -> None:
    def done():
        return sub.totals.stored + sub.totals.duplicates >= messages

    try:
        wait_for(done, seconds, f"{messages} messages stored")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {sub.totals}") from None


def natural_key_counts() -> Counter:
    return Counter(Message.objects.values_list("channel", "subtopic", "publisher", "name", "time"))


def test_mqtt_messages_on_both_layouts_are_stored_once_and_exported(mosquitto, alice, tmp_path):
    def scenario(sub):
        mqtt_publish(
            mosquitto.port,
            [
                ("channels/c1/messages/events/data", pack("temperature", T0, 20.0, 3)),
                ("m/d1/c/c2/events/data", pack("humidity", T0, 50.0, 2)),
            ],
        )
        until_stored(sub, 2)

    sub = subscriber(mqtt_url=mosquitto.url)
    run(sub, scenario)
    assert sub.totals.records == 5
    assert sorted(Message.objects.values_list("channel", "subtopic", "protocol").distinct()) == [
        ("c1", "events.data", "mqtt"),
        ("c2", "events.data", "mqtt"),
    ]
    request = {
        "name": "Live",
        "type": "oneTime",
        "format": {"extension": "json", "timezone": "UTC"},
        "items": [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": "c1",
                    "subtopic": "events.data",
                }
            }
        ],
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    call_command(
        "exportnow", str(path), owner="alice", out=str(tmp_path), slot="2026-01-02T00:00:00Z"
    )
    [written] = tmp_path.glob("Live_*.json")
    rows = json.loads(written.read_text(encoding="utf-8-sig"))
    assert [row["value"] for row in rows] == [20.0, 21.0, 22.0]


def test_nats_envelopes_and_bare_senml_on_both_layouts_are_stored(nats_server):
    envelope = encode_envelope(
        "m",
        channel="c2",
        domain="d1",
        subtopic="events",
        publisher="thing-2",
        protocol="coap",
        payload=pack("pressure", T0, 1000.0),
        created=T0 * 10**9,
    )

    def scenario(sub):
        nats_publish(
            nats_server.url,
            [
                ("channels.c1.events.data", pack("temperature", T0, 20.0)),
                ("m.d1.c.c2.events", envelope),
            ],
            jetstream=False,
        )
        until_stored(sub, 2)

    run(sub := subscriber(nats_url=nats_server.url), scenario)
    assert sorted(Message.objects.values_list("channel", "subtopic", "publisher", "protocol")) == [
        ("c1", "events.data", "unknown", "nats"),
        ("c2", "events", "thing-2", "coap"),
    ]
    assert sub.totals.malformed == 0


def test_malformed_payloads_are_counted_kept_and_the_subscriber_goes_on(mosquitto, nats_server):
    def scenario(sub):
        mqtt_publish(
            mosquitto.port,
            [
                ("channels/c1/messages", b"not json"),
                ("channels/c1/messages", b'[{"n": "x", "v": "text"}]'),
                ("channels/c1/messages", pack("temperature", T0, 1.0)),
            ],
        )
        nats_publish(nats_server.url, [("channels.c1", b"\x12garbage")], jetstream=False)
        nats_publish(nats_server.url, [("channels.c1", pack("t2", T0, 2.0))], jetstream=False)
        until_stored(sub, 2)
        wait_for(lambda: sub.totals.malformed == 3, 10, "three malformed messages counted")

    run(subscriber(mqtt_url=mosquitto.url, nats_url=nats_server.url), scenario)
    assert Message.objects.count() == 2
    reasons = sorted(BusDeadLetter.objects.values_list("transport", "reason"))
    assert [transport for transport, _ in reasons] == ["mqtt", "mqtt", "nats"]
    assert any("v must be a number" in reason for _, reason in reasons)


def test_a_mosquitto_restarted_mid_stream_loses_nothing_and_doubles_nothing(mosquitto):
    first = [(f"channels/c1/messages/s{i % 3}", pack("n", T0 + i, i)) for i in range(300)]
    second = [(f"m/d/c/c2/s{i % 3}", pack("n", T0 + i, i)) for i in range(300)]

    def scenario(sub):
        mqtt_publish(mosquitto.port, first, client_id="pub")
        mosquitto.restart()  # the subscriber has not taken (or acknowledged) all of them yet
        mqtt_publish(mosquitto.port, second, client_id="pub")
        until_stored(sub, 600, seconds=60)
        assert any(source.connected for source in sub.sources)

    run(subscriber(mqtt_url=mosquitto.url), scenario, seconds=90)
    counts = natural_key_counts()
    assert len(counts) == 600 and set(counts.values()) == {1}


def test_a_nats_server_restarted_mid_stream_with_jetstream_loses_and_doubles_nothing(
    nats_server,
):
    nats_add_stream(nats_server.url, "MESSAGES", ["channels.>", "m.*.c.>"])
    first = [(f"channels.c1.s{i % 3}", pack("n", T0 + i, i)) for i in range(300)]
    second = [(f"m.d.c.c2.s{i % 3}", pack("n", T0 + i, i)) for i in range(300)]

    def scenario(sub):
        nats_publish(nats_server.url, first, jetstream=True)
        nats_server.restart()
        nats_publish(nats_server.url, second, jetstream=True)
        until_stored(sub, 600, seconds=60)

    sub = subscriber(nats_url=nats_server.url, nats_stream="MESSAGES")
    run(sub, scenario, seconds=90)
    counts = natural_key_counts()
    assert len(counts) == 600 and set(counts.values()) == {1}


def test_mqtt_qos_0_and_1_with_and_without_a_publisher_property_are_all_stored(mosquitto):
    # Without properties a PUBLISH takes the subscriber's short path, with them paho's own.
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    def scenario(sub):
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        named = Properties(PacketTypes.PUBLISH)
        named.UserProperty = ("publisher", "thing-9")
        infos = [
            client.publish("channels/c1/messages/a", pack("n", T0, 1.0), qos=0),
            client.publish("channels/c1/messages/b", pack("n", T0, 2.0), qos=1),
            client.publish("channels/c1/messages/c", pack("n", T0, 3.0), qos=1, properties=named),
            client.publish("m/d/c/c2/d", pack("n", T0, 4.0), qos=0, properties=named),
        ]
        for info in infos:
            info.wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        until_stored(sub, 4)

    run(subscriber(mqtt_url=mosquitto.url), scenario)
    assert sorted(Message.objects.values_list("channel", "subtopic", "publisher", "value")) == [
        ("c1", "a", "unknown", 1.0),
        ("c1", "b", "unknown", 2.0),
        ("c1", "c", "thing-9", 3.0),
        ("c2", "d", "thing-9", 4.0),
    ]


def test_jetstream_pulls_batch_after_batch_and_makes_a_deleted_consumer_again(nats_server):
    nats_add_stream(nats_server.url, "MESSAGES", ["channels.>", "m.*.c.>"])
    first = [(f"channels.c1.s{i % 3}", pack("n", T0 + i, i)) for i in range(200)]
    second = [(f"channels.c1.s{i % 3}", pack("n", T0 + i, i)) for i in range(200, 260)]

    def scenario(sub):
        nats_publish(nats_server.url, first, jetstream=True)
        until_stored(sub, 200)
        nats_delete_consumer(nats_server.url, "MESSAGES", "exporter")
        nats_publish(nats_server.url, second, jetstream=True)
        # The new consumer starts from the stream's first message: the 200 again are
        # duplicates (and so is whatever the old one had delivered and not seen acked).
        wait_for(lambda: sub.totals.stored >= 260, 60, f"260 stored: {sub.totals}")
        wait_for(lambda: sub.totals.duplicates >= 200, 30, f"200 duplicates: {sub.totals}")

    sub = subscriber(nats_url=nats_server.url, nats_stream="MESSAGES", batch_size=7)
    run(sub, scenario, seconds=90)
    counts = natural_key_counts()
    assert len(counts) == 260 and set(counts.values()) == {1}
    assert sub.totals.stored == 260 and sub.totals.duplicates >= 200


def test_jetstream_acks_reach_the_server_once_stored(nats_server):
    """The acks of a stored batch (one write for the batch) arrive: nothing stays pending at
    the server, nothing is delivered again, and the ack floor is the last message."""
    nats_add_stream(nats_server.url, "MESSAGES", ["channels.>"])
    messages = [(f"channels.c1.s{i % 2}", pack("n", T0 + i, i)) for i in range(150)]

    def acked() -> bool:
        info = nats_consumer_info(nats_server.url, "MESSAGES", "exporter")
        return info.num_ack_pending == 0 and info.ack_floor.stream_seq == 150

    def scenario(sub):
        nats_publish(nats_server.url, messages, jetstream=True)
        until_stored(sub, 150)
        wait_for(acked, 10, "every delivery acknowledged")

    sub = subscriber(nats_url=nats_server.url, nats_stream="MESSAGES", batch_size=40)
    run(sub, scenario)
    info = nats_consumer_info(nats_server.url, "MESSAGES", "exporter")
    assert info.num_redelivered == 0 and info.delivered.stream_seq == 150
    assert sub.totals.stored == 150 and sub.totals.duplicates == 0


def nats_delete_consumer(url: str, stream: str, durable: str) -> None:
    import asyncio

    import nats
    from nats.js.errors import NotFoundError, ServerError

    async def main():
        nc = await nats.connect(url)
        for attempt in range(10):
            try:
                await nc.jetstream().delete_consumer(stream, durable)
                break
            except NotFoundError:
                break  # an earlier attempt deleted it after all
            except ServerError:
                # The server may fail to remove the consumer's directory while acks are
                # being written to it ("directory not empty"): try again.
                if attempt == 9:
                    raise
                await asyncio.sleep(0.2)
        await nc.close()

    asyncio.run(main())


def test_the_heartbeat_tells_healthz_connected_last_message_and_lag(
    mosquitto, redis_conn, settings
):
    settings.MQTT_URL = mosquitto.url
    seen = {}

    def scenario(sub):
        mqtt_publish(mosquitto.port, [("channels/c1/messages", pack("t", T0, 1.0))])
        until_stored(sub, 1)
        sub._beat(force=True)
        seen.update(check_subscriber())

    run(subscriber(mqtt_url=mosquitto.url, redis=redis_conn), scenario)
    assert seen["connected"] == {"mqtt": True}
    assert seen["last_message"].endswith("Z") and 0 <= seen["lag_seconds"] < 5
    with pytest.raises(Exception, match="stopped or disconnected"):
        check_subscriber()  # the subscriber said it stopped


def test_a_batch_closes_at_its_payload_bytes_and_the_queue_holds_four_batches():
    sub = subscriber(batch_size=100, batch_bytes=1000, batch_ms=1)
    payload = pack("n", T0, 1.0).ljust(300)
    messages = [Incoming("mqtt", "channels/c1/messages", payload, T0) for _ in range(14)]
    assert sub.deliver_many(messages, 0)
    # Four batches' bytes are queued: no more until the loop takes some.
    assert not sub.deliver_many(messages[:1], 0)
    sizes = [len(sub._collect()) for _ in range(4)]
    assert sizes == [4, 4, 4, 2]  # each closes with the message that reaches 1000 bytes
    assert sub._queued_bytes == 0 and sub.deliver_many(messages[:1], 0)


class SmallPayloadNats(NatsServer):
    """A nats-server taking messages of at most 2 KiB (so pulls end at their max_bytes)."""

    def argv(self) -> list[str]:
        config = os.path.join(self.directory, "nats.conf")
        with open(config, "w") as out:
            out.write("max_payload: 2048\n")
        return [*super().argv(), "-c", config]


def test_jetstream_pulls_ended_by_their_bytes_are_followed_at_once():
    # max_bytes of a pull = max(batch_bytes, 2 x the server's max payload) = 4 KiB here: each
    # pull brings ~4 messages of ~1 KB and ends with a 409 "Message Size Exceeds MaxBytes",
    # which must start the next pull (not the 1 s expiry: 150 messages would take ~40 s).
    server = SmallPayloadNats().start()
    try:
        messages = [(f"channels.c1.s{i % 2}", pack("n", T0 + 100 * i, i, 30)) for i in range(150)]
        assert all(1000 < len(payload) < 2048 for _, payload in messages)

        def scenario(sub):
            nats_publish(server.url, messages, jetstream=True)
            started = time.monotonic()
            until_stored(sub, 150, seconds=60)
            assert time.monotonic() - started < 15, "pulls waited for their expiry"

        sub = subscriber(nats_url=server.url, nats_stream="MESSAGES", batch_size=50)
        sub.config.batch_bytes = 3000
        sub.sources[0].batch_bytes = 3000
        run(sub, scenario, seconds=90)
    finally:
        server.close()
    counts = natural_key_counts()
    assert len(counts) == 150 * 30 and set(counts.values()) == {1}
