"""Export requests in the admin: their items, columns, messages and shares inline, run now."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from exports.admin.base import CheckedSelectionAdmin
from exports.admin.json_io import RequestJsonAdminMixin, download_json
from exports.models import (
    ExportColumn,
    ExportItem,
    ExportRequest,
    NotificationMessage,
    RequestShare,
)
from exports.queue.ondemand import QueueFull, run_now, start_one_time
from exports.requests import caps
from exports.requests.display import format_time
from exports.requests.validation import one_table_error
from exports.scheduling.words import describe_request_schedule


class CappedInline:
    """An inline holding at most ``cap()`` rows (``exports.requests.caps``), with its words."""

    cap = staticmethod(caps.max_items)
    too_many = staticmethod(caps.too_many_items)

    def get_max_num(self, request, obj=None, **kwargs) -> int:
        return self.cap()

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, validate_max=True, **kwargs)
        message = self.too_many()

        class Capped(formset):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.error_messages["too_many_forms"] = message

        Capped.__name__ = formset.__name__
        return Capped


class ExportItemFormSet(BaseInlineFormSet):
    """Refuses a ``tabular`` CSV, JSON or Parquet request whose items make two tables."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form.instance
            for form in self.forms
            if getattr(form, "cleaned_data", None) and not form.cleaned_data.get("DELETE")
        ]
        problem = one_table_error(self.instance.template, self.instance.extension, kept)
        if problem:
            raise ValidationError(problem)


class ExportItemInline(CappedInline, admin.StackedInline):
    """Items stacked, a few fields a line: thirteen fields in a table row do not fit 1280 px."""

    model = ExportItem
    formset = ExportItemFormSet
    extra = 0
    min_num = 1  # the JSON schema requires at least one item too
    fields = (
        ("target_value", "target_label"),
        ("channel_id", "subtopic", "publisher"),
        ("calendar_range", "period"),
        ("from_time", "to_time"),
        ("ds", "dsf", "transform"),
        ("output_format", "filename", "position"),
    )

    def get_formset(self, request, obj=None, **kwargs):
        # min_num alone only shows a blank form; validate_min refuses a request left empty.
        return super().get_formset(request, obj, validate_min=True, **kwargs)


class ExportColumnInline(CappedInline, admin.TabularInline):
    model = ExportColumn
    cap = staticmethod(caps.max_columns)
    too_many = staticmethod(caps.too_many_columns)
    extra = 0
    fields = ("position", "column_id", "label")


class NotificationMessageInline(CappedInline, admin.TabularInline):
    model = NotificationMessage
    cap = staticmethod(caps.max_messages)
    too_many = staticmethod(caps.too_many_messages)
    extra = 0
    fields = ("position", "policy", "medium", "target", "title", "text", "skip_empty", "attach")


class RequestShareInline(admin.TabularInline):
    """Whom the request is shared with: a user or a group (one of them), viewer or editor."""

    model = RequestShare
    extra = 0
    fields = ("user", "group", "role", "created_at")
    readonly_fields = ("created_at",)


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
class ExportRequestAdmin(RequestJsonAdminMixin, CheckedSelectionAdmin):
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
    inlines = (
        ExportItemInline,
        ExportColumnInline,
        NotificationMessageInline,
        RequestShareInline,
    )
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
                    "decimal_separator",
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
