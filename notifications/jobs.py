"""RQ jobs of the notifications queue. Plain functions taking primary keys."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from rq import get_current_job

from exports.queue import namespace
from notifications import conf
from notifications.errors import TransportError
from notifications.facts import facts_for_job
from notifications.links import message_link
from notifications.models import Delivery, DeliveryStatus, DownloadLink
from notifications.transports import transport_for

log = logging.getLogger(__name__)


def deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery; returns the delivery's status afterwards.

    The row is claimed with a compare-and-set (pending → sending, and still expecting this
    RQ job), so of two workers holding the same delivery only one sends. A transient error
    with attempts left puts the row back to pending, due after the provider's Retry-After
    or the backoff (the scheduler hands it over then); a permanent error, or the last
    attempt, leaves it failed with the error kept for the request page. The capability
    link is kept only when the message went out. An RQ job of another installation, or
    one whose row is gone, is dropped with one log line.
    """
    rq_job = get_current_job()
    rq_id = rq_job.id if rq_job is not None else None
    if rq_id is not None and not namespace.is_ours(rq_id):
        log.warning("Dropped RQ job %s: it belongs to another installation.", rq_id)
        return "not ours"
    if not Delivery.objects.claim(delivery_id, rq_job_id=rq_id):
        if not Delivery.objects.filter(pk=delivery_id).exists():
            log.warning("Dropped RQ job for delivery %s: no such delivery.", delivery_id)
            return "missing"
        return "not pending"
    delivery = Delivery.objects.select_related(
        "job__request__owner", "message__request__owner"
    ).get(pk=delivery_id)
    link = None
    try:
        transport = transport_for(delivery.message)
        delivery.recipient = transport.recipient[:300]
        # Stored before sending: if the worker dies mid-send, the "unknown" row says to whom.
        Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(
            recipient=delivery.recipient
        )
        link_url, link = message_link(delivery.job)
        transport.job = delivery.job  # the file an email may attach
        response = transport.notify(facts_for_job(delivery.job, link_url))
    except TransportError as exc:
        _discard(link)
        return _record_error(delivery, exc)
    except Exception as exc:
        # A bug or a broken layout override: record it instead of leaving the
        # row in "sending" for ever, then let RQ show the traceback.
        _discard(link)
        _record_error(delivery, TransportError(f"Internal error: {exc!r}", permanent=True))
        raise
    delivery.link = link
    _finish(
        delivery,
        status=DeliveryStatus.SENT,
        response=response,
        last_error="",
        sent_at=timezone.now(),
    )
    return DeliveryStatus.SENT


def retry_delay(attempts_made: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: the provider's Retry-After (capped), else the backoff."""
    if retry_after is not None:
        return min(retry_after, conf.max_retry_after())
    backoff = conf.retry_backoff() or [0.0]
    return backoff[min(attempts_made, len(backoff)) - 1]


def _record_error(delivery: Delivery, error: TransportError) -> str:
    final = error.permanent or delivery.attempts >= conf.max_attempts()
    log.warning("Delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, error)
    if final:
        _finish(
            delivery,
            status=DeliveryStatus.FAILED,
            last_error=str(error),
            is_permanent_error=error.permanent,
        )
        return DeliveryStatus.FAILED
    next_attempt_at = timezone.now() + timedelta(
        seconds=retry_delay(delivery.attempts, error.retry_after)
    )
    # Due again at next_attempt_at, in the database only: the scheduler hands it over then.
    _finish(
        delivery,
        status=DeliveryStatus.PENDING,
        last_error=str(error),
        next_attempt_at=next_attempt_at,
        enqueued_at=None,
    )
    return DeliveryStatus.PENDING


def _discard(link: DownloadLink | None) -> None:
    """Delete the link of an attempt that did not go out: only sent messages carry links."""
    if link is not None:
        link.delete()


def _finish(delivery: Delivery, **fields) -> None:
    """Write an attempt's outcome, only if this worker still holds the row."""
    fields.update(link=delivery.link, recipient=delivery.recipient)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)
