from django.db import models
from django.utils import timezone

from exports.requests.vocabulary import EmptyReason


class JobStatus(models.TextChoices):
    """The platform's stored values, labelled with the words people read (pages, admin)."""

    NOT_PROCESSED = "notProcessed", "Waiting"
    IN_PROGRESS = "inProgress", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"
    SKIPPED = "skipped", "Skipped"


# A done job without rows reads apart from one with a file worth opening.
NO_DATA_WORDS = "Done — no data"


def status_words(status: str, row_count: int | None = None, percent: int | None = None) -> str:
    """A job status as people read it: "Waiting", "Running 42%", "Done — no data", ...

    ``row_count`` 0 on a done job means it found no data; ``percent`` is the progress of a
    running job when its total is known. An unknown stored value is shown as it is.
    """
    if status == JobStatus.DONE and row_count == 0:
        return NO_DATA_WORDS
    if status == JobStatus.IN_PROGRESS and percent is not None:
        return f"Running {percent}%"
    return JobStatus(status).label if status in JobStatus.values else status


class ExportJob(models.Model):
    """One execution of a request for one scheduled slot.

    ``notProcessed`` → ``inProgress`` → ``done`` | ``failed``; ``done`` → ``expired`` when
    retention removes the file; ``skipped`` records a slot that was deliberately not run
    (with the reason in ``error``), so no slot ever disappears silently.
    """

    request = models.ForeignKey(
        "exports.ExportRequest", on_delete=models.CASCADE, related_name="jobs"
    )
    slot = models.DateTimeField(help_text="The scheduled instant this job exports for (UTC).")
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.NOT_PROCESSED, db_index=True
    )
    # [{"item": <id>, "position": n, "start": iso|null, "end": iso}] pinned when the job is created.
    windows = models.JSONField(default=list, blank=True)
    stage = models.CharField(max_length=64, blank=True, default="")
    rows_written = models.BigIntegerField(default=0)
    rows_estimated = models.BigIntegerField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    empty_reason = models.CharField(
        max_length=16,
        choices=EmptyReason.choices,
        blank=True,
        default="",
        help_text="Why a finished job wrote no rows.",
    )
    file = models.FileField(upload_to="exports/%Y/%m/%d/", max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    rq_job_id = models.CharField(max_length=64, blank=True, default="")
    worker_name = models.CharField(max_length=200, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # After a transient failure: not handed out again before this time (the backoff), so a
    # short outage (database, storage, Redis) does not use up every attempt in a second.
    retry_at = models.DateTimeField(null=True, blank=True)
    # When the deliveries of a final status were recorded; a done/failed job without it is
    # picked up by the scheduler tick (the worker died between finishing and notifying).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-slot", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "slot"], name="one_job_per_slot"),
        ]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
            models.Index(fields=["status", "finished_at"], name="job_status_finished"),
            # The scheduler looks for finished jobs without notifications every tick: a
            # partial index holds only those few rows, however many jobs are kept.
            models.Index(
                fields=["finished_at"],
                condition=models.Q(notified_at__isnull=True),
                name="job_not_notified",
            ),
            # Each request's latest file (the list's "Latest file"): only the jobs with one,
            # newest first, so the lookup does not read every job since the last file.
            models.Index(
                models.F("request"),
                models.F("slot").desc(),
                models.F("id").desc(),
                condition=models.Q(status="done") & ~models.Q(file=""),
                name="job_request_latest_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}@{self.slot.isoformat()} {self.status}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_downloadable(self) -> bool:
        return self.status == JobStatus.DONE and bool(self.file)

    @property
    def has_no_data(self) -> bool:
        """A done job whose file holds no rows (a typo in a metric, a quiet device)."""
        return self.status == JobStatus.DONE and self.row_count == 0

    @property
    def progress_percent(self) -> int | None:
        """Progress of a running job, 0–100; None when not running or the total is unknown."""
        if self.status != JobStatus.IN_PROGRESS or not self.rows_estimated:
            return None
        return min(100, int(self.rows_written * 100 / self.rows_estimated))

    @property
    def status_label(self) -> str:
        """The status in words: Waiting, Running 42%, Done, Done — no data, Failed, ..."""
        return status_words(self.status, self.row_count, self.progress_percent)

    @property
    def status_class(self) -> str:
        """The CSS class of the status badge (``no-data`` is a done job with no rows)."""
        return "no-data" if self.has_no_data else self.status
