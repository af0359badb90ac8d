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
from .senml import NormalisedRecord, SenMLError
from .validation import storable_text_error

RECORD_FIELDS = tuple(field.name for field in fields(NormalisedRecord))
ORIGIN_FIELDS = ("channel", "subtopic", "publisher", "protocol")


def origin_problems(origin: dict[str, str]) -> dict[str, str]:
    """What is wrong with an origin (channel, subtopic, publisher, protocol), by key.

    Empty when the message table can hold it: channel and publisher are required, and no
    value may be longer than its column or hold text no database can (a NUL, a surrogate).
    """
    problems = {}
    for key in ORIGIN_FIELDS:
        limit = Message._meta.get_field(key).max_length
        if len(origin.get(key, "")) > limit:
            problems[key] = f"is longer than {limit} characters."
        elif key in ("channel", "publisher") and not origin.get(key):
            problems[key] = "cannot be empty."
        elif reason := storable_text_error(origin.get(key, "")):
            # Say, a command-line argument that was not UTF-8 (it arrives holding surrogates).
            problems[key] = reason
    return problems


def checked_records(records: Iterable[NormalisedRecord]) -> Iterator[NormalisedRecord]:
    """The records, raising ``SenMLError`` (with the index) at any the table cannot hold."""
    limits = {name: Message._meta.get_field(name).max_length for name in ("name", "unit")}
    for index, record in enumerate(records):
        for name, limit in limits.items():
            if len(getattr(record, name)) > limit:
                raise SenMLError(index, f"the {name} is longer than {limit} characters.")
        yield record


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
