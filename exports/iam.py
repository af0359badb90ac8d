"""IAM events: one per create/update/delete of an export request, emitted after commit.

Changes to a request and to its children inside one transaction are collected
into a batch; when the transaction commits, each touched request yields exactly
one ``IamEvent`` outbox row (create wins over update; delete wins over both).
The rows are then published to a Redis stream by a job on the ``default`` queue;
a row whose publish failed keeps ``published_at`` empty and is retried by
``publish_pending_events`` (the ``publishevents`` command and the scheduler tick).
A rolled-back transaction discards its batch, so it emits nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

log = logging.getLogger(__name__)
_local = threading.local()

CREATE, UPDATE, DELETE = "create", "update", "delete"
_RANK = {UPDATE: 0, CREATE: 1, DELETE: 2}


# --- who is acting -------------------------------------------------------------------------


class ActorMiddleware:
    """Remember the logged-in user of the current web request as the IAM actor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        with acting_as(user if user is not None and user.is_authenticated else None):
            return self.get_response(request)


@contextlib.contextmanager
def acting_as(user) -> Iterator[None]:
    """Attribute IAM events emitted inside the block to ``user`` (commands, jobs)."""
    previous = getattr(_local, "actor", None)
    _local.actor = user
    try:
        yield
    finally:
        _local.actor = previous


def current_actor():
    return getattr(_local, "actor", None)


# --- collecting changes per transaction ----------------------------------------------------


@dataclass
class _Batch:
    actor: object
    changes: dict[int, str] = field(default_factory=dict)
    created: set[int] = field(default_factory=set)
    snapshots: dict[int, dict] = field(default_factory=dict)
    # Who changed each request (the first actor seen for it in the transaction).
    actors: dict[int, object] = field(default_factory=dict)

    def flush(self) -> None:
        _local.batch = None
        _record_events(self)


def _open_batch() -> _Batch:
    """The batch of the current transaction, opening one if needed.

    A batch is alive while its ``flush`` is still queued in the connection's
    on-commit callbacks; after a commit (it ran) or a rollback (it was dropped)
    a new one is started. Outside a transaction (autocommit) every change is its
    own batch, flushed by ``note_change`` at once.
    """
    batch: _Batch | None = getattr(_local, "batch", None)
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block:
        return _Batch(actor=current_actor())
    queued = batch is not None and any(
        callback == batch.flush for _, callback, *_ in connection.run_on_commit
    )
    if not queued:
        batch = _Batch(actor=current_actor())
        _local.batch = batch
        transaction.on_commit(batch.flush)
    return batch


def note_change(request_id: int, operation: str, snapshot: dict | None = None) -> None:
    """Record that a request was created, updated or deleted in this transaction."""
    batch = _open_batch()
    if operation == CREATE:
        batch.created.add(request_id)
    previous = batch.changes.get(request_id)
    if previous is None or _RANK[operation] > _RANK[previous]:
        batch.changes[request_id] = operation
    if snapshot is not None:
        batch.snapshots[request_id] = snapshot
    if batch.actor is None:
        batch.actor = current_actor()
    batch.actors.setdefault(request_id, current_actor() or batch.actor)
    if not connections[DEFAULT_DB_ALIAS].in_atomic_block:
        _record_events(batch)  # autocommit: the change is already committed


def _record_events(batch: _Batch) -> None:
    from exports.models import ExportRequest, IamEvent
    from exports.requests.dump import dump_request

    events = []
    for request_id, operation in batch.changes.items():
        actor = batch.actors.get(request_id) or batch.actor
        if operation == DELETE and request_id in batch.created:
            continue  # created and deleted in one transaction: nothing ever existed
        if operation == DELETE:
            snapshot = batch.snapshots.get(request_id, {"id": request_id})
        else:
            request = (
                ExportRequest.objects.filter(pk=request_id)
                .prefetch_related("items", "columns", "messages", "shares__user", "shares__group")
                .first()
            )
            if request is None:
                continue
            snapshot = dump_request(request)
        events.append(
            IamEvent(
                operation=f"export_request.{operation}",
                action=f"exporter:exports:{operation}",
                resource=f"exporter:exports:{request_id}",
                actor=actor if getattr(actor, "pk", None) else None,
                actor_name=getattr(actor, "username", "") or "system",
                occurred_at=timezone.now(),
                snapshot=_jsonable(snapshot),
            )
        )
    if not events:
        return
    IamEvent.objects.bulk_create(events)
    enqueue_publish()


def _jsonable(snapshot: dict) -> dict:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(snapshot, cls=DjangoJSONEncoder))


# --- downloads ---------------------------------------------------------------------------


def record_download(job, actor, via: str) -> None:
    """Record one ``exporter:exports:download`` event: ``actor`` got ``job``'s file.

    ``via`` says through which interface (``page``, ``api``). Published like the other
    events, after the surrounding transaction (if any) commits.
    """
    from exports.models import IamEvent

    IamEvent.objects.create(
        operation="export_request.download",
        action="exporter:exports:download",
        resource=f"exporter:exports:{job.request_id}",
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "system",
        occurred_at=timezone.now(),
        snapshot={"job": job.pk, "slot": job.slot.isoformat(), "via": via},
    )
    transaction.on_commit(enqueue_publish)


# --- publishing ----------------------------------------------------------------------------


