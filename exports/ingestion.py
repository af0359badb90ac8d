"""Storing messages: the one function every ingest path calls, so the catalog stays right."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from datetime import datetime
from itertools import islice

from django.db import transaction
from django.utils import timezone

from .catalog import record_messages
from .models import Message
from .senml import NormalisedRecord

RECORD_FIELDS = tuple(field.name for field in fields(NormalisedRecord))


def store_messages(messages: list[Message]) -> None:
    """Insert a batch of messages and fold it into the series catalog, atomically."""
    with transaction.atomic():
        Message.objects.bulk_create(messages)
        record_messages(messages)


def store_records(
    records: Iterable[NormalisedRecord],
    origin: dict[str, str],
    *,
    batch_size: int = 5000,
    created: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Store resolved SenML records as messages of ``origin`` (channel, subtopic, publisher,
    protocol), all or nothing; returns how many were stored.

    ``on_batch`` is called with the running total after each batch. Any exception raised
    while iterating ``records`` rolls everything back.
    """
    created = created or timezone.now()
    stored = 0
    with transaction.atomic():
        for batch in _batches(records, batch_size):
            store_messages(
                [
                    Message(
                        **origin,
                        created=created,
                        **{name: getattr(record, name) for name in RECORD_FIELDS},
                    )
                    for record in batch
                ]
            )
            stored += len(batch)
            if on_batch is not None:
                on_batch(stored)
    return stored


def _batches(records: Iterable[NormalisedRecord], size: int) -> Iterator[list[NormalisedRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
