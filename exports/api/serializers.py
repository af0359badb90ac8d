"""Serializers of the API: the OpenAPI description of every body, and the read-only shapes.

A request body is validated by ``exports.requests.schema.parse_request`` alone (the one validator);
the request serializers here only *describe* its API shape for the schema and its clients.
Query parameters, jobs and series are read and written by the serializers below.
"""

from __future__ import annotations

import zoneinfo

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exports.models import ExportJob, JobStatus, ShareRole
from exports.requests.display import format_window
from exports.requests.vocabulary import (
    MAX_DECIMALS,
    Aggregation,
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
from notifications.models import DeliveryStatus
from notifications.queries import deliveries_for_job

MAX_PAGE_SIZE = 100
SORT_KEYS = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "name": "name",
    "id": "id",
}


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
        "description": "Unix seconds, or an ISO 8601 date-time with an offset.",
    }
)
class TimestampField(serializers.JSONField):
    """A time as the validator accepts it: Unix seconds or ISO 8601 with an offset."""


# --- the request JSON (API shape), for the schema -----------------------------------------


class ErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path of the problem; empty for the request.")
    message = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)
    detail = serializers.CharField(required=False, help_text="A longer explanation, sometimes.")


class TargetSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="Metric names, a comma list.")
    label = serializers.CharField(required=False, help_text="Column labels, same count.")


class DecimationSerializer(serializers.Serializer):
    ds = serializers.CharField(help_text="Bucket size: a number and one of s m h d w M y.")
    dsf = serializers.ChoiceField(Aggregation.values, required=False)


class ParamsSerializer(serializers.Serializer):
    target = TargetSerializer()
    channelId = serializers.CharField()
    subtopic = serializers.CharField(required=False, allow_blank=True)
    publisher = serializers.CharField(required=False, allow_blank=True)
    period = serializers.CharField(required=False, help_text="ISO 8601 duration before the slot.")
    decimation = DecimationSerializer(required=False)
    transform = serializers.ChoiceField(Transform.values, required=False)
    outputFormat = serializers.ChoiceField(OutputFormat.values, required=False)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword, so these two are added here.
        fields["from"] = TimestampField(required=False)
        fields["to"] = TimestampField(required=False)
        return fields


class ItemSerializer(serializers.Serializer):
    params = ParamsSerializer()
    filename = serializers.CharField(required=False)


class ColumnSerializer(serializers.Serializer):
    id = serializers.ChoiceField(ColumnId.values)
    label = serializers.CharField()


class FormatSerializer(serializers.Serializer):
    extension = serializers.ChoiceField([*Extension.values, "xls"])
    columns = ColumnSerializer(many=True, required=False)
    timezone = serializers.CharField(required=False, help_text="IANA zone, default UTC.")
    template = serializers.ChoiceField(Template.values, required=False)
    csvDelimiter = serializers.CharField(required=False)
    csvBom = serializers.BooleanField(
        required=False, help_text="CSV only: start with a UTF-8 byte order mark (default true)."
    )
    decimals = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_DECIMALS,
        help_text="Fixed decimals for every number; absent: numbers as they are.",
    )
    decimalSeparator = serializers.ChoiceField(
        DecimalSeparator.values,
        required=False,
        help_text="Of numbers in CSV and PDF (default .); with , the CSV delimiter defaults "
        "to ; and a delimiter equal to the separator is refused.",
    )
    filename = serializers.CharField(required=False)


class MessageSerializer(serializers.Serializer):
    policy = serializers.ChoiceField(Policy.values)
    medium = serializers.ChoiceField(Medium.values)
    target = serializers.CharField(required=False)
    title = serializers.CharField(required=False)
    text = serializers.CharField(required=False)
    skipEmpty = serializers.BooleanField(
        required=False, help_text="Stay silent when the export wrote no rows (default false)."
    )
    attach = serializers.BooleanField(
        required=False,
        help_text="Email only: attach the file when it is at most NOTIFICATIONS_ATTACH_MAX_BYTES "
        "(default 10 MB); a bigger file is linked with a sentence why (default false).",
    )


class NotificationSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True)


class ShareSerializer(serializers.Serializer):
    """Whom a request is shared with: one user or one group (by name), and the role."""

    user = serializers.CharField(required=False, help_text="A user name (or give group).")
    group = serializers.CharField(required=False, help_text="A group (team) name (or user).")
    role = serializers.ChoiceField(
        ShareRole.values,
        required=False,
        default=ShareRole.VIEWER,
        help_text="viewer: sees it, its jobs and files; editor: also changes, pauses, runs it.",
    )


class StoredShareSerializer(ShareSerializer):
    """One share as ``/api/exports/{id}/shares`` lists it."""

    id = serializers.IntegerField()
    createdAt = serializers.DateTimeField()


class ExportRequestSerializer(serializers.Serializer):
    """An export request in the platform API's shape (the reference page's is accepted too)."""

    name = serializers.CharField(required=False)
    type = serializers.ChoiceField(RequestType.values)
    periodicity = serializers.CharField(required=False, help_text="ISO 8601, recurring only.")
    periodStart = TimestampField(required=False)
    paused = serializers.BooleanField(required=False)
    format = FormatSerializer()
    items = ItemSerializer(many=True)
    notification = NotificationSerializer(required=False)
    shares = ShareSerializer(
        many=True,
        required=False,
        help_text="Whom it is shared with (owner and staff may change it). Left out on a "
        "replace, the shares stay as they are.",
    )


class StoredExportRequestSerializer(ExportRequestSerializer):
    """A stored request, exactly as ``manage.py dumpexport`` prints it."""

    id = serializers.IntegerField()
    owner = serializers.CharField(help_text="Username of the owner (read-only).")
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True)
    nextRunAt = serializers.DateTimeField(required=False)


