"""Storing a batch of decoded bus messages exactly once, in one transaction.

:func:`store_batch` takes the messages of one batch and, in one transaction: claims each
message's natural key in ``BusMessageKey`` (a key already there means a redelivery: the
message is skipped), stores the records of the new, well-formed, publishable messages through
``exports.data.ingestion.store_records`` (binary ``COPY`` on PostgreSQL, the series catalog
tallied per origin), and keeps the rest as dead letters. The caller acknowledges the batch to
the broker only after this returns: a crash before the commit stores nothing and the broker
redelivers everything; a crash after it, before the acks, makes the broker redeliver messages
whose keys are now taken.

Publishing rule (``SUBSCRIBER_PUBLISH_RULE``): ``grants`` (the default) stores a message only
when some publish grant (to any user or team) covers its channel and subtopic — the same grants
that let people publish over HTTP; a channel nobody may publish to is refused, its messages
dead letters. ``any`` trusts the broker's own authentication and stores every channel.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from exports.data.access import publishable_anywhere
from exports.data.bus.decoding import Decoded, Incoming
from exports.data.ingestion import store_records
from exports.models import BusDeadLetter, BusMessageKey

log = logging.getLogger("exports.bus")

DEAD_PAYLOAD_LIMIT = 16 * 1024  # bytes of a dead letter's payload kept
LOG_PAYLOAD_LIMIT = 120  # bytes of a refused payload shown in its log line
GRANTS, ANY = "grants", "any"


@dataclass
class BatchResult:
    """What one batch came to: counts of messages, and records stored."""

    stored: int = 0  # messages stored
    records: int = 0
    duplicates: int = 0
    malformed: int = 0
    refused: int = 0


def store_batch(
    batch: list[tuple[Incoming, Decoded]], *, rule: str = GRANTS, dead_letters: int = 10000
) -> BatchResult:
    """Store ``batch`` once (see the module docstring). Raises database errors only."""
    result = BatchResult()
    now = timezone.now()
    with transaction.atomic():
        fresh_keys = _claim({decoded.key for _, decoded in batch}, now)
        if rule == GRANTS:
            # The channels of the whole batch (duplicates too: one query either way).
            channels = {d.origin["channel"] for _, d in batch if d.origin and not d.reason}
            publishable = publishable_anywhere(channels)
        else:
            publishable = None
        # Records per origin (by value); a stream's messages share their topic's origin
        # dict, so it is looked up by identity first.
        groups: dict[tuple, list] = {}
        by_identity: dict[int, list] = {}
        verdicts: dict[tuple[str, str], bool] = {}  # publishable, per channel and subtopic
        dead = []
        for message, decoded in batch:
            key = decoded.key
            if key not in fresh_keys:
                result.duplicates += 1
                continue
            fresh_keys.discard(key)  # a second copy in this batch is a duplicate
            reason = decoded.reason
            if reason:
                result.malformed += 1
            elif publishable is not None:
                channel, subtopic = decoded.origin["channel"], decoded.origin["subtopic"]
                allowed = verdicts.get((channel, subtopic))
                if allowed is None:
                    allowed = verdicts[channel, subtopic] = publishable(channel, subtopic)
                if not allowed:
                    reason = f"refused: nobody may publish to channel {channel!r}"
                    reason += f" subtopic {subtopic!r}." if subtopic else "."
                    result.refused += 1
            if reason:
                dead.append(_dead_letter(message, reason, now))
                continue
            origin = decoded.origin
            records = by_identity.get(id(origin))
            if records is None:
                records = groups.setdefault(tuple(origin.items()), [])
                by_identity[id(origin)] = records
            records.extend(decoded.records)
            result.stored += 1
        for origin, records in groups.items():
            result.records += store_records(records, dict(origin), created=now)
        if dead:
            BusDeadLetter.objects.bulk_create(dead)
            _trim_dead_letters(dead_letters)
    return result


def _claim(keys: set[str], now) -> set[str]:
    """Insert the keys not yet taken, in bulk; the set of those this call inserted.

    ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING key``: one statement for the batch,
    which both claims the new keys and tells them apart from the taken ones. The keys go as
    one text parameter, in sorted order: comma-separated on PostgreSQL (``string_to_array``;
    Django's cursor would spell a list out element by element, 17 ms for 5000 keys, more than
    the server's work with them), a JSON array on SQLite (``json_each``). Sorted, the index is
    walked once in order, and two subscribers claiming overlapping batches take their row
    locks in the same order. On PostgreSQL a key another subscriber is inserting makes this
    wait for its commit (then it is taken) or its rollback (then it is ours), so two
    subscribers never both store a message; and the usual batch, with no key taken, is first
    tried with a plain ``COPY`` (:func:`_copy_keys`). SQLite has one writer at a time.
    """
    if not keys:
        return set()
    connection = connections[router.db_for_write(BusMessageKey)]
    ordered = sorted(keys)
    if connection.vendor == "postgresql" and _copy_keys(connection, ordered, now):
        return keys
    quote = connection.ops.quote_name
    table = quote(BusMessageKey._meta.db_table)
    stamp = connection.ops.adapt_datetimefield_value(now)
    head = f"INSERT INTO {table} ({quote('key')}, {quote('received')})"
    tail = f" ON CONFLICT ({quote('key')}) DO NOTHING RETURNING {quote('key')}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            source = "SELECT unnest(string_to_array(%s, ',')), %s"  # hex keys: no comma
            cursor.execute(f"{head} {source}{tail}", [",".join(ordered), stamp])
        else:
            # "WHERE true": an upsert's SELECT needs a WHERE clause to parse (SQLite docs).
            source = "SELECT value, %s FROM json_each(%s) WHERE true"
            cursor.execute(f"{head} {source}{tail}", [stamp, json.dumps(ordered)])
        return {row[0] for row in cursor.fetchall()}


def _copy_keys(connection, ordered: list[str], now) -> bool:
    """Insert every key of ``ordered`` by binary ``COPY`` (PostgreSQL), in a savepoint: True
    when none was taken. A taken key fails it on the primary key (a key another subscriber
    is inserting, once that one commits): the savepoint is rolled back, nothing of the COPY
    stays, and :func:`_claim` claims the batch key by key with ``ON CONFLICT``. A speculative
    insert costs the server about twice a plain one, and a batch with a taken key is rare
    (a redelivery after a crash, a restart or a lost ack)."""
    quote = connection.ops.quote_name
    table = quote(BusMessageKey._meta.db_table)
    sql = f"COPY {table} ({quote('key')}, {quote('received')}) FROM STDIN (FORMAT BINARY)"
    try:
        with (
            transaction.atomic(using=connection.alias),
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.cursor.copy(sql) as copy,
        ):
            copy.set_types(["varchar", "timestamptz"])
            for key in ordered:
                copy.write_row((key, now))
    except IntegrityError:
        return False
    return True


def _dead_letter(message: Incoming, reason: str, now) -> BusDeadLetter:
    shown = message.payload[:LOG_PAYLOAD_LIMIT]
    more = "…" if len(message.payload) > LOG_PAYLOAD_LIMIT else ""
    log.warning(
        "bus message not stored: %s %s: %s payload=%r%s",
        message.transport,
        message.topic,
        reason,
        shown,
        more,
    )
    return BusDeadLetter(
        received=now,
        transport=message.transport,
        topic=message.topic[:512],
        reason=reason,
        payload=message.payload[:DEAD_PAYLOAD_LIMIT],
        payload_size=len(message.payload),
    )


def _trim_dead_letters(keep: int) -> None:
    """Keep the newest ``keep`` dead letters."""
    oldest_kept = BusDeadLetter.objects.order_by("-id").values_list("id", flat=True)[keep - 1 :][:1]
    if oldest_kept:
        BusDeadLetter.objects.filter(id__lt=oldest_kept[0]).delete()


def prune_keys(window: timedelta) -> int:
    """Forget the keys of messages received longer than ``window`` ago; how many went."""
    deleted, _ = BusMessageKey.objects.filter(received__lt=timezone.now() - window).delete()
    return deleted
