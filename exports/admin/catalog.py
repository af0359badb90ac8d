"""Stored messages and the series catalog: messages are read-only, channel and publisher
names are editable, series are kept by ingest."""

from __future__ import annotations

from django.contrib import admin

from exports.admin.base import CheckedSelectionAdmin, ReadOnlyAdmin
from exports.models import Channel, Message, Publisher, Series


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
