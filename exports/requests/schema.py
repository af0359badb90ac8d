"""The JSON shape of an export request: parse + validate into model instances, dump back.

Two input dialects are accepted and normalised into one model:

* the platform API shape — ``items[].params.{target: {value, label}, channelId, subtopic,
  from, to, period, decimation: {ds, dsf}, transform, outputFormat}``, ``items[].filename``,
  ``periodStart``, ``notification.messages[]``;
* the reference page's shape — items with the params inline (``target`` a string,
  ``label`` beside it) and a single ``notification: {title, text, medium}``.

``dump_request`` always writes the API shape, and ``parse_request(dump_request(r))``
rebuilds the same request (the round trip is lossless). Rules live in
``exports.requests.validation`` and the models; this module only checks the shape and maps
model errors back to JSON paths such as ``items[0].params.decimation.ds``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from exports.models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.requests.validation import check_columns, storable_text_error
from exports.requests.vocabulary import EXTENSION_ALIASES, MAX_DECIMALS, Policy

READ_ONLY_KEYS = {"id", "owner", "createdAt", "updatedAt", "deletedAt", "nextRunAt"}

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
    "ds": "params.decimation.ds",
    "dsf": "params.decimation.dsf",
    "transform": "params.transform",
    "output_format": "params.outputFormat",
    "filename": "filename",
}
MESSAGE_FIELDS = {name: name for name in ("policy", "medium", "target", "title", "text")}
MESSAGE_FIELDS["skip_empty"] = "skipEmpty"


class RequestSchemaError(Exception):
    """Raised with every problem found, as ``{json_path: [messages]}``."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(self.summary())

    def summary(self) -> str:
        return "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in self.errors.items())


@dataclass
class RequestSpec:
    """Unsaved, validated model instances for one request and its children."""

    request: ExportRequest
    items: list[ExportItem] = field(default_factory=list)
    columns: list[ExportColumn] = field(default_factory=list)
    messages: list[NotificationMessage] = field(default_factory=list)


class _Errors:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def add_model_errors(self, exc: ValidationError, prefix: str, fields: dict[str, str]) -> None:
        for name, messages in exc.message_dict.items():
            path = fields.get(name, name)
            for message in messages:
                self.add(f"{prefix}{path}", message)


def _obj(value: Any, path: str, errors: _Errors) -> dict | None:
    if not isinstance(value, dict):
        errors.add(path, "must be a JSON object.")
        return None
    return value


