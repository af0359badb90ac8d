"""``manage.py runsubscriber``: store what the platform publishes on MQTT and/or NATS."""

from __future__ import annotations

import logging
import signal

import isodate
import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from exports.data.bus.subscriber import Subscriber, SubscriberConfig
from exports.queue.namespace import instance, queue_settings

log = logging.getLogger("exports.bus")


def configured() -> bool:
    """Whether a broker is configured (``MQTT_URL`` or ``NATS_URL``)."""
    return bool(settings.MQTT_URL or settings.NATS_URL)


def subscriber_config() -> SubscriberConfig:
    """The subscriber's settings (``MQTT_URL``, ``NATS_URL``, ``SUBSCRIBER_*``)."""
    return SubscriberConfig(
        mqtt_url=settings.MQTT_URL,
        nats_url=settings.NATS_URL,
        nats_stream=settings.NATS_STREAM,
        layouts=tuple(settings.SUBSCRIBER_LAYOUTS),
        batch_size=settings.SUBSCRIBER_BATCH_SIZE,
        batch_ms=settings.SUBSCRIBER_BATCH_MS,
        batch_bytes=settings.SUBSCRIBER_BATCH_BYTES,
        publish_rule=settings.SUBSCRIBER_PUBLISH_RULE,
        publisher=settings.SUBSCRIBER_PUBLISHER,
        dedup_window=isodate.parse_duration(settings.SUBSCRIBER_DEDUP_WINDOW),
        dead_letters=settings.SUBSCRIBER_DEAD_LETTERS,
        client_id=settings.SUBSCRIBER_CLIENT_ID,
        durable=settings.SUBSCRIBER_DURABLE,
    )


class Command(BaseCommand):
    # The system checks import the URLconf, hence every view and writer: ~90 MB this process
    # never uses. `manage.py check` (and every other command) still runs them.
    requires_system_checks = []
    help = (
        "Subscribe to the platform's message bus and store every SenML message once: MQTT "
        "(MQTT_URL, QoS 1, persistent session) and/or NATS (NATS_URL; a JetStream durable "
        "consumer when NATS_STREAM is set). Batches of SUBSCRIBER_BATCH_SIZE messages (fewer "
        "past SUBSCRIBER_BATCH_BYTES of payload) or SUBSCRIBER_BATCH_MS ms are stored in one "
        "transaction, then acknowledged. SIGTERM or Ctrl-C stores the open batch and exits. "
        "Usage: manage.py runsubscriber"
    )

    def handle(self, *args, **options):
        if not configured():
            raise CommandError("Set MQTT_URL and/or NATS_URL: there is no broker to subscribe to.")
        config = subscriber_config()
        # The heartbeat goes where /healthz looks: the Redis of the queues.
        client = redis.Redis.from_url(
            queue_settings("default")["URL"], socket_connect_timeout=2, socket_timeout=2
        )
        subscriber = Subscriber(config, redis=client, instance=instance())

        def stop(signum, frame):
            log.info("signal %s: storing the open batch, then stopping", signum)
            subscriber.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        brokers = ", ".join(source.name for source in subscriber.sources)
        self.stdout.write(f"Subscribing ({brokers}); layouts {', '.join(config.layouts)}")
        subscriber.run()
        self.stdout.write(f"Stopped: {subscriber.totals}")