class ListedExportRequestSerializer(StoredExportRequestSerializer):
    status = serializers.ChoiceField(
        JobStatus.choices, allow_null=True, help_text="Status of the last job (null: none yet)."
    )


# --- query parameters ---------------------------------------------------------------------


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000, default=1)
    pageSize = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=25
    )


class ExportListQuerySerializer(PageQuerySerializer):
    status = serializers.ListField(
        child=serializers.ChoiceField(JobStatus.choices),
        required=False,
        help_text="Status of the last job; repeat the parameter for several.",
    )
    type = serializers.ChoiceField(RequestType.values, required=False)
    whose = serializers.ChoiceField(
        ["mine", "shared"],
        required=False,
        help_text="mine: only your own; shared: only those shared with you; "
        "left out: all you can see.",
    )
    sort = serializers.ChoiceField(
        [*SORT_KEYS, *(f"-{key}" for key in SORT_KEYS)],
        required=False,
        default="-createdAt",
        help_text="A field, prefixed with '-' for descending.",
    )


class SeriesQuerySerializer(PageQuerySerializer):
    channel = serializers.CharField(required=False, default="")
    subtopic = serializers.CharField(required=False, allow_blank=True)
    publisher = serializers.CharField(required=False, default="")
    q = serializers.CharField(required=False, default="", help_text="Metric, id or name.")


class IngestQuerySerializer(serializers.Serializer):
    publisher = serializers.CharField(
        required=False, help_text="Publisher of the messages; default: your user name."
    )


# --- read-only shapes ---------------------------------------------------------------------


class PageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pageSize = serializers.IntegerField()


class ExportPageSerializer(PageSerializer):
    results = ListedExportRequestSerializer(many=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    messageId = serializers.IntegerField(source="message_id")
    medium = serializers.ChoiceField(Medium.values, source="message.medium")
    policy = serializers.ChoiceField(Policy.values, source="message.policy")
    status = serializers.ChoiceField(DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    recipient = serializers.CharField()
    lastError = serializers.CharField(source="last_error")
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)


class WindowSerializer(serializers.Serializer):
    item = serializers.IntegerField(allow_null=True, required=False)
    position = serializers.IntegerField(required=False)
    start = serializers.DateTimeField(allow_null=True)
    end = serializers.DateTimeField()


class JobSerializer(serializers.Serializer):
    """One run of a request: status, progress, window, file and deliveries."""

    id = serializers.IntegerField()
    exportId = serializers.IntegerField(source="request_id")
    slot = serializers.DateTimeField()
    status = serializers.ChoiceField(JobStatus.choices)
    stage = serializers.CharField()
    attempts = serializers.IntegerField()
    rowsWritten = serializers.IntegerField(source="rows_written")
    rowsEstimated = serializers.IntegerField(source="rows_estimated", allow_null=True)
    rowCount = serializers.IntegerField(source="row_count", allow_null=True)
    progress = serializers.SerializerMethodField()
    windows = WindowSerializer(many=True)
    window = serializers.SerializerMethodField()
    error = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    contentType = serializers.CharField(source="content_type")
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    download = serializers.SerializerMethodField()
    deliveries = serializers.SerializerMethodField()

    @extend_schema_field({"type": "integer", "nullable": True, "minimum": 0, "maximum": 100})
    def get_progress(self, job: ExportJob) -> int | None:
        """Percent done of a running job with a known total; 100 when done."""
        return 100 if job.status == JobStatus.DONE else job.progress_percent

    @extend_schema_field(OpenApiTypes.STR)
    def get_window(self, job: ExportJob) -> str:
        """The span the job exports, in the request's time zone."""
        return format_window(job.windows or [], zoneinfo.ZoneInfo(job.request.timezone or "UTC"))

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_download(self, job: ExportJob) -> str | None:
        if not job.is_downloadable:
            return None
        request = self.context.get("request")
        path = reverse("api:job-download", args=[job.pk])
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(DeliverySerializer(many=True))
    def get_deliveries(self, job: ExportJob) -> list[dict]:
        """In the pages' order: by the message's position, then creation."""
        return DeliverySerializer(deliveries_for_job(job), many=True).data


class JobPageSerializer(PageSerializer):
    results = JobSerializer(many=True)


class SeriesSerializer(serializers.Serializer):
    channel = serializers.CharField()
    channelName = serializers.SerializerMethodField()
    subtopic = serializers.CharField()
    publisher = serializers.CharField()
    publisherName = serializers.SerializerMethodField()
    name = serializers.CharField()
    unit = serializers.CharField()
    count = serializers.IntegerField()
    first = serializers.DateTimeField(source="first_time")
    last = serializers.DateTimeField(source="last_time")

    @extend_schema_field(OpenApiTypes.STR)
    def get_channelName(self, series) -> str:
        return self.context["channel_names"].get(series.channel, "")

    @extend_schema_field(OpenApiTypes.STR)
    def get_publisherName(self, series) -> str:
        return self.context["publisher_names"].get(series.publisher, "")


class SeriesPageSerializer(PageSerializer):
    results = SeriesSerializer(many=True)


class ItemPreviewSerializer(serializers.Serializer):
    title = serializers.CharField()
    channel = serializers.CharField()
    subtopic = serializers.CharField()
    metrics = serializers.ListField(child=serializers.CharField())
    window = serializers.CharField()
    estimatedRows = serializers.IntegerField()
    headers = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))
    unknownMetrics = serializers.ListField(child=serializers.CharField())


class PreviewSerializer(serializers.Serializer):
    slot = serializers.DateTimeField()
    timezone = serializers.CharField()
    items = ItemPreviewSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    channel = serializers.CharField()
    subtopic = serializers.CharField()
    publisher = serializers.CharField()