def _str(data: dict, key: str, path: str, errors: _Errors, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        errors.add(f"{path}{key}", "must be a string.")
        return default
    return value.strip()


def _bool(data: dict, key: str, path: str, errors: _Errors, *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        errors.add(f"{path}{key}", "must be true or false.")
        return default
    return value


def _decimals(fmt: dict, errors: _Errors) -> int | None:
    value = fmt.get("decimals")
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= MAX_DECIMALS:
        errors.add(
            "format.decimals", f"must be a whole number from 0 to {MAX_DECIMALS}, not {value!r}."
        )
        return None
    return value


def _unknown(data: dict, allowed: set[str], path: str, errors: _Errors) -> None:
    for key in data:
        if key not in allowed:
            errors.add(
                f"{path}{key}", f"unknown field; expected one of {', '.join(sorted(allowed))}."
            )


def decode_json(text: str) -> Any:
    """Decode a JSON document typed or uploaded by someone.

    Raises ``ValueError`` with a message for people: where the syntax is wrong, that the
    document is nested too deeply for the decoder (which would otherwise overflow), or that
    a number has more digits than Python reads.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ValueError("arrays or objects are nested too deeply") from None
    except ValueError:  # Python reads integers of at most 4300 digits
        raise ValueError("a number has too many digits") from None


def _refuse_unstorable(data: Any, errors: _Errors) -> None:
    """Report every string (value or key) a database cannot hold, at its JSON path.

    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if reason := storable_text_error(value):
                errors.add(path or "(request)", f"This text {reason}")
        elif isinstance(value, dict):
            for key, child in value.items():
                if reason := storable_text_error(key):
                    errors.add(path or "(request)", f"A field name {reason}")
                else:
                    pending.append((f"{path}.{key}" if path else key, child))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(value))


def parse_timestamp(value: Any) -> datetime:
    """A Unix timestamp in seconds (number) or an ISO 8601 date-time with offset.

    Kept to millisecond precision so that dumping it back as a number is exact.
    Raises ``ValueError`` with a human message.
    """
    if isinstance(value, bool):
        raise ValueError("must be a Unix timestamp in seconds or an ISO 8601 date-time.")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number.")
        try:
            millis = round(value * 1000)
            return datetime.fromtimestamp(millis // 1000, tz=UTC).replace(
                microsecond=(millis % 1000) * 1000
            )
        except (OverflowError, OSError, ValueError):
            raise ValueError("is out of range.") from None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValueError(f"{value!r} is not an ISO 8601 date-time or Unix timestamp.")
        if parsed.tzinfo is None:
            raise ValueError(f"{value!r} needs a UTC offset (for example Z or +01:00).")
        return parsed.astimezone(UTC).replace(microsecond=parsed.microsecond // 1000 * 1000)
    raise ValueError("must be a Unix timestamp in seconds or an ISO 8601 date-time.")


def dump_timestamp(value: datetime | None) -> int | float | None:
    if value is None:
        return None
    seconds = value.timestamp()
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def _time(data: dict, key: str, path: str, errors: _Errors) -> datetime | None:
    if data.get(key) is None:
        return None
    try:
        return parse_timestamp(data[key])
    except ValueError as exc:
        errors.add(f"{path}{key}", str(exc))
        return None


def _choice_message(instance, exc: ValidationError) -> ValidationError:
    """Make 'not a valid choice' errors list the accepted values."""
    fixed: dict[str, list[str]] = {}
    for name, errors in exc.error_dict.items():
        fixed[name] = []
        for error in errors:
            if error.code == "invalid_choice":
                model_field = instance._meta.get_field(name)
                allowed = ", ".join(str(choice) for choice, _ in model_field.choices)
                value = getattr(instance, name)
                fixed[name].append(f"{value!r} is not one of: {allowed}.")
            else:
                fixed[name].extend(error.messages)
    return ValidationError(fixed)


def _full_clean(instance, exclude: list[str], prefix: str, fields: dict, errors: _Errors) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.add_model_errors(_choice_message(instance, exc), prefix, fields)


def parse_request(data: Any, owner=None) -> RequestSpec:
    """Validate a JSON request (already decoded) and build unsaved instances.

    Raises ``RequestSchemaError`` listing every problem by JSON path.
    """
    errors = _Errors()
    _refuse_unstorable(data, errors)
    if errors.errors:
        # Checked first and alone: later messages quote keys and values, which must not
        # carry a NUL or a lone surrogate into a page, a log or the database.
        raise RequestSchemaError(errors.errors)
    if _obj(data, "(request)", errors) is None:
        raise RequestSchemaError(errors.errors)
    _unknown(
        data,
        {"name", "type", "format", "items", "periodicity", "periodStart", "paused", "notification"}
        | READ_ONLY_KEYS,
        "",
        errors,
    )

    request = ExportRequest(owner=owner)
    request.type = _str(data, "type", "", errors)
    if not request.type:
        errors.add("type", "is required: oneTime or recurring.")
    request.periodicity = _str(data, "periodicity", "", errors)
    request.period_start = _time(data, "periodStart", "", errors)
    paused = data.get("paused", False)
    if not isinstance(paused, bool):
        errors.add("paused", "must be true or false.")
    request.paused = paused is True

    fmt = data.get("format")
    columns: list[ExportColumn] = []
    if fmt is None:
        errors.add("format", "is required (at least format.extension).")
    elif _obj(fmt, "format", errors) is not None:
        _unknown(
            fmt,
            {
                "extension",
                "columns",
                "timezone",
                "template",
                "csvDelimiter",
                "csvBom",
                "decimals",
                "filename",
            },
            "format.",
            errors,
        )
        extension = _str(fmt, "extension", "format.", errors).lower()
        if not extension:
            errors.add("format.extension", "is required: csv, xlsx (or xls), pdf or json.")
        request.extension = EXTENSION_ALIASES.get(extension, extension)
        request.timezone = _str(fmt, "timezone", "format.", errors, "UTC") or "UTC"
        if request.timezone.lower() == "utc":
            request.timezone = "UTC"
        request.template = _str(fmt, "template", "format.", errors, "tabular") or "tabular"
        delimiter = fmt.get("csvDelimiter", ",")
        if not isinstance(delimiter, str):
            errors.add("format.csvDelimiter", "must be a string.")
            delimiter = ","
        request.csv_delimiter = delimiter
        request.csv_bom = _bool(fmt, "csvBom", "format.", errors, default=True)
        request.decimals = _decimals(fmt, errors)
        request.filename = _str(fmt, "filename", "format.", errors)
        columns = _parse_columns(fmt.get("columns"), errors)

    items = _parse_items(data.get("items"), errors)
    messages, message_paths = _parse_notification(data.get("notification"), errors)

    name = _str(data, "name", "", errors)
    if not name and items:
        name = f"Export of {items[0].target_value}"[:200]
    request.name = name or "Export"

    _full_clean(request, ["owner"], "", REQUEST_FIELDS, errors)
    for index, item in enumerate(items):
        _full_clean(item, ["request"], f"items[{index}].", ITEM_FIELDS, errors)
    for index, message in enumerate(messages):
        _full_clean(
            message, ["request"], f"notification.messages[{index}].", MESSAGE_FIELDS, errors
        )

    if errors.errors:
        raise RequestSchemaError(errors.errors)
    return RequestSpec(request=request, items=items, columns=columns, messages=messages)


def _parse_columns(raw: Any, errors: _Errors) -> list[ExportColumn]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add("format.columns", "must be a list of {id, label} objects.")
        return []
    pairs: list[tuple[str, str]] = []
    for index, entry in enumerate(raw):
        path = f"format.columns[{index}]"
        if _obj(entry, path, errors) is None:
            pairs.append(("", ""))
            continue
        _unknown(entry, {"id", "label"}, f"{path}.", errors)
        pairs.append(
            (_str(entry, "id", f"{path}.", errors), _str(entry, "label", f"{path}.", errors))
        )
    for index, message in check_columns(pairs).items():
        errors.add(f"format.columns[{index}]", message)
    return [
        ExportColumn(position=index, column_id=column_id, label=label)
        for index, (column_id, label) in enumerate(pairs)
    ]


ITEM_PARAM_KEYS = {
    "target",
    "channelId",
    "subtopic",
    "publisher",
    "from",
    "to",
    "period",
    "decimation",
    "transform",
    "outputFormat",
}


def _parse_items(raw: Any, errors: _Errors) -> list[ExportItem]:
    if not isinstance(raw, list) or not raw:
        errors.add("items", "must be a non-empty list of items.")
        return []
    items = []
    for index, entry in enumerate(raw):
        path = f"items[{index}]."
        if _obj(entry, f"items[{index}]", errors) is None:
            continue
        if "params" in entry:
            _unknown(entry, {"params", "filename"}, path, errors)
            params = _obj(entry["params"], f"{path}params", errors) or {}
            ppath = f"{path}params."
            _unknown(params, ITEM_PARAM_KEYS, ppath, errors)
        else:  # reference shape: params inline, label beside target
            params, ppath = entry, path
            _unknown(entry, ITEM_PARAM_KEYS | {"label", "filename"}, path, errors)
        item = ExportItem(position=index, filename=_str(entry, "filename", path, errors))
        target = params.get("target")
        if isinstance(target, dict):
            _unknown(target, {"value", "label"}, f"{ppath}target.", errors)
            item.target_value = _str(target, "value", f"{ppath}target.", errors)
            item.target_label = _str(target, "label", f"{ppath}target.", errors)
        elif isinstance(target, str):
            item.target_value = target.strip()
            item.target_label = _str(params, "label", ppath, errors)
        elif target is None:
            errors.add(f"{ppath}target", "is required: the metric name(s) to export.")
        else:
            errors.add(f"{ppath}target", "must be {value, label} or a string of metric names.")
        item.target_value = ",".join(p.strip() for p in item.target_value.split(","))
        if item.target_label:
            item.target_label = ",".join(p.strip() for p in item.target_label.split(","))
        item.channel_id = _str(params, "channelId", ppath, errors)
        item.subtopic = _str(params, "subtopic", ppath, errors)
        item.publisher = _str(params, "publisher", ppath, errors)
        item.from_time = _time(params, "from", ppath, errors)
        item.to_time = _time(params, "to", ppath, errors)
        item.period = _str(params, "period", ppath, errors)
        decimation = params.get("decimation")
        if decimation is not None and _obj(decimation, f"{ppath}decimation", errors) is not None:
            _unknown(decimation, {"ds", "dsf"}, f"{ppath}decimation.", errors)
            item.ds = _str(decimation, "ds", f"{ppath}decimation.", errors)
            item.dsf = _str(decimation, "dsf", f"{ppath}decimation.", errors)
            if not item.ds:
                errors.add(f"{ppath}decimation.ds", "is required when decimation is given.")
            elif not item.dsf:
                item.dsf = "avg"
        item.transform = _str(params, "transform", ppath, errors)
        item.output_format = _str(params, "outputFormat", ppath, errors, "long") or "long"
        items.append(item)
    return items


def _parse_notification(raw: Any, errors: _Errors) -> tuple[list[NotificationMessage], list[str]]:
    """Return the messages and, for each, the JSON path prefix its errors are reported at."""
    if raw is None or _obj(raw, "notification", errors) is None:
        return [], []
    if "messages" in raw:
        _unknown(raw, {"messages"}, "notification.", errors)
        entries = raw["messages"]
        if not isinstance(entries, list):
            errors.add("notification.messages", "must be a list.")
            return [], []
        prefix = "notification.messages[{}]."
        keys = {"policy", "medium", "target", "title", "text", "skipEmpty"}
    else:  # reference shape: one message, sent on success
        entries, prefix = [raw], "notification."
        keys = {"medium", "target", "title", "text", "policy", "skipEmpty"}
    messages, paths = [], []
    for index, entry in enumerate(entries):
        path = prefix.format(index)
        if _obj(entry, path.rstrip("."), errors) is None:
            continue
        _unknown(entry, keys, path, errors)
        text = entry.get("text") or ""
        if not isinstance(text, str):
            errors.add(f"{path}text", "must be a string.")
            text = ""
        message = NotificationMessage(
            position=index,
            policy=_str(entry, "policy", path, errors, Policy.ON_SUCCESS) or Policy.ON_SUCCESS,
            medium=_str(entry, "medium", path, errors),
            target=_str(entry, "target", path, errors),
            title=_str(entry, "title", path, errors),
            text=text,
            skip_empty=_bool(entry, "skipEmpty", path, errors, default=False),
        )
        if not message.medium:
            errors.add(f"{path}medium", "is required: email, slack, telegram or discord.")
        messages.append(message)
        paths.append(path)
    return messages, paths


def dump_request(request: ExportRequest) -> dict[str, Any]:
    """The request in the platform API's JSON shape (camelCase), children in order."""
    fmt: dict[str, Any] = {
        "extension": request.extension,
        "timezone": request.timezone,
        "template": request.template,
        "csvDelimiter": request.csv_delimiter,
        "csvBom": request.csv_bom,
    }
    if request.decimals is not None:
        fmt["decimals"] = request.decimals
    if request.filename:
        fmt["filename"] = request.filename
    columns = [{"id": c.column_id, "label": c.label} for c in request.columns.all()]
    if columns:
        fmt["columns"] = columns
    data: dict[str, Any] = {
        "id": request.pk,
        "owner": request.owner.get_username(),
        "name": request.name,
        "type": request.type,
        "format": fmt,
        "items": [_dump_item(item) for item in request.items.all()],
    }
    if request.periodicity:
        data["periodicity"] = request.periodicity
    if request.period_start is not None:
        data["periodStart"] = dump_timestamp(request.period_start)
    if request.paused:
        data["paused"] = True
    messages = [
        {
            key: value
            for key, value in (
                ("policy", m.policy),
                ("medium", m.medium),
                ("target", m.target),
                ("title", m.title),
                ("text", m.text),
                ("skipEmpty", m.skip_empty),
            )
            if value or key in ("policy", "medium")
        }
        for m in request.messages.all()
    ]
    if messages:
        data["notification"] = {"messages": messages}
    data["createdAt"] = request.created_at.isoformat()
    data["updatedAt"] = request.updated_at.isoformat() if request.updated_at else None
    if request.next_run_at:
        data["nextRunAt"] = request.next_run_at.isoformat()
    return data


def _dump_item(item: ExportItem) -> dict[str, Any]:
    target = {"value": item.target_value}
    if item.target_label:
        target["label"] = item.target_label
    params: dict[str, Any] = {
        "target": target,
        "channelId": item.channel_id,
        "subtopic": item.subtopic,
    }
    if item.publisher:
        params["publisher"] = item.publisher
    if item.from_time:
        params["from"] = dump_timestamp(item.from_time)
    if item.to_time:
        params["to"] = dump_timestamp(item.to_time)
    if item.period:
        params["period"] = item.period
    if item.ds:
        params["decimation"] = {"ds": item.ds, "dsf": item.aggregation}
    if item.transform:
        params["transform"] = item.transform
    params["outputFormat"] = item.output_format
    data: dict[str, Any] = {"params": params}
    if item.filename:
        data["filename"] = item.filename
    return data


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
    return target
