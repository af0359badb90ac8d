"""Who is calling: bearer tokens (or the session, with CSRF), and how often they may.

``Authorization: Bearer exp_…`` finds an :class:`~exports.models.ApiToken`; an unknown,
revoked or expired token is a 401 with a JSON error, never a silent fall back to anonymous.

Limits (``exports.ops.ratelimit``: sliding windows counted atomically in the Redis of the
``api-throttle`` cache, shared by every thread, process and machine):

* ``API_THROTTLE_RATE`` per **user** — all of a user's tokens and their session share it, so
  issuing more tokens never raises the rate; ``API_ANON_THROTTLE_RATE`` per client address
  for the few endpoints open to anonymous callers.
* ``AUTH_FAILURE_RATE``: bearer secrets that match no token, per client address. Past it every
  bearer request from that address is a 429 with ``Retry-After`` until the window frees a
  slot (a right token too: otherwise guessing would go on, told apart by the status).

When that Redis cannot be reached, requests are let through (with a warning in the log).
"""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import BaseThrottle

from exports.models import ApiToken
from exports.ops import ratelimit
from exports.ops.clients import client_address

log = logging.getLogger(__name__)


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many requests with an unknown API token from your address."


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <secret>`` → the token's user; ``request.auth`` is the token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # not ours: the session may still authenticate the request
        failures = FailedTokenLimit(request)
        failures.check()
        secret = secret.strip()
        if not secret:
            failures.record()
            raise exceptions.AuthenticationFailed("The Bearer header carries no token.")
        token = ApiToken.objects.find(secret)
        if token is None:
            failures.record()
            raise exceptions.AuthenticationFailed("Unknown API token.")
        refusal = token.refusal()
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        token.touch()
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to an unauthenticated request.
        return f'{self.keyword} realm="api"'


class FailedTokenLimit:
    """``AUTH_FAILURE_RATE`` unknown bearer secrets per client address (see the module)."""

    def __init__(self, request):
        self.rate = ratelimit.Rate.parse(settings.AUTH_FAILURE_RATE, "AUTH_FAILURE_RATE")
        self.key = ratelimit.key("auth-failures", "address", client_address(request))

    def check(self) -> None:
        """Raise a 429 when the address has used up its failures for the window."""
        try:
            outcome = ratelimit.peek(self.key, self.rate)
        except Exception as exc:  # noqa: BLE001 - a Redis outage must not take the API down
            log.warning("Failed-token limit skipped: the throttle Redis is unavailable: %s", exc)
            return
        if not outcome.allowed:
            refusal = TooManyFailures(
                detail="Too many requests with an unknown API token from your address: "
                f"try again in {ratelimit.in_words(outcome.retry_after)}."
            )
            refusal.wait = int(ratelimit.retry_after_header(outcome.retry_after))
            raise refusal

    def record(self) -> None:
        try:
            ratelimit.hit(self.key, self.rate)
        except Exception as exc:  # noqa: BLE001 - as in check()
            log.warning("Failed-token limit skipped: the throttle Redis is unavailable: %s", exc)


class TokenRateThrottle(BaseThrottle):
    """Requests per user (any of their tokens or their session; per address when anonymous).

    Rates come from ``API_THROTTLE_RATE`` / ``API_ANON_THROTTLE_RATE``, read per request (so a
    changed setting applies at once). Counted atomically in Redis (see the module); if that
    Redis is down the request is let through rather than failed.
    """

    def __init__(self):
        self.retry_after = 0.0

    def allow_request(self, request, view) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            rate = ratelimit.Rate.parse(settings.API_THROTTLE_RATE, "API_THROTTLE_RATE")
            name = ratelimit.key("api", "user", str(user.pk))
        else:
            rate = ratelimit.Rate.parse(settings.API_ANON_THROTTLE_RATE, "API_ANON_THROTTLE_RATE")
            name = ratelimit.key("api", "address", client_address(request))
        try:
            outcome = ratelimit.hit(name, rate)
        except Exception as exc:  # noqa: BLE001 - a cache outage must not take the API down
            log.warning("API throttle skipped: the throttle cache is unavailable: %s", exc)
            return True
        self.retry_after = outcome.retry_after
        return outcome.allowed

    def wait(self) -> float:
        return max(self.retry_after, 1.0)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`exp_…`), from the tokens page or "
            "`manage.py apitoken`.",
        }
