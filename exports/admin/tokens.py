"""Access in the admin: API tokens (secrets are never shown again) and channel grants (who
may read and publish where)."""

from __future__ import annotations

from django.contrib import admin

from exports.data.catalog import channel_display
from exports.models import ApiToken, ChannelGrant


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
    list_display = ("channel", "subtopic", "grantee", "can_read", "can_publish", "created_at")
    list_filter = ("can_read", "can_publish")
    search_fields = ("=channel_id", "user__username", "group__name")
    autocomplete_fields = ("user", "group")
    readonly_fields = ("created_at",)
    fields = ("channel_id", "subtopic", "user", "group", "can_read", "can_publish", "created_at")
    list_select_related = ("user", "group")

    @admin.display(description="channel", ordering="channel_id")
    def channel(self, grant: ChannelGrant) -> str:
        return channel_display(grant.channel_id)

    @admin.display(description="to")
    def grantee(self, grant: ChannelGrant) -> str:
        return grant.grantee
