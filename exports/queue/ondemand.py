"""On-demand runs: the job of a one-time request, and "Run now" for any request.

Both create one job for the slot "now" (whole seconds, so a double click within a second
gets the same job back instead of a second one) in the caller's transaction, and hand it to
RQ only after that transaction commits: a rolled-back creation enqueues nothing.

Per-user cap: a user may have at most ``EXPORTS_MAX_QUEUED_PER_USER`` jobs waiting
(``notProcessed``, whether still in the database or already in RQ's queue); beyond that the
run is refused with :class:`QueueFull` (pages answer HTTP 429 with its message). Scheduled
slots of recurring requests count towards the cap but are never refused by it: refusing
them would drop slots, and the dispatcher already keeps a busy user from starving others.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from exports.models import ExportJob, ExportRequest, JobStatus
from exports.queue import conf
from exports.queue.dispatch import dispatch_quietly
from exports.scheduling.slots import Schedule
from exports.scheduling.windows import job_windows


class QueueFull(Exception):
    """The owner already has the maximum number of waiting exports (HTTP 429)."""

    message = "Maximum number of queued exports reached"

    def __init__(self, waiting: int, limit: int) -> None:
        super().__init__(self.message)
        self.waiting = waiting
        self.limit = limit

    @property
    def detail(self) -> str:
        """A longer explanation for people, next to the platform's short message."""
        return (
            f"You already have {self.waiting} exports waiting to run (at most {self.limit}). "
            "Try again when some of them have finished."
        )


def waiting_count(owner_id: int) -> int:
    """How many jobs of this user are waiting to run (``notProcessed``)."""
    return ExportJob.objects.filter(
        request__owner_id=owner_id, status=JobStatus.NOT_PROCESSED
    ).count()


def check_queue_room(owner_id: int) -> None:
    """Raise :class:`QueueFull` when the user cannot queue another export right now.

    Forms may call it to refuse early; :func:`run_now` checks again under a lock.
    """
    limit = conf.max_queued_per_user()
    waiting = waiting_count(owner_id)
    if waiting >= limit:
        raise QueueFull(waiting, limit)


def latest_period(request: ExportRequest, now: datetime) -> tuple[int, datetime] | None:
    """The most recent grid slot ``(k, slot)`` at or before ``now`` of a recurring request:
    the period the schedule last wrote (or would have). None for a one-time request and
    before the first slot."""
    if not request.is_recurring or not request.periodicity or request.period_start is None:
        return None
    schedule = Schedule.of(request)
    k = schedule.index_at_or_before(now)
    return (k, schedule.slot_at(k)) if k >= 1 else None


def run_now_windows(request: ExportRequest, now: datetime, *, up_to_now: bool = False) -> list:
    """The windows "Run now" pins: a recurring request's most recent scheduled period (the
    windows its last grid slot has), or with ``up_to_now`` those of an off-grid slot "now"."""
    latest = None if up_to_now else latest_period(request, now)
    if latest is None:
        return job_windows(request, now)
    k, slot = latest
    return job_windows(request, slot, k)


def run_now(
    request: ExportRequest, now: datetime | None = None, *, up_to_now: bool = False
) -> ExportJob:
    """Create a job of ``request`` for the slot "now" and hand it to RQ after commit.

    Works for one-time and recurring requests (paused ones too: it is an explicit action);
    a recurring request's job exports the most recent scheduled period — the windows of its
    last grid slot, what the schedule wrote or would have — or, with ``up_to_now``, the
    windows of an off-grid slot now (the last whole periodicity up to now). Call it after
    the request's items are saved, inside the same transaction when creating. Returns the
    job (the existing one on a repeat within the same second). Raises :class:`QueueFull`
    when the owner is at the cap; nothing is created then.
    """
    slot = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        # Lock the owner's row: two runs of one user at once cannot both pass the cap on
        # PostgreSQL (SQLite's IMMEDIATE transactions serialise all writers already).
        list(
            get_user_model()
            .objects.select_for_update()
            .filter(pk=request.owner_id)
            .values_list("pk", flat=True)
        )
        existing = ExportJob.objects.filter(request=request, slot=slot).first()
        if existing is not None:
            return existing
        check_queue_room(request.owner_id)
        windows = run_now_windows(request, slot, up_to_now=up_to_now)
        job = ExportJob(request=request, slot=slot, windows=windows)
        try:
            with transaction.atomic():
                job.save(force_insert=True)
        except IntegrityError:
            return ExportJob.objects.get(request=request, slot=slot)
        transaction.on_commit(dispatch_quietly)
    return job


def enqueue_one_time(request: ExportRequest, now: datetime | None = None) -> ExportJob:
    """Create and (after commit) enqueue the job of a new one-time request.

    Call it right after the request and its items are saved, in the creating transaction,
    so that :class:`QueueFull` rolls the creation back. Raises ``ValueError`` for a
    recurring request (the scheduler creates those jobs) and :class:`QueueFull`.
    """
    if request.is_recurring:
        raise ValueError("Recurring requests get their jobs from the scheduler.")
    return run_now(request, now)


def start_one_time(request: ExportRequest, now: datetime | None = None) -> ExportJob | None:
    """Queue the job of a one-time request that is due to run and has none yet.

    Every path that saves a request calls it (pages, admin add/change/import,
    ``createexport``), so a one-time request runs once as soon as it is saved unpaused — or
    when it is resumed — and a paused one is never queued. Call it in the saving
    transaction: :class:`QueueFull` then undoes the save. Returns the job, or None for a
    recurring, paused or already started request.
    """
    if request.is_recurring or request.paused or request.jobs.exists():
        return None
    return enqueue_one_time(request, now)


def set_paused(request: ExportRequest, paused: bool) -> None:
    """Pause or resume ``request`` in one transaction (one IAM update event if it changed).

    A one-time request created paused runs when it is resumed (:func:`start_one_time`);
    raises :class:`QueueFull` then, with nothing changed, when the owner is at the cap.
    """
    with transaction.atomic():
        if request.paused != paused:
            request.paused = paused
            request.save(update_fields=["paused", "updated_at"])
        start_one_time(request)
