"""Django admin for the exports app.

Requests are edited with their items, columns and notification messages inline (Django
runs the whole change form in one transaction, so a save emits one IAM event). A request
can also be imported from, and downloaded as, its JSON shape: import goes through
``exports.requests.schema.parse_request``, the one validator. Messages, jobs and IAM events are
records of what happened, so their pages are read-only.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse

from exports.models import (
    ApiToken,
    Channel,
    ChannelGrant,
    ExportColumn,
    ExportItem,
    ExportJob,
    ExportRequest,
    IamEvent,
    JobStatus,
    Message,
    NotificationMessage,
    Publisher,
    Series,
)
from exports.queue.dispatch import dispatch_quietly
from exports.queue.ondemand import QueueFull, run_now, start_one_time
from exports.requests.display import format_time
from exports.requests.schema import (
    RequestSchemaError,
    decode_json,
    dump_request,
    parse_request,
    save_spec,
)
from exports.requests.validation import validate_storable_text
from exports.scheduling.words import describe_request_schedule


class CheckedSelectionAdmin(admin.ModelAdmin):
    """A ModelAdmin whose actions refuse a tampered selection instead of failing.

    Django filters the changelist by the posted ids as they come; an id that is not a
    valid primary key (``abc`` for a number, a NUL for PostgreSQL text) would be a 500.
    """

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                validate_storable_text(value)
                pk.run_validators(pk.to_python(value))  # the database's integer range too
        except ValidationError:
            self.message_user(
                request,
                "The selection holds an id that is not valid; nothing was done.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


class ReadOnlyAdmin(CheckedSelectionAdmin):
    """Browse and inspect rows that only the system writes."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- export requests -------------------------------------------------------------------------


class ExportItemInline(admin.StackedInline):
    """Items stacked, a few fields a line: thirteen fields in a table row do not fit 1280 px."""

    model = ExportItem
    extra = 0
    min_num = 1  # the JSON schema requires at least one item too
    fields = (
        ("target_value", "target_label"),
        ("channel_id", "subtopic", "publisher"),
        ("period", "from_time", "to_time"),
        ("ds", "dsf", "transform"),
        ("output_format", "filename", "position"),
    )

    def get_formset(self, request, obj=None, **kwargs):
        # min_num alone only shows a blank form; validate_min refuses a request left empty.
        return super().get_formset(request, obj, validate_min=True, **kwargs)


class ExportColumnInline(admin.TabularInline):
    model = ExportColumn
    extra = 0
    fields = ("position", "column_id", "label")


class NotificationMessageInline(admin.TabularInline):
    model = NotificationMessage
    extra = 0
    fields = ("position", "policy", "medium", "target", "title", "text", "skip_empty")


class ImportRequestForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        help_text="Who owns the imported request; empty means you.",
    )
    document = forms.CharField(
        label="Request JSON",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "false"}),
        help_text="One request object in the platform's JSON shape, or an array of them "
        "(as 'Download JSON' writes).",
    )

    def clean_document(self):
        try:
            return decode_json(self.cleaned_data["document"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from None


def _json_download(data, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.action(description="Download the selected requests as JSON")
def download_json(modeladmin, request, queryset) -> HttpResponse:
    requests = queryset.order_by("pk").prefetch_related("items", "columns", "messages")
    return _json_download([dump_request(r) for r in requests], "export-requests.json")


@admin.action(description="Run now (queue a job for the current slot)")
def run_now_action(modeladmin, request, queryset) -> None:
    queued = 0
    for export in queryset:
        try:
            run_now(export)
            queued += 1
        except QueueFull as exc:
            modeladmin.message_user(request, f"{export}: {exc.detail}", messages.WARNING)
        except ValidationError as exc:  # a schedule stored before today's rules
            modeladmin.message_user(
                request, f"{export}: cannot run: {' '.join(exc.messages)}", messages.ERROR
            )
    if queued:
        modeladmin.message_user(request, f"Queued {queued} export job(s).", messages.SUCCESS)


@admin.register(ExportRequest)
class ExportRequestAdmin(CheckedSelectionAdmin):
    list_display = (
        "name",
        "owner",
        "type",
        "extension",
        "schedule",
        "next_run",
        "paused",
        "created",
    )
    list_filter = (
        "type",
        "extension",
        "template",
        "paused",
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("name", "owner__username", "items__target_value", "items__channel_id")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    inlines = (ExportItemInline, ExportColumnInline, NotificationMessageInline)
    readonly_fields = ("schedule", "next_run", "created", "updated")
    fieldsets = (
        (None, {"fields": ("owner", "name", "type", "periodicity", "period_start", "paused")}),
        (
            "Format",
            {
                "fields": (
                    "extension",
                    "timezone",
                    "template",
                    "csv_delimiter",
                    "csv_bom",
                    "decimals",
                    "filename",
                )
            },
        ),
        ("Schedule", {"fields": ("schedule", "next_run", "created", "updated")}),
    )
    actions = (download_json, run_now_action)

    @admin.display(description="schedule", ordering="periodicity")
    def schedule(self, export: ExportRequest) -> str:
        return describe_request_schedule(export) if export.pk else "–"

    @admin.display(description="next run", ordering="next_run_at")
    def next_run(self, export: ExportRequest) -> str:
        return format_time(export.next_run_at, export.timezone) or "–"

    @admin.display(description="created", ordering="created_at")
    def created(self, export: ExportRequest) -> str:
        return format_time(export.created_at, export.timezone)

    @admin.display(description="updated")
    def updated(self, export: ExportRequest) -> str:
        return format_time(export.updated_at, export.timezone)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # Like the pages: an unpaused one-time request runs once, right after it is saved
        # (or when it is first saved unpaused).
        try:
            start_one_time(form.instance)
        except QueueFull as exc:
            self.message_user(request, f"Saved, but not queued: {exc.detail}", messages.WARNING)

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "import-json/",
                self.admin_site.admin_view(self.import_json_view),
                name=f"{prefix}_import_json",
            ),
            path(
                "<path:object_id>/json/",
                self.admin_site.admin_view(self.download_json_view),
                name=f"{prefix}_json",
            ),
            *super().get_urls(),
        ]

    def import_json_view(self, request: HttpRequest) -> HttpResponse:
        """Create requests from pasted JSON; on any error list it by path and save nothing."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportRequestForm(request.POST or None)
        schema_errors: dict[str, list[str]] = {}
        status = 200
        if request.method == "POST" and form.is_valid():
            owner = form.cleaned_data["owner"] or request.user
            document = form.cleaned_data["document"]
            specs, schema_errors = _parse_documents(document, owner)
            saved = []
            if not schema_errors:
                try:
                    saved = _import_specs(specs)
                except QueueFull as exc:
                    schema_errors, status = {"(queue)": [f"Nothing imported: {exc.detail}"]}, 429
            if saved:
                names = ", ".join(f"“{r.name}” (#{r.pk})" for r in saved)
                self.message_user(
                    request, f"Imported {len(saved)} request(s) for {owner}: {names}."
                )
                if len(saved) == 1:
                    url = reverse("admin:exports_exportrequest_change", args=[saved[0].pk])
                else:
                    url = reverse("admin:exports_exportrequest_changelist")
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import export requests from JSON",
            "form": form,
            # Pairs, not the dict: in a template, errors.items would look up an "items" path.
            "schema_errors": list(schema_errors.items()),
            "has_view_permission": self.has_view_permission(request),
        }
        return TemplateResponse(
            request, "admin/exports/exportrequest/import_json.html", context, status=status
        )

    def download_json_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such export request.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return _json_download(dump_request(obj), f"export-request-{obj.pk}.json")


def _import_specs(specs: list) -> list[ExportRequest]:
    """Save parsed requests in one transaction; each unpaused one-time request is queued, as
    when it is created on the pages. Raises ``QueueFull`` (nothing saved) at the owner's cap."""
    with transaction.atomic():
        saved = [save_spec(spec) for spec in specs]
        for export in saved:
            start_one_time(export)
    return saved


def _parse_documents(document, owner) -> tuple[list, dict[str, list[str]]]:
    """Parse one request or a list of them; errors of list entries are prefixed ``[i].``."""
    if isinstance(document, list):
        specs, errors = [], {}
        if not document:
            return [], {"(request)": ["The list holds no requests."]}
        for index, entry in enumerate(document):
            try:
                specs.append(parse_request(entry, owner=owner))
            except RequestSchemaError as exc:
                for where, reasons in exc.errors.items():
                    errors[f"[{index}].{where}"] = reasons
        return specs, errors
    try:
        return [parse_request(document, owner=owner)], {}
    except RequestSchemaError as exc:
        return [], exc.errors


# --- messages, jobs, IAM events (read-only) -------------------------------------------------


class _CatalogFilter(admin.SimpleListFilter):
    """An exact-match filter on one message field whose choices are read from the catalog."""

    def lookups(self, request, model_admin):
        values = Series.objects.order_by(self.parameter_name).values_list(
            self.parameter_name, flat=True
        )
        names = self.names()
        return [(value, names.get(value) or value) for value in dict.fromkeys(values)]

    def names(self) -> dict[str, str]:
        return {}

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.parameter_name: value}) if value else queryset


