"""Keeping the series catalog right, and reading it for pickers, preview and the API.

The catalog (``Series``, plus ``Channel`` and ``Publisher`` names) is maintained per stored
batch by :func:`record_messages` (model instances, through
:func:`exports.data.ingestion.store_messages`) or :func:`record_points` (the plain rows of
:func:`exports.data.ingestion.store_records`); both tally the batch the same way. Nothing here
scans the message table except :func:`rebuild`, the explicit repair behind ``manage.py
rebuildcatalog``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, models, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest, Least

from exports.data.access import ReadScope
from exports.models import Channel, Message, Publisher, Series
from exports.models.catalog import display_name

SeriesKey = tuple[str, str, str, str]  # channel, subtopic, publisher, name


@dataclass
class _Batch:
    """What one batch adds to one series."""

    count: int
    first: datetime
    last: datetime
    unit: str


def record_messages(messages: Sequence[Message]) -> None:
    """Fold a batch of just-stored messages into the catalog.

    One UPDATE (or INSERT) per distinct series of the batch, so the cost does not grow with the
    message table. Call it in the transaction that stored the messages: the catalog then
    commits or rolls back with them.
    """
    _record(
        _tally(((m.channel, m.subtopic, m.publisher, m.name), m.unit, m.time) for m in messages)
    )


def record_points(channel: str, subtopic: str, publisher: str, points: Iterable[Sequence]) -> None:
    """:func:`record_messages` for a batch of one origin stored as plain rows.

    Each point starts with its name, unit and time (a ``NormalisedRecord`` does), so a large
    ingest tallies its batch without building a message per row.
    """
    batches = _tally(points)
    _record({(channel, subtopic, publisher, name): batch for name, batch in batches.items()})


def _tally(points: Iterable[Sequence]) -> dict:
    """Count, first and last time, and the newest point's unit, per key of ``(key, unit,
    time, ...)`` points; among points at the same newest time the last one's unit wins."""
    batches = {}
    for point in points:
        key, time = point[0], point[2]
        seen = batches.get(key)
        if seen is None:
            batches[key] = _Batch(1, time, time, point[1])
            continue
        seen.count += 1
        if time < seen.first:
            seen.first = time
        if time >= seen.last:
            seen.last, seen.unit = time, point[1]
    return batches


def _record(batches: dict[SeriesKey, _Batch]) -> None:
    if not batches:
        return
    _name_rows(Channel, "channel_id", {key[0] for key in batches})
    _name_rows(Publisher, "publisher_id", {key[2] for key in batches})
    for key, batch in batches.items():
        _fold(key, batch)


def _fold(key: SeriesKey, batch: _Batch) -> None:
    channel, subtopic, publisher, name = key
    series = Series.objects.filter(
        channel=channel, subtopic=subtopic, publisher=publisher, name=name
    )
    first = Value(batch.first, output_field=models.DateTimeField())
    last = Value(batch.last, output_field=models.DateTimeField())
    changes = {
        "count": F("count") + batch.count,
        "first_time": Least("first_time", first),
        "last_time": Greatest("last_time", last),
        # The unit of the newest point wins (a device may be reconfigured).
        "unit": Case(When(last_time__lte=batch.last, then=Value(batch.unit)), default=F("unit")),
    }
    if series.update(**changes):
        return
    try:
        with transaction.atomic():  # a concurrent ingest may create the row first
            Series.objects.create(
                channel=channel,
                subtopic=subtopic,
                publisher=publisher,
                name=name,
                unit=batch.unit,
                count=batch.count,
                first_time=batch.first,
                last_time=batch.last,
            )
    except IntegrityError:
        series.update(**changes)


def _name_rows(model, field: str, identifiers: set[str]) -> None:
    """Make sure each id has a row whose name the admin can fill in."""
    known = set(model.objects.filter(**{f"{field}__in": identifiers}).values_list(field, flat=True))
    missing = [model(**{field: identifier}) for identifier in identifiers - known]
    if missing:
        model.objects.bulk_create(missing, ignore_conflicts=True)


