"""The request editor: one page that edits a request, its items, messages and columns.

Rules are not written here: the ModelForms run the models' field validators and
``clean()`` methods, and the column editor calls ``exports.requests.validation.check_columns``,
so the pages, the admin and the JSON schema refuse exactly the same input.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import BaseFormSet, BaseInlineFormSet
from django.utils import timezone as dj_timezone
from timezone_field import TimeZoneFormField

from exports.data import catalog, pickers
from exports.models import ExportColumn, ExportItem, ExportRequest, NotificationMessage
from exports.requests.schema import RequestSpec
from exports.requests.validation import check_columns, storable_text_error, validate_timezone
from exports.requests.vocabulary import DEFAULT_COLUMNS, ColumnId, RequestType
from exports.scheduling.words import MINUTE_STEPS, WEEKDAYS, Preset, describe_schedule, preset_of

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


CUSTOM = "custom"
SCHEDULE_CHOICES = [
    ("minutes", "Every few minutes"),
    ("hourly", "Every hour"),
    ("daily", "Every day"),
    ("weekly", "Every week"),
    ("monthly", "Every month"),
    (CUSTOM, "Custom (ISO 8601)"),
]
# The fields that describe a recurrence: ignored (and hidden) for a one-time export.
SCHEDULE_FIELDS = ("periodicity", "period_start", "schedule", "every", "at_minute", "at_time")
SCHEDULE_FIELDS += ("weekday", "day")
# Which preset field each preset kind needs (besides the kind itself).
PRESET_NEEDS = {
    "minutes": ("every",),
    "hourly": ("at_minute",),
    "daily": ("at_time",),
    "weekly": ("weekday", "at_time"),
    "monthly": ("day", "at_time"),
}


class ExportRequestForm(forms.ModelForm):
    timezone = TimeZoneFormField(
        label="Time zone",
        choices=timezone_choices(),
        help_text="Governs the schedule, the data windows and the times written in the file.",
    )
    # Schedule presets: another way to write periodicity + period start, stored as those.
    schedule = forms.ChoiceField(
        label="Repeat",
        choices=SCHEDULE_CHOICES,
        required=False,  # a post without it (older pages, scripts) is a custom schedule
    )
    every = forms.TypedChoiceField(
        label="Every",
        choices=[(step, f"{step} minutes") for step in MINUTE_STEPS],
        coerce=int,
        required=False,
        help_text="On the clock's multiples: every 15 minutes runs at :00, :15, :30, :45.",
    )
    at_minute = forms.IntegerField(
        label="At minute", min_value=0, max_value=59, required=False, help_text="0–59."
    )
    at_time = forms.TimeField(
        label="At",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H:%M:%S"],
    )
    weekday = forms.TypedChoiceField(
        label="On", choices=list(enumerate(WEEKDAYS)), coerce=int, required=False
    )
    day = forms.IntegerField(
        label="On day",
        min_value=1,
        max_value=31,
        required=False,
        help_text="1–31; 29, 30 or 31 runs on the last day of shorter months.",
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
        self.zone = zone
        if not self.is_bound:
            self.initial.update(self._schedule_initial())

    def _schedule_initial(self) -> dict:
        """The stored schedule as the editor shows it: its preset, else custom."""
        request = self.instance
        preset = None
        if request.is_recurring:
            preset = preset_of(request.periodicity, request.period_start, request.timezone)
        kind = preset.kind if preset else (CUSTOM if request.is_recurring else "daily")
        preset = preset or Preset("daily")
        return {
            "schedule": kind,
            "every": preset.every,
            "at_minute": preset.minute,
            "at_time": time(preset.hour, preset.minute),
            "weekday": preset.weekday,
            "day": preset.day,
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("type") != RequestType.RECURRING:
            # One-time: the schedule is hidden and ignored, whatever the browser posted.
            for name in SCHEDULE_FIELDS:
                self._errors.pop(name, None)
            cleaned["periodicity"] = ""
            cleaned.pop("period_start", None)
            return cleaned
        kind = cleaned.get("schedule") or CUSTOM
        if kind == CUSTOM:
            return cleaned
        preset = self._preset(kind, cleaned)
        if preset is None:
            return cleaned
        for name in ("periodicity", "period_start"):
            self._errors.pop(name, None)  # written by the preset, not typed
        zone = str(cleaned.get("timezone") or self.zone)
        cleaned["periodicity"] = preset.periodicity
        stored = self.instance
        if stored.pk and preset_of(stored.periodicity, stored.period_start, zone) == preset:
            # Unchanged: keep the stored anchor, so saving does not move the schedule.
            cleaned["period_start"] = stored.period_start
        else:
            cleaned["period_start"] = preset.period_start(zone, dj_timezone.now())
        return cleaned

    def _preset(self, kind: str, cleaned: dict) -> Preset | None:
        """The chosen preset, or None after adding an error to each missing field."""
        missing = [
            name
            for name in PRESET_NEEDS[kind]
            if cleaned.get(name) in (None, "") and name not in self.errors
        ]
        for name in missing:
            self.add_error(name, "Required for this schedule.")
        if missing or any(name in self.errors for name in PRESET_NEEDS[kind]):
            return None
        at = cleaned.get("at_time") or time(0, 0)
        return Preset(
            kind,
            every=cleaned.get("every") or 15,
            minute=cleaned["at_minute"] if kind == "hourly" else at.minute,
            hour=at.hour,
            weekday=cleaned.get("weekday") or 0,
            day=cleaned.get("day") or 1,
        )

    def schedule_words(self) -> str:
        """The schedule in words ("Every day at 08:00 (Europe/Rome)"); "" when one-time or
        when the schedule fields have errors (errors elsewhere do not matter here)."""
        if not self.is_bound:
            request = self.instance
            if request.is_recurring and request.periodicity:
                return describe_schedule(
                    request.periodicity, request.period_start, request.timezone
                )
            return ""
        if not hasattr(self, "cleaned_data") or any(n in self.errors for n in SCHEDULE_FIELDS):
            return ""
        data = self.cleaned_data
        if data.get("type") != RequestType.RECURRING or not data.get("periodicity"):
            return ""
        start = data.get("period_start") or dj_timezone.now()
        return describe_schedule(data["periodicity"], start, str(data.get("timezone") or self.zone))


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


class MetricsPicker(forms.MultipleChoiceField):
    """Metrics to add from the catalog.

    Any name is accepted: the list on the page may have been narrower or wider than the one
    this request computes, and names are checked as metrics once merged into ``target_value``.
    """

    widget = forms.SelectMultiple(attrs={"size": 6, "data-picker": "name"})

    def valid_value(self, value: str) -> bool:
        return True


@dataclass
class PickerList:
    """The options of one picker, served as a ``<datalist>`` next to its input."""

    id: str
    options: list[pickers.Option]


# Item inputs chosen from the catalog, and the picker field each one is.
PICKED = {"channel_id": "channel", "subtopic": "subtopic", "publisher": "publisher"}


class ItemForm(forms.ModelForm):
    metrics = MetricsPicker(
        label="Add metrics from the catalog",
        required=False,
        help_text="Narrowed by the channel, subtopic and publisher above. Names that have no "
        "data yet can be typed in the metrics field.",
    )
    # Pick where the data is first, then which metrics; the rest keeps the model's order.
    field_order = ["channel_id", "subtopic", "publisher", "metrics", "target_value"]

    class Meta:
        model = ExportItem
        fields = list(ITEM_FIELDS)
        labels = {"filename": "File name (expanded template)"}
        widgets = {"from_time": LocalDateTimeInput(), "to_time": LocalDateTimeInput()}

    def __init__(self, *args, zone: str = "UTC", options_cache: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        _explain_local_time(self, ["from_time", "to_time"], zone)
        # Rows of one page share their lookups (items often read the same channel).
        self._cache = {} if options_cache is None else options_cache
        # Picked metrics may be the only ones: "at least one" is checked in clean().
        self.fields["target_value"].required = False
        chosen = {key: self._current(name) for name, key in PICKED.items()}
        self.pickers = []
        for name, key in PICKED.items():
            list_id = f"{self.prefix}-{key}-options"
            self.fields[name].widget.attrs.update(
                {"list": list_id, "autocomplete": "off", "data-picker": key}
            )
            self.pickers.append(PickerList(list_id, self._options(key, **chosen)))
        # Under an id, the name people know it by (the input holds the id that is stored).
        for name, display in (
            ("channel_id", catalog.channel_display),
            ("publisher", catalog.publisher_display),
        ):
            value = chosen[PICKED[name]]
            shown = self._cached((name, value), functools.partial(display, value)) if value else ""
            self.fields[name].help_text = (
                shown if shown != value else "Choose from the list, or type an id."
            )
        self.fields["metrics"].choices = [
            (option.value, f"{option.label} — {option.detail}")
            for option in self._options("name", tz_name=zone, **chosen)
        ]

    def _cached(self, key: tuple, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _options(self, field: str, **narrowed: str) -> list[pickers.Option]:
        key = ("options", field, *sorted(narrowed.items()))
        return self._cached(key, lambda: pickers.options(field, **narrowed))

    def _current(self, name: str) -> str:
        """What the field holds now (posted, else initial), read without creating its
        BoundField: that would freeze its help text before __init__ sets it."""
        if self.is_bound:
            value = self.data.get(self.add_prefix(name))
        else:
            value = self.get_initial_for_field(self.fields[name], name)
        value = str(value or "").strip()
        # Text no database holds must not reach a catalog lookup (PostgreSQL fails on a NUL);
        # the field itself reports it when the form is validated.
        return "" if storable_text_error(value) else value

    def clean(self) -> dict:
        cleaned = super().clean()
        typed = cleaned.get("target_value") or ""
        names = {name.strip() for name in typed.split(",")}
        added = [name for name in dict.fromkeys(cleaned.get("metrics") or []) if name not in names]
        if added:
            cleaned["target_value"] = ",".join([typed, *added] if typed else added)
        elif not typed and "target_value" not in self.errors:
            self.add_error(
                "target_value", "Choose at least one metric from the catalog or type its name."
            )
        return cleaned


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


@dataclass
class ErrorLink:
    """One line of the error summary: the field's id (to link to), where, and the message."""

    field_id: str
    where: str
    message: str


