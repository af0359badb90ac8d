"""The receivers the scheduling package needs connected (schedule changes move ``next_run_at``).

Connect the receivers once, from ``ExportsConfig.ready()``::

    from exports.scheduling import signals as scheduling_signals
    scheduling_signals.connect()
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save


def on_request_pre_save(sender, instance, raw: bool = False, **kwargs) -> None:
    """Remember the schedule as stored, to tell after the save whether it changed."""
    from exports.models import ExportRequest
    from exports.scheduling.scheduler import SCHEDULE_FIELDS

    instance._schedule_before = (
        ExportRequest.objects.filter(pk=instance.pk).values(*SCHEDULE_FIELDS, "next_run_at").first()
        if instance.pk is not None
        else None
    )


def on_request_post_save(
    sender, instance, created: bool, raw: bool = False, update_fields=None, **kwargs
) -> None:
    """Keep ``next_run_at`` right after any save (create, edit, pause, resume, fixtures).

    Stored with an ``UPDATE`` so it also works for ``save(update_fields=[...])``.
    """
    from exports.models import ExportRequest
    from exports.scheduling.scheduler import next_run_for

    previous = instance.__dict__.pop("_schedule_before", None)
    next_run_at = next_run_for(instance, previous)
    if update_fields is None or "next_run_at" in update_fields:
        stored = instance.next_run_at
    else:
        stored = previous["next_run_at"] if previous else None
    if next_run_at != stored:
        ExportRequest.objects.filter(pk=instance.pk).update(next_run_at=next_run_at)
        instance.next_run_at = next_run_at


def connect() -> None:
    """Connect the receivers that maintain ``next_run_at`` (idempotent)."""
    from exports.models import ExportRequest

    pre_save.connect(
        on_request_pre_save, sender=ExportRequest, dispatch_uid="scheduling-request-pre-save"
    )
    post_save.connect(
        on_request_post_save, sender=ExportRequest, dispatch_uid="scheduling-request-post-save"
    )
