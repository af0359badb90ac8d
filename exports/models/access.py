"""Channel grants: which users and teams may read a channel's messages, and publish to it.

A grant names one grantee — a user, or a group (Django groups are the teams) — one channel,
optionally a subtopic that narrows it (a prefix on dot-separated segments: ``events``
covers ``events`` and ``events.data``, not ``eventsX``), and what it allows: read (preview,
export, the catalog's names and figures), publish (store messages over HTTP), or both.
Staff read and publish everywhere; ``exports.data.access`` is the one place that decides.

Request shares: an owner shares one export request with a user or a team as a viewer (sees it,
its jobs and deliveries, downloads its files) or an editor (also changes, pauses and runs it).
The export still runs as its owner, so a share shares what the owner may read.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


def subtopic_covers(prefix: str, subtopic: str) -> bool:
    """Whether a grant narrowed to ``prefix`` covers messages of ``subtopic``.

    An empty prefix covers the whole channel (messages without a subtopic too); otherwise the
    subtopic must equal the prefix or continue it after a dot.
    """
    return not prefix or subtopic == prefix or subtopic.startswith(prefix + ".")


class ChannelGrant(models.Model):
    """Read and/or publish access to one channel (or a subtopic of it) for a user or a team."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="channel_grants",
        null=True,
        blank=True,
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        related_name="channel_grants",
        null=True,
        blank=True,
        help_text="A team: every member gets this grant.",
    )
    channel_id = models.CharField("channel id", max_length=64)
    subtopic = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Empty for the whole channel; otherwise a subtopic prefix (events covers "
        "events.data).",
    )
    can_read = models.BooleanField("read", default=False)
    can_publish = models.BooleanField("publish", default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel_id", "subtopic", "group_id", "user_id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="grant_to_user_or_group",
            ),
            models.CheckConstraint(
                condition=Q(can_read=True) | Q(can_publish=True),
                name="grant_allows_something",
            ),
            models.UniqueConstraint(
                fields=["user", "channel_id", "subtopic"],
                condition=Q(user__isnull=False),
                name="one_user_grant_per_channel_subtopic",
            ),
            models.UniqueConstraint(
                fields=["group", "channel_id", "subtopic"],
                condition=Q(group__isnull=False),
                name="one_group_grant_per_channel_subtopic",
            ),
        ]
        indexes = [models.Index(fields=["channel_id"], name="grant_channel")]
        # Staff manage access anyway; this lets others do it on the access pages and API.
        permissions = [("manage_access", "Can manage channel access, grants and teams")]

    def clean(self) -> None:
        if (self.user_id is None) == (self.group_id is None):
            raise ValidationError("A grant goes to a user or to a group (one of them).")
        if not (self.can_read or self.can_publish):
            raise ValidationError("A grant allows read, publish, or both.")
        if self.subtopic != self.subtopic.strip(".").strip():
            raise ValidationError(
                {"subtopic": "A subtopic prefix neither starts nor ends with a dot."}
            )

    @property
    def grantee(self) -> str:
        return f"@{self.group.name}" if self.group_id else str(self.user)

    @property
    def rights(self) -> str:
        return " and ".join(
            word for word, on in (("read", self.can_read), ("publish", self.can_publish)) if on
        )

    def covers(self, subtopic: str) -> bool:
        return subtopic_covers(self.subtopic, subtopic)

    def __str__(self) -> str:
        where = f"{self.channel_id}/{self.subtopic}" if self.subtopic else self.channel_id
        return f"{self.grantee} may {self.rights or 'nothing on'} {where}"


class ShareRole(models.TextChoices):
    VIEWER = "viewer", "viewer"
    EDITOR = "editor", "editor"


class RequestShare(models.Model):
    """One export request shared with a user or a team (a group), as viewer or editor."""

    request = models.ForeignKey(
        "exports.ExportRequest", on_delete=models.CASCADE, related_name="shares"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="request_shares",
        null=True,
        blank=True,
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        related_name="request_shares",
        null=True,
        blank=True,
        help_text="A team: every member gets this share.",
    )
    role = models.CharField(max_length=8, choices=ShareRole.choices, default=ShareRole.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="share_to_user_or_group",
            ),
            models.UniqueConstraint(
                fields=["request", "user"],
                condition=Q(user__isnull=False),
                name="one_share_per_request_user",
            ),
            models.UniqueConstraint(
                fields=["request", "group"],
                condition=Q(group__isnull=False),
                name="one_share_per_request_group",
            ),
        ]

    def clean(self) -> None:
        if (self.user_id is None) == (self.group_id is None):
            raise ValidationError("A share goes to a user or to a group (one of them).")

    @property
    def grantee(self) -> str:
        return f"@{self.group.name}" if self.group_id else self.user.get_username()

    def __str__(self) -> str:
        return f"{self.grantee} as {self.role}"
