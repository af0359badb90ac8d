"""Dispatch: hand waiting jobs to RQ a few at a time, fairly across users.

Jobs are created ``notProcessed`` with ``enqueued_at`` empty ("waiting") and stay in the
database; :func:`dispatch` moves a handful of them into our ``exports`` RQ queue ("handed
over": ``notProcessed`` with ``enqueued_at`` set), keeping at most
``conf.dispatch_backlog()`` handed-over jobs that no worker has started yet. Keeping RQ's
FIFO short is what makes the order fair: a newcomer's job is never behind another user's
thousand jobs, only behind the small backlog.

Who goes next (the "smart queue"): the user with the fewest jobs handed over or running;
among those, the user served least recently (a turn counter kept in Redis); then the user
whose oldest waiting job is oldest. Inside one user's jobs the order is FIFO (job id). The
result is round-robin across users with FIFO per user.

Each hand-over is a compare-and-set on the job row (``lifecycle.hand_over``, so two
dispatchers never enqueue one job twice), and the RQ job id is derived from the row id and the
attempt number (:func:`rq_job_id`), enqueued with ``unique=True``; the enqueue itself happens
after the claim is committed, so a worker always sees the row it is asked to run.

``attempts`` counts the times a worker took the job: the worker increments it when it claims
the row (``lifecycle.start``), the reaper when an RQ job died before claiming. Dispatch
never changes it; the RQ id of a hand-over is that of attempt ``attempts + 1``. A hand-over
that never reached Redis is undone (``lifecycle.release``).
"""

from __future__ import annotations

import heapq
import logging
from datetime import datetime
from functools import partial

import django_rq
from django.db import transaction
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from redis.exceptions import LockError, RedisError
from rq import Worker
from rq.exceptions import DuplicateJobError
from rq.worker_registration import WORKERS_BY_QUEUE_KEY

from exports.models import ExportJob, JobStatus
from exports.queue import conf, lifecycle, namespace
from exports.queue.lifecycle import due_jobs, handed_over_jobs

log = logging.getLogger(__name__)

QUEUE = "exports"  # alias: the queue is namespace.queue_name(QUEUE)
# Enqueued by dotted path: this package never imports the job code it schedules.
RUN_EXPORT_JOB = "exports.queue.runner.run_export_job"
# Redis keys, inside this installation's namespace (see namespace.redis_key).
_LOCK_KEY = "dispatch:lock"
_TURN_KEY = "dispatch:turn"
_SERVED_KEY = "dispatch:served"
_AGAIN_KEY = "dispatch:again"  # "the lock was busy: make one more pass" (see dispatch)
_MAX_PASSES = 5  # passes one dispatch() makes for callers that found the lock busy
# INCR the turn counter and record the user (ARGV[1]) as served at that turn, atomically.
_SERVE_SCRIPT = (
    "local turn = redis.call('INCR', KEYS[1]) "
    "redis.call('ZADD', KEYS[2], turn, ARGV[1]) return turn"
)


def rq_job_id(job_pk: int, attempt: int) -> str:
    """The RQ job id of ``attempt`` (1-based) of export job ``job_pk``.

    The first attempt is ``<instance>-export-job-<pk>``; a retry after a lost worker gets its
    own id (``<instance>-export-job-<pk>-attempt-<n>``) because the dead attempt's RQ job may
    still exist. The instance prefix keeps installations sharing a Redis apart.
    """
    if attempt <= 1:
        return namespace.rq_job_id("export-job", job_pk)
    return namespace.rq_job_id("export-job", job_pk, "attempt", attempt)


def backlog_limit(workers: int | None = None) -> int:
    """How many handed-over, not started jobs RQ may hold (see ``conf.dispatch_backlog``);
    ``workers``: the registered ``exports`` workers, if the caller has counted them."""
    configured = conf.dispatch_backlog()
    if configured is not None:
        return configured
    if workers is None:
        connection = namespace.redis_client(QUEUE)
        queue = django_rq.get_queue(namespace.queue_name(QUEUE), connection=connection)
        workers = Worker.count(queue=queue)
    return 2 * max(1, workers)


