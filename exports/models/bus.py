"""What the bus subscriber keeps besides messages: the keys of stored bus messages (so a
redelivered one is stored once) and the messages it could not store (dead letters)."""

from django.db import models
from django.utils import timezone


class BusMessageKey(models.Model):
    """The natural key of one bus message taken from the broker (stored, duplicate-free).

    ``key`` is the message's own time (seconds, 8 hex digits) followed by a digest of its
    channel, subtopic, publisher, envelope creation time and payload bytes
    (``exports.data.bus.decoding.message_key``). Its primary key makes two
    stores of one message impossible, also for two subscribers at once. Rows older than
    ``SUBSCRIBER_DEDUP_WINDOW`` are pruned by the subscriber: a broker redelivers within
    minutes, so the table stays small.
    """

    key = models.CharField(max_length=32, primary_key=True)
    received = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "bus message key"

    def __str__(self) -> str:
        return self.key


class BusDeadLetter(models.Model):
    """A bus message that was not stored: malformed, or on a channel nobody may publish to.

    Kept for inspection (payload truncated), newest ``SUBSCRIBER_DEAD_LETTERS`` rows only.
    """

    received = models.DateTimeField(default=timezone.now, db_index=True)
    transport = models.CharField(max_length=8)  # mqtt | nats
    topic = models.CharField(max_length=512)
    reason = models.TextField()
    payload = models.BinaryField()
    payload_size = models.PositiveIntegerField()

    class Meta:
        ordering = ["-id"]
        verbose_name = "bus dead letter"

    def __str__(self) -> str:
        return f"{self.transport} {self.topic}: {self.reason[:60]}"