def rebuild() -> int:
    """Recompute the whole catalog from the message table; returns the number of series.

    The one full scan, for repairs and for messages stored by other means. Names are kept.
    """
    grouped = (
        Message.objects.values("channel", "subtopic", "publisher", "name")
        .annotate(
            count=models.Count("id"),
            first_time=models.Min("time"),
            last_time=models.Max("time"),
        )
        .order_by()
    )
    rows = [Series(unit="", **row) for row in grouped.iterator(chunk_size=2000)]
    with transaction.atomic():
        Series.objects.all().delete()
        Series.objects.bulk_create(rows, batch_size=1000)
        for row in rows:
            # The unit of the newest point, one indexed lookup per series.
            unit = (
                Message.objects.filter(
                    channel=row.channel,
                    subtopic=row.subtopic,
                    name=row.name,
                    publisher=row.publisher,
                    time=row.last_time,
                )
                .values_list("unit", flat=True)
                .first()
            )
            if unit:
                Series.objects.filter(
                    channel=row.channel,
                    subtopic=row.subtopic,
                    publisher=row.publisher,
                    name=row.name,
                ).update(unit=unit)
        _name_rows(Channel, "channel_id", {row.channel for row in rows})
        _name_rows(Publisher, "publisher_id", {row.publisher for row in rows})
    return len(rows)


def series(
    *,
    scope: ReadScope,
    channel: str = "",
    subtopic: str | None = None,
    publisher: str = "",
    q: str = "",
) -> models.QuerySet[Series]:
    """The catalog narrowed by what is already chosen; ``q`` matches metric, channel or names.

    Only what ``scope`` may read (``exports.data.access.read_scope``) is in it: a series a user
    may not read is never named, counted or dated for them.
    """
    found = scope.filter(Series.objects.all())
    if channel:
        found = found.filter(channel=channel)
    if subtopic is not None:
        found = found.filter(subtopic=subtopic)
    if publisher:
        found = found.filter(publisher=publisher)
    if q:
        channel_ids = Channel.objects.filter(name__icontains=q).values("channel_id")
        publisher_ids = Publisher.objects.filter(name__icontains=q).values("publisher_id")
        found = found.filter(
            models.Q(name__icontains=q)
            | models.Q(channel__icontains=q)
            | models.Q(publisher__icontains=q)
            | models.Q(channel__in=channel_ids)
            | models.Q(publisher__in=publisher_ids)
        )
    return found


def channel_names(identifiers: Iterable[str] | None = None) -> dict[str, str]:
    """Channel id → human name (only named channels); all of them when ``identifiers`` is None."""
    rows = Channel.objects.exclude(name="")
    if identifiers is not None:
        rows = rows.filter(channel_id__in=set(identifiers))
    return dict(rows.values_list("channel_id", "name"))


def publisher_names(identifiers: Iterable[str] | None = None) -> dict[str, str]:
    """Publisher id → human name (only named publishers)."""
    rows = Publisher.objects.exclude(name="")
    if identifiers is not None:
        rows = rows.filter(publisher_id__in=set(identifiers))
    return dict(rows.values_list("publisher_id", "name"))


def channel_display(channel_id: str) -> str:
    """ "Greenhouse north (6b1f0f3a)" for a named channel, else the id."""
    return display_name(channel_names([channel_id]).get(channel_id, ""), channel_id)


def publisher_display(publisher_id: str) -> str:
    """ "Cold room 1 (a3c9e0d2)" for a named publisher, else the id."""
    return display_name(publisher_names([publisher_id]).get(publisher_id, ""), publisher_id)


def unknown_metrics(
    channel: str, subtopic: str, names: Iterable[str], publisher: str = "", *, scope: ReadScope
) -> list[str]:
    """The metric names the catalog has never seen on ``channel``/``subtopic`` (and publisher),
    as far as ``scope`` may read."""
    names = [name for name in names if name]
    known = set(
        series(scope=scope, channel=channel, subtopic=subtopic, publisher=publisher)
        .filter(name__in=names)
        .values_list("name", flat=True)
    )
    return [name for name in names if name not in known]
