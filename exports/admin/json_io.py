"""Export requests as JSON in the admin: import (pasted JSON, through ``parse_request``, the
one validator) and download (one request, or the selected ones)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from exports.models import ExportRequest
from exports.queue.ondemand import QueueFull, start_one_time
from exports.requests.dump import dump_request
from exports.requests.json_values import decode_json
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec


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
    requests = queryset.order_by("pk").prefetch_related(
        "items", "columns", "messages", "shares__user", "shares__group"
    )
    return _json_download([dump_request(r) for r in requests], "export-requests.json")


class RequestJsonAdminMixin:
    """The JSON import page and the one-request JSON download of the request admin."""

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
