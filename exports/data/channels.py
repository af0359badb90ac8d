"""Channels by name, for managing access and for listing what a caller may read.

A channel is known when the catalog has a ``Channel`` row for it (its name), a series in it
(messages arrived), or a grant on it. The lists come from the small catalog tables, never
from the message table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count

from exports.data.access import ReadScope
from exports.models import Channel, ChannelGrant, Series


@dataclass
class ChannelRow:
    """One channel: id, name ("" when unnamed), how many series, and its grants."""

    channel_id: str
    name: str
    series: int = 0
    grants: list[ChannelGrant] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.name or self.channel_id


def known_channels() -> dict[str, str]:
    """Every known channel id with its name ("" when it has none)."""
    names = dict(Channel.objects.values_list("channel_id", "name"))
    seen = Series.objects.order_by().values_list("channel", flat=True).distinct()
    granted = ChannelGrant.objects.order_by().values_list("channel_id", flat=True).distinct()
    for channel_id in [*seen, *granted]:
        names.setdefault(channel_id, "")
    return names


def _sort_key(channel_id: str, name: str) -> tuple:
    """Named channels first, by name without regard to case; then the unnamed, by id."""
    return (not name, name.casefold(), channel_id)


def channel_rows() -> list[ChannelRow]:
    """Every known channel with its series count and grants (grantees loaded), by name."""
    per_channel = Series.objects.order_by().values("channel").annotate(n=Count("id"))
    counts = {row["channel"]: row["n"] for row in per_channel}
    rows = {
        channel_id: ChannelRow(channel_id, name, counts.get(channel_id, 0))
        for channel_id, name in known_channels().items()
    }
    for grant in ChannelGrant.objects.select_related("user", "group"):
        rows[grant.channel_id].grants.append(grant)
    return sorted(rows.values(), key=lambda row: _sort_key(row.channel_id, row.name))


def channel_grants(channel_id: str) -> list[ChannelGrant]:
    """The grants on one channel: whole-channel ones first, then by subtopic; teams first."""
    grants = ChannelGrant.objects.filter(channel_id=channel_id).select_related("user", "group")
    return sorted(
        grants,
        key=lambda g: (g.subtopic, g.group_id is None, g.grantee.casefold()),
    )


def subtopic_options(channel_id: str) -> list[str]:
    """The subtopics seen in ``channel_id`` and the prefixes they continue, sorted.

    ``events.data`` and ``events.alarms`` offer ``events``, ``events.alarms``, ``events.data``.
    """
    options = set()
    seen = Series.objects.filter(channel=channel_id).order_by().values_list("subtopic", flat=True)
    for subtopic in seen.distinct():
        parts = subtopic.split(".") if subtopic else []
        options.update(".".join(parts[: end + 1]) for end in range(len(parts)))
    return sorted(options)


def readable_channels(scope: ReadScope) -> list[dict]:
    """The channels ``scope`` reads something of: id, name and the readable subtopics seen.

    A subtopic of ``""`` stands for the messages published without one.
    """
    names = {
        channel_id: name
        for channel_id, name in known_channels().items()
        if scope.allows_channel(channel_id)
    }
    subtopics: dict[str, set[str]] = {channel_id: set() for channel_id in names}
    series = scope.filter(Series.objects.order_by())
    for channel_id, subtopic in series.values_list("channel", "subtopic").distinct():
        subtopics.setdefault(channel_id, set()).add(subtopic)
    ordered = sorted(names.items(), key=lambda item: _sort_key(*item))
    return [
        {"id": channel_id, "name": name, "subtopics": sorted(subtopics[channel_id])}
        for channel_id, name in ordered
    ]
