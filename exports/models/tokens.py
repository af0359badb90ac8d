"""Personal API tokens: who a program is (what it may do is its user's channel grants).

A token's secret is shown once, when it is issued, and never stored: only its SHA-256 is
kept, beside a short random public prefix that finds the row without scanning the table.
The secret reads ``exp_<prefix>_<43 random characters>`` so a leaked one is easy to spot
in logs and code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from exports.requests.validation import parse_duration

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


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
        """Create a token for ``user``; returns the row and the secret (shown once, not kept)."""
        prefix = secrets.token_hex(4)
        secret = f"exp_{prefix}_{secrets.token_urlsafe(32)}"
        token = self.create(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(secret),
            expires_at=expires_at,
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
