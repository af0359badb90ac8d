"""The request JSON (the API shape) as the OpenAPI schema describes it.

A request body is validated by ``exports.requests.schema.parse_request`` alone (the one
validator); these serializers only *describe* it, with the limits the validator enforces: the
caps of ``exports.requests.caps`` (``minItems``/``maxItems``) and the models' ``max_length``
(``maxLength``). ``exports.api.closed`` marks them closed (``additionalProperties: false``).
Answers write times as Unix seconds (``UnixSecondsField``), the platform's form.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exports.models import (
    ExportColumn,
    ExportItem,
    ExportRequest,
    JobStatus,
    NotificationMessage,
    ShareRole,
)
from exports.requests import caps
from exports.requests.schema import READ_ONLY_KEYS
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


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
        "description": "Unix seconds, or an ISO 8601 date-time with an offset; answers give "
        "Unix seconds.",
    }
)
class TimestampField(serializers.JSONField):
    """A time as the validator accepts it: Unix seconds or ISO 8601 with an offset."""


@extend_schema_field(
    {"type": "number", "description": "Unix seconds (the platform's form), however it was sent."}
)
class UnixSecondsField(serializers.JSONField):
    """A time as answers write it: Unix seconds, whichever form it was sent in."""


def _text(model, field: str, **kwargs) -> serializers.CharField:
    """A text field of the request JSON, as long as the model's column allows."""
    return serializers.CharField(max_length=caps.max_length(model, field), **kwargs)


_VALUE = caps.max_length(ExportItem, "target_value")


@extend_schema_field(
    {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "value": {"type": "string", "minLength": 1, "maxLength": _VALUE},
                    "label": {"type": "string", "maxLength": _VALUE, "nullable": True},
                },
                "required": ["value"],
                "additionalProperties": False,
            },
            {"type": "string", "minLength": 1, "maxLength": _VALUE},
        ],
        "description": "{value: metric names (a comma list), label: column labels (same "
        "count)}, or (the reference page's shape) the metric names alone.",
    }
)
class TargetField(serializers.JSONField):
    """An item's metrics: ``{value, label}`` or, in the reference page's shape, a string."""


def _null_as_absent(fields: dict) -> dict:
    """Optional fields the validator reads ``null`` as left out: all but true/false ones and
    ``shares`` (where null is refused)."""
    for name, field in fields.items():
        if not field.required and name != "shares":
            field.allow_null = not isinstance(field, serializers.BooleanField)
    return fields


class NullAsAbsent(serializers.Serializer):
    def get_fields(self):
        return _null_as_absent(super().get_fields())


class DecimationSerializer(NullAsAbsent):
    ds = serializers.CharField(help_text="Bucket size: a number and one of s m h d w M y.")
    dsf = serializers.ChoiceField(
        Aggregation.values, required=False, allow_blank=True, help_text="Empty: avg."
    )


class ParamsSerializer(serializers.Serializer):
    timestamp = TimestampField  # how "from" and "to" are described

    target = TargetField()
    channelId = _text(ExportItem, "channel_id")
    subtopic = _text(ExportItem, "subtopic")
    publisher = _text(ExportItem, "publisher", required=False, allow_blank=True)
    period = serializers.CharField(
        required=False, allow_blank=True, help_text="ISO 8601 duration before the slot."
    )
    range = serializers.ChoiceField(
        CalendarRange.values,
        required=False,
        help_text="A calendar window in format.timezone read at the run: yesterday, "
        "previousWeek, previousMonth, monthToDate, ... (instead of period or from/to).",
    )
    decimation = DecimationSerializer(required=False)
    transform = serializers.ChoiceField(Transform.values, required=False, allow_blank=True)
    outputFormat = serializers.ChoiceField(
        OutputFormat.values, required=False, allow_blank=True, help_text="Empty: long."
    )

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword, so these two are added here.
        fields["from"] = self.timestamp(required=False)
        fields["to"] = self.timestamp(required=False)
        return _null_as_absent(fields)


class ItemSerializer(NullAsAbsent):
    params = ParamsSerializer()
    filename = _text(
        ExportItem, "filename", required=False, allow_blank=True, help_text="Empty: the default."
    )


class ColumnSerializer(serializers.Serializer):
    id = serializers.ChoiceField(ColumnId.values)
    label = _text(ExportColumn, "label")


