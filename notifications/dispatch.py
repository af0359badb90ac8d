"""From a finished job to deliveries handed to RQ: which messages, once each, and when.

The database owns every delivery's due time: a ``Delivery`` row is ``pending`` with
``next_attempt_at`` (its first attempt: when the job finished; a retry: after the backoff)
until a worker claims it. Handing a due row to RQ is a compare-and-set that records the RQ
job id (``enqueued_at``, ``rq_job_id``); the enqueue happens after that commit. The
scheduler tick (:func:`tick`) then makes sure nothing waits only in Redis:

* due rows not handed over are handed over (retries included: RQ never holds a delayed job);
* handed-over rows whose RQ job is missing (Redis flushed or restarted empty), ended
  without claiming the row, or waits in a queue no worker of ours serves (see
  ``namespace.is_stranded``) are released and handed over again;
* rows left ``sending`` past ``NOTIFICATIONS_SENDING_TIMEOUT`` become ``unknown`` (the worker
  died mid-send; resending could double a message, so only people resend them);
* done/failed jobs whose deliveries were never recorded (the worker died in between) get them.

Notifications learn that a job finished from ``exports.queue.signals.job_finished``, which the
job lifecycle sends when a job ends done or failed; :func:`on_job_finished` receives it
(connected in ``NotificationsConfig.ready()``). The last point of the tick is only the safety
net for a process that died between the job's final update and that receiver.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import django_rq
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.job import JobStatus as RqStatus

from exports.models import ExportJob, JobStatus
from exports.queue import conf as queue_conf
from exports.queue import namespace
from exports.queue.dispatch import QUEUE as EXPORTS_QUEUE
from exports.requests.vocabulary import Policy
from notifications import conf
from notifications.models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

QUEUE = "notifications"  # alias: the queue is namespace.queue_name(QUEUE)
# Enqueued by dotted path: the job module imports this one.
DELIVER = "notifications.jobs.deliver"
# Which messages a final job status sends.
POLICY_FOR_STATUS = {JobStatus.DONE: Policy.ON_SUCCESS, JobStatus.FAILED: Policy.ON_FAILURE}
# RQ states in which an RQ job will never claim its row any more.
_ENDED_RQ_STATUSES = {RqStatus.FINISHED, RqStatus.FAILED, RqStatus.STOPPED, RqStatus.CANCELED}
TICK_BATCH = 500  # rows per kind per tick; the scheduler loops at once while there is work
# Send a finished export's due messages from the RQ job that made the file (on_job_finished).
SEND_INLINE = True


def job_finished(job_id: int, now: datetime | None = None, *, inline_rq_id: str = "") -> int:
    """Record the deliveries of a job that reached its final state; hand them over after commit.

    Call it once the job is ``done`` or ``failed`` after its last attempt. Each message whose
    policy matches gets one ``Delivery`` row (the unique (job, message) pair makes a second
    call, a retried job or a second worker find the existing row), due now; the job is
    marked ``notified_at`` in the same transaction. A message told to skip empty exports
    (``skipEmpty``) stays silent for a job with no rows. Returns the number of deliveries to be
    handed to RQ after commit; 0 for a job in any other status, or one that is gone.

    With ``inline_rq_id`` (the RQ job that ran the export, see :func:`on_job_finished`) the due
    deliveries are handed to that RQ job instead of new ones, in the same compare-and-set as
    a hand-over, and sent by this process once committed (``notifications.jobs.deliver``).
    """
    now = now or timezone.now()
    job = ExportJob.objects.select_related("request").filter(pk=job_id).first()
    policy = POLICY_FOR_STATUS.get(job.status) if job else None
    if policy is None:
        return 0
    with transaction.atomic():
        # One INSERT for all; a row the pair already has (a second call) is left as it is.
        Delivery.objects.bulk_create(
            [
                Delivery(job=job, message=message, next_attempt_at=now)
                for message in job.request.messages.filter(policy=policy)
                if not message.is_silent_for(job)  # skipEmpty: no rows, no message
            ],
            ignore_conflicts=True,
        )
        ExportJob.objects.filter(pk=job.pk, notified_at__isnull=True).update(notified_at=now)
        due = list(Delivery.objects.due(now).filter(job=job).values_list("pk", flat=True))
        for delivery_id in due:
            if inline_rq_id:
                transaction.on_commit(partial(_send_here, delivery_id, inline_rq_id, now))
            else:
                transaction.on_commit(partial(hand_over, delivery_id))
    return len(due)


def _send_here(delivery_id: int, rq_id: str, now: datetime) -> None:
    """Hand a due delivery to the RQ job running in this process, then send it now.

    The claim is the hand-over's compare-and-set with this RQ job's id, so ``deliver`` (which
    claims the row for the current RQ job) sends it here, once; a row another process handed
    over meanwhile is left to it. Should this process die before sending, the row stays
    handed over to an RQ job that has ended: the tick releases it (``release_lost``).
    """
    from notifications.jobs import deliver  # the job module imports this one

    claimed = (
        Delivery.objects.due(now).filter(pk=delivery_id).update(enqueued_at=now, rq_job_id=rq_id)
    )
    if claimed:
        deliver(delivery_id)


def on_job_finished(sender, job: ExportJob, **kwargs) -> None:
    """Receiver of ``exports.queue.signals.job_finished``: record the job's deliveries.

    Never raises: the job is final whatever happens here, and a job left without its
    deliveries (``notified_at`` empty) is picked up by the scheduler tick.

    In a worker running the export's RQ job, messages due at once are sent by that job
    (``inline_rq_id``) rather than by one RQ job each: a notification job cost as much as the
    small export itself (a fork, a new database connection, cold caches). Retries, and
    deliveries of jobs finished elsewhere (``exportnow``, the tick), still go through RQ.
    """
    try:
        job_finished(job.pk, inline_rq_id=_exports_rq_job_id() if SEND_INLINE else "")
    except Exception:  # noqa: BLE001 - the tick records them later (notify_unnotified_jobs)
        log.exception("Could not queue notifications for export job %s", job.pk)


def _exports_rq_job_id() -> str:
    """The id of the RQ job of our exports queue this process is running, or ""."""
    rq_job = get_current_job()
    if rq_job is None or rq_job.origin != namespace.queue_name(EXPORTS_QUEUE):
        return ""
    return rq_job.id if namespace.is_ours(rq_job.id) else ""


def hand_over(delivery_id: int, now: datetime | None = None) -> bool:
    """Hand one due delivery to the notifications queue; False if it is not due or taken.

    The row is claimed for RQ with a compare-and-set that records a fresh RQ job id
    (``<instance>-delivery-<pk>-<random>``: never one a previous database or attempt used);
    the enqueue runs after the claim commits. If Redis refuses, the claim is undone and the
    row stays due for the next tick.
    """
    now = now or timezone.now()
    rq_id = namespace.rq_job_id("delivery", delivery_id, secrets.token_hex(4))
    claimed = (
        Delivery.objects.due(now).filter(pk=delivery_id).update(enqueued_at=now, rq_job_id=rq_id)
    )
    if claimed:
        transaction.on_commit(partial(_enqueue, delivery_id, rq_id))
    return bool(claimed)


def _enqueue(delivery_id: int, rq_id: str) -> None:
    # commit_mode="auto": this already runs after our commit; django-rq must not defer again.
    queue = django_rq.get_queue(
        namespace.queue_name(QUEUE), commit_mode="auto", connection=namespace.redis_client(QUEUE)
    )
    try:
        queue.enqueue(
            DELIVER, delivery_id, job_id=rq_id, unique=True, description=f"delivery {delivery_id}"
        )
    except DuplicateJobError:
        log.info("RQ already holds %s; not enqueued again.", rq_id)
    except RedisError as exc:
        Delivery.objects.handed_over().filter(pk=delivery_id, rq_job_id=rq_id).update(
            enqueued_at=None
        )
        log.warning("Delivery %s stays due: could not enqueue it: %s", delivery_id, exc)


@dataclass
class TickResult:
    notified_jobs: int = 0  # finished jobs whose deliveries were recorded late
    unknown: int = 0  # deliveries left "sending" too long, now "unknown"
    released: int = 0  # handed-over deliveries whose RQ job was lost, due again
    handed_over: int = 0  # due deliveries handed to RQ

    def __bool__(self) -> bool:
        return bool(self.notified_jobs or self.unknown or self.released or self.handed_over)


def tick(now: datetime | None = None) -> TickResult:
    """One scheduler step for notifications (see the module text); safe in several processes.

    Returns counts. Raises ``redis.exceptions.RedisError`` when Redis is unreachable while
    checking handed-over rows (the rows stay as they are; the next tick retries).
    """
    now = now or timezone.now()
    result = TickResult()
    result.notified_jobs = notify_unnotified_jobs(now)
    result.unknown = mark_stale_sending(now)
    result.released = release_lost(now)
    for delivery_id in (
        Delivery.objects.due(now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:TICK_BATCH]
    ):
        result.handed_over += hand_over(delivery_id, now)
    return result


def notify_unnotified_jobs(now: datetime) -> int:
    """Record the deliveries of done/failed jobs that finished without them; returns how many
    jobs. A grace of ``EXPORTS_REQUEUE_AFTER`` leaves the finishing worker time to do it."""
    jobs = ExportJob.objects.filter(
        status__in=list(POLICY_FOR_STATUS),
        notified_at__isnull=True,
        finished_at__lt=now - queue_conf.requeue_after(),
    ).order_by("pk")
    count = 0
    for job_id in jobs.values_list("pk", flat=True)[:TICK_BATCH]:
        log.warning("Export job %s finished without its notifications; recording them.", job_id)
        job_finished(job_id, now)
        count += 1
    return count


def mark_stale_sending(now: datetime) -> int:
    """Turn deliveries ``sending`` longer than the timeout into ``unknown``; returns how many."""
    timeout = timedelta(seconds=conf.sending_timeout())
    stale = Delivery.objects.filter(
        status=DeliveryStatus.SENDING, last_attempt_at__lt=now - timeout
    )
    count = stale.update(
        status=DeliveryStatus.UNKNOWN,
        last_error=(
            f"The worker stopped while sending (no outcome after {timeout.total_seconds():.0f} s); "
            "the message may or may not have arrived. Use Resend to send it again."
        ),
    )
    if count:
        log.warning("%s delivery(ies) left sending too long are now unknown.", count)
    return count


def release_lost(now: datetime) -> int:
    """Make due again the handed-over deliveries whose RQ job is gone or ended unclaimed.

    Only rows handed over more than ``EXPORTS_REQUEUE_AFTER`` ago are checked: a younger
    one may be between its commit and its enqueue. A row still pending means its RQ job
    never claimed it, so no attempt is counted. Returns how many rows were released.
    """
    rows = list(
        Delivery.objects.handed_over()
        .filter(enqueued_at__lt=now - queue_conf.requeue_after())
        .order_by("pk")
        .values_list("pk", "rq_job_id")[:TICK_BATCH]
    )
    if not rows:
        return 0
    connection = django_rq.get_connection(namespace.queue_name(QUEUE))
    rq_jobs = Job.fetch_many([rq_id for _, rq_id in rows], connection=connection)
    released = 0
    for (delivery_id, rq_id), rq_job in zip(rows, rq_jobs, strict=True):
        status = rq_job.get_status(refresh=False) if rq_job is not None else None
        if rq_job is not None and namespace.is_stranded(rq_job):
            rq_job.delete()  # never taken, and no worker of ours would ever take it
            status = None
        if status is not None and status not in _ENDED_RQ_STATUSES:
            continue  # queued or running: RQ still owns it
        released += (
            Delivery.objects.handed_over()
            .filter(pk=delivery_id, rq_job_id=rq_id)
            .update(enqueued_at=None, next_attempt_at=now)
        )
        log.warning(
            "Delivery %s: RQ job %s is %s; due again.", delivery_id, rq_id, status or "gone"
        )
    return released
