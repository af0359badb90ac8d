"""Bus messages to records and keys (topics, envelope, JSON and CBOR SenML), and storing a
batch exactly once: duplicates, dead letters, the publishing rule. No broker here."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import cbor2
import pytest

from exports.data.bus.decoding import Incoming, decode, decode_batch
from exports.data.bus.envelope import SCHEMAS, encode_envelope
from exports.data.bus.storing import prune_keys, store_batch
from exports.data.bus.subscriber import heartbeat_key
from exports.data.bus.topics import TopicError, route
from exports.management.commands.runstack import stack_processes
from exports.models import BusDeadLetter, BusMessageKey, ChannelGrant, Message, Series

PROTO = Path(__file__).resolve().parent.parent / "exports" / "data" / "bus" / "proto"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
PACK = json.dumps([{"bn": "dev:", "bt": T0, "n": "temp", "u": "Cel", "v": 21.5}]).encode()


def incoming(topic: str, payload: bytes, transport: str = "mqtt", **kw) -> Incoming:
    return Incoming(transport, topic, payload, received=T0 + 100.0, **kw)


@pytest.mark.parametrize(
    "topic, transport, expected",
    [
        ("channels/c1/messages", "mqtt", ("channels", "c1", "")),
        ("channels/c1/messages/events/data", "mqtt", ("channels", "c1", "events.data")),
        ("channels.c1", "nats", ("channels", "c1", "")),
        ("channels.c1.events.data", "nats", ("channels", "c1", "events.data")),
        ("m/d1/c/c1", "mqtt", ("m", "c1", "")),
        ("m/d1/c/c1/events/data", "mqtt", ("m", "c1", "events.data")),
        ("m.d1.c.c1.events.data", "nats", ("m", "c1", "events.data")),
    ],
)
def test_both_layouts_give_channel_and_dotted_subtopic(topic, transport, expected):
    assert route(topic, transport)[:3] == expected


@pytest.mark.parametrize(
    "topic, transport",
    [
        ("channels/c1/other/x", "mqtt"),
        ("channels//messages", "mqtt"),
        ("channels/c1/messages/a//b", "mqtt"),
        ("m.d1.x.c1", "nats"),
        ("other.c1", "nats"),
    ],
)
def test_a_topic_outside_the_layouts_is_refused(topic, transport):
    with pytest.raises(TopicError):
        route(topic, transport)


def test_a_layout_that_is_not_subscribed_is_refused():
    with pytest.raises(TopicError):
        route("m/d1/c/c1", "mqtt", ("channels",))


@pytest.mark.parametrize("layout, file", [("channels", "mainflux"), ("m", "magistrala")])
def test_the_runtime_envelope_matches_its_proto_file(layout, file):
    text = (PROTO / f"{file}.proto").read_text()
    declared = re.findall(r"^\s*(string|bytes|int64) (\w+) = (\d+);", text, re.M)
    package, fields = SCHEMAS[layout]
    assert f"package {package};" in text
    assert [(name, kind, int(number)) for kind, name, number in declared] == fields


def test_a_bare_json_pack_over_mqtt_is_resolved_with_the_topics_origin():
    decoded = decode(incoming("channels/c1/messages/events/data", PACK))
    assert not decoded.reason
    assert decoded.origin == {
        "channel": "c1",
        "subtopic": "events.data",
        "publisher": "unknown",
        "protocol": "mqtt",
    }
    [record] = decoded.records
    assert (record.name, record.unit, record.value) == ("dev:temp", "Cel", 21.5)
    assert record.time.timestamp() == T0


def test_the_publisher_comes_from_the_message_when_it_names_one():
    decoded = decode(incoming("channels/c1/messages", PACK, publisher="thing-7"))
    assert decoded.origin["publisher"] == "thing-7"


@pytest.mark.parametrize(
    "layout, subject", [("channels", "channels.c1.events"), ("m", "m.d1.c.c1.events")]
)
def test_an_envelope_gives_origin_and_creation_time(layout, subject):
    created = (T0 + 5) * 10**9
    extra = {"domain": "d1"} if layout == "m" else {}
    data = encode_envelope(
        layout,
        channel="c9",
        subtopic="events.data",
        publisher="thing-1",
        protocol="http",
        payload=json.dumps([{"n": "temp", "v": 1}]).encode(),
        created=created,
        **extra,
    )
    decoded = decode(incoming(subject, data, "nats"))
    assert not decoded.reason, decoded.reason
    assert decoded.origin == {
        "channel": "c9",
        "subtopic": "events.data",
        "publisher": "thing-1",
        "protocol": "http",
    }
    # A record without a time is "now" as the platform saw it: the envelope's creation.
    assert decoded.records[0].time.timestamp() == T0 + 5


def test_senml_cbor_resolves_like_its_json_form():
    records = [
        {-2: "dev:", -3: T0, -4: "Cel", 0: "temp", 2: 21.5},
        {0: "flag", 4: True, 6: 1},
        {0: "blob", 8: b"\x00\xff"},
    ]
    from_cbor = decode(incoming("channels/c1/messages", cbor2.dumps(records)))
    as_json = [
        {"bn": "dev:", "bt": T0, "bu": "Cel", "n": "temp", "v": 21.5},
        {"n": "flag", "vb": True, "t": 1},
        {"n": "blob", "vd": "AP8"},
    ]
    from_json = decode(incoming("channels/c1/messages", json.dumps(as_json).encode()))
    assert not from_cbor.reason, from_cbor.reason
    assert from_cbor.records == from_json.records


def test_a_redelivery_has_the_same_key_and_another_message_another():
    first = decode(incoming("channels/c1/messages", PACK))
    again = decode(Incoming("mqtt", "channels/c1/messages", PACK, received=T0 + 999))
    other_topic = decode(incoming("channels/c2/messages", PACK))
    assert first.key == again.key != other_topic.key
    envelopes = [encode_envelope("channels", payload=PACK, created=n) for n in (1, 2)]
    one, two = (decode(incoming("channels.c1", data, "nats")) for data in envelopes)
    assert one.key != two.key


def test_the_key_is_the_documented_digest_and_a_batch_decodes_as_its_messages_do():
    # The definition in README "Live data": the message's own time (here the first record's
    # absolute bt) as 8 hex digits, then 96 bits of SHA-256 over channel, subtopic, publisher
    # and the envelope's creation time (0 without), each followed by a NUL byte, then the bytes.
    digest = hashlib.sha256(b"c1\x00events.data\x00unknown\x000\x00" + PACK).hexdigest()
    key = decode(incoming("channels/c1/messages/events/data", PACK)).key
    assert key == f"{T0:08x}" + digest[:24] and len(key) == 32
    envelope = encode_envelope("channels", channel="c9", publisher="p", payload=PACK, created=7)
    messages = [
        incoming("channels/c1/messages/events/data", PACK),
        incoming("channels.c1.events", envelope, "nats"),
        incoming("channels/c1/messages/events/data", PACK.replace(b"21.5", b"22.5")),
        incoming("channels/c1/messages", PACK, publisher="thing-7"),
        incoming("nowhere", PACK),
        incoming("channels/c1/messages/events/data", b"not json"),
    ]
    one_by_one = [decode(message) for message in messages]
    together = decode_batch(messages)
    assert [(d.key, d.origin, d.records, d.reason) for d in together] == [
        (d.key, d.origin, d.records, d.reason) for d in one_by_one
    ]
    assert together[1].origin["channel"] == "c9" and together[0].origin["channel"] == "c1"
    assert len({d.key for d in together}) == 6


def test_keys_begin_with_the_messages_own_time_so_a_stream_claims_them_in_order():
    def key(payload, topic="channels/c1/messages", transport="mqtt", received=T0):
        return decode(Incoming(transport, topic, payload, received=received)).key

    packs = [json.dumps([{"n": "t", "t": T0 + n * 7, "v": n}]).encode() for n in range(50)]
    keys = [key(pack) for pack in packs]
    assert keys == sorted(keys) and len(set(keys)) == 50
    assert keys[1][:8] == f"{T0 + 7:08x}"
    # bt + t of the first record; a relative time (below 2**28) depends on the arrival: 0.
    assert key(b'[{"bt": %d, "n": "t", "t": 5, "v": 1}]' % T0)[:8] == f"{T0 + 5:08x}"
    relative = b'[{"n": "t", "t": -5, "v": 1}]'
    assert key(relative)[:8] == "00000000" and key(relative) == key(relative, received=T0 + 60)
    for odd in (b'[{"n": "t", "t": true, "v": 1}]', b"not json", b'{"n": "t"}', b"[]"):
        assert key(odd)[:8] == "00000000", odd
    # An envelope's creation time comes first, whatever the records say.
    envelope = encode_envelope("channels", payload=packs[3], created=(T0 - 100) * 10**9 + 5)
    assert key(envelope, "channels.c1", "nats")[:8] == f"{T0 - 100:08x}"
    # The short path of a batch gives the same keys as the full one.
    assert [d.key for d in decode_batch([incoming("channels/c1/messages", p) for p in packs])] == (
        keys
    )


TRICKY_PAYLOADS = [
    PACK,
    b'[{"n": "temp", "v": 1}]',  # relative time: resolved against each message's own "now"
    b'[{"bn": "dev:", "bt": 1767225600, "bu": "Cel", "bv": 10, "n": "a", "v": 1}]',
    b'[{"n": "a", "v": 2}]',  # after a pack with base fields: none of them applies here
    b'[{"bs": 5, "n": "a", "v": 1, "t": 1767225600}]',
    b'[{"n": "a", "v": 1, "t": 1767225600}]',  # after a base sum: no sum here
    b'[{"bver": 10, "n": "a", "v": 1}, {"n": "b", "vs": "x"}]',
    b'[{"bver": 11, "n": "a", "v": 1}]',
    b'  [{"n": "a", "v": 3}]',  # white space around the value
    b'[{"n": "a", "v": 4}]\n',
    b'[{"n": "a", "v": 5}] x',  # extra data
    b"[1],[2]",
    b'[{"n": "a", "v": 6}',  # unclosed
    b'{"n": "a", "v": 7}',  # a lone record
    b"[]",
    b'[{"n": "a", "v": NaN}]',
    b'[{"n": "a", "v": 1e400}]',
    b'[{"n": "a", "v": 1' + b"0" * 5000 + b"}]",  # more digits than Python reads
    b"[" * 100_000 + b"]" * 100_000,  # nested too deeply
    b'[{"n": "a", "v": 1, "t": 1e300}]',
    '[{"n": "a", "u": "°C", "v": 8}]'.encode(),
    b'[{"n": "a", "u": "\\ud800", "v": 9}]',  # a lone surrogate: not storable
    b'[{"n": "a", "u": "\xff", "v": 9}]',  # not UTF-8
    json.dumps([{"n": "a" * 300, "v": 1}]).encode(),  # longer than the column
    json.dumps([{"n": "bad name!", "v": 1}]).encode(),
    json.dumps([{"n": "a", "v": True}]).encode(),
    cbor2.dumps([{0: "a", 2: 1.5}]),
]


def test_a_batch_decodes_tricky_payloads_as_one_by_one_on_the_full_path(monkeypatch):
    # The batch path (a quick JSON read, one resolver restarted per pack) must give exactly
    # what each message alone gives through the full read and a resolver of its own.
    payloads = [*TRICKY_PAYLOADS, *(pack_of(i) for i in range(5))]
    messages = [
        Incoming("mqtt", "channels/c1/messages/s", payload, received=T0 + 100.0 + index % 3)
        for index, payload in enumerate(payloads * 2)
    ]
    from exports.data.bus import decoding

    quick = decoding._bare_pack
    taken = []
    monkeypatch.setattr(
        decoding, "_bare_pack", lambda *args: taken.append(quick(*args)) or taken[-1]
    )
    together = decode_batch(messages)
    # The short path of bare JSON arrays took the good ones and left the rest to _decode.
    assert sum(result is not None for result in taken) >= 2 * 10
    assert None in taken

    def no_quick_read(text, at):
        raise StopIteration(at)

    monkeypatch.setattr(decoding, "_scan_json", no_quick_read)
    one_by_one = [decode(message) for message in messages]
    assert [(d.key, d.origin, d.records, d.reason, d.created) for d in together] == [
        (d.key, d.origin, d.records, d.reason, d.created) for d in one_by_one
    ]
    reasons = [d.reason for d in one_by_one]
    assert sum(not reason for reason in reasons) >= 2 * 13 and reasons.count("") < len(reasons)
    assert one_by_one[3].records[0].name == "a" and one_by_one[4].records[0].unit == ""
    assert one_by_one[5].records[0].sum is None


@pytest.mark.django_db
def test_a_mixed_batch_stores_exactly_the_new_well_formed_messages():
    stored_before = [incoming("channels/c1/messages", pack_of(i)) for i in range(3)]
    store_batch(batch(*stored_before), rule="any")
    fresh = [incoming("channels/c1/messages/s", pack_of(i)) for i in range(10, 14)]
    malformed = [incoming("channels/c1/messages", b"[{"), incoming("nowhere/at/all", PACK)]
    mixed = [
        *stored_before[:2],  # redelivered: their keys are taken
        fresh[0],
        malformed[0],
        fresh[1],
        fresh[1],  # twice in this batch
        stored_before[2],
        malformed[1],
        *fresh[2:],
        malformed[0],  # a malformed message redelivered in the same batch
    ]
    result = store_batch(batch(*mixed), rule="any")
    assert (result.stored, result.records) == (4, 4)
    assert (result.duplicates, result.malformed, result.refused) == (5, 2, 0)
    assert Message.objects.count() == 7 and BusMessageKey.objects.count() == 3 + 4 + 2
    assert sorted(Message.objects.filter(subtopic="s").values_list("value", flat=True)) == [
        10.0,
        11.0,
        12.0,
        13.0,
    ]
    assert BusDeadLetter.objects.count() == 2
    # The whole batch again: nothing more.
    again = store_batch(batch(*mixed), rule="any")
    assert (again.stored, again.duplicates, again.malformed) == (0, len(mixed), 0)
    assert Message.objects.count() == 7 and BusDeadLetter.objects.count() == 2


def pack_of(value: int) -> bytes:
    return json.dumps([{"n": "temp", "t": T0 + value, "v": float(value)}]).encode()


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"[{'n': 1}]", "not valid JSON"),
        (b"[]" + b"x", "not valid JSON"),
        (b'[{"n": "x"}]', "no value"),
        (b'[{"n": "x", "v": 1, "bver": 11}]', "newer than the supported"),
        (b"\x12\xff\xff", "envelope"),
        (b"\x0a\xff\xff", "not valid JSON"),
        (b"\xa1\x18\x63\x01", "unknown label"),
        (b"", "empty"),
    ],
)
def test_a_malformed_payload_says_why(payload, reason):
    decoded = decode(incoming("channels/c1/messages", payload))
    assert reason in decoded.reason
    assert not decoded.records


def batch(*messages: Incoming):
    return [(message, decode(message)) for message in messages]


@pytest.mark.django_db
def test_a_batch_is_stored_once_and_its_redelivery_is_refused():
    messages = [incoming(f"channels/c1/messages/s{i}", PACK) for i in range(3)]
    first = store_batch(batch(*messages), rule="any")
    assert (first.stored, first.records, first.duplicates) == (3, 3, 0)
    # The broker delivers two of them again, and one of them twice in one batch.
    again = store_batch(batch(messages[0], messages[1], messages[1]), rule="any")
    assert (again.stored, again.duplicates) == (0, 3)
    assert Message.objects.count() == 3 and BusMessageKey.objects.count() == 3
    assert Series.objects.get(subtopic="s0").count == 1


@pytest.mark.django_db
def test_malformed_messages_become_dead_letters_once_and_the_rest_is_stored():
    bad = incoming("channels/c1/messages", b'[{"n": "x"}]' + b" " * 200)
    result = store_batch(batch(bad, incoming("channels/c1/messages", PACK), bad), rule="any")
    assert (result.stored, result.malformed, result.duplicates) == (1, 1, 1)
    [dead] = BusDeadLetter.objects.all()
    assert dead.topic == "channels/c1/messages" and "no value" in dead.reason
    assert dead.payload_size == 212 and bytes(dead.payload).startswith(b'[{"n"')


@pytest.mark.django_db
def test_dead_letters_keep_only_the_newest():
    messages = [incoming("nowhere", str(i).encode()) for i in range(5)]
    store_batch(batch(*messages), rule="any", dead_letters=3)
    kept = [bytes(d.payload) for d in BusDeadLetter.objects.order_by("id")]
    assert kept == [b"2", b"3", b"4"]


@pytest.mark.django_db
def test_with_the_grants_rule_a_channel_nobody_may_publish_to_is_refused(alice):
    ChannelGrant.objects.create(user=alice, channel_id="c1", subtopic="events", can_publish=True)
    ChannelGrant.objects.create(user=alice, channel_id="c2", can_read=True)
    result = store_batch(
        batch(
            incoming("channels/c1/messages/events/data", PACK),
            incoming("channels/c1/messages/other", PACK),
            incoming("channels/c2/messages", PACK),
        )
    )
    assert (result.stored, result.refused) == (1, 2)
    assert list(Message.objects.values_list("subtopic", flat=True)) == ["events.data"]
    reasons = sorted(BusDeadLetter.objects.values_list("reason", flat=True))
    assert reasons == [
        "refused: nobody may publish to channel 'c1' subtopic 'other'.",
        "refused: nobody may publish to channel 'c2'.",
    ]


@pytest.mark.django_db
def test_old_keys_are_pruned_and_recent_ones_kept():
    from datetime import timedelta

    from django.utils import timezone

    BusMessageKey.objects.create(key="old", received=timezone.now() - timedelta(days=8))
    BusMessageKey.objects.create(key="new")
    assert prune_keys(timedelta(days=7)) == 1
    assert list(BusMessageKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db
def test_staff_see_dead_letters_in_the_admin(client, admin_user):
    store_batch(batch(incoming("channels/c1/messages", b"[<bad>]")), rule="any")
    client.force_login(admin_user)
    listing = client.get("/admin/exports/busdeadletter/")
    assert listing.status_code == 200 and b"not valid JSON" in listing.content
    dead = BusDeadLetter.objects.get()
    detail = client.get(f"/admin/exports/busdeadletter/{dead.pk}/change/")
    assert detail.status_code == 200 and b"[&lt;bad&gt;]" in detail.content


@pytest.mark.django_db
def test_healthz_checks_the_subscriber_only_when_a_broker_is_configured(
    client, redis_conn, settings
):
    assert "subscriber" not in client.get("/healthz").json()["checks"]
    settings.MQTT_URL = "mqtt://127.0.0.1:1883"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["subscriber"] == {"ok": False, "error": "SubscriberDown"}
    status = {"connected": {"mqtt": True}, "running": True, "last_message": T0, "lag_seconds": 0.1}
    redis_conn.set(heartbeat_key("test"), json.dumps(status))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["subscriber"] == {
        "ok": True,
        "connected": {"mqtt": True},
        "last_message": "2026-01-01T00:00:00Z",
        "lag_seconds": 0.1,
    }
    redis_conn.set(heartbeat_key("test"), json.dumps(status | {"connected": {"mqtt": False}}))
    assert client.get("/healthz").json()["checks"]["subscriber"]["ok"] is False


def test_make_run_starts_the_subscriber_when_a_broker_is_configured(settings):
    assert "subscriber" not in dict(stack_processes("127.0.0.1:8000"))
    settings.NATS_URL = "nats://127.0.0.1:4222"
    assert dict(stack_processes("127.0.0.1:8000"))["subscriber"][-1] == "runsubscriber"


def _mqtt_publish(topic: str, payload: bytes, mid: int, qos: int, props: bytes = b"\x00"):
    body = len(topic.encode()).to_bytes(2, "big") + topic.encode()
    body += (mid.to_bytes(2, "big") if qos else b"") + props + payload
    length, size = b"", len(body)
    while True:
        size, digit = divmod(size, 128)
        length += bytes([digit | (0x80 if size else 0)])
        if not size:
            return bytes([0x30 | qos << 1]) + length + body


@pytest.fixture
def mqtt_on_a_socket():
    """Our MQTT client reading one end of a socket pair; the test writes to the other."""
    import socket

    from exports.data.bus.mqtt import _Client, paho

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client = _Client(
        paho.CallbackAPIVersion.VERSION2, client_id="t", protocol=paho.MQTTv5, manual_ack=True
    )
    client._sock = ours
    try:
        yield client, theirs
    finally:
        ours.close()
        theirs.close()


def test_the_mqtt_reader_takes_plain_publishes_in_bulk_and_leaves_the_rest_to_paho(
    mqtt_on_a_socket,
):
    """What the chunk reader parses itself (QoS 0/1 without properties) and what it leaves to
    paho (properties, other packets, a packet cut by the end of what has arrived) come out
    in the order they were sent, each once, with topic, payload, packet id and QoS."""
    from exports.data.bus.mqtt import paho

    client, theirs = mqtt_on_a_socket
    got, bulks = [], []
    client.on_plain_publishes = lambda items: (bulks.append(len(items)), got.extend(items))
    client.on_plain_publish = lambda *item: got.append(item)
    client.on_message = lambda _c, _u, m: got.append((m.topic, m.payload, m.mid, m.qos))
    user_property = b"\x26" + b"\x00\x09publisher" + b"\x00\x05dev-9"
    expected = [
        ("channels/a/messages/x", b'[{"n":"t","v":1}]', 1, 1),
        ("channels/a/messages/x", b'[{"n":"t","v":2}]', 0, 0),
        ("channels/b/messages", b'[{"n":"t","v":3}]', 3, 1),  # with a property
        ("channels/a/messages/x", b"[" + b" " * 300 + b"]", 4, 1),  # two-byte length
        ("channels/é/messages", b'[{"n":"t","v":5}]', 5, 1),
    ]
    packets = [
        _mqtt_publish(*expected[0]),
        _mqtt_publish(*expected[1]),
        _mqtt_publish(*expected[2], props=bytes([len(user_property)]) + user_property),
        _mqtt_publish(*expected[3]),
        b"\xd0\x00",  # PINGRESP
        _mqtt_publish(*expected[4]),
    ]
    stream = b"".join(packets)
    cut = len(b"".join(packets[:3])) + 100  # inside the fourth packet
    theirs.sendall(stream[:cut])
    assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    theirs.sendall(stream[cut:])
    assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert got == expected
    assert bulks[0] == 2  # the first two in one hand-over


def test_the_mqtt_reader_completes_publishes_cut_anywhere_from_the_socket(mqtt_on_a_socket):
    """A plain PUBLISH cut by the end of what has arrived — in its length bytes, its topic,
    its payload — is completed from the socket by the bulk reader, not handed to paho's
    per-packet reading; each message comes once, in order."""
    from exports.data.bus.mqtt import paho

    client, theirs = mqtt_on_a_socket
    got, one_by_one = [], []
    client.on_plain_publishes = got.extend
    client.on_plain_publish = lambda *item: one_by_one.append(item)
    expected = [
        (f"channels/a/messages/{index}", b"[" + b" " * (index * 37 % 400) + b"]", index + 1, 1)
        for index in range(60)
    ]
    stream = b"".join(_mqtt_publish(*item) for item in expected)
    for start in range(0, len(stream), 97):  # cuts everywhere, two-byte lengths among them
        theirs.sendall(stream[start : start + 97])
        assert client.loop_read() == paho.MQTTErrorCode.MQTT_ERR_SUCCESS
    assert got == expected
    assert one_by_one == []


class _NatsClient:
    """What nats-py's parser calls on its client; records what reached it."""

    def __init__(self):
        from nats.protocol.parser import Parser

        self.slow, self.pings = [], 0
        self._ps = Parser(self)

    async def _process_msg(self, sid, subject, reply, data, headers):
        self.slow.append((sid, subject, data, reply, headers))

    async def _process_ping(self):
        self.pings += 1


