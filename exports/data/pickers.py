"""The editor's pickers: what may be chosen for channel, subtopic, publisher and metrics.

Options come from the series catalog (``exports.data.catalog.series``), never from the message
table, and each field is narrowed by the ones before it: subtopics by the channel,
publishers by channel and subtopic, metrics by all three. The page serves them as
``<datalist>``/``<select>`` options, and ``catalog_series_json`` serves the same lists to the
type-ahead script.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Sum

from exports.data import catalog
from exports.data.access import ReadScope
from exports.models.catalog import Channel, Publisher, short_id

LIMIT = 200  # a picker is for choosing, not browsing: type to narrow beyond this
FIELDS = ("channel", "subtopic", "publisher", "name")


@dataclass(frozen=True)
class Option:
    """One choice: the value stored, what people read, a short detail line, and the human
    name alone (what the editor's field shows once a named channel is chosen; "" if none)."""

    value: str
    label: str
    detail: str = ""
    name: str = ""

    def as_json(self) -> dict[str, str]:
        return {"value": self.value, "label": self.label, "detail": self.detail, "name": self.name}


def local_time(instant: datetime, tz_name: str) -> str:
    """ "2026-11-30 06:37 CET": a catalog time as people read it, in the request's zone."""
    local = instant.astimezone(zoneinfo.ZoneInfo(tz_name))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def options(
    field: str,
    *,
    channel: str = "",
    subtopic: str = "",
    publisher: str = "",
    q: str = "",
    tz_name: str = "UTC",
    limit: int = LIMIT,
    scope: ReadScope,
) -> list[Option]:
    """The choices for ``field`` (one of ``FIELDS``) given what is already chosen, among what
    ``scope`` may read (a channel nobody granted is never offered, named or counted).

    Only the fields before ``field`` narrow it (a chosen metric does not hide channels).
    Raises ``ValueError`` for an unknown field.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown picker field {field!r}")
    before = FIELDS[: FIELDS.index(field)]
    narrowed = {
        "channel": channel.strip() if "channel" in before else "",
        "subtopic": subtopic.strip() if "subtopic" in before and subtopic.strip() else None,
        "publisher": publisher.strip() if "publisher" in before else "",
    }
    found = catalog.series(scope=scope, q=q.strip(), **narrowed).order_by()
    if field == "name":
        return _metric_options(found, tz_name, limit)
    values = list(found.order_by(field).values_list(field, flat=True).distinct()[:limit])
    if field == "channel":
        names = catalog.channel_names(values)
        return _named(values, names)
    if field == "publisher":
        names = catalog.publisher_names(values)
        return _named([value for value in values if value], names)
    return [Option(value, value) for value in values if value]


def resolve_name(field: str, typed: str, *, scope: ReadScope) -> str:
    """The id a typed ``channel`` or ``publisher`` stands for: ``typed`` itself when the
    catalog (as ``scope`` reads it) has that id, else the id of the one readable channel or
    publisher named ``typed`` (any case); ``typed`` unchanged when none or several are."""
    typed = typed.strip()
    if not typed or field not in ("channel", "publisher"):
        return typed
    readable = catalog.series(scope=scope)
    if readable.filter(**{field: typed}).exists():
        return typed
    model, key = (Channel, "channel_id") if field == "channel" else (Publisher, "publisher_id")
    named = model.objects.filter(name__iexact=typed).values_list(key, flat=True)
    found = list(
        readable.filter(**{f"{field}__in": named})
        .order_by(field)
        .values_list(field, flat=True)
        .distinct()[:2]
    )
    return found[0] if len(found) == 1 else typed


def distinct_prefixes(identifiers: list[str]) -> dict[str, str]:
    """Id → the short id people read (``short_id``, 8 characters), longer where two ids of
    the list share those first characters: as long as it takes to tell each from the rest."""
    ordered = sorted(set(identifiers))
    shown = {}
    for index, value in enumerate(ordered):
        short = short_id(value)
        if short == value:
            shown[value] = value
            continue
        shared = max(
            (
                _common(value, other)
                for other in ordered[max(0, index - 1) : index + 2]
                if other != value
            ),
            default=0,
        )
        shown[value] = value[: max(len(short), shared + 1)]
    return shown


def _common(one: str, other: str) -> int:
    """How many leading characters two strings share."""
    count = 0
    for left, right in zip(one, other, strict=False):
        if left != right:
            break
        count += 1
    return count


def _named(values: list[str], names: dict[str, str]) -> list[Option]:
    """Options labelled "name (short id)", each short id long enough to tell it apart."""
    prefixes = distinct_prefixes([value for value in values if value in names])
    found = [
        Option(value, f"{names[value]} ({prefixes[value]})", name=names[value])
        if value in names
        else Option(value, value)
        for value in values
    ]
    # Named ones first, by name; then bare ids: people look for "Greenhouse north".
    return sorted(found, key=lambda option: (option.value not in names, option.label.lower()))


def _metric_options(found, tz_name: str, limit: int) -> list[Option]:
    rows = (
        found.values("name")
        .annotate(last=Max("last_time"), unit=Max("unit"), points=Sum("count"))
        .order_by("name")[:limit]
    )
    result = []
    for row in rows:
        facts = [row["unit"]] if row["unit"] else []
        facts.append(f"last {local_time(row['last'], tz_name)}")
        points = row["points"]
        facts.append(f"{points:,} point" if points == 1 else f"{points:,} points")
        result.append(Option(row["name"], row["name"], " · ".join(facts)))
    return result
