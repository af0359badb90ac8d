"""Creating the jobs of due recurring requests, exactly once per (request, slot).

A recurring, unpaused request carries ``next_run_at``: its oldest slot that has no job yet.
:func:`schedule_due` finds requests whose ``next_run_at`` has passed, plans their jobs, and
claims them a chunk at a time, in one transaction per chunk: lock the rows
(``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's IMMEDIATE transactions exclude
other writers), keep those whose ``next_run_at`` and schedule fields are still as read (a
compare-and-set on the locked rows), move their ``next_run_at`` past now, and insert their
jobs. Two or more schedulers ticking at once therefore never create a job twice: a row
another scheduler holds is skipped, one it has advanced no longer matches. The unique
constraint on (request, slot) is the backstop: a slot that already has a job (say a "Run
now" that landed exactly on it) is logged and left alone. Claiming a chunk costs two
statements however many requests it holds, which is what makes 10,000 due requests cheap.

Misfires (scheduler stopped, machine off): all missed slots are handled oldest first. The
latest ``EXPORTS_MAX_CATCHUP`` of them become jobs; older ones are recorded as ``skipped``
jobs carrying the reason, so none disappears silently. Skipped rows are written at most
``SKIP_BATCH`` per request per tick (a year of PT1M is half a million of them); the rest
follow in the next ticks, and the catch-up jobs are created once the skipped ones are done.

Flood guard: however many requests a user has, at most ``EXPORTS_MAX_SCHEDULED_PER_USER``
of their scheduled jobs wait at once. After a tick that created jobs,
:func:`skip_beyond_user_cap` records the oldest waiting slots beyond that cap as ``skipped``
with the reason (newest kept: the freshest data is what people wait for), so no schedule can
fill the queue faster than workers empty it.

``next_run_at`` is maintained when a request is saved (see ``signals.py``): it is kept while
the schedule fields are unchanged; it is recomputed to the first slot after now when the
type, periodicity, period start, timezone or paused flag changes. Pausing clears it, so no
slot is created while paused, and nothing is recorded for the paused interval; resuming
continues from the first slot after the moment of resuming.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from exports.models import ExportJob, ExportRequest, JobStatus
from exports.queue import lifecycle
from exports.requests.vocabulary import RequestType
from exports.scheduling import conf
from exports.scheduling.slots import Schedule
from exports.scheduling.windows import job_windows

log = logging.getLogger(__name__)

# The fields that define when a request runs; a change to any of them moves next_run_at.
SCHEDULE_FIELDS = ("type", "periodicity", "period_start", "timezone", "paused")
SKIP_BATCH = 5000
_SCHEDULE_ERRORS = (ValueError, ValidationError, zoneinfo.ZoneInfoNotFoundError, OverflowError)


@dataclass(frozen=True)
class CatchUp:
    """What one tick does for one request: slot indexes to skip, to run, and what is next."""

    skip: range
    run: range
    next_k: int
    missed: int  # all due slots, including those left for later ticks


def plan_catchup(
    schedule: Schedule,
    next_run_at: datetime,
    now: datetime,
    cap: int,
    skip_batch: int | None = None,
) -> CatchUp:
    """Split the slots due between ``next_run_at`` and ``now`` (both included).

    The latest ``cap`` slots run; older ones are skipped, at most ``skip_batch`` of them in
    this tick (then nothing runs yet and ``next_k`` points at the first slot still to skip).
    ``skip_batch`` defaults to the module's ``SKIP_BATCH``.
    """
    skip_batch = SKIP_BATCH if skip_batch is None else skip_batch
    first = max(schedule.index_at_or_after(next_run_at), 1)
    last = schedule.index_at_or_before(now)
    missed = max(0, last - first + 1)
    run_from = max(first, last - cap + 1)
    if run_from - first > skip_batch:
        return CatchUp(range(first, first + skip_batch), range(0), first + skip_batch, missed)
    return CatchUp(range(first, run_from), range(run_from, last + 1), max(last + 1, first), missed)


@dataclass
class ScheduleResult:
    requests: int = 0  # requests whose due slots this scheduler claimed
    created: int = 0  # jobs created to run
    skipped: int = 0  # slots recorded as skipped jobs
    lost: int = 0  # requests another scheduler (or an edit) claimed first
    duplicates: int = 0  # slots that already had a job (unique constraint)
    errors: int = 0  # requests whose schedule could not be computed
    over_cap: int = 0  # waiting jobs skipped by the per-user cap (skip_beyond_user_cap)

    def __bool__(self) -> bool:
        return bool(self.requests)


def due_requests(now: datetime) -> QuerySet[ExportRequest]:
    """Recurring, unpaused requests whose next slot is at or before ``now``."""
    return ExportRequest.objects.filter(
        type=RequestType.RECURRING, paused=False, next_run_at__lte=now
    )


def schedule_due(
    now: datetime | None = None, limit: int | None = None, chunk_size: int = 200
) -> ScheduleResult:
    """Create the jobs of every due slot of every due request (see the module text).

    Works through at most ``limit`` requests (all when ``None``), ``chunk_size`` per
    transaction. Jobs are created ``notProcessed`` and waiting; ``dispatch()`` hands them to
    RQ. Returns counts. Database errors other than duplicate slots propagate.
    """
    now = now or timezone.now()
    cap = conf.max_catchup()
    result = ScheduleResult()
    # A snapshot of ids: requests advanced by this loop leave the due set, and one whose
    # schedule cannot be computed must not be picked again within the same tick.
    due = list(due_requests(now).order_by("next_run_at", "pk").values_list("pk", flat=True)[:limit])
    for start in range(0, len(due), chunk_size):
        chunk = (
            ExportRequest.objects.filter(pk__in=due[start : start + chunk_size])
            .prefetch_related("items")
            .order_by("pk")  # one lock order for every scheduler: no deadlocks on PostgreSQL
        )
        # Read and plan outside the transaction: on SQLite the write lock is then held only
        # for the claim and the inserts.
        planned = [plan for request in chunk if (plan := _plan(request, now, cap, result))]
        with transaction.atomic():
            created, duplicates = _insert(_claim(planned, result))
        result.duplicates += duplicates
        for status, count in created.items():
            if status == JobStatus.SKIPPED:
                result.skipped += count
            else:
                result.created += count
    if result.created:
        result.over_cap = skip_beyond_user_cap(now)
    return result


def skip_beyond_user_cap(now: datetime | None = None) -> int:
    """Skip each user's oldest waiting scheduled jobs beyond ``EXPORTS_MAX_SCHEDULED_PER_USER``.

    Counts the ``notProcessed`` jobs of recurring requests per owner; the newest ``cap`` of
    them by slot are kept, older ones not yet handed to RQ become ``skipped`` with the
    reason (a compare-and-set on the status, so a job a worker just took is left alone).
    Returns how many jobs were skipped.
    """
    now = now or timezone.now()
    cap = conf.max_scheduled_per_user()
    waiting = ExportJob.objects.filter(
        status=JobStatus.NOT_PROCESSED, request__type=RequestType.RECURRING
    )
    crowded = dict(
        waiting.values("request__owner_id")
        .annotate(count=Count("pk"))
        .filter(count__gt=cap)
        .values_list("request__owner_id", "count")
    )
    if not crowded:
        return 0
    # One read of the crowded users' waiting jobs, newest first per user; the choice is made
    # here and written by primary key (an UPDATE joined per user is slow on a big table).
    rows = (
        waiting.filter(request__owner_id__in=crowded)
        .order_by("request__owner_id", "-slot", "-pk")
        .values_list("request__owner_id", "pk", "enqueued_at")
    )
    seen: dict[int, int] = {}
    doomed: dict[int, list[int]] = {}
    for owner_id, pk, enqueued_at in rows.iterator(chunk_size=5000):
        seen[owner_id] = seen.get(owner_id, 0) + 1
        if seen[owner_id] > cap and enqueued_at is None:
            doomed.setdefault(owner_id, []).append(pk)
    skipped = 0
    for owner_id, pks in doomed.items():
        reason = (
            f"Skipped: {crowded[owner_id]} scheduled exports of this user were waiting at once; "
            f"only the newest {cap} (EXPORTS_MAX_SCHEDULED_PER_USER) were kept."
        )
        skipped += lifecycle.skip_waiting(pks, reason, now)
    if skipped:
        log.warning("Skipped %d waiting scheduled jobs beyond the per-user cap.", skipped)
    return skipped


def _plan(
    request: ExportRequest, now: datetime, cap: int, result: ScheduleResult
) -> tuple[ExportRequest, datetime, list[ExportJob]] | None:
    """The new next_run_at and the jobs of one due request, or None if there is nothing."""
    if request.next_run_at is None or request.paused or not request.is_recurring:
        result.lost += 1  # changed since the snapshot
        return None
    try:
        schedule = Schedule.of(request)
        plan = plan_catchup(schedule, request.next_run_at, now, cap)
        return request, schedule.slot_at(plan.next_k), _jobs_for(request, schedule, plan, now)
    except _SCHEDULE_ERRORS as exc:
        # Validation keeps bad schedules out; one written around it must not stop the others.
        log.error("Export request %s has an unusable schedule: %s", request.pk, exc)
        result.errors += 1
        return None


def _claim(
    planned: list[tuple[ExportRequest, datetime, list[ExportJob]]], result: ScheduleResult
) -> list[ExportJob]:
    """Claim the planned requests still as read; returns the jobs of those won.

    Runs inside the chunk's transaction. The rows are locked (PostgreSQL ``FOR UPDATE SKIP
    LOCKED``: a request another scheduler is claiming is left to it; SQLite's IMMEDIATE
    transaction already excludes other writers), compared with what was planned from, and
    moved on with one ``UPDATE`` for the chunk. A row that changed since it was read (another
    scheduler advanced it, or an edit moved it) is lost here and re-read next tick.
    """
    if not planned:
        return []
    fields = ("next_run_at", *SCHEDULE_FIELDS)
    current = {
        row["pk"]: row
        for row in ExportRequest.objects.select_for_update(skip_locked=True)
        .filter(pk__in=[request.pk for request, _, _ in planned])
        .order_by("pk")
        .values("pk", *fields)
    }
    won, jobs = [], []
    for request, new_next, request_jobs in planned:
        row = current.get(request.pk)
        if row is None or any(row[field] != getattr(request, field) for field in fields):
            result.lost += 1
            continue
        request.next_run_at = new_next
        won.append(request)
        jobs.extend(request_jobs)
    _store_next_runs(won)
    result.requests += len(won)
    return jobs


def _store_next_runs(requests: list[ExportRequest]) -> None:
    """Write each request's new next_run_at: one prepared statement run for all rows.

    The rows are locked and checked already. ``bulk_update`` would build a CASE expression
    per row (most of a tick's time at 10,000 requests); ``executemany`` sends plain values.
    """
    if not requests:
        return
    connection = connections[ExportRequest.objects.db]
    field = ExportRequest._meta.get_field("next_run_at")
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(ExportRequest._meta.db_table)} SET {quote(field.column)} = %s "
        f"WHERE {quote(ExportRequest._meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [(field.get_db_prep_value(r.next_run_at, connection), r.pk) for r in requests],
        )


def _jobs_for(
    request: ExportRequest, schedule: Schedule, plan: CatchUp, now: datetime
) -> list[ExportJob]:
    items = list(request.items.all())
    jobs = []
    reason = (
        f"Skipped: {plan.missed} runs were missed while the scheduler was not running; "
        f"only the latest {conf.max_catchup()} (EXPORTS_MAX_CATCHUP) were run."
    )
    for k in plan.skip:
        slot = schedule.slot_at(k)
        jobs.append(
            ExportJob(
                request=request,
                slot=slot,
                status=JobStatus.SKIPPED,
                windows=job_windows(request, slot, k, items, schedule),
                error=reason,
                finished_at=now,
            )
        )
    for k in plan.run:
        slot = schedule.slot_at(k)
        jobs.append(
            ExportJob(
                request=request, slot=slot, windows=job_windows(request, slot, k, items, schedule)
            )
        )
    return jobs


def _insert(jobs: Sequence[ExportJob]) -> tuple[dict[str, int], int]:
    """Insert jobs; returns (created count per status, duplicates left out)."""
    if not jobs:
        return {}, 0
    try:
        with transaction.atomic():
            ExportJob.objects.bulk_create(jobs, batch_size=1000)
        return _count_by_status(jobs), 0
    except IntegrityError:
        pass
    # Some slot already has a job: insert one by one, each in its own savepoint.
    created: list[ExportJob] = []
    for job in jobs:
        job.pk = None
        try:
            with transaction.atomic():
                job.save(force_insert=True)
            created.append(job)
        except IntegrityError:
            log.warning(
                "Export request %s already has a job for slot %s; not creating another.",
                job.request_id,
                job.slot.isoformat(),
            )
    return _count_by_status(created), len(jobs) - len(created)


def _count_by_status(jobs: Iterable[ExportJob]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    return counts


def next_run_for(
    request: ExportRequest, previous: dict | None = None, now: datetime | None = None
) -> datetime | None:
    """The ``next_run_at`` a request should have after being saved.

    ``previous`` is the row as it was before the save (the ``SCHEDULE_FIELDS`` plus
    ``next_run_at``), or ``None`` for a new request. The pending slot is kept while the
    schedule is unchanged; otherwise the first slot after ``now``. Returns ``None`` for
    one-time and paused requests, and for a schedule that cannot be computed (logged).
    """
    if not request.is_recurring or request.paused or not request.periodicity:
        return None
    unchanged = previous is not None and all(
        previous[field] == getattr(request, field) for field in SCHEDULE_FIELDS
    )
    if unchanged and previous["next_run_at"] is not None:
        return previous["next_run_at"]
    try:
        return Schedule.of(request).next_slot_after(now or timezone.now())[1]
    except _SCHEDULE_ERRORS as exc:
        log.error("Export request %s has an unusable schedule: %s", request.pk, exc)
        return None


def refresh_next_run(request: ExportRequest, now: datetime | None = None) -> datetime | None:
    """Recompute and store ``next_run_at`` as after a schedule change (first slot after now).

    For code that changes schedule fields without ``save()`` (``QuerySet.update``); saves go
    through the signal receivers in ``signals.py``. Returns the new value.
    """
    request.next_run_at = next_run_for(request, previous=None, now=now)
    ExportRequest.objects.filter(pk=request.pk).update(next_run_at=request.next_run_at)
    return request.next_run_at
