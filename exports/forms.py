"""The request editor: one page that edits a request, its items, messages and columns.

Rules are not written here: the ModelForms run the models' field validators and
``clean()`` methods, and the column editor calls ``exports.validation.check_columns``,
so the pages, the admin and the JSON schema refuse exactly the same input.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import BaseFormSet, BaseInlineFormSet
from django.utils import timezone as dj_timezone

from .models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from .validation import check_columns, validate_timezone
from .vocabulary import DEFAULT_COLUMNS, ColumnId

MAX_ITEMS = 100
MAX_MESSAGES = 20
LAST = 10**6  # the sort key of a column row without a usable position
LOCAL_TIME_HELP = (
    "Local time in the export's time zone ({zone}); a new time zone chosen above "
    "applies when you save."
)


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone this system knows, sorted, with UTC first."""
    names = sorted(name for name in zoneinfo.available_timezones() if name != "UTC")
    return [(name, name) for name in ["UTC", *names]]


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-time picker; the value is naive, read in the request's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs={"step": 1, **(attrs or {})}, format="%Y-%m-%dT%H:%M:%S")


def _explain_local_time(form: forms.ModelForm, names: Sequence[str], zone: str) -> None:
    for name in names:
        field = form.fields[name]
        field.help_text = " ".join(
            part for part in (field.help_text, LOCAL_TIME_HELP.format(zone=zone)) if part
        )


class ExportRequestForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        help_text="Governs the schedule, the data windows and the times written in the file.",
    )

    class Meta:
        model = ExportRequest
        fields = [
            "name",
            "type",
            "periodicity",
            "period_start",
            "paused",
            "extension",
            "timezone",
            "template",
            "csv_delimiter",
            "csv_bom",
            "decimals",
            "filename",
        ]
        labels = {
            "extension": "Format",
            "period_start": "Start of the recurrence",
            "csv_delimiter": "CSV delimiter",
            "csv_bom": "CSV with a byte order mark",
            "decimals": "Decimals",
            "filename": "File name",
        }
        help_texts = {
            "paused": "A paused export is not run until it is resumed.",
            "csv_delimiter": "One character, such as , or ; (CSV only).",
            "csv_bom": "Lets Excel read accents and units right; turn off for tools that "
            "do not expect it (CSV only).",
            "decimals": "Fixed decimals for every number, 0 to 10; empty writes numbers "
            "as they are.",
            "filename": "Base name of the downloaded file; empty uses the export's name.",
        }
        widgets = {
            "period_start": LocalDateTimeInput(),
            "csv_delimiter": forms.TextInput(attrs={"size": 2}),
            "decimals": forms.NumberInput(attrs={"min": 0, "max": 10}),
        }

    def __init__(self, *args, zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        # A tab or a space is a legitimate delimiter: do not strip it away.
        self.fields["csv_delimiter"].strip = False
        current = self.instance.timezone
        if current and (current, current) not in timezone_choices():
            # A zone stored before this system's tz database dropped its name stays selectable.
            self.fields["timezone"].choices = [(current, current), *timezone_choices()]
        _explain_local_time(self, ["period_start"], zone)


# The editable fields of an item, in form order (the pages and the admin inline).
ITEM_FIELDS = (
    "target_value",
    "target_label",
    "channel_id",
    "subtopic",
    "publisher",
    "from_time",
    "to_time",
    "period",
    "ds",
    "dsf",
    "transform",
    "output_format",
    "filename",
)


class ItemForm(forms.ModelForm):
    class Meta:
        model = ExportItem
        fields = list(ITEM_FIELDS)
        labels = {"filename": "File name (expanded template)"}
        widgets = {"from_time": LocalDateTimeInput(), "to_time": LocalDateTimeInput()}

    def __init__(self, *args, zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        _explain_local_time(self, ["from_time", "to_time"], zone)


class MessageForm(forms.ModelForm):
    class Meta:
        model = NotificationMessage
        fields = ["policy", "medium", "target", "title", "text", "skip_empty"]
        widgets = {"text": forms.Textarea(attrs={"rows": 3})}


class _ChildFormSet(BaseInlineFormSet):
    remove_label = "Remove"

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = self.remove_label


class BaseItemFormSet(_ChildFormSet):
    remove_label = "Remove this item"
    default_error_messages = {
        "too_few_forms": "Add at least one item: an export needs something to export.",
        "too_many_forms": f"An export can have at most {MAX_ITEMS} items.",
    }


class BaseMessageFormSet(_ChildFormSet):
    remove_label = "Remove this notification"
    default_error_messages = {
        "too_many_forms": f"An export can have at most {MAX_MESSAGES} notification messages.",
    }


# One blank "extra" row lets people without JavaScript add an item or a message per save.
ItemFormSet = forms.inlineformset_factory(
    ExportRequest,
    ExportItem,
    form=ItemForm,
    formset=BaseItemFormSet,
    extra=1,
    min_num=1,
    validate_min=True,
    max_num=MAX_ITEMS,
    validate_max=True,
    can_delete=True,
)
MessageFormSet = forms.inlineformset_factory(
    ExportRequest,
    NotificationMessage,
    form=MessageForm,
    formset=BaseMessageFormSet,
    extra=1,
    max_num=MAX_MESSAGES,
    validate_max=True,
    can_delete=True,
)


class ColumnForm(forms.Form):
    """One row of the column editor: a message field, whether to export it, header, position."""

    column_id = forms.ChoiceField(choices=ColumnId.choices, widget=forms.HiddenInput)
    include = forms.BooleanField(required=False)
    label = forms.CharField(max_length=200, required=False)
    position = forms.IntegerField(required=False, min_value=1, max_value=1000)


class BaseColumnFormSet(BaseFormSet):
    """The column editor: one row per known column; the included rows, by position, are kept."""

    default_error_messages = {
        "too_many_forms": "The column editor has one row per column; reload the page.",
    }

    def _ordered_included(self) -> list[forms.Form]:
        included = [
            (index, form)
            for index, form in enumerate(self.forms)
            if form.cleaned_data.get("include") and form.cleaned_data.get("column_id")
        ]
        # A row without a position goes last; equal positions keep the page order.
        included.sort(key=lambda pair: (pair[1].cleaned_data.get("position") or LAST, pair[0]))
        return [form for _, form in included]

    def clean(self) -> None:
        if any(self.errors):
            return
        ordered = self._ordered_included()
        pairs = [(f.cleaned_data["column_id"], f.cleaned_data["label"]) for f in ordered]
        for index, message in check_columns(pairs).items():
            ordered[index].add_error("label", message)

    def chosen(self) -> list[tuple[str, str]]:
        """The included ``(column id, label)`` pairs in output order (after validation)."""
        return [
            (f.cleaned_data["column_id"], f.cleaned_data["label"]) for f in self._ordered_included()
        ]

    def rows(self) -> list[forms.Form]:
        """The rows in display order: included ones by position, then the others.

        On a re-rendered (invalid) page this follows the positions that were posted,
        so the table shows the order the user chose.
        """

        def key(pair: tuple[int, forms.Form]):
            index, form = pair
            included = bool(form["include"].value())
            try:
                position = int(form["position"].value())
            except (TypeError, ValueError):
                position = LAST
            return (not included, position if included else 0, index)

        return [form for _, form in sorted(enumerate(self.forms), key=key)]


ColumnFormSet = forms.formset_factory(
    ColumnForm,
    formset=BaseColumnFormSet,
    extra=0,
    max_num=len(ColumnId.values),
    absolute_max=len(ColumnId.values),
    validate_max=True,
)


def column_rows(columns: Sequence[tuple[str, str]]) -> list[dict]:
    """Initial editor rows: the chosen columns in order, then every other column, unticked."""
    chosen = {column_id for column_id, _ in columns}
    rows = [
        {"column_id": column_id, "include": True, "label": label, "position": index}
        for index, (column_id, label) in enumerate(columns, start=1)
    ]
    rows += [
        {"column_id": column_id, "include": False, "label": column_id, "position": None}
        for column_id in ColumnId.values
        if column_id not in chosen
    ]
    return rows


def _save_in_order(formset: BaseInlineFormSet, parent: ExportRequest) -> None:
    """Save a child formset: delete ticked rows, skip untouched blank rows, number the rest."""
    position = 0
    for form in formset.forms:
        child = form.instance
        if form.cleaned_data.get("DELETE"):
            if child.pk:
                child.delete()
            continue
        if child.pk is None and not form.has_changed():
            continue
        if child.pk is None or form.has_changed() or child.position != position:
            child = form.save(commit=False)
            child.request = parent
            child.position = position
            child.save()
        position += 1


class RequestEditor:
    """The whole create/edit page: the request form and its three formsets, saved together.

    Naive date-times typed on the page are read in the time zone chosen on the page
    (the stored one when the posted zone is not valid; its own error then shows).
    """

    def __init__(self, data=None, *, instance: ExportRequest | None = None, owner=None) -> None:
        self.is_new = instance is None
        self.instance = instance if instance is not None else ExportRequest(owner=owner)
        self.zone = self._zone(data)
        stored = [] if self.is_new else [(c.column_id, c.label) for c in instance.columns.all()]
        # An export without stored columns gets the defaults: show them as its columns.
        self.initial_columns = stored or [(column_id, column_id) for column_id in DEFAULT_COLUMNS]

        self.form = ExportRequestForm(data, instance=self.instance, zone=self.zone)
        self.items = ItemFormSet(
            data, instance=self.instance, prefix="items", form_kwargs={"zone": self.zone}
        )
        self.messages = MessageFormSet(data, instance=self.instance, prefix="messages")
        self.columns = ColumnFormSet(
            data, initial=column_rows(self.initial_columns), prefix="columns"
        )

    def _zone(self, data) -> str:
        posted = data.get("timezone") if data is not None else None
        if posted:
            try:
                validate_timezone(posted)
            except ValidationError:
                pass
            else:
                return posted
        return self.instance.timezone or "UTC"

    def is_valid(self) -> bool:
        """Validate every part (all of them, so every error shows at once)."""
        with dj_timezone.override(zoneinfo.ZoneInfo(self.zone)):
            results = [
                part.is_valid() for part in (self.form, self.items, self.messages, self.columns)
            ]
        return all(results)

    def save(self) -> ExportRequest:
        """Save the request and all its children in one transaction; call after ``is_valid``.

        One transaction means nothing is half-saved and exactly one IAM event is emitted.
        """
        with transaction.atomic():
            export_request = self.form.save()
            _save_in_order(self.items, export_request)
            _save_in_order(self.messages, export_request)
            self._save_columns(export_request)
        return export_request

    def _save_columns(self, export_request: ExportRequest) -> None:
        chosen = self.columns.chosen()
        if not self.is_new and chosen == self.initial_columns:
            return  # untouched: keep what is stored (possibly nothing, meaning the defaults)
        # Row by row, not bulk: each save and delete is a signal the IAM batch listens to.
        for column in export_request.columns.all():
            column.delete()
        for index, (column_id, label) in enumerate(chosen):
            ExportColumn.objects.create(
                request=export_request, position=index, column_id=column_id, label=label
            )
