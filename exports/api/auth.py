"""Who is calling: bearer tokens (or the session, with CSRF), and how often they may.

``Authorization: Bearer exp_…`` finds an :class:`~exports.models.ApiToken`; an unknown,
revoked or expired token is a 401 with a JSON error, never a silent fall back to anonymous.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import SimpleRateThrottle

from exports.models import ApiToken
from exports.queue.namespace import redis_key

log = logging.getLogger(__name__)


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <secret>`` → the token's user; ``request.auth`` is the token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # not ours: the session may still authenticate the request
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("The Bearer header carries no token.")
        token = ApiToken.objects.find(secret)
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown API token.")
        refusal = token.refusal()
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        token.touch()
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to an unauthenticated request.
        return f'{self.keyword} realm="api"'


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (per user for a session, per address when anonymous).

    Rates come from ``API_THROTTLE_RATE`` / ``API_ANON_THROTTLE_RATE``. Counters live in the
    ``api-throttle`` cache (Redis) so all web processes share them; if that cache is down
    the request is let through rather than failed.
    """

    cache = caches["api-throttle"]
    scope = "api"

    def get_rate(self) -> str:
        # Read per request, so a changed setting (and a test's override) applies at once.
        return (
            settings.API_ANON_THROTTLE_RATE if self.scope == "anon" else settings.API_THROTTLE_RATE
        )

    def allow_request(self, request, view) -> bool:
        user = request.user
        self.scope = "api" if user is not None and user.is_authenticated else "anon"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # noqa: BLE001 - a cache outage must not take the API down
            log.warning("API throttle skipped: the throttle cache is unavailable: %s", exc)
            return True

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        # Namespaced like every Redis key of ours: installations may share one Redis.
        return redis_key(f"throttle:{self.scope}:{ident}")


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
