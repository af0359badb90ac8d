"""What the admins share: actions that refuse a tampered selection, and read-only pages.

``notifications.admin`` uses them too.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from exports.requests.validation import validate_storable_text


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
