"""The API in the admin: tokens (secrets are never shown again) and who may publish where."""

from __future__ import annotations

from django.contrib import admin

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
    list_display = ("channel_id", "user", "created_at")
    search_fields = ("=channel_id", "user__username")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at",)
