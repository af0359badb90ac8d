"""``manage.py runworker``: django-rq's worker on this installation's namespaced queues."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import DatabaseError
from django_rq.management.commands import rqworker

from exports.queue import namespace


class Command(rqworker.Command):
    help = (
        "Run an RQ worker (django-rq's rqworker, with every option of it) on this "
        "installation's queues, named <instance>:<queue> in Redis so installations sharing a "
        "Redis never take each other's jobs. Queues: exports, notifications, default (all "
        "three, in that order, when none is named). The instance is EXPORTS_INSTANCE or the "
        "id stored in the database. Usage: manage.py runworker [queue ...] [--burst] "
        "[--name NAME] [--max-jobs N] [--max-idle-time SECONDS] [--worker-ttl SECONDS]"
    )

    def handle(self, *aliases: str, **options):
        unknown = [alias for alias in aliases if alias not in namespace.QUEUES]
        if unknown:
            raise CommandError(
                f"No queue {', '.join(unknown)}: the queues are {', '.join(namespace.QUEUES)}."
            )
        try:
            names = namespace.queue_names(dict.fromkeys(aliases or namespace.QUEUES))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(
                f"Cannot read this installation's id from the database ({exc}). Run "
                "`manage.py migrate` first, or set EXPORTS_INSTANCE."
            ) from exc
        super().handle(*names, **options)
