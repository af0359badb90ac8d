"""Every field of an export request is written down everywhere a request is.

A request field lives in several places that cannot share one definition: the model, the
JSON dump and parse (``exports.requests.schema``), the editor's forms, the admin, and the
API's description of the request JSON. These tests fail when a model field of the request
(or of its items, columns and messages) is missing from one of them. README.md, "Adding a
request field", lists these places and the ones no test can see (writers, templates).

A new field makes ``test_the_sample_sets_every_field`` fail first: give it a value other
than its default in ``SAMPLE`` below, then follow the failures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models
from django.test import RequestFactory
from django.urls import reverse

from exports.api.serializers import StoredExportRequestSerializer
from exports.editor.editor import RequestEditor  # the editor: one form and three formsets
from exports.models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.requests.dump import dump_request
from exports.requests.schema import parse_request
from exports.requests.spec import ITEM_FIELDS, MESSAGE_FIELDS, REQUEST_FIELDS

# Fields that are not part of what a user asks for, so no place is required to carry them.
INTERNAL = {
    ExportRequest: {
        "id",
        "owner",  # who saves it; the dump writes it read-only, the admin shows it
        "next_run_at",  # scheduler state, read-only (dumped as nextRunAt when set)
        "created_at",  # timestamps, read-only
        "updated_at",
    },
    # The children: their position is their order in the JSON lists and on the page.
    ExportItem: {"id", "request", "position"},
    ExportColumn: {"id", "request", "position"},
    NotificationMessage: {"id", "request", "position"},
}

# A request with every field set to something other than its default, so that an optional
# key left out of the dump (or ignored by the parse) shows. Two items, because an item has
# either a relative period or from/to.
SAMPLE: dict[Any, list[dict[str, Any]]] = {
    ExportRequest: [
        {
            "name": "Boiler report",
            "type": "recurring",
            "periodicity": "PT15M",
            "period_start": datetime(2025, 1, 1, 6, tzinfo=UTC),
            "paused": True,
            "extension": "xlsx",
            "timezone": "Europe/Rome",
            "template": "expanded",
            "csv_delimiter": ";",
            "csv_bom": False,
            "decimals": 3,
            "decimal_separator": ",",
            "filename": "boiler",
        }
    ],
    ExportItem: [
        {
            "target_value": "temperature,humidity",
            "target_label": "Temperature,Humidity",
            "channel_id": "boiler-room",
            "subtopic": "events.data",
            "publisher": "sensor-7",
            "period": "P1D",
            "ds": "1h",
            "dsf": "max",
            "transform": "delta",
            "output_format": "wide",
            "filename": "climate",
        },
        {
            "target_value": "pressure",
            "channel_id": "boiler-room",
            "subtopic": "events.data",
            "from_time": datetime(2025, 1, 1, tzinfo=UTC),
            "to_time": datetime(2025, 1, 2, tzinfo=UTC),
        },
        {
            "target_value": "pressure",
            "channel_id": "boiler-room",
            "subtopic": "events.data",
            "calendar_range": "previousMonth",
        },
    ],
    ExportColumn: [
        {"column_id": "time", "label": "When"},
        {"column_id": "value", "label": "Reading"},
    ],
    NotificationMessage: [
        {
            "policy": "onFailure",
            "medium": "email",
            "target": "ops@example.com",
            "title": "{request_name} failed",
            "text": "{error}",
            "skip_empty": True,
            "attach": True,
        },
        {
            "policy": "onFailure",
            "medium": "slack",
            "target": "https://hooks.slack.com/services/T0/B0/XYZ",
            "title": "{request_name} failed",
        },
    ],
}
CHILDREN = {ExportItem: "items", ExportColumn: "columns", NotificationMessage: "messages"}
# Each model's fields as the schema reports errors at them (JSON path, relative to the
# request, to an item or to a message).
ERROR_PATHS = {
    ExportRequest: REQUEST_FIELDS,
    ExportItem: ITEM_FIELDS,
    NotificationMessage: MESSAGE_FIELDS,
}


def request_fields(model: type[models.Model]) -> list[str]:
    """The model's concrete fields that a request's author sets."""
    names = [field.name for field in model._meta.concrete_fields]
    return [name for name in names if name not in INTERNAL[model]]


def all_models() -> list[type[models.Model]]:
    return [ExportRequest, *CHILDREN]


def json_paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every key in ``value``, list entries written ``[]``."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths |= {path} | json_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            paths |= json_paths(child, f"{prefix}[]")
    return paths


def serializer_paths(serializer, prefix: str = "") -> set[str]:
    """Dotted paths of every field the API's serializer describes, lists written ``[]``."""
    paths: set[str] = set()
    for name, field in serializer.fields.items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        if hasattr(field, "child") and hasattr(field.child, "fields"):
            paths |= serializer_paths(field.child, f"{path}[]")
        elif hasattr(field, "fields"):
            paths |= serializer_paths(field, path)
    return paths


@pytest.fixture
def stored(alice) -> ExportRequest:
    """The sample saved through the models alone (not through the code under test)."""
    [values] = SAMPLE[ExportRequest]
    export = ExportRequest(owner=alice, **values)
    export.full_clean()
    export.save()
    for model in CHILDREN:
        for position, child_values in enumerate(SAMPLE[model]):
            child = model(request=export, position=position, **child_values)
            child.full_clean()
            child.save()
    return ExportRequest.objects.get(pk=export.pk)