def _nats_msg(subject: bytes, sid: int, reply: bytes, payload: bytes) -> bytes:
    return b"MSG %s %d %s %d\r\n%s\r\n" % (subject, sid, reply, len(payload), payload)


def _ours(count: int, size: int = 0) -> list[tuple[bytes, bytes, bytes]]:
    return [
        (b"channels.c%d" % n, b'[{"n":"t","v":%d}]' % n + b" " * size, b"$JS.ACK.s.d.1.%d" % n)
        for n in range(count)
    ]


def _feed(client, *reads: bytes) -> None:
    import asyncio

    async def feed():
        for data in reads:
            await client._ps.parse(data)

    asyncio.run(feed())


def test_the_nats_reader_takes_plain_deliveries_in_bulk_and_leaves_the_rest_to_nats_py():
    """JetStream deliveries to our inbox (plain MSG with a reply subject) are cut from the
    buffer by natsbulk; a message with headers (a pull status, a publisher header), one for
    another subscription, and PING go through nats-py's parser as before. Each message comes
    once; ours in the order sent."""
    from exports.data.bus.natsbulk import read_in_bulk

    client, bulks = _NatsClient(), []
    read_in_bulk(client, 5, bulks.append)
    read_in_bulk(client, 5, bulks.append)  # a reconnect binds again: still one reader
    headers = b"NATS/1.0 408 Request Timeout\r\n\r\n"
    ours = _ours(6)
    stream = b"".join(
        [
            _nats_msg(ours[0][0], 5, ours[0][2], ours[0][1]),
            _nats_msg(ours[1][0], 5, ours[1][2], ours[1][1]),
            b"HMSG _INBOX.x 5 %d %d\r\n%s\r\n" % (len(headers), len(headers), headers),
            _nats_msg(ours[2][0], 5, ours[2][2], ours[2][1]),
            b"MSG channels.core 7 2\r\n[]\r\n",
            b"PING\r\n",
            _nats_msg(ours[3][0], 5, ours[3][2], ours[3][1]),
        ]
    )
    later = b"".join(_nats_msg(s, 5, r, p) for s, p, r in ours[4:])
    _feed(client, stream, later)
    by_parser = [(s, d, r) for sid, s, d, r, h in client.slow if sid == 5 and not h]
    # The leading run in one hand-over; from the first message with headers on, nats-py's
    # parser reads the rest of that read; the next read starts with ours again.
    assert bulks == [ours[:2], ours[4:]]
    assert by_parser == ours[2:4]
    assert [(sid, h) for sid, _, _, _, h in client.slow if h or sid != 5] == [
        (5, headers),
        (7, None),
    ]
    assert client.pings == 1


