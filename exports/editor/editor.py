"""The request editor: one page that edits a request, its items, messages and columns.

Rules are not written here: the ModelForms run the models' field validators and
``clean()`` methods, and the column editor calls ``exports.requests.validation.check_columns``,
so the pages, the admin and the JSON schema refuse exactly the same input. The parts are in
``request`` (the request form), ``items``, ``messages`` and ``columns``; this module saves
them together.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import BaseInlineFormSet
from django.utils import timezone as dj_timezone

from exports.data import catalog
from exports.data.access import read_scope
from exports.data.typos import UnknownPlace, unknown_place
from exports.editor.columns import ColumnFormSet, column_rows
from exports.editor.items import ItemFormSet
from exports.editor.messages import MessageFormSet
from exports.editor.request import ExportRequestForm
from exports.models import ExportColumn, ExportRequest
from exports.requests.spec import RequestSpec
from exports.requests.validation import one_table_error, validate_timezone
from exports.requests.vocabulary import DEFAULT_COLUMNS, EDITOR_COLUMNS


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
    # Set when the channel or subtopic itself is unknown (then ``names`` is empty).
    place: UnknownPlace | None = None

    @property
    def confirmation(self) -> str:
        """The value a confirm checkbox posts for exactly these names in this place."""
        if self.place is not None:
            return f"{self.place.kind} {self.place.typed}"
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


def _stored_place(form: forms.ModelForm) -> bool:
    """True when the item was stored reading the same channel and subtopic (confirmed then)."""
    before = form.initial
    return bool(form.instance.pk) and all(
        before.get(name, "") == form.cleaned_data.get(name, "")
        for name in ("channel_id", "subtopic")
    )


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
        # The export runs as its owner: the pickers offer, and saving allows, what they read.
        self.scope = read_scope(self.instance.owner if self.instance.owner_id else owner)
        stored = [] if self.is_new else [(c.column_id, c.label) for c in instance.columns.all()]
        # A new request starts with names people read (Device, Channel); a saved one without
        # stored columns gets the defaults it exports with: show them as its columns.
        defaults = [(column_id, column_id) for column_id in DEFAULT_COLUMNS]
        self.initial_columns = list(EDITOR_COLUMNS) if self.is_new else stored or defaults

        self.form = ExportRequestForm(data, instance=self.instance, zone=self.zone)
        self.items = ItemFormSet(
            data,
            instance=self.instance,
            prefix="items",
            form_kwargs={
                "zone": self.zone,
                "options_cache": {},
                "owner": self.instance.owner if self.instance.owner_id else owner,
                "scope": self.scope,
            },
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
        if all(results):
            items = [form.instance for form in _kept(self.items)]
            data = self.form.cleaned_data
            if problem := one_table_error(data.get("template"), data.get("extension"), items):
                self.form.add_error("template", problem)
                return False
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
            number = 0  # counted as the page shows them: removed rows are hidden
            for form in formset.forms:
                if getattr(form, "cleaned_data", {}).get("DELETE"):
                    continue  # a removed row's errors do not stop the save
                number += 1
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
            if not _stored_place(form):
                # A channel or subtopic the catalog never saw (typed by name, mistyped):
                # asked about once, instead of every metric on it.
                place = unknown_place(item.channel_id, item.subtopic, scope=self.scope)
                if place is not None:
                    found.append(UnknownMetrics([], place.typed, place))
                    continue
            names = catalog.unknown_metrics(
                item.channel_id, item.subtopic, item.metric_names, item.publisher, scope=self.scope
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
