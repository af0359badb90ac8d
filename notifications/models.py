"""Deliveries of notification messages, and the capability links they carry."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import F
from django.utils import timezone


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"  # waiting for its first or next attempt
    SENDING = "sending", "Sending"  # claimed by one worker, being sent now
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # a permanent error, or transient ones until out of attempts
    # Left "sending" past NOTIFICATIONS_SENDING_TIMEOUT (the worker died mid-send): it may or
    # may not have arrived, so it is never resent by itself; people can "Resend" it.
    UNKNOWN = "unknown", "Unknown"


class DeliveryQuerySet(models.QuerySet):
    def claim(self, pk: int, rq_job_id: str | None = None) -> bool:
        """Take a pending delivery for one attempt; False if it is not pending any more.

        A compare-and-set ``update()``: of two workers holding the same RQ job (a job
        finished twice, an RQ retry, a duplicate enqueue), exactly one wins, so a
        message is never sent twice. With ``rq_job_id`` the row must also still expect
        that RQ job, so a stale RQ job of an earlier hand-over cannot take it.
        """
        claimable = self.filter(pk=pk, status=DeliveryStatus.PENDING)
        if rq_job_id:
            claimable = claimable.filter(rq_job_id=rq_job_id)
        return bool(
            claimable.update(
                status=DeliveryStatus.SENDING,
                attempts=F("attempts") + 1,
                last_attempt_at=timezone.now(),
                next_attempt_at=None,
            )
        )

    def due(self, now: datetime | None = None) -> DeliveryQuerySet:
        """Pending deliveries whose (next) attempt is due and that are not handed to RQ."""
        return self.filter(
            models.Q(next_attempt_at__isnull=True)
            | models.Q(next_attempt_at__lte=now or timezone.now()),
            status=DeliveryStatus.PENDING,
            enqueued_at__isnull=True,
        )

    def handed_over(self) -> DeliveryQuerySet:
        """Pending deliveries handed to RQ that no worker has claimed yet."""
        return self.filter(status=DeliveryStatus.PENDING, enqueued_at__isnull=False)


class Delivery(models.Model):
    """One notification message sent (or being sent) for one finished job.

    Unique per (job, message): however often a job is finished, retried or run by
    several workers, each of its messages is delivered at most once.
    """

    job = models.ForeignKey(
        "exports.ExportJob", on_delete=models.CASCADE, related_name="deliveries"
    )
    message = models.ForeignKey(
        "exports.NotificationMessage", on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    # Who it went to, for people: an address, a chat id, or a webhook's host only
    # (a webhook URL is a credential and is not repeated on pages or in logs).
    recipient = models.CharField(max_length=300, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    is_permanent_error = models.BooleanField(default=False)
    response = models.TextField(
        blank=True, default="", help_text="Summary of the provider's last answer."
    )
    link = models.ForeignKey(
        "notifications.DownloadLink",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The capability link carried by the last attempt.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # The database owns the due time of every attempt (the first one: creation; a retry:
    # after its backoff); the scheduler hands due rows to RQ, so Redis can be flushed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while the row is handed to RQ under ``rq_job_id`` (cleared when it is due again).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    rq_job_id = models.CharField(max_length=64, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["job", "message"], name="one_delivery_per_message"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} for job {self.job_id}: {self.status}"

    @property
    def can_resend(self) -> bool:
        """Only a delivery whose fate is unknown is resent, and only when someone asks."""
        return self.status == DeliveryStatus.UNKNOWN

    def resend(self, now: datetime | None = None) -> bool:
        """Make an ``unknown`` delivery due again now (the "Resend" action).

        A compare-and-set, so two clicks resend once. Returns False when the delivery is not
        ``unknown`` (any more). The scheduler tick, or the caller through
        ``notifications.dispatch.hand_over``, hands it to RQ.
        """
        resent = Delivery.objects.filter(pk=self.pk, status=DeliveryStatus.UNKNOWN).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now or timezone.now(),
            enqueued_at=None,
            rq_job_id="",
            last_error="",
            is_permanent_error=False,
        )
        if resent:
            self.refresh_from_db()
        return bool(resent)


class DownloadLinkQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> DownloadLinkQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class DownloadLink(models.Model):
    """A capability link ``/d/<token>`` to one job's file.

    Only the SHA-256 of the token is stored: the raw token exists in the sent
    message alone, so a database leak yields no working link.
    """

    job = models.ForeignKey(
        "exports.ExportJob", on_delete=models.CASCADE, related_name="download_links"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = DownloadLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link {self.pk} to job {self.job_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())


class DownloadLog(models.Model):
    """One download through a capability link: when, which job, from where."""

    link = models.ForeignKey(DownloadLink, on_delete=models.CASCADE, related_name="downloads")
    job = models.ForeignKey(
        "exports.ExportJob", on_delete=models.CASCADE, related_name="link_downloads"
    )
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.job_id} by {self.ip} at {self.at.isoformat()}"
