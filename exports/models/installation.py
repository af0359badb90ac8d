from __future__ import annotations

import secrets

from django.db import IntegrityError, models, transaction


class Installation(models.Model):
    """Facts this installation keeps about itself: one row (pk 1) per database.

    ``instance_id`` namespaces our RQ job ids and Redis keys when ``EXPORTS_INSTANCE`` is not
    set, so installations sharing one Redis never take each other's work; it is random and
    made on first use, so a fresh database (a test run, a new site) gets its own.
    ``last_pruned_at`` lets several schedulers agree on when retention last ran.
    """

    SINGLETON_PK = 1

    instance_id = models.CharField(max_length=24)
    last_pruned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"installation {self.instance_id}"

    @classmethod
    def current(cls) -> Installation:
        """The installation's row, created with a random ``instance_id`` on first use."""
        row = cls.objects.filter(pk=cls.SINGLETON_PK).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return cls.objects.create(pk=cls.SINGLETON_PK, instance_id=secrets.token_hex(6))
        except IntegrityError:  # another process created it first: theirs is the one
            return cls.objects.get(pk=cls.SINGLETON_PK)
