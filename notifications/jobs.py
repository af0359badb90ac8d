"""RQ jobs of the notifications queue. Plain functions taking primary keys."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from . import conf
from .dispatch import enqueue_delivery
from .errors import TransportError
from .facts import facts_for_job
from .links import message_link
from .models import Delivery, DeliveryStatus
from .transports import transport_for

log = logging.getLogger(__name__)


def deliver(delivery_id: int) -> str:
    """Make one attempt at a delivery; returns the delivery's status afterwards.

    The row is claimed with a compare-and-set (pending → sending), so of two
    workers holding the same delivery only one sends. A transient error with
    attempts left puts the row back to pending and schedules the next attempt
    after the provider's Retry-After or the backoff; a permanent error, or the
    last attempt, leaves it failed with the error kept for the request page.
    """
    if not Delivery.objects.claim(delivery_id):
        return "not pending"
    delivery = Delivery.objects.select_related(
        "job__request__owner", "message__request__owner"
    ).get(pk=delivery_id)
    try:
        transport = transport_for(delivery.message)
        link_url, link = message_link(delivery.job)
        delivery.link = link
        delivery.recipient = transport.recipient[:300]
        response = transport.notify(facts_for_job(delivery.job, link_url))
    except TransportError as exc:
        return _record_error(delivery, exc)
    except Exception as exc:
        # A bug or a broken layout override: record it instead of leaving the
        # row in "sending" for ever, then let RQ show the traceback.
        _record_error(delivery, TransportError(f"Internal error: {exc!r}", permanent=True))
        raise
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
    _finish(
        delivery,
        status=DeliveryStatus.PENDING,
        last_error=str(error),
        next_attempt_at=next_attempt_at,
    )
    enqueue_delivery(delivery.pk, attempt=delivery.attempts + 1, at=next_attempt_at)
    return DeliveryStatus.PENDING


def _finish(delivery: Delivery, **fields) -> None:
    """Write an attempt's outcome, only if this worker still holds the row."""
    fields.update(link=delivery.link, recipient=delivery.recipient)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)
