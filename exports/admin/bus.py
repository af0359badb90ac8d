"""The bus subscriber's dead letters: messages it received and did not store, and why.

Read-only, staff only (the admin); deleting is allowed, to clear what was looked into.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from exports.admin.base import ReadOnlyAdmin
from exports.models import BusDeadLetter

SHOWN_BYTES = 2000


@admin.register(BusDeadLetter)
class BusDeadLetterAdmin(ReadOnlyAdmin):
    list_display = ("received", "transport", "topic", "reason", "payload_size")
    list_filter = ("transport",)
    search_fields = ("topic", "reason")
    date_hierarchy = "received"
    fields = ("received", "transport", "topic", "reason", "payload_size", "payload_shown")
    readonly_fields = fields
    list_per_page = 100

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_staff and super(ReadOnlyAdmin, self).has_delete_permission(
            request, obj
        )

    @admin.display(description="payload (as text, truncated)")
    def payload_shown(self, obj: BusDeadLetter):
        data = bytes(obj.payload)[:SHOWN_BYTES]
        return format_html("<pre>{}</pre>", data.decode("utf-8", "backslashreplace"))
