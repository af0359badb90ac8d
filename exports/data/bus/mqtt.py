"""The MQTT side of the subscriber: a persistent MQTT 5 session, QoS 1, acks after commit.

The session (fixed client id, ``clean_start`` off, session expiry = the dedup window) keeps
what is published while the subscriber is down, and every message it delivered but we did not
acknowledge: a killed subscriber gets them again on its next connection. paho reconnects by
itself with a doubling delay (1 s to 30 s); each connection is a new generation, and an ack
of a message from an older connection is dropped (its packet id may already name another
message; the broker redelivers the old one, whose key then makes it a duplicate). The acks of a
stored batch go out in one burst (:meth:`MqttSource.ack`).

paho builds a ``Properties`` object per received MQTT 5 PUBLISH, whose constructor alone costs
a quarter of paho's time per message; :func:`_quick_publish_properties` makes it a copy of a
cleared prototype (the same class, the same fields), for paho 2.x whose packet decoder we know.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
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
        deliver: Callable[[Incoming, float], bool],
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
        client = paho.Client(
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
        """Acknowledge stored messages, in one burst; those of an older connection are not."""
        with self._lock:
            generation, ack = self._generation, self.client.ack
            for born, mid, qos in handles:
                if born == generation:
                    ack(mid, qos)

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
        handle = (self._generation, message.mid, message.qos) if message.qos > 0 else None
        incoming = Incoming("mqtt", message.topic, message.payload, time.time(), publisher, handle)
        # Waits while the batch queue is full (TCP then holds the broker back); a message
        # dropped on stopping was not acknowledged, so the session keeps it.
        while not self.deliver(incoming, 0.5):
            if self._stopped:
                return
