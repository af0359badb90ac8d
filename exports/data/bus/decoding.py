"""One bus message → its origin, its natural key and its SenML records (or why not).

The payload is SenML JSON, or SenML CBOR (RFC 8428 §6), bare or inside the platform's
protobuf envelope (``exports.data.bus.envelope``); the first byte tells which: ``[``/``{``
(or white space) is JSON, a CBOR array or map is CBOR, anything else an envelope. The records
are resolved by ``exports.data.senml.parse_pack`` and checked by
``exports.data.ingestion.checked_records``: the parser and rules of ``manage.py ingest`` and of
the HTTP endpoint, so a pack stored one way is stored alike the other ways.

Where the origin comes from, as the platform's writers derive it: channel and subtopic from the
topic (:mod:`exports.data.bus.topics`); an envelope's non-empty channel, subtopic, publisher
and protocol win over them. The publisher of a bare payload is the MQTT 5 user property or NATS
header ``publisher`` when present, else ``SUBSCRIBER_PUBLISHER``; the protocol is the
transport's name (``mqtt``, ``nats``).

The natural key of a message (:func:`message_key`), 32 hex digits: the message's own time in
whole Unix seconds (8 digits: the envelope's creation time, else the first record's absolute
SenML time, else 0), then the first 96 bits of SHA-256 over its channel, subtopic, publisher,
the envelope's creation time (ns; 0 without envelope) and the SenML bytes. A redelivery carries
the same bytes, so it has the same key and is stored once. The time comes first so that the
keys of messages arriving together sit together in the key table's index: with digests alone
each batch rewrote pages all over it (SQLite, 1,000,000 keys: 211 ms a batch of 5000 instead
of 18 ms).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from exports.data.bus.envelope import Envelope, EnvelopeError, decode_envelope
from exports.data.bus.topics import LAYOUTS, TopicError, route
from exports.data.ingestion import checked_records, origin_problems, records_fit
from exports.data.senml import (
    RELATIVE_TIME_LIMIT,
    NormalisedRecord,
    Resolver,
    SenMLError,
    parse_pack,
)

# RFC 8428 §6, Table 6: the CBOR labels of the SenML fields.
CBOR_LABELS = {
    -1: "bver",
    -2: "bn",
    -3: "bt",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    0: "n",
    1: "u",
    2: "v",
    3: "vs",
    4: "vb",
    5: "s",
    6: "t",
    7: "ut",
    8: "vd",
}
_JSON_START = frozenset(b"[{ \t\r\n")
# json.loads without its per-call checks: the same decoder, the same errors.
_decode_json = json.JSONDecoder().decode
# Its scanner: one JSON value at an offset, (value, end). For a text that does not start with
# white space and whose value ends at its end, that value is what _decode_json returns (which
# skips white space both sides, then scans): the quick read of _senml, falling back to it.
_scan_json = json.JSONDecoder().scan_once


@dataclass(slots=True)
class Incoming:
    """One message as a broker handed it over; ``handle`` is what the broker needs to
    acknowledge it (None: nothing to acknowledge), given back to its source after the commit."""

    transport: str  # "mqtt" | "nats"
    topic: str
    payload: bytes
    received: float  # Unix seconds
    publisher: str = ""  # MQTT 5 user property / NATS header, when the platform sets one
    handle: Any = field(default=None, repr=False)


@dataclass(slots=True)
class Decoded:
    """A message ready to store (``origin`` and ``records``), or the ``reason`` it is not."""

    key: str
    origin: dict[str, str] | None = None
    records: list[NormalisedRecord] = field(default_factory=list)
    reason: str = ""
    created: float = 0.0  # Unix seconds the message was made (envelope) or received


def message_key(
    channel: str, subtopic: str, publisher: str, created: int, body: bytes, at: int = 0
) -> str:
    """The natural key of a bus message made at ``at`` (Unix seconds; see the module
    docstring), whose envelope says ``created`` (ns; 0 without)."""
    return _key(at, _digest(channel, subtopic, publisher, created, body))


def _key(at: int, digest) -> str:
    """The key: ``at`` as 8 hex digits (clamped to what they hold), then 24 of ``digest``."""
    if not 0 <= at <= 0xFFFFFFFF:
        at = 0 if at < 0 else 0xFFFFFFFF
    return "%08x%s" % (at, digest.hexdigest()[:24])  # noqa: UP031 - a third of the f-string's time


def pack_time(pack: Any) -> int:
    """The first record's time in whole Unix seconds when the pack gives it absolutely
    (``bt`` + ``t`` at least 2**28, RFC 8428 §4.5.3), else 0: a relative time depends on
    when the message arrived, and a key must not."""
    first = pack[0] if type(pack) is list and pack else None
    if type(first) is not dict:
        return 0
    base, offset = first.get("bt", 0), first.get("t", 0)
    if type(base) not in (int, float) or type(offset) not in (int, float):
        return 0
    seconds = base + offset
    return int(seconds) if RELATIVE_TIME_LIMIT <= seconds < 2**32 else 0


def _digest(channel: str, subtopic: str, publisher: str, created: int, body: bytes):
    """SHA-256 over the parts of a key and the body (see the module docstring)."""
    digest = _key_prefix(channel, subtopic, publisher, created)
    digest.update(body)
    return digest


def _key_prefix(channel: str, subtopic: str, publisher: str, created: int):
    """SHA-256 fed with the parts before the body (each followed by a NUL byte)."""
    head = "\x00".join((channel, subtopic, publisher, str(created))) + "\x00"
    return hashlib.sha256(head.encode("utf-8", "surrogatepass"))


def decode(
    message: Incoming, *, layouts: tuple[str, ...] = LAYOUTS, default_publisher: str = "unknown"
) -> Decoded:
    """The origin, key and records of ``message``; never raises for bad input."""
    return decode_batch([message], layouts=layouts, default_publisher=default_publisher)[0]


def decode_batch(
    messages: list[Incoming],
    *,
    layouts: tuple[str, ...] = LAYOUTS,
    default_publisher: str = "unknown",
) -> list[Decoded]:
    """:func:`decode` of each message, what they share worked out once per batch.

    A stream repeats few topics: the route, the origin, its check and the start of the key's
    digest are computed once per (transport, topic, publisher) of the batch, not per message.
    A bare JSON array from such an origin with no problem takes a short path
    (:func:`_bare_pack`); whatever it does not take goes the full way (:func:`_decode`).
    """
    origins: dict[tuple[str, str, str], tuple] = {}
    decoded = []
    add = decoded.append
    # One resolver restarted per pack (parse_pack): a batch of 1-record packs makes one, not
    # one per message, and checks each name and unit once.
    resolver = Resolver(now=0.0)
    for message in messages:
        where = (message.transport, message.topic, message.publisher)
        known = origins.get(where)
        if known is None:
            known = origins[where] = _origin(message, layouts, default_publisher)
        body = message.payload
        # A bare JSON array from a known, good origin (what devices send): the short path.
        if body[:1] == b"[" and known[4] is not None and not known[3]:
            quick = _bare_pack(body, message.received, known[2], known[4], resolver)
            if quick is not None:
                add(quick)
                continue
        add(_decode(message, *known, resolver))
    return decoded


def _bare_pack(body: bytes, received: float, origin, prefix, resolver: Resolver) -> Decoded | None:
    """A bare SenML JSON pack (``[`` first: no envelope) of good records, decoded as
    :func:`_decode` does, in fewer steps; None for anything else — not JSON as the quick read
    takes it, not a non-empty array, a record that fails — which :func:`_decode` then decodes
    and explains."""
    try:
        text = body.decode("utf-8")
        value, end = _scan_json(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(text) or type(value) is not list or not value:
        return None
    resolver.restart(now=received)
    resolve = resolver.resolve
    try:
        records = [resolve(record) for record in value]
    except SenMLError:
        return None
    if not records_fit(records):
        return None
    digest = prefix.copy()
    digest.update(body)
    return Decoded(_key(pack_time(value), digest), origin, records, created=received)


def _origin(message: Incoming, layouts: tuple[str, ...], default_publisher: str) -> tuple:
    """(route error, layout, origin, its problem, the key's digest prefix for bare SenML)."""
    try:
        where = route(message.topic, message.transport, layouts)
    except TopicError as exc:
        return str(exc), "", None, "", None
    origin = {
        "channel": where.channel,
        "subtopic": where.subtopic,
        "publisher": message.publisher or default_publisher,
        "protocol": message.transport,
    }
    prefix = _key_prefix(origin["channel"], origin["subtopic"], origin["publisher"], 0)
    return "", where.layout, origin, _origin_problem(*origin.values()), prefix


def _decode(
    message: Incoming,
    error: str,
    layout: str,
    origin,
    problem: str,
    prefix,
    resolver: Resolver | None = None,
) -> Decoded:
    if error:
        return Decoded(_raw_key(message), reason=error, created=message.received)
    body = message.payload
    try:
        envelope = _envelope(body, layout)
    except EnvelopeError as exc:
        return Decoded(_raw_key(message), reason=str(exc), created=message.received)
    created, at = message.received, 0
    if envelope is None:
        digest = prefix.copy()
        digest.update(body)
    else:
        origin = dict(origin)
        for name in ("channel", "subtopic", "publisher", "protocol"):
            origin[name] = getattr(envelope, name) or origin[name]
        body, created_ns = envelope.payload, envelope.created
        created = created_ns / 1e9 if created_ns > 0 else message.received
        at = created_ns // 10**9 if created_ns > 0 else 0
        digest = _digest(
            origin["channel"], origin["subtopic"], origin["publisher"], created_ns, body
        )
        problem = _origin_problem(*origin.values())
    if problem:
        return Decoded(_key(at, digest), origin, reason=problem, created=created)
    try:
        pack = _senml(body)
    except _Unreadable as exc:
        return Decoded(_key(at, digest), origin, reason=str(exc), created=created)
    key = _key(at or pack_time(pack), digest)
    try:
        records = list(checked_records(parse_pack(pack, now=created, resolver=resolver)))
    except SenMLError as exc:
        return Decoded(key, origin, reason=f"malformed SenML: {exc}", created=created)
    except _Unreadable as exc:
        return Decoded(key, origin, reason=str(exc), created=created)
    return Decoded(key, origin, records, created=created)


def _envelope(body: bytes, layout: str) -> Envelope | None:
    """The envelope around ``body``, or None for bare SenML.

    A JSON pack starts with ``[``, ``{`` or white space, a CBOR pack with an array or map
    byte. An envelope starts with field 1 (``0x0a``, a newline): that byte is read as an
    envelope when it parses as one with a payload, else as JSON after a newline.
    """
    if not body or body[0] in _JSON_START or 0x80 <= body[0] <= 0xBF:
        if body[:1] != b"\n":
            return None
        try:
            envelope = decode_envelope(body, layout)
        except EnvelopeError:
            return None
        return envelope if envelope.payload else None
    return decode_envelope(body, layout)


@functools.lru_cache(maxsize=4096)
def _origin_problem(channel: str, subtopic: str, publisher: str, protocol: str) -> str:
    """What is wrong with an origin (empty when nothing); a stream repeats few origins."""
    origin = {"channel": channel, "subtopic": subtopic, "publisher": publisher}
    problems = origin_problems(origin | {"protocol": protocol})
    return next((f"the {name} {problem}" for name, problem in problems.items()), "")


class _Unreadable(Exception):
    """A payload that is not SenML JSON or CBOR at all."""


def _senml(body: bytes) -> Any:
    if not body:
        raise _Unreadable("the payload is empty.")
    if 0x80 <= body[0] <= 0xBF:
        return _from_cbor(body)
    try:
        text = body.decode("utf-8")
        value, end = _scan_json(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError, RecursionError):
        pass  # the full read below says what is wrong
    try:
        return _decode_json(body.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON: {exc.msg} at column {exc.colno}.") from None
    except UnicodeDecodeError:
        raise _Unreadable("not valid JSON: the payload is not UTF-8 text.") from None
    except RecursionError:
        raise _Unreadable("not SenML: arrays are nested too deeply.") from None
    except ValueError:  # Python reads integers of at most 4300 digits
        raise _Unreadable("not valid JSON: a number has too many digits.") from None


def _from_cbor(body: bytes) -> Any:
    """SenML CBOR as the records its JSON form would hold (labels → names, vd → base64url)."""
    import cbor2

    try:
        data = cbor2.loads(body)
    except (cbor2.CBORDecodeError, RecursionError, ValueError) as exc:
        raise _Unreadable(f"not valid CBOR: {exc}") from None
    records = data if isinstance(data, list) else [data]
    return [_cbor_record(record) for record in records]


def _cbor_record(record: Any) -> Any:
    if not isinstance(record, dict):
        return record  # the parser says what is wrong with it
    named = {}
    for label, value in record.items():
        name = CBOR_LABELS.get(label, label)
        if not isinstance(name, str):
            raise _Unreadable(f"not SenML CBOR: unknown label {label!r}.")
        if name == "vd" and isinstance(value, bytes):
            value = base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
        named[name] = value
    return named


def _raw_key(message: Incoming) -> str:
    """The key of a message whose origin is unknown: its topic and bytes."""
    return message_key(message.topic, "", "", -1, message.payload)