def test_the_allow_list_names_real_fields():
    for model in all_models():
        names = {field.name for field in model._meta.concrete_fields}
        assert INTERNAL[model] <= names, f"{model.__name__}: {INTERNAL[model] - names}"


def test_the_sample_sets_every_field():
    for model in all_models():
        for name in request_fields(model):
            default = model._meta.get_field(name).get_default()
            values = [entry.get(name, default) for entry in SAMPLE[model]]
            assert any(value != default for value in values), (
                f"{model.__name__}.{name}: give it a non-default value in SAMPLE "
                "(and see README.md, 'Adding a request field')"
            )


def test_the_schema_reports_errors_at_every_field():
    for model, paths in ERROR_PATHS.items():
        assert set(paths) == set(request_fields(model)), (
            f"{model.__name__}: exports/requests/schema.py maps {sorted(paths)}"
        )


# Written for CSV requests only: other formats neither use nor echo them (README, "API").
CSV_ONLY = {"csv_delimiter", "csv_bom"}


@pytest.mark.parametrize("extension", ["xlsx", "csv"])
def test_every_field_survives_the_json_round_trip(stored, extension):
    """dump_request writes every field and parse_request reads every one back (the CSV-only
    fields when the request is a CSV one)."""
    ExportRequest.objects.filter(pk=stored.pk).update(extension=extension)
    stored = ExportRequest.objects.get(pk=stored.pk)
    skipped = CSV_ONLY if extension != "csv" else set()
    dumped = dump_request(stored)
    spec = parse_request(dumped, owner=stored.owner)
    parsed = {
        ExportRequest: [spec.request],
        ExportItem: spec.items,
        ExportColumn: spec.columns,
        NotificationMessage: spec.messages,
    }
    for model in all_models():
        if model is ExportRequest:
            originals = [stored]
        else:
            originals = list(getattr(stored, CHILDREN[model]).all())
        assert len(parsed[model]) == len(originals), model.__name__
        for original, copy in zip(originals, parsed[model], strict=True):
            for name in request_fields(model):
                if model is ExportRequest and name in skipped:
                    continue
                assert getattr(copy, name) == getattr(original, name), (
                    f"{model.__name__}.{name} is lost between dump_request and parse_request"
                )


def test_the_error_paths_are_where_the_dump_writes(stored):
    ExportRequest.objects.filter(pk=stored.pk).update(extension="csv")  # CSV_ONLY written too
    dumped = json_paths(dump_request(ExportRequest.objects.get(pk=stored.pk)))
    prefixes = {
        ExportRequest: "",
        ExportItem: "items[].",
        NotificationMessage: "notification.messages[].",
    }
    for model, paths in ERROR_PATHS.items():
        for name, path in paths.items():
            assert f"{prefixes[model]}{path}" in dumped, f"{model.__name__}.{name}: {path}"


def test_the_api_describes_everything_the_dump_writes(stored):
    """The OpenAPI description of the request JSON (exports/api/request_shapes.py)."""
    described = serializer_paths(StoredExportRequestSerializer())
    ExportRequest.objects.filter(pk=stored.pk).update(extension="csv")  # CSV_ONLY written too
    missing = json_paths(dump_request(ExportRequest.objects.get(pk=stored.pk))) - described
    assert not missing, f"not in the API's request serializers: {sorted(missing)}"


@pytest.mark.django_db
def test_the_editor_has_a_field_for_every_field(alice):
    editor = RequestEditor(owner=alice)
    forms = {
        ExportRequest: editor.form,
        ExportItem: editor.items.forms[0],
        ExportColumn: editor.columns.forms[0],
        NotificationMessage: editor.messages.forms[0],
    }
    for model, form in forms.items():
        missing = set(request_fields(model)) - set(form.fields)
        assert not missing, f"{model.__name__}: not in the editor's form: {sorted(missing)}"


def test_the_editor_page_renders_every_field(client, alice):
    """templates/exports/request_form.html names each field of the request form itself."""
    client.force_login(alice)
    page = client.get(reverse("exports:create")).content.decode()
    prefixes = {
        ExportRequest: "",
        ExportItem: "items-0-",
        ExportColumn: "columns-0-",
        NotificationMessage: "messages-0-",
    }
    for model, prefix in prefixes.items():
        missing = [name for name in request_fields(model) if f'name="{prefix}{name}"' not in page]
        assert not missing, f"{model.__name__}: not on the editor page: {missing}"


@pytest.mark.django_db
def test_the_admin_shows_every_field(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    model_admin = admin.site._registry[ExportRequest]
    shown = {ExportRequest: set(flatten_fieldsets(model_admin.get_fieldsets(request)))}
    for inline in model_admin.get_inline_instances(request):
        shown[inline.model] = set(flatten_fieldsets(inline.get_fieldsets(request)))
    for model in all_models():
        missing = set(request_fields(model)) - shown.get(model, set())
        assert not missing, f"{model.__name__}: not in the admin: {sorted(missing)}"