class ChannelFilter(_CatalogFilter):
    title = parameter_name = "channel"

    def names(self):
        return {c.channel_id: str(c) for c in Channel.objects.all()}


class PublisherFilter(_CatalogFilter):
    title = parameter_name = "publisher"

    def names(self):
        return {p.publisher_id: str(p) for p in Publisher.objects.all()}


class NameFilter(_CatalogFilter):
    title = parameter_name = "name"


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = (
        "time",
        "channel",
        "subtopic",
        "publisher",
        "name",
        "value",
        "string_value",
        "bool_value",
        "sum",
        "unit",
        "protocol",
    )
    # Filter choices come from the series catalog: a field filter would run a DISTINCT over
    # the whole message table on every page load.
    list_filter = (ChannelFilter, PublisherFilter, NameFilter)
    search_fields = ("=publisher", "=name", "=channel")
    date_hierarchy = "time"
    ordering = ("-time", "-id")
    list_per_page = 100
    # Counting every message on each page load is the slow part on a big table.
    show_full_result_count = False


# --- the series catalog: names are editable, series are kept by ingest -------------------


@admin.register(Channel)
class ChannelAdmin(CheckedSelectionAdmin):
    list_display = ("channel_id", "name")
    list_editable = ("name",)
    search_fields = ("channel_id", "name")
    readonly_fields = ("channel_id",)

    def has_add_permission(self, request):
        return False  # channels appear when their first messages are stored


@admin.register(Publisher)
class PublisherAdmin(ChannelAdmin):
    list_display = ("publisher_id", "name")
    search_fields = ("publisher_id", "name")
    readonly_fields = ("publisher_id",)


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ("name", "unit", "channel", "subtopic", "publisher", "count", "last_time")
    search_fields = ("name", "=channel", "=publisher", "subtopic")
    ordering = ("channel", "subtopic", "name", "publisher")


@admin.action(description="Retry the selected failed jobs")
def retry_jobs(modeladmin, request, queryset) -> None:
    # Same slot and pinned windows, so the file comes out the same; attempts keep counting
    # so the new RQ job gets a fresh id.
    from django.db.models import Q

    from exports.queue.lifecycle import requeue

    failed = Q(status=JobStatus.FAILED)
    retried = sum(requeue(job, expect=failed) for job in queryset.filter(failed))
    dispatch_quietly()
    modeladmin.message_user(request, f"Queued {retried} failed job(s) again.", messages.SUCCESS)


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "request",
        "run_for",
        "status_words",
        "row_count",
        "empty_reason",
        "file_size",
        "attempts",
        "started",
        "finished",
    )
    list_filter = ("status",)
    actions = (retry_jobs,)
    search_fields = ("=id", "request__name", "rq_job_id")
    list_select_related = ("request",)
    date_hierarchy = "slot"
    show_full_result_count = False

    @admin.display(description="size", ordering="size")
    def file_size(self, job: ExportJob) -> str:
        return filesizeformat(job.size) if job.size is not None else "–"

    # Job times read as on the pages: in the request's time zone, with the zone.
    @admin.display(description="run for", ordering="slot")
    def run_for(self, job: ExportJob) -> str:
        return format_time(job.slot, job.request.timezone)

    @admin.display(description="status", ordering="status")
    def status_words(self, job: ExportJob) -> str:
        return job.status_label

    @admin.display(description="started", ordering="started_at")
    def started(self, job: ExportJob) -> str:
        return format_time(job.started_at, job.request.timezone) or "–"

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, job: ExportJob) -> str:
        return format_time(job.finished_at, job.request.timezone) or "–"


@admin.register(IamEvent)
class IamEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "action", "resource", "actor_name", "published_at")
    list_filter = ("action", ("published_at", admin.EmptyFieldListFilter))
    search_fields = ("=resource", "actor_name")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


# --- the API: tokens (secrets are never shown again) and who may publish where ------------


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "expires_at", "last_used_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "user__username")
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    exclude = ("secret_hash",)

    def has_add_permission(self, request):
        return False  # issued on the tokens page or by `manage.py apitoken`: the secret shows once


@admin.register(ChannelGrant)
class ChannelGrantAdmin(admin.ModelAdmin):
    list_display = ("channel_id", "user", "created_at")
    search_fields = ("=channel_id", "user__username")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)
