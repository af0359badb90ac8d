"""How long a new API token lives when nobody says: ``API_TOKEN_DEFAULT_LIFETIME`` (P90D).

The tokens page and ``manage.py apitoken`` give a token this lifetime unless another one is
chosen; a token that should outlive it must ask for a longer one (at most a century).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils.functional import lazy

from exports.models.tokens import expiry_after

DEFAULT_LIFETIME = "P90D"


def default_lifetime() -> str:
    return getattr(settings, "API_TOKEN_DEFAULT_LIFETIME", DEFAULT_LIFETIME)


def default_expiry(now: datetime | None = None) -> datetime:
    """When a token issued ``now`` without a chosen lifetime expires."""
    return expiry_after(default_lifetime(), now)


def _default_choice() -> str:
    return f"The default, {default_lifetime()} (API_TOKEN_DEFAULT_LIFETIME)"


# The tokens page's first lifetime choice, read when the page is shown.
DEFAULT_CHOICE = lazy(_default_choice, str)()