def test_the_nats_reader_keeps_a_cut_message_of_ours_for_the_next_read():
    """Reads that end anywhere inside a message of ours (its MSG line, its payload, its last
    CRLF) leave it for the next read: every message comes through the bulk reader, in order;
    a long one (over WAIT_LIMIT) cut so is left to nats-py's parser."""
    from exports.data.bus.natsbulk import WAIT_LIMIT, read_in_bulk

    ours = _ours(40, size=37)
    stream = b"".join(_nats_msg(s, 5, r, p) for s, p, r in ours)
    client, bulks = _NatsClient(), []
    read_in_bulk(client, 5, bulks.append)
    _feed(client, *(stream[start : start + 97] for start in range(0, len(stream), 97)))
    assert [item for bulk in bulks for item in bulk] == ours and client.slow == []

    long = (b"channels.big", b"[" + b" " * WAIT_LIMIT + b"]", b"$JS.ACK.s.d.1.99")
    stream = _nats_msg(long[0], 5, long[2], long[1]) + _nats_msg(
        ours[0][0], 5, ours[0][2], ours[0][1]
    )
    client, bulks = _NatsClient(), []
    read_in_bulk(client, 5, bulks.append)
    _feed(client, *(stream[start : start + 32768] for start in range(0, len(stream), 32768)))
    # The long one, and what follows it in the same read, through nats-py's parser.
    assert [(s, d, r) for _, s, d, r, _ in client.slow] == [long, ours[0]] and bulks == []
