"""The JSON shape of an export request: parse + validate into model instances.

Two input dialects are accepted and normalised into one model:

* the platform API shape — ``items[].params.{target: {value, label}, channelId, subtopic,
  from, to, period, decimation: {ds, dsf}, transform, outputFormat}``, ``items[].filename``,
  ``periodStart``, ``notification.messages[]``;
* the reference page's shape — items with the params inline (``target`` a string,
  ``label`` beside it) and a single ``notification: {title, text, medium}``.

``dump_request`` (``exports.requests.dump``) always writes the API shape, and
``parse_request(dump_request(r))`` rebuilds the same request (the round trip is lossless).
The spec it builds and ``save_spec`` are in ``exports.requests.spec``. Rules live in
``exports.requests.validation`` and the models; this module only checks the shape and maps
model errors back to JSON paths such as ``items[0].params.decimation.ds``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from exports.data.access import unreadable_items
from exports.models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.requests.caps import count_problems
from exports.requests.json_values import parse_timestamp, report_unstorable
from exports.requests.sharing import parse_shares
from exports.requests.spec import ITEM_FIELDS, MESSAGE_FIELDS, REQUEST_FIELDS, RequestSpec
from exports.requests.validation import check_columns, one_table_error
from exports.requests.vocabulary import EXTENSION_ALIASES, MAX_DECIMALS, Policy

READ_ONLY_KEYS = {"id", "owner", "createdAt", "updatedAt", "deletedAt", "nextRunAt"}


class RequestSchemaError(Exception):
    """Raised with every problem found, as ``{json_path: [messages]}``."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(self.summary())

    def summary(self) -> str:
        return "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in self.errors.items())


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
    report_unstorable(data, errors)
    if errors.errors:
        # Checked first and alone: later messages quote keys and values, which must not
        # carry a NUL or a lone surrogate into a page, a log or the database.
        raise RequestSchemaError(errors.errors)
    if _obj(data, "(request)", errors) is None:
        raise RequestSchemaError(errors.errors)
    if problems := count_problems(data):  # too many items, columns or messages: stop here
        raise RequestSchemaError(problems)
    _unknown(
        data,
        {"name", "type", "format", "items", "periodicity", "periodStart", "paused", "notification"}
        | {"shares"}
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
                "decimalSeparator",
                "filename",
            },
            "format.",
            errors,
        )
        extension = _str(fmt, "extension", "format.", errors).lower()
        if not extension:
            errors.add("format.extension", "is required: csv, xlsx (or xls), pdf, json or parquet.")
        request.extension = EXTENSION_ALIASES.get(extension, extension)
        request.timezone = _str(fmt, "timezone", "format.", errors, "UTC") or "UTC"
        if request.timezone.lower() == "utc":
            request.timezone = "UTC"
        request.template = _str(fmt, "template", "format.", errors, "tabular") or "tabular"
        request.decimal_separator = _str(fmt, "decimalSeparator", "format.", errors, ".") or "."
        delimiter = fmt.get("csvDelimiter", ";" if request.decimal_separator == "," else ",")
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
    shares = None  # no "shares" key: a replaced request keeps the shares it has
    if "shares" in data:
        shares, problems = parse_shares(data["shares"], owner)
        for path, message in problems:
            errors.add(path, message)

    name = _str(data, "name", "", errors)
    if not name and items:
        name = f"Export of {items[0].target_value}"[:200]
    request.name = name or "Export"

    _full_clean(request, ["owner"], "", REQUEST_FIELDS, errors)
    for index, column in enumerate(columns):  # lengths; ids are check_columns' question
        _full_clean(column, ["request", "column_id"], f"format.columns[{index}].", {}, errors)
    if problem := one_table_error(request.template, request.extension, items):
        errors.add("format.template", problem)
    for index, item in enumerate(items):
        _full_clean(item, ["request"], f"items[{index}].", ITEM_FIELDS, errors)
    for index, message in enumerate(messages):
        _full_clean(
            message, ["request"], f"notification.messages[{index}].", MESSAGE_FIELDS, errors
        )
    if owner is not None:
        # The export runs as its owner: a channel they may not read is refused by name here
        # (API, commands, admin import), never saved to yield empty files.
        for index, reason in unreadable_items(owner, items):
            path = f"items[{index}].params.channelId"
            if path not in errors.errors:
                errors.add(path, reason)

    if errors.errors:
        raise RequestSchemaError(errors.errors)
    return RequestSpec(request, items, columns, messages, shares)


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
    "range",
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
        item.calendar_range = _str(params, "range", ppath, errors)
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
        keys = {"policy", "medium", "target", "title", "text", "skipEmpty", "attach"}
    else:  # reference shape: one message, sent on success
        entries, prefix = [raw], "notification."
        keys = {"medium", "target", "title", "text", "policy", "skipEmpty", "attach"}
    messages, paths = [], []
    for index, entry in enumerate(entries):
        path = prefix.format(index)
        if _obj(entry, path.rstrip("."), errors) is None:
            continue
        _unknown(entry, keys, path, errors)
        text = "" if entry.get("text") is None else entry["text"]  # {} or 0 is not a text
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
            attach=_bool(entry, "attach", path, errors, default=False),
        )
        if not message.medium:
            errors.add(f"{path}medium", "is required: email, slack, telegram or discord.")
        messages.append(message)
        paths.append(path)
    return messages, paths