@dataclass
class UnknownMetrics:
    """Metrics of one item that have no data yet where the item reads them."""

    names: list[str]
    where: str  # "Greenhouse north (6b1f0f3a) / events.data"

    @property
    def confirmation(self) -> str:
        """The value a confirm checkbox posts for exactly these names in this place."""
        return f"{self.where}: {', '.join(self.names)}"


def _stored_names(form: forms.ModelForm) -> set[str]:
    """The metric names an item held before this edit, if it still reads the same place."""
    if not form.instance.pk:
        return set()
    before = form.initial
    place = ("channel_id", "subtopic", "publisher")
    if any(before.get(name, "") != form.cleaned_data.get(name, "") for name in place):
        return set()
    return {name.strip() for name in (before.get("target_value") or "").split(",")}


def _kept(formset: BaseInlineFormSet) -> list[forms.Form]:
    """The rows of a valid child formset that save() keeps (not removed, not blank)."""
    return [
        form
        for form in formset.forms
        if not form.cleaned_data.get("DELETE") and (form.instance.pk or form.has_changed())
    ]


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
            data,
            instance=self.instance,
            prefix="items",
            form_kwargs={"zone": self.zone, "options_cache": {}},
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

    def schedule_words(self) -> tuple[str, str]:
        """The schedule in words and its periodicity, validating the request form only
        (the live hint of the page); ``("", "")`` when one-time or incomplete."""
        with dj_timezone.override(zoneinfo.ZoneInfo(self.zone)):
            self.form.is_valid()
        words = self.form.schedule_words()
        return words, (self.form.cleaned_data.get("periodicity", "") if words else "")

    def error_summary(self) -> list[ErrorLink]:
        """Every error of the page, in page order, each linking to its field where it has one."""
        links: list[ErrorLink] = []

        def add_form(form: forms.Form, where: str) -> None:
            for message in form.non_field_errors():
                links.append(ErrorLink("", where, message))
            for bound in form:
                for message in bound.errors:
                    label = f"{where}, {bound.label}" if where else str(bound.label)
                    links.append(ErrorLink(bound.auto_id, label, message))

        add_form(self.form, "")
        for form in self.columns.forms:
            for message in [*form.non_field_errors(), *form["label"].errors]:
                column = form["column_id"].value()
                links.append(ErrorLink(form["label"].auto_id, f"Column {column}", message))
        for message in self.columns.non_form_errors():
            links.append(ErrorLink("", "Columns", message))
        for formset, legend in ((self.items, "Item"), (self.messages, "Notification")):
            for message in formset.non_form_errors():
                links.append(ErrorLink("", f"{legend}s", message))
            for number, form in enumerate(formset.forms, start=1):
                if getattr(form, "cleaned_data", {}).get("DELETE"):
                    continue  # a removed row's errors do not stop the save
                add_form(form, f"{legend} {number}")
        return links

    def spec(self) -> RequestSpec:
        """The edited request as unsaved, validated instances; call after ``is_valid``.

        What the preview runs: the same values ``save()`` would store, nothing written.
        """
        request = self.form.instance  # built from the cleaned data by is_valid()
        items = [form.instance for form in _kept(self.items)]
        for item in items:
            item.request = request
        columns = [
            ExportColumn(request=request, position=index, column_id=column_id, label=label)
            for index, (column_id, label) in enumerate(self.columns.chosen())
        ]
        messages = [form.instance for form in _kept(self.messages)]
        return RequestSpec(request=request, items=items, columns=columns, messages=messages)

    def unknown_metrics(self) -> list[UnknownMetrics]:
        """Per item, metrics the catalog never saw there; call after ``is_valid``.

        A name already stored on that item, at the same place, was confirmed when it was
        saved: only new names are asked about again.
        """
        found = []
        for form in _kept(self.items):
            item = form.instance
            names = catalog.unknown_metrics(
                item.channel_id, item.subtopic, item.metric_names, item.publisher
            )
            names = [name for name in names if name not in _stored_names(form)]
            if names:
                where = f"{catalog.channel_display(item.channel_id)} / {item.subtopic}"
                if item.publisher:
                    where += f" ({catalog.publisher_display(item.publisher)})"
                found.append(UnknownMetrics(names, where))
        return found

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