class FormatSerializer(serializers.Serializer):
    extension = serializers.ChoiceField([*Extension.values, "xls"])
    timezone = serializers.CharField(
        required=False, allow_blank=True, help_text="IANA zone; empty or left out: UTC."
    )
    template = serializers.ChoiceField(
        Template.values, required=False, allow_blank=True, help_text="Empty: tabular."
    )
    csvDelimiter = serializers.CharField(
        required=False,
        min_length=1,
        max_length=1,
        trim_whitespace=False,
        help_text="CSV only (answers leave it out for other formats): one character, default ,.",
    )
    csvBom = serializers.BooleanField(
        required=False,
        help_text="CSV only (answers leave it out for other formats): start with a UTF-8 byte "
        "order mark (default true).",
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
    filename = _text(
        ExportRequest, "filename", required=False, allow_blank=True, help_text="Empty: the name."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["columns"] = serializers.ListField(
            child=ColumnSerializer(),
            required=False,
            max_length=caps.max_columns(),
            help_text="Each column id at most once; absent: the default columns.",
        )
        return _null_as_absent(fields)


class MessageSerializer(NullAsAbsent):
    policy = serializers.ChoiceField(
        Policy.values, required=False, allow_blank=True, help_text="Empty or left out: onSuccess."
    )
    medium = serializers.ChoiceField(Medium.values)
    target = _text(
        NotificationMessage,
        "target",
        required=False,
        allow_blank=True,
        help_text="One email address or @team (email), webhook URL (slack, discord) or chat id "
        "(telegram). Empty or left out: email to the request's owner (other media need one).",
    )
    title = _text(NotificationMessage, "title", required=False, allow_blank=True)
    text = _text(NotificationMessage, "text", required=False, allow_blank=True)
    skipEmpty = serializers.BooleanField(
        required=False, help_text="Stay silent when the export wrote no rows (default false)."
    )
    attach = serializers.BooleanField(
        required=False,
        help_text="Email only: attach the file when it is at most NOTIFICATIONS_ATTACH_MAX_BYTES "
        "(default 10 MB); a bigger file is linked with a sentence why (default false).",
    )


class NotificationSerializer(serializers.Serializer):
    def get_fields(self):
        return {
            "messages": serializers.ListField(
                child=MessageSerializer(),
                max_length=caps.max_messages(),
                help_text="At most EXPORTS_MAX_MESSAGES, each with one target.",
            )
        }


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
    """An export request in the platform API's shape (the reference page's is accepted too).

    A request body may carry the read-only fields of an answer (``id``, ``owner``, …): they
    are ignored. Any other field not described here is refused (400).
    """

    item = ItemSerializer  # how items are described
    timestamp = TimestampField  # how periodStart is described

    name = _text(
        ExportRequest,
        "name",
        required=False,
        allow_blank=True,
        help_text="Empty or left out: 'Export of' the first item's metrics.",
    )
    type = serializers.ChoiceField(RequestType.values)
    periodicity = serializers.CharField(
        required=False, allow_blank=True, help_text="ISO 8601, recurring only."
    )
    paused = serializers.BooleanField(required=False)
    format = FormatSerializer()
    notification = NotificationSerializer(required=False)
    shares = ShareSerializer(
        many=True,
        required=False,
        help_text="Whom it is shared with (owner and staff may change it). Left out on a "
        "replace, the shares stay as they are.",
    )

    def get_fields(self):
        fields = super().get_fields()
        if self.item is ItemSerializer:  # a body: an answer's read-only fields are ignored
            for key in sorted(READ_ONLY_KEYS):
                fields[key] = serializers.JSONField(required=False, help_text="Ignored.")
        fields["periodStart"] = self.timestamp(required=False)
        fields["items"] = serializers.ListField(
            child=self.item(),
            min_length=1,
            max_length=caps.max_items(),
            help_text="One to EXPORTS_MAX_ITEMS items.",
        )
        return _null_as_absent(fields)


class TargetSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="Metric names, a comma list.")
    label = serializers.CharField(required=False, help_text="Column labels, same count.")


class StoredParamsSerializer(ParamsSerializer):
    timestamp = UnixSecondsField

    target = TargetSerializer()  # answers always write the object


class StoredItemSerializer(ItemSerializer):
    params = StoredParamsSerializer()


class StoredExportRequestSerializer(ExportRequestSerializer):
    """A stored request, exactly as ``manage.py dumpexport`` prints it."""

    item = StoredItemSerializer
    timestamp = UnixSecondsField

    id = serializers.IntegerField()
    owner = serializers.CharField(help_text="Username of the owner (read-only).")
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField(allow_null=True)
    nextRunAt = serializers.DateTimeField(required=False)


class ListedExportRequestSerializer(StoredExportRequestSerializer):
    status = serializers.ChoiceField(
        JobStatus.choices, allow_null=True, help_text="Status of the last job (null: none yet)."
    )


def _optional(fields: dict) -> dict:
    """The fields of a merge patch: each may be left out, or null to remove it."""
    for field in fields.values():
        field.required = False
        field.allow_null = True
        field.default = serializers.empty
    return fields


class FormatPatchSerializer(FormatSerializer):
    def get_fields(self):
        return _optional(super().get_fields())


class NotificationPatchSerializer(NotificationSerializer):
    def get_fields(self):
        return _optional(super().get_fields())


class ExportRequestPatchSerializer(ExportRequestSerializer):
    """A JSON Merge Patch (RFC 7396) of a request: any field, null removes it; objects merge
    (``format``, ``notification``), arrays (items, columns, messages, shares) replace whole."""

    def get_fields(self):
        fields = super().get_fields()
        fields["format"] = FormatPatchSerializer()
        fields["notification"] = NotificationPatchSerializer()
        return _optional(fields)


class ClosedBodySchema(AutoSchema):
    """Request bodies described as closed objects (``additionalProperties: false``): the
    validator refuses a field it does not know, wherever it is (400)."""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class SenMLRecordSerializer(serializers.Serializer):
    """One record of a SenML pack (RFC 8428, JSON): base fields apply to the records after."""

    bn = serializers.CharField(required=False, help_text="Base name, prefixed to n.")
    bt = serializers.FloatField(required=False, help_text="Base time, Unix seconds.")
    bu = serializers.CharField(required=False, help_text="Base unit.")
    bv = serializers.FloatField(required=False, help_text="Base value, added to v.")
    bver = serializers.IntegerField(required=False, help_text="SenML version.")
    n = serializers.CharField(required=False, help_text="Name: with bn, the metric's name.")
    u = serializers.CharField(required=False, help_text="Unit.")
    v = serializers.FloatField(required=False, help_text="Number value (one value per record).")
    vs = serializers.CharField(required=False, help_text="String value.")
    vb = serializers.BooleanField(required=False, help_text="Boolean value.")
    vd = serializers.CharField(required=False, help_text="Data value (base64).")
    s = serializers.FloatField(required=False, help_text="Sum.")
    t = serializers.FloatField(
        required=False,
        help_text="Time: Unix seconds, or relative to bt, or (below 2**28) to now.",
    )
    ut = serializers.FloatField(required=False, help_text="Update time, seconds.")
