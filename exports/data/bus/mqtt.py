"""The MQTT side of the subscriber: a persistent MQTT 5 session, QoS 1, acks after commit.

The session (fixed client id, ``clean_start`` off, session expiry = the dedup window) keeps
what is published while the subscriber is down, and every message it delivered but we did not
acknowledge: a killed subscriber gets them again on its next connection. paho reconnects by
itself with a doubling delay (1 s to 30 s); each connection is a new generation, and an ack
of a message from an older connection is dropped (its packet id may already name another
message; the broker redelivers the old one, whose key then makes it a duplicate). The acks of a
stored batch go out in one burst (:meth:`MqttSource.ack`).

Two costs of paho 2.x per received message are cut (measured: they were most of paho's time):
its network thread reads one packet per ``select()`` — and, as the GIL is busy with our batch,
waits for it after each — so :class:`_Client` reads every packet already there at once, the
plain PUBLISHes (QoS 0/1, no properties: what devices send) parsed by itself from its buffer and
handed over as one list per buffer (:meth:`_Client._read_publishes`); and it
builds a ``Properties`` object per MQTT 5 PUBLISH, tables and all, so
:func:`_quick_publish_properties` makes that a copy of a cleared prototype (the same class).
"""

from __future__ import annotations

import logging
import ssl
import struct
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import unquote, urlsplit

import paho.mqtt as paho_mqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from exports.data.bus.decoding import Incoming

log = logging.getLogger("exports.bus")
QOS = 1


class _QuickProperties(Properties):
    """``Properties`` made by copying a cleared instance of the packet type (its name and type
    tables are constants), instead of building the tables and clearing every field anew."""

    _prototypes: dict[int, Properties] = {}

    def __init__(self, packetType):
        prototype = self._prototypes.get(packetType)
        if prototype is None:
            prototype = self._prototypes[packetType] = Properties(packetType)
        self.__dict__.update(prototype.__dict__)

    def clear(self):
        """Remove the properties set (paho's tries every name); its tables stay."""
        for name in [name for name in self.__dict__ if name not in _TABLES]:
            object.__delattr__(self, name)


_TABLES = frozenset(("packetType", "types", "names", "properties"))
RECV_CHUNK = 256 * 1024  # bytes asked of the socket at a time
WRITE_EVERY = 256  # packets read between sends of what is queued (acks) during a long read


