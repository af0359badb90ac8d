"""A request as unsaved model instances (``RequestSpec``), and saving one.

``parse_request`` (``exports.requests.schema``) builds a spec from JSON, the editor builds one
from its forms; ``save_spec`` stores it. The field maps name the JSON path of each model
field, for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from exports.models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.requests.sharing import replace_shares

REQUEST_FIELDS = {
    "name": "name",
    "type": "type",
    "periodicity": "periodicity",
    "period_start": "periodStart",
    "paused": "paused",
    "extension": "format.extension",
    "timezone": "format.timezone",
    "template": "format.template",
    "csv_delimiter": "format.csvDelimiter",
    "csv_bom": "format.csvBom",
    "decimals": "format.decimals",
    "decimal_separator": "format.decimalSeparator",
    "filename": "format.filename",
}
ITEM_FIELDS = {
    "target_value": "params.target.value",
    "target_label": "params.target.label",
    "channel_id": "params.channelId",
    "subtopic": "params.subtopic",
    "publisher": "params.publisher",
    "from_time": "params.from",
    "to_time": "params.to",
    "period": "params.period",
    "calendar_range": "params.range",
    "ds": "params.decimation.ds",
    "dsf": "params.decimation.dsf",
    "transform": "params.transform",
    "output_format": "params.outputFormat",
    "filename": "filename",
}
MESSAGE_FIELDS = {name: name for name in ("policy", "medium", "target", "title", "text")}
MESSAGE_FIELDS["skip_empty"] = "skipEmpty"
MESSAGE_FIELDS["attach"] = "attach"


@dataclass
class RequestSpec:
    """Unsaved, validated model instances for one request and its children."""

    request: ExportRequest
    items: list[ExportItem] = field(default_factory=list)
    columns: list[ExportColumn] = field(default_factory=list)
    messages: list[NotificationMessage] = field(default_factory=list)
    # Unsaved ``RequestShare``s; ``None`` keeps a replaced request's shares as they are.
    shares: list | None = None


def save_spec(spec: RequestSpec, request: ExportRequest | None = None) -> ExportRequest:
    """Create (or, given ``request``, replace the contents of) a request from a spec.

    Runs in one transaction so that nothing is half-saved and exactly one IAM
    event is emitted after commit.
    """
    with transaction.atomic():
        if request is None:
            target = spec.request
        else:
            target = request
            for name in REQUEST_FIELDS:
                setattr(target, name, getattr(spec.request, name))
            target.items.all().delete()
            target.columns.all().delete()
            target.messages.all().delete()
        target.save()
        for children in (spec.items, spec.columns, spec.messages):
            for child in children:
                child.pk = None
                child.request = target
                child.save()
        if spec.shares is not None:
            replace_shares(target, spec.shares)
    return target