def dispatch(now: datetime | None = None, *, wait: bool = True) -> int:
    """Hand waiting jobs to RQ until the backlog is full, round-robin across users.

    Call it outside a transaction (from the scheduler tick, at the end of a worker's job, or
    in ``transaction.on_commit`` after creating jobs). Two dispatchers at once are serialised
    by a Redis lock. With ``wait`` the call waits for the lock (at most 10 s, then returns
    0: the holder does the work); without it, a busy lock leaves a mark ("again") and the call
    returns at once: the holder makes one more pass once it is done, so what this caller freed
    or created is handed over all the same, and a worker's horse never waits for the lock.
    Returns the number of jobs handed over. Raises ``redis.exceptions.RedisError`` when
    Redis is unreachable (the jobs simply keep waiting).
    """
    connection = namespace.redis_client(QUEUE)
    # Polled every 10 ms (redis-py's default is 100 ms): a holder needs a few milliseconds.
    lock = connection.lock(
        namespace.redis_key(_LOCK_KEY), timeout=60, sleep=0.01, blocking_timeout=10
    )
    again = namespace.redis_key(_AGAIN_KEY)
    handed = 0
    for _ in range(_MAX_PASSES):
        if not lock.acquire(blocking=wait):
            if wait:
                return handed
            connection.set(again, "1", ex=60)
            # Set before this second try: either we get the lock now, or its holder has yet
            # to look at the mark (it looks after releasing) and makes the pass for us.
            if not lock.acquire(blocking=False):
                return handed
        try:
            connection.delete(again)  # this pass sees everything committed before it
            handed += _hand_over_room(connection, now or timezone.now())
        finally:
            try:
                lock.release()
            except LockError:  # expired while we worked: harmless, the next one takes it
                log.warning("The dispatch lock expired before it was released.")
        if not connection.delete(again):  # nobody knocked while we held the lock
            return handed
        wait = False
    connection.set(again, "1", ex=60)  # still knocking: left to the next dispatcher
    return handed


def _hand_over_room(connection, now: datetime) -> int:
    """One pass under the lock: fill the backlog's free room; returns how many were handed."""
    room = backlog_limit() - handed_over_jobs().count()
    if room <= 0:
        return 0
    handed = 0
    turn_key, served_key = namespace.redis_key(_TURN_KEY), namespace.redis_key(_SERVED_KEY)
    for job_pk, attempts, owner_pk in _next_jobs(connection, room, now):
        if _hand_over(job_pk, attempts, now):
            # One round trip: the next turn, and this user served at it.
            connection.eval(_SERVE_SCRIPT, 2, turn_key, served_key, str(owner_pk))
            handed += 1
    return handed


def dispatch_quietly() -> int:
    """:func:`dispatch` for on-commit callbacks and the end of a worker's job: it never waits
    for the lock (a busy one's holder makes one more pass for it).

    Returns the number of jobs handed over; when Redis is unreachable it logs and returns 0
    (the jobs keep waiting and the scheduler's next tick hands them over).
    """
    try:
        return dispatch(wait=False)
    except RedisError as exc:
        log.warning("Jobs stay waiting until the next scheduler tick: %s", exc)
        return 0


def refill_quietly() -> int:
    """:func:`dispatch_quietly` for a worker that has just ended a job, once the backlog has
    drained to half its size (:func:`backlog_low`); until then it does nothing.

    Each job a worker ends frees one place in the backlog; refilling it at once made every
    job pay a whole dispatch pass (the lock, three queries, the Redis turn). Refilled at half,
    one pass hands over about half a backlog. No worker waits for it: while RQ still holds
    at least one job per worker, each worker finds one when it asks. Returns the number of
    jobs handed over; when Redis is unreachable it logs and returns 0, as dispatch_quietly.
    """
    try:
        if not backlog_low():
            return 0
    except RedisError as exc:
        log.warning("Jobs stay waiting until the next scheduler tick: %s", exc)
        return 0
    return dispatch_quietly()