class _Client(paho.Client):
    """paho's client, reading the socket in large chunks and, per wake of its network thread,
    every packet already received (paho reads three times per packet and one packet per
    ``select()``: each of those system calls gives the GIL up and waits to get it back)."""

    _chunk, _at, _chunk_of = b"", 0, None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._chunk_of is not self._sock:  # a new connection: nothing buffered from it
            self._chunk, self._at, self._chunk_of = b"", 0, self._sock
        if self._at >= len(self._chunk):
            data = super()._sock_recv(max(bufsize, RECV_CHUNK))  # raises when none is there
            if len(data) <= bufsize:
                return data
            self._chunk, self._at = data, 0
        part = self._chunk[self._at : self._at + bufsize]
        self._at += len(part)
        return part

    # Set by MqttSource: called with (topic, payload, mid, qos) for a plain PUBLISH, and with
    # a list of those for the plain PUBLISHes read at once from the buffer.
    on_plain_publish: Callable[[str, bytes, int, int], None] | None = None
    on_plain_publishes: Callable[[list[tuple[str, bytes, int, int]]], None] | None = None

    def _read_publishes(self) -> int | None:
        """Hand over, in one list, every whole plain PUBLISH at the head of the buffer (the
        socket is read when the buffer is empty): the usual packet, parsed here in a few
        steps instead of paho's per-packet state machine (three reads, a dict and two locks
        a packet). A packet of at most RECV_CHUNK bytes cut by the buffer's end is completed
        from the socket when more has arrived, and otherwise waits in the buffer for it.
        Returns how many, or None when the socket has nothing now. Anything else — another
        packet type, QoS 2, properties, a longer packet, a socket error — is left where it is
        for paho's own reading, which handles and reports it."""
        if self._chunk_of is not self._sock:
            self._chunk, self._at, self._chunk_of = b"", 0, self._sock
        if self._at >= len(self._chunk):
            data = self._more()
            if not data:
                return None if data is None else 0  # 0: closed or failed, for paho to find
            self._chunk, self._at = data, 0
        chunk, at, end = self._chunk, self._at, len(self._chunk)
        found: list[tuple[str, bytes, int, int]] = []
        completed = False
        while at < end:
            header = chunk[at]
            length, shift, pos, whole = 0, 0, at + 1, False
            while pos < end and pos - at <= 4:
                byte = chunk[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    whole = True
                    break
            if header >> 4 != 3 or (not whole and pos - at > 4):
                break  # another packet, or a malformed length: paho reads it
            packet_end = pos + length
            if not whole or packet_end > end:
                # A PUBLISH cut by the end of what has arrived: completed from the socket
                # (once a call, and when it is not long), else left to paho.
                short = not whole or packet_end - at <= RECV_CHUNK
                more = None
                if short and not completed:
                    completed, more = True, self._more()
                if not more:
                    if short and more is None and not found:
                        self._chunk, self._at = chunk, at
                        return None  # the rest has not come yet: wait for the socket
                    break
                chunk, at = chunk[at:] + more, 0
                end = len(chunk)
                continue
            publish = _plain_publish(header, chunk, pos, packet_end)
            if publish is None:
                break  # properties, QoS 2, or malformed: paho reads it
            found.append(publish)
            at = packet_end
        self._chunk, self._at = chunk, at
        if found:
            with self._msgtime_mutex:
                self._last_bytes_received = paho.time_func()
            self.on_plain_publishes(found)
        return len(found)

    def _more(self) -> bytes | None:
        """What the socket holds now (at most RECV_CHUNK bytes); None when nothing, b""
        when it closed or failed (paho's own read then gets and reports that)."""
        try:
            return paho.Client._sock_recv(self, RECV_CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def _handle_publish(self) -> paho.MQTTErrorCode:
        """A QoS 0/1 PUBLISH without properties (the usual one) straight to
        :attr:`on_plain_publish`; any other (properties, QoS 2, a bad topic) as paho does."""
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        handler = self.on_plain_publish
        publish = None
        if handler is not None and self._protocol == paho.MQTTv5:
            publish = _plain_publish(header, packet, 0, len(packet))
        if publish is None:
            return super()._handle_publish()
        handler(*publish)
        return paho.MQTTErrorCode.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> paho.MQTTErrorCode:
        # Until nothing is left (buffered data would not wake select()), sending what waits
        # to be sent (the acks of stored batches) every WRITE_EVERY packets meanwhile: the
        # broker stops at Receive Maximum unacknowledged messages.
        read = 0
        while True:
            if self._sock is None:
                return paho.MQTTErrorCode.MQTT_ERR_NO_CONN
            if (
                self._in_packet["command"] == 0
                and self.on_plain_publishes is not None
                and self._protocol == paho.MQTTv5
            ):
                # Between packets: the plain PUBLISHes there go over in bulk.
                count = self._read_publishes()
                if count is None:
                    return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
                if count:
                    if read // WRITE_EVERY != (read + count) // WRITE_EVERY and self.want_write():
                        rc = self.loop_write()
                        if rc > 0:
                            return rc
                    read += count
                    continue
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == paho.MQTTErrorCode.MQTT_ERR_AGAIN:
                return paho.MQTTErrorCode.MQTT_ERR_SUCCESS
            read += 1
            if read % WRITE_EVERY == 0 and self.want_write():
                rc = self.loop_write()
                if rc > 0:
                    return rc


def _plain_publish(
    header: int, data: bytes | bytearray, start: int, end: int
) -> tuple[str, bytes, int, int] | None:
    """``(topic, payload, packet id, QoS)`` of the MQTT 5 PUBLISH whose fixed header byte is
    ``header`` and whose body is ``data[start:end]``, when it is a plain one (QoS 0 or 1, no
    properties, a UTF-8 topic); None for any other, which paho then reads."""
    qos = (header & 0x06) >> 1
    if header >> 4 != 3 or qos > 1 or end - start < 3:
        return None
    topic_stop = start + 2 + int.from_bytes(data[start : start + 2], "big")
    cursor, mid = topic_stop, 0
    if qos:
        mid, cursor = int.from_bytes(data[cursor : cursor + 2], "big"), cursor + 2
    if cursor >= end or data[cursor] != 0:  # properties (or malformed)
        return None
    try:
        topic = data[start + 2 : topic_stop].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return topic, bytes(data[cursor + 1 : end]), mid, qos


def _quick_publish_properties() -> None:
    """Let paho 2.x's PUBLISH decoder build its properties with :class:`_QuickProperties`."""
    try:
        from paho.mqtt import _packet
    except ImportError:  # another paho: leave it as it is
        return
    if (
        paho_mqtt.__version__.startswith("2.")
        and getattr(_packet, "Properties", None) is Properties
    ):
        _packet.Properties = _QuickProperties


_quick_publish_properties()


class MqttSource:
    """Subscribes ``filters`` at ``url`` and hands each message to ``deliver``."""

    name = "mqtt"

    def __init__(
        self,
        url: str,
        *,
        filters: list[str],
        client_id: str,
        deliver: Callable[[Sequence[Incoming], float], bool],
        session_expiry: int,
        receive_maximum: int = 65535,
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"MQTT_URL must start with mqtt:// or mqtts://, not {parts.scheme}://")
        self.tls = parts.scheme in ("mqtts", "ssl")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.filters = filters
        self.deliver = deliver
        self.connected = False
        self._stopped = False
        self.ready = threading.Event()  # subscribed at least once
        self._generation = 0
        self._lock = threading.Lock()
        client = _Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if self.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_plain_publish = self._on_plain_publish
        client.on_plain_publishes = self._on_plain_publishes
        client.on_subscribe = lambda *args: self.ready.set()
        self._properties = Properties(PacketTypes.CONNECT)
        self._properties.SessionExpiryInterval = session_expiry
        self._properties.ReceiveMaximum = receive_maximum
        self.client = client

    def start(self) -> None:
        self.client.connect_async(
            self.host, self.port, keepalive=30, clean_start=False, properties=self._properties
        )
        self.client.loop_start()  # connects, and reconnects with backoff, in its own thread

    def stop(self) -> None:
        self._stopped = True
        self.connected = False
        with self._lock:
            self._generation += 1  # no ack after this point: the session keeps them
        self.client.disconnect()
        self.client.loop_stop()
        self.connected = False

    def ack(self, handles: list[tuple[int, int, int]]) -> None:
        """Acknowledge stored messages, in one burst; those of an older connection are not.

        The PUBACKs (4 bytes each, as paho's ``ack`` makes them) go to paho's send queue as
        one write: one wake of its network thread and one system call for the batch."""
        with self._lock:
            generation = self._generation
            mids = [mid for born, mid, qos in handles if born == generation and qos == 1]
            if mids:
                # Each PUBACK as one 32-bit big-endian word: type, length 2, packet id.
                word = (paho.PUBACK << 24) | (2 << 16)
                burst = struct.pack(f"!{len(mids)}I", *[word | mid for mid in mids])
                self.client._packet_queue(paho.PUBACK, burst, 0, 1)
            for born, mid, qos in handles:
                if born == generation and qos == 2:  # we subscribe at QoS 1: not expected
                    self.client.ack(mid, qos)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        with self._lock:
            self._generation += 1
        self.connected = True
        log.info(
            "MQTT connected to %s:%s (session %s)",
            self.host,
            self.port,
            "resumed" if flags.session_present else "new",
        )
        client.subscribe([(topic, QOS) for topic in self.filters])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected:
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)
        self.connected = False

    def _on_message(self, client, userdata, message) -> None:
        publisher = ""
        props = getattr(message, "properties", None)
        for key, value in getattr(props, "UserProperty", None) or ():
            if key == "publisher":
                publisher = value
        self._hand_over(message.topic, message.payload, message.mid, message.qos, publisher)

    def _on_plain_publish(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self._hand_over(topic, payload, mid, qos, "")

    def _on_plain_publishes(self, publishes: list[tuple[str, bytes, int, int]]) -> None:
        generation, now = self._generation, time.time()
        self._deliver(
            [
                Incoming("mqtt", topic, payload, now, "", (generation, mid, qos) if qos else None)
                for topic, payload, mid, qos in publishes
            ]
        )

    def _hand_over(self, topic: str, payload: bytes, mid: int, qos: int, publisher: str) -> None:
        handle = (self._generation, mid, qos) if qos > 0 else None
        self._deliver([Incoming("mqtt", topic, payload, time.time(), publisher, handle)])

    def _deliver(self, messages: list[Incoming]) -> None:
        # Waits while the batch queue is full (TCP then holds the broker back); messages
        # dropped on stopping were not acknowledged, so the session keeps them.
        while not self.deliver(messages, 0.5):
            if self._stopped:
                return
