from django.db import models
from django.utils import timezone


class Message(models.Model):
    """One stored SenML record, normalised as Mainflux does (RFC 8428 base fields resolved)."""

    channel = models.CharField(max_length=64)
    subtopic = models.CharField(max_length=255, blank=True, default="")
    publisher = models.CharField(max_length=255)
    protocol = models.CharField(max_length=32, blank=True, default="")
    name = models.CharField(max_length=255)
    unit = models.CharField(max_length=64, blank=True, default="")
    time = models.DateTimeField()
    value = models.FloatField(null=True, blank=True)
    string_value = models.TextField(null=True, blank=True)
    bool_value = models.BooleanField(null=True, blank=True)
    data_value = models.TextField(null=True, blank=True)
    sum = models.FloatField(null=True, blank=True)
    update_time = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # Export reads: one channel/subtopic, a set of names, a time window, in output order
            # (time, publisher, id: exports.engine.reading.ordered_messages). With the order's
            # tie-break in the index, a one-metric item is read in order without a sort.
            models.Index(
                fields=["channel", "subtopic", "name", "time", "publisher", "id"],
                name="msg_export_order",
            ),
            models.Index(fields=["publisher", "time"], name="msg_publisher_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.time.isoformat()}"
