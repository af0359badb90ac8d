"""From a finished job to queued deliveries: which messages, once each, on which queue."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

import django_rq
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from exports.models import ExportJob, JobStatus
from exports.vocabulary import Policy

from .models import Delivery, DeliveryStatus

log = logging.getLogger(__name__)

QUEUE = "notifications"
# Which messages a final job status sends.
POLICY_FOR_STATUS = {JobStatus.DONE: Policy.ON_SUCCESS, JobStatus.FAILED: Policy.ON_FAILURE}


def job_finished(job_id: int) -> int:
    """Queue the notifications of a job that reached its final state.

    Call it after commit, once the job is ``done`` or ``failed`` after its last
    attempt. Each message whose policy matches gets one ``Delivery`` row (the
    unique (job, message) pair makes a second call, a retried job or a second
    worker find the existing row) and a pending row that was never attempted is
    queued. A message told to skip empty exports stays silent for a job with no
    rows. Returns the number of deliveries queued; 0 for a job in any other
    status or one that no longer exists.
    """
    job = ExportJob.objects.select_related("request").filter(pk=job_id).first()
    policy = POLICY_FOR_STATUS.get(job.status) if job else None
    if policy is None:
        return 0
    queued = 0
    for message in job.request.messages.filter(policy=policy):
        if message.is_silent_for(job):  # skipEmpty: no rows, no message
            continue
        delivery, _ = Delivery.objects.get_or_create(job=job, message=message)
        # Attempted rows are owned by their own retry schedule (or are final).
        if delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0:
            transaction.on_commit(partial(enqueue_delivery, delivery.pk))
            queued += 1
    return queued


def enqueue_delivery(delivery_id: int, attempt: int = 1, at: datetime | None = None) -> None:
    """Put attempt number ``attempt`` of a delivery on the notifications queue, now or ``at``.

    The RQ job id is derived from the delivery and the attempt, and enqueued
    with ``unique=True``, so queuing the same attempt twice is a no-op (the
    compare-and-set claim in ``jobs.deliver`` is the guarantee; this keeps the
    queue clean). A later attempt uses ``enqueue_at``, run by workers started
    with ``--with-scheduler``. A Redis failure is logged, not raised: the row
    stays pending, and for a first attempt calling ``job_finished`` again
    queues it.
    """
    from .jobs import deliver  # the job function imports this module

    job_id = f"notifications-delivery-{delivery_id}" + (f"-{attempt}" if attempt > 1 else "")
    # commit_mode="auto": callers already run after commit; deferring again inside
    # a worker's transaction could lose the enqueue.
    queue = django_rq.get_queue(QUEUE, commit_mode="auto")
    try:
        if at is not None and at > timezone.now():
            # RQ's scheduler truncates to whole seconds: round up so it never runs early.
            if at.microsecond:
                at = at.replace(microsecond=0) + timedelta(seconds=1)
            queue.enqueue_at(at, deliver, delivery_id, job_id=job_id, unique=True)
        else:
            queue.enqueue(deliver, delivery_id, job_id=job_id, unique=True)
    except DuplicateJobError:
        log.info("Delivery %s attempt %s is already queued", delivery_id, attempt)
    except RedisError:
        log.exception("Could not queue delivery %s attempt %s", delivery_id, attempt)
