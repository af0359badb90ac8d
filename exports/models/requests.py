from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone as dj_timezone

from exports.models.fields import ZoneNameField
from exports.models.jobs import JobStatus
from exports.requests.placeholders import validate_placeholders
from exports.requests.recipients import team_name, validate_target
from exports.requests.validation import (
    check_target_labels,
    clean_storable_fields,
    storable_text_error,
    validate_delimiter,
    validate_ds,
    validate_duration,
    validate_instant,
    validate_periodicity,
    validate_target_value,
)
from exports.requests.vocabulary import (
    MAX_DECIMALS,
    Aggregation,
    CalendarRange,
    ColumnId,
    DecimalSeparator,
    Extension,
    Medium,
    OutputFormat,
    Policy,
    RequestType,
    Template,
    Transform,
)

MESSAGE_TEXT_MAX_LENGTH = 20_000


class StorableTextModel(models.Model):
    """A model whose text fields refuse what a database cannot hold (NUL, lone surrogates).

    The check runs in ``clean_fields()``, so every ``full_clean`` — the JSON schema, the
    editor's and the admin's model forms — reports it as a field error.
    """

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None) -> None:
        # Text checked first: the fields' own validators then never see a NUL or a surrogate.
        errors: dict[str, list[ValidationError]] = {}
        try:
            clean_storable_fields(self, exclude=exclude)
        except ValidationError as exc:
            errors = exc.error_dict
        try:
            super().clean_fields(exclude={*(exclude or ()), *errors})
        except ValidationError as exc:
            errors.update(exc.error_dict)  # error objects, not texts: codes stay readable
        if errors:
            raise ValidationError(errors)


