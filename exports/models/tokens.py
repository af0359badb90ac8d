"""Personal API tokens: who a program is (what it may do is its user's channel grants).

A token's secret is shown once, when it is issued, and never stored: only its SHA-256 is
kept, beside a short random public prefix that finds the row without scanning the table.
The secret reads ``exp_<prefix>_<43 random characters>`` so a leaked one is easy to spot
in logs and code.

A user holds at most ``API_TOKENS_PER_USER`` live tokens (neither revoked nor expired): the
tokens page, ``manage.py apitoken`` and the admin all refuse one more. A token may be bound to
``publishers``: HTTP ingest with it stores readings only under those publisher ids (a device's
token), see ``exports.api.views.ingest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from exports.requests.validation import parse_duration, storable_text_error

SECRET_PATTERN = re.compile(r"^exp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# How stale ``last_used_at`` may get: one write per minute per token, not one per request.
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def expiry_after(lifetime: str, now: datetime | None = None) -> datetime:
    """``now`` + an ISO 8601 duration (``P30D``, ``P1Y``, ``PT12H``), as a token's expiry.

    Raises ``ValueError`` for text that is not a positive ISO 8601 duration of at most a
    century (the bounds of every duration, see ``exports.requests.durations``).
    """
    now = now or timezone.now()
    try:
        return parse_duration(lifetime).after(now)
    except ValidationError as error:
        if error.code == "not_positive":
            raise ValueError(f"{lifetime!r} is not a positive duration.") from None
        if error.code in ("too_long", "fractional_months"):
            raise ValueError(error.messages[0]) from None
        raise ValueError(f"{lifetime!r} is not an ISO 8601 duration such as P30D.") from None


class TokenLimitReached(ValueError):
    """The user already holds ``API_TOKENS_PER_USER`` live tokens."""


def token_cap() -> int:
    return settings.API_TOKENS_PER_USER


def cap_message(cap: int) -> str:
    return (
        f"{cap} live API tokens is the most one user may hold (API_TOKENS_PER_USER): "
        "revoke one that is no longer used first."
    )


def clean_publishers(values) -> list[str]:
    """A token's publisher ids, trimmed and deduplicated; ``ValueError`` names a bad one."""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list | tuple):
        raise ValueError("Publishers are a list of publisher ids.")
    cleaned: list[str] = []
    for value in values:
        text = value.strip() if isinstance(value, str) else None
        if not text:
            if text == "":
                continue
            raise ValueError("A publisher id is text.")
        if "," in text or len(text) > 255 or storable_text_error(text):
            raise ValueError(f"{text[:40]!r} is not a publisher id (1–255 characters, no commas).")
        if text not in cleaned:
            cleaned.append(text)
    return cleaned


class ApiTokenQuerySet(models.QuerySet):
    def live(self, now: datetime | None = None) -> ApiTokenQuerySet:
        """Tokens that work: not revoked, not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)

    def issue(
        self,
        user,
        name: str,
        expires_at: datetime | None = None,
        publishers: list[str] | None = None,
    ) -> tuple[ApiToken, str]:
        """Create a token for ``user``; returns the row and the secret (shown once, not kept).

        Raises :class:`TokenLimitReached` when the user holds ``API_TOKENS_PER_USER`` live
        tokens (counted under a lock on the user's row, so two requests cannot both pass).
        """
        prefix = secrets.token_hex(4)
        secret = f"exp_{prefix}_{secrets.token_urlsafe(32)}"
        with transaction.atomic():
            users = get_user_model().objects.select_for_update()
            list(users.filter(pk=user.pk).values_list("pk", flat=True))  # lock the user's row
            cap = token_cap()
            if self.filter(user=user).live().count() >= cap:
                raise TokenLimitReached(cap_message(cap))
            token = self.create(
                user=user,
                name=name,
                prefix=prefix,
                secret_hash=hash_secret(secret),
                expires_at=expires_at,
                publishers=list(publishers or []),
            )
        return token, secret

    def find(self, secret: str) -> ApiToken | None:
        """The token with this secret (revoked and expired ones included), or None."""
        match = SECRET_PATTERN.match(secret)
        if match is None:
            return None
        token = self.select_related("user").filter(prefix=match.group(1)).first()
        if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(secret)):
            return None
        return token


class ApiToken(models.Model):
    """A bearer token acting as its user: it sees and changes what the user may."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    publishers = models.JSONField(
        default=list,
        blank=True,
        help_text="Publisher ids this token may store readings under on HTTP ingest (a "
        "device's token); empty: any publisher the user may publish as.",
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def clean(self) -> None:
        try:
            self.publishers = clean_publishers(self.publishers or [])
        except ValueError as exc:
            raise ValidationError({"publishers": str(exc)}) from None
        if self.user_id is None or self.is_revoked or self.is_expired():
            return
        cap = token_cap()
        others = ApiToken.objects.filter(user_id=self.user_id).live().exclude(pk=self.pk)
        if others.count() >= cap:
            raise ValidationError(cap_message(cap))

    def may_publish_as(self, publisher: str) -> bool:
        return not self.publishers or publisher in self.publishers

    def refusal(self, now: datetime | None = None) -> str:
        """Why this token cannot be used (empty when it can)."""
        if not self.user.is_active:
            return "The token's user is inactive."
        if self.is_revoked:
            return "This API token has been revoked."
        if self.is_expired(now):
            return "This API token has expired."
        return ""

    def revoke(self) -> None:
        """Stop the token from working (once; a second revoke keeps the first time)."""
        ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.refresh_from_db(fields=["revoked_at"])

    def touch(self, now: datetime | None = None) -> None:
        """Record a use, at most once per ``LAST_USED_PRECISION``."""
        now = now or timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