def enqueue_publish() -> None:
    """Ask a worker to publish the outbox; if Redis is down the rows wait for a retry."""
    import django_rq

    from exports.queue.namespace import queue_name, redis_client

    try:
        queue = django_rq.get_queue(queue_name("default"), connection=redis_client("default"))
        queue.enqueue(publish_pending_events)
    except Exception as exc:  # noqa: BLE001 - the outbox keeps the events; log and go on
        log.warning("IAM events stay in the outbox: could not enqueue publisher: %s", exc)


def publish_pending_events(limit: int = 500) -> int:
    """Publish unpublished outbox rows, oldest first, to the IAM Redis stream.

    Returns how many were published. A row is marked published only after
    ``XADD`` succeeded; a failure records the error and leaves it for next time.
    Rows are claimed with a compare-and-set so two publishers never send one twice.
    """
    import django_rq

    from exports.models import IamEvent
    from exports.queue.namespace import queue_name, redis_key

    connection = django_rq.get_connection(queue_name("default"))
    # Namespaced like every key of ours: installations sharing a Redis keep separate streams.
    stream = redis_key(settings.IAM_EVENTS_STREAM)
    published = 0
    for event in IamEvent.objects.filter(published_at__isnull=True).order_by("id")[:limit]:
        claimed = IamEvent.objects.filter(
            pk=event.pk, published_at__isnull=True, publish_attempts=event.publish_attempts
        ).update(publish_attempts=event.publish_attempts + 1)
        if not claimed:
            continue
        try:
            stream_id = connection.xadd(
                stream,
                event.as_payload(),
                maxlen=settings.IAM_EVENTS_STREAM_MAXLEN,
                approximate=True,
            )
        except Exception as exc:  # noqa: BLE001 - keep the row for the next attempt
            IamEvent.objects.filter(pk=event.pk).update(last_error=str(exc)[:2000])
            log.warning("IAM event %s not published: %s", event.pk, exc)
            break
        IamEvent.objects.filter(pk=event.pk).update(
            published_at=timezone.now(),
            stream_id=stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id),
            last_error="",
        )
        published += 1
    return published


# --- signal receivers (connected in ExportsConfig.ready) ----------------------------------


def on_request_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    note_change(instance.pk, CREATE if created else UPDATE)


def on_request_deleting(sender, instance, **kwargs) -> None:
    from exports.requests.dump import dump_request

    note_change(instance.pk, DELETE, snapshot=dump_request(instance))


def on_child_changed(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.request_id is None:
        return
    note_change(instance.request_id, UPDATE)


# --- access: grants and teams --------------------------------------------------------------


def record_access_event(operation: str, action: str, resource: str, snapshot: dict) -> None:
    """One outbox row for a change of who may read or publish (grants, team members).

    Written in the caller's transaction (a rollback discards it) and published after commit.
    """
    from exports.models import IamEvent

    actor = current_actor()
    IamEvent.objects.create(
        operation=operation,
        action=action,
        resource=resource,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "system",
        occurred_at=timezone.now(),
        snapshot=_jsonable(snapshot),
    )
    transaction.on_commit(enqueue_publish)


def _grant_snapshot(grant) -> dict:
    return {
        "id": grant.pk,
        "channel": grant.channel_id,
        "subtopic": grant.subtopic,
        "user": grant.user.username if grant.user_id else None,
        "group": grant.group.name if grant.group_id else None,
        "read": grant.can_read,
        "publish": grant.can_publish,
    }


def on_grant_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    operation = "create" if created else "update"
    record_access_event(
        f"channel_grant.{operation}",
        f"exporter:channels:grant.{operation}",
        f"exporter:channels:{instance.channel_id}",
        _grant_snapshot(instance),
    )


def on_grant_deleting(sender, instance, **kwargs) -> None:
    """Load the grantee now: when a team or a user is deleted, the cascade may delete it
    before its grants, and the grants' delete events must still say who held them."""
    _ = instance.user, instance.group


def on_grant_deleted(sender, instance, **kwargs) -> None:
    record_access_event(
        "channel_grant.delete",
        "exporter:channels:grant.delete",
        f"exporter:channels:{instance.channel_id}",
        _grant_snapshot(instance),
    )


def on_group_members_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A user joined or left a team (either side of the many-to-many may be edited)."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action != "post_clear" and not pk_set:
        return  # adding members who were in already changes nothing
    from django.contrib.auth.models import Group

    if reverse:  # group.user_set.add(...): instance is the group
        groups, users = [instance], list(model.objects.filter(pk__in=pk_set or ()))
    else:  # user.groups.add(...): instance is the user
        groups, users = list(Group.objects.filter(pk__in=pk_set or ())), [instance]
    change = {"post_add": "add", "post_remove": "remove", "post_clear": "clear"}[action]
    for group in groups:
        record_access_event(
            f"group.members.{change}",
            f"exporter:groups:members.{change}",
            f"exporter:groups:{group.pk}",
            {"group": group.name, "users": sorted(u.get_username() for u in users)},
        )


def on_group_changed(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    operation = "create" if created else "update"
    record_access_event(
        f"group.{operation}",
        f"exporter:groups:{operation}",
        f"exporter:groups:{instance.pk}",
        {"group": instance.name},
    )


def on_group_deleted(sender, instance, **kwargs) -> None:
    record_access_event(
        "group.delete",
        "exporter:groups:delete",
        f"exporter:groups:{instance.pk}",
        {"group": instance.name},
    )
