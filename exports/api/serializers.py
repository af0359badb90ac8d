"""Serializers of the API: the OpenAPI description of every body, and the read-only shapes.

A request body is validated by ``exports.requests.schema.parse_request`` alone (the one validator);
the request serializers (``exports.api.request_shapes``) only *describe* its API shape.
Query parameters, jobs and series are read and written by the serializers below.
"""

from __future__ import annotations

import zoneinfo

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exports.api.request_shapes import (  # noqa: F401 (re-exported: the views import them here)
    ExportRequestSerializer,
    ListedExportRequestSerializer,
    ShareSerializer,
    StoredExportRequestSerializer,
    StoredShareSerializer,
    TimestampField,
)
from exports.models import ExportJob, JobStatus
from exports.requests.display import format_window
from exports.requests.vocabulary import Medium, Policy, RequestType
from notifications.models import DeliveryStatus
from notifications.queries import deliveries_for_job

MAX_PAGE_SIZE = 100
SORT_KEYS = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "name": "name",
    "id": "id",
}


# --- the request JSON (API shape), for the schema: see exports.api.request_shapes ------


class ErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path of the problem; empty for the request.")
    message = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)
    detail = serializers.CharField(required=False, help_text="A longer explanation, sometimes.")


# --- query parameters ---------------------------------------------------------------------


class QuerySerializer(serializers.Serializer):
    """Query parameters. An empty value (``?type=``) is refused (400), not read as left out:
    leave a parameter out to not filter by it. Only fields that allow blank take one."""

    def to_internal_value(self, data):
        empty = {
            name: ["must not be empty; leave the parameter out instead."]
            for name, field in self.fields.items()
            if not getattr(field, "allow_blank", False)
            and hasattr(data, "getlist")
            and "" in data.getlist(name)
        }
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)


class PageQuerySerializer(QuerySerializer):
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
    subtopic = serializers.CharField(
        required=False, allow_blank=True, help_text="Empty: messages without a subtopic."
    )
    publisher = serializers.CharField(required=False, default="")
    q = serializers.CharField(required=False, default="", help_text="Metric, id or name.")


class IngestQuerySerializer(QuerySerializer):
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
    unknownPlace = serializers.CharField(
        help_text='Set when the channel or subtopic has no data: "No such channel: …" '
        "with the closest known names."
    )


class PreviewSerializer(serializers.Serializer):
    slot = serializers.DateTimeField()
    timezone = serializers.CharField()
    items = ItemPreviewSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    channel = serializers.CharField()
    subtopic = serializers.CharField()
    publisher = serializers.CharField()
