from django.conf import settings
from django.db import models
from django.utils import timezone


class IamEvent(models.Model):
    """Outbox row for one IAM event; published to a Redis stream after commit.

    Shaped like Django's admin ``LogEntry``: when, who, what, on which resource,
    plus the request snapshot. ``published_at`` stays empty until the stream
    accepted the event, so a failed publish is retried later.
    """

    operation = models.CharField(max_length=64)  # export_request.create|update|delete
    action = models.CharField(max_length=64)  # exporter:exports:create|update|delete
    resource = models.CharField(max_length=100)  # exporter:exports:<id>
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True, default="")
    occurred_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField(default=dict)
    published_at = models.DateTimeField(null=True, blank=True)
    stream_id = models.CharField(max_length=64, blank=True, default="")
    publish_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["published_at", "id"], name="iam_unpublished")]

    def __str__(self) -> str:
        return f"{self.operation} {self.resource}"

    def as_payload(self) -> dict[str, str]:
        """The flat string map written to the Redis stream."""
        import json

        return {
            "id": str(self.pk),
            "operation": self.operation,
            "action": self.action,
            "resource": self.resource,
            "actor": self.actor_name,
            "occurred_at": self.occurred_at.isoformat(),
            "snapshot": json.dumps(self.snapshot, sort_keys=True),
        }