def backlog_low() -> bool:
    """Whether RQ's ``exports`` queue holds fewer than half the backlog (one round trip).

    The queue's length stands for the handed-over jobs no worker has taken: it is never more
    than those plus RQ jobs of rows that moved on (which workers drop at once).
    """
    connection = namespace.redis_client(QUEUE)
    name = namespace.queue_name(QUEUE)
    queue = django_rq.get_queue(name, connection=connection)
    with connection.pipeline(transaction=False) as pipe:
        pipe.llen(queue.key)
        pipe.scard(WORKERS_BY_QUEUE_KEY % name)
        queued, workers = pipe.execute()
    return queued < max(1, backlog_limit(workers) // 2)


def _next_jobs(connection, room: int, now: datetime) -> list[tuple[int, int, int]]:
    """Up to ``room`` due waiting jobs as ``(pk, attempts, owner pk)``, in fair order."""
    # Each user's `room` oldest waiting jobs: nobody can need more than that in one call.
    ranked = (
        due_jobs(now)
        .annotate(
            owner_pk=F("request__owner_id"),
            rank=Window(RowNumber(), partition_by=[F("request__owner_id")], order_by=F("pk").asc()),
        )
        .filter(rank__lte=room)
        .order_by("pk")
        .values_list("pk", "attempts", "owner_pk")
    )
    queues: dict[int, list[tuple[int, int]]] = {}
    for job_pk, attempts, owner_pk in ranked:
        queues.setdefault(owner_pk, []).append((job_pk, attempts))
    if not queues:
        return []
    busy = dict(
        ExportJob.objects.filter(
            Q(status=JobStatus.IN_PROGRESS)
            | Q(status=JobStatus.NOT_PROCESSED, enqueued_at__isnull=False),
            request__owner_id__in=list(queues),
        )
        .values_list("request__owner_id")
        .annotate(n=Count("pk"))
        .values_list("request__owner_id", "n")
    )
    served = connection.zmscore(namespace.redis_key(_SERVED_KEY), [str(owner) for owner in queues])
    last_turn = {owner: int(turn or 0) for owner, turn in zip(queues, served, strict=True)}
    heap = [
        (busy.get(owner, 0), last_turn[owner], jobs[0][0], owner) for owner, jobs in queues.items()
    ]
    heapq.heapify(heap)
    picked: list[tuple[int, int, int]] = []
    next_turn = max(last_turn.values()) + 1
    while heap and len(picked) < room:
        active, _, _, owner = heapq.heappop(heap)
        job_pk, attempts = queues[owner].pop(0)
        picked.append((job_pk, attempts, owner))
        if queues[owner]:
            # Served now: to the back of the round, behind everyone not served since.
            heapq.heappush(heap, (active + 1, next_turn, queues[owner][0][0], owner))
            next_turn += 1
    return picked


def _hand_over(job_pk: int, attempts: int, now: datetime) -> bool:
    """Claim one waiting job for RQ and enqueue it after commit; False if someone else did."""
    attempt = attempts + 1
    rq_id = rq_job_id(job_pk, attempt)
    claimed = lifecycle.hand_over(job_pk, attempts, rq_id, now)
    if claimed:
        transaction.on_commit(partial(_enqueue, job_pk, rq_id, attempt))
    return claimed


def _enqueue(job_pk: int, rq_id: str, attempt: int) -> None:
    # commit_mode="auto": this already runs after our commit; django-rq must not defer again.
    queue = django_rq.get_queue(
        namespace.queue_name(QUEUE), commit_mode="auto", connection=namespace.redis_client(QUEUE)
    )
    try:
        queue.enqueue(
            RUN_EXPORT_JOB,
            job_pk,
            job_id=rq_id,
            unique=True,
            job_timeout=conf.job_timeout(),
            description=f"export job {job_pk} (attempt {attempt})",
        )
    except DuplicateJobError:
        log.info("RQ already holds %s; not enqueued again.", rq_id)
    except RedisError as exc:
        # Never reached a worker: undo the hand-over so the next dispatch retries it.
        lifecycle.release(job_pk, rq_id)
        log.warning("Export job %s stays waiting: could not enqueue it: %s", job_pk, exc)