class ExportRequest(StorableTextModel):
    """What a user wants exported, in which format, how often, and who is told."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_requests"
    )
    name = models.CharField(max_length=200)
    type = models.CharField(
        max_length=16, choices=RequestType.choices, default=RequestType.ONE_TIME
    )
    periodicity = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[validate_periodicity],
        help_text="ISO 8601 duration between runs, e.g. P1D or PT15M (recurring only).",
    )
    period_start = models.DateTimeField(
        null=True,
        blank=True,
        validators=[validate_instant],
        help_text="Anchor of the recurrence; empty means the creation time.",
    )
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    paused = models.BooleanField(default=False)

    extension = models.CharField(max_length=8, choices=Extension.choices, default=Extension.CSV)
    timezone = ZoneNameField(default="UTC")
    template = models.CharField(max_length=16, choices=Template.choices, default=Template.TABULAR)
    csv_delimiter = models.CharField(max_length=1, default=",", validators=[validate_delimiter])
    csv_bom = models.BooleanField(
        "CSV byte order mark",
        default=True,
        help_text="Start CSV files with a UTF-8 BOM so Excel reads accents and units right.",
    )
    decimals = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_DECIMALS)],
        help_text="Fixed decimals for every number (0–10); empty writes numbers as they are.",
    )
    decimal_separator = models.CharField(
        max_length=1,
        blank=True,  # left out of a form: the point
        choices=DecimalSeparator.choices,
        default=DecimalSeparator.POINT,
        help_text="Of numbers in CSV and PDF files (XLSX, JSON and Parquet keep numbers as "
        "numbers); with a comma the CSV delimiter defaults to ;.",
    )
    filename = models.CharField(max_length=200, blank=True, default="")

    created_at = models.DateTimeField(default=dj_timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="req_owner_created")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("exports:detail", args=[self.pk])

    @property
    def is_recurring(self) -> bool:
        return self.type == RequestType.RECURRING

    def clean(self) -> None:
        self.decimal_separator = self.decimal_separator or DecimalSeparator.POINT
        if self.decimal_separator == self.csv_delimiter:
            raise ValidationError(
                {
                    "csv_delimiter": f"The CSV delimiter cannot be the decimal separator "
                    f"{self.csv_delimiter!r}: with a decimal comma use ; (the default)."
                }
            )
        if self.is_recurring and not self.periodicity:
            raise ValidationError({"periodicity": "A recurring export needs a periodicity."})
        if not self.is_recurring and self.periodicity:
            raise ValidationError(
                {
                    "periodicity": "A one-time export has no periodicity; "
                    "clear it or make it recurring."
                }
            )

    def save(self, *args, **kwargs):
        if self.period_start is None:
            # Whole seconds: the anchor is shown to people and dumped as a Unix timestamp.
            self.period_start = self.created_at.replace(microsecond=0)
        super().save(*args, **kwargs)


class ExportColumn(StorableTextModel):
    """One output column: which message field, under which header, at which position."""

    request = models.ForeignKey(ExportRequest, on_delete=models.CASCADE, related_name="columns")
    position = models.PositiveIntegerField(default=0)
    column_id = models.CharField("column", max_length=16, choices=ColumnId.choices)
    label = models.CharField(max_length=200)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "column_id"], name="column_once_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.column_id} → {self.label}"


class ExportItem(StorableTextModel):
    """Which metrics of one channel/subtopic to export, over which window, processed how."""

    request = models.ForeignKey(ExportRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    target_value = models.CharField(
        "metrics",
        max_length=1000,
        validators=[validate_target_value],
        help_text="Metric names (SenML name), comma separated.",
    )
    target_label = models.CharField(
        "labels",
        max_length=1000,
        blank=True,
        default="",
        help_text="Optional display labels, comma separated, one per metric.",
    )
    channel_id = models.CharField("channel", max_length=64)
    subtopic = models.CharField(max_length=255)
    publisher = models.CharField(max_length=255, blank=True, default="")
    from_time = models.DateTimeField("from", null=True, blank=True, validators=[validate_instant])
    to_time = models.DateTimeField("to", null=True, blank=True, validators=[validate_instant])
    period = models.CharField(
        max_length=64,
        blank=True,
        default="",
        validators=[validate_duration],
        help_text="Relative window ending at each run, ISO 8601 (e.g. P1D).",
    )
    calendar_range = models.CharField(
        "calendar range",
        max_length=16,
        blank=True,
        default="",
        choices=CalendarRange.choices,
        help_text="A calendar window in the export's time zone, e.g. yesterday or the "
        "previous month, read at each run.",
    )
    ds = models.CharField(
        "decimation",
        max_length=16,
        blank=True,
        default="",
        validators=[validate_ds],
        help_text="Bucket size such as 15m, 1h, 1d, 1M.",
    )
    dsf = models.CharField(
        "aggregation", max_length=16, blank=True, default="", choices=Aggregation.choices
    )
    transform = models.CharField(max_length=16, blank=True, default="", choices=Transform.choices)
    output_format = models.CharField(
        max_length=8, choices=OutputFormat.choices, default=OutputFormat.LONG
    )
    filename = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.target_value} ({self.channel_id}/{self.subtopic})"

    @property
    def metric_names(self) -> list[str]:
        return [name.strip() for name in self.target_value.split(",")]

    @property
    def metric_labels(self) -> list[str]:
        """Display label per metric (the metric name when no label was given)."""
        if not self.target_label:
            return self.metric_names
        return [label.strip() for label in self.target_label.split(",")]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.target_value:
            try:
                check_target_labels(self.target_value, self.target_label)
            except ValidationError as exc:
                errors["target_label"] = exc.messages[0]
        if self.from_time and self.to_time and self.from_time >= self.to_time:
            errors["to_time"] = "'to' must be later than 'from'."
        if self.period and (self.from_time or self.to_time):
            errors["period"] = "Give either a relative period or from/to, not both."
        if self.calendar_range and (self.period or self.from_time or self.to_time):
            errors["calendar_range"] = (
                "Give one window: a calendar range, a relative period or from/to, not two."
            )
        if self.dsf and not self.ds:
            errors["ds"] = "An aggregation needs a decimation granularity (ds)."
        if errors:
            raise ValidationError(errors)

    @property
    def aggregation(self) -> str:
        """The aggregation function, defaulting to avg when only ds is given."""
        return self.dsf or (Aggregation.AVG if self.ds else "")


class NotificationMessage(StorableTextModel):
    """A message sent when a job of the request ends with the matching outcome."""

    request = models.ForeignKey(ExportRequest, on_delete=models.CASCADE, related_name="messages")
    position = models.PositiveIntegerField(default=0)
    policy = models.CharField(max_length=16, choices=Policy.choices, default=Policy.ON_SUCCESS)
    medium = models.CharField(max_length=16, choices=Medium.choices, default=Medium.EMAIL)
    target = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Email address, webhook URL or chat id; empty sends email to the owner.",
    )
    title = models.CharField(max_length=200, blank=True, default="")
    # Longer than any chat service shows (each transport cuts to its own limit when sending);
    # the cap keeps a pasted log file out of the database and every message it sends.
    text = models.TextField(
        blank=True,
        default="",
        max_length=MESSAGE_TEXT_MAX_LENGTH,
        validators=[MaxLengthValidator(MESSAGE_TEXT_MAX_LENGTH)],
    )
    skip_empty = models.BooleanField(
        "skip empty exports",
        default=False,
        help_text="Stay silent when the export wrote no rows.",
    )
    attach = models.BooleanField(
        "attach the file",
        default=False,
        help_text="Email only: attach the file when it is at most NOTIFICATIONS_ATTACH_MAX_BYTES "
        "(default 10 MB); a bigger one is linked, with a sentence why.",
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.medium} {self.policy}"

    def is_silent_for(self, job) -> bool:
        """Whether this message stays silent for ``job``: a finished export with no rows
        when the message skips empty exports."""
        return self.skip_empty and job.status == JobStatus.DONE and job.row_count == 0

    def clean(self) -> None:
        checks = (
            ("target", lambda: validate_target(self.medium, self.target)),
            ("target", self._check_team),
            ("title", lambda: validate_placeholders(self.title)),
            ("text", lambda: validate_placeholders(self.text)),
        )
        errors: dict[str, list[str]] = {}
        for name, check in checks:
            if storable_text_error(getattr(self, name) or ""):
                continue  # clean_fields() reports it; other messages would echo the bad text
            if name in errors:
                continue
            try:
                check()
            except ValidationError as exc:
                errors[name] = exc.messages
        if self.attach and self.medium != Medium.EMAIL:
            errors["attach"] = ["Only an email message can attach the file."]
        if errors:
            raise ValidationError(errors)

    def _check_team(self) -> None:
        """An email to ``@team`` needs that group (its members are read at send time)."""
        from django.contrib.auth.models import Group

        name = team_name(self.medium, self.target)
        if name and not Group.objects.filter(name=name).exists():
            raise ValidationError(f"No team (group) is called {name!r}.")
