"""Failed sign-ins are limited: per client address and per user name.

The sign-in page (Django's ``LoginView``) and the admin's sign-in use these forms. Each attempt
first takes a slot in two sliding windows (``exports.ops.ratelimit``): ``AUTH_FAILURE_RATE``
for the client address (every user name tried from it) and ``LOGIN_FAILURE_RATE_PER_USER`` for
the user name (from every address). A right password gives both slots back, so successful
sign-ins never count; a wrong one keeps them. When either window is full the attempt is
refused before the password is checked — even a right one, or guessing would go on — with a
form error saying how long to wait, a 429 status and ``Retry-After``. Other addresses and
other user names are not affected.

When the Redis behind the limits is down, sign-in works unlimited (a warning is logged).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from exports.ops import ratelimit
from exports.ops.clients import client_address

log = logging.getLogger(__name__)


class FailedLoginLimit:
    """The two windows one sign-in attempt counts in (see the module)."""

    def __init__(self, request: HttpRequest, username: str):
        self.windows = [
            (
                ratelimit.key("login-failures", "address", client_address(request)),
                ratelimit.Rate.parse(settings.AUTH_FAILURE_RATE, "AUTH_FAILURE_RATE"),
                "from your address",
            ),
            (
                # Case-folded: "Alice" and "alice" are one name to an attacker.
                ratelimit.key("login-failures", "user", username.strip().casefold()[:150]),
                ratelimit.Rate.parse(
                    settings.LOGIN_FAILURE_RATE_PER_USER, "LOGIN_FAILURE_RATE_PER_USER"
                ),
                "for this user name",
            ),
        ]
        self.taken: list[tuple[str, ratelimit.Outcome]] = []

    def take(self) -> tuple[float, str] | None:
        """Count the attempt; ``(seconds to wait, where)`` when a window is full (nothing
        counted then), ``None`` when the attempt may go on."""
        try:
            for name, rate, where in self.windows:
                outcome = ratelimit.hit(name, rate)
                if not outcome.allowed:
                    self.give_back()
                    return outcome.retry_after, where
                self.taken.append((name, outcome))
        except Exception as exc:  # noqa: BLE001 - a Redis outage must not stop sign-in
            log.warning("Sign-in limit skipped: the throttle Redis is unavailable: %s", exc)
            self.taken = []
        return None

    def give_back(self) -> None:
        """The attempt was right (or never checked): it does not count."""
        try:
            for name, outcome in self.taken:
                ratelimit.release(name, outcome)
        except Exception as exc:  # noqa: BLE001 - as in take()
            log.warning("Sign-in limit: could not give a slot back: %s", exc)
        self.taken = []


class ThrottledLoginMixin:
    """For an ``AuthenticationForm``: the limit around its ``clean()``; ``retry_after`` is set
    (seconds) when the attempt was refused for it."""

    retry_after: float | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()  # nothing is checked, nothing counted
        limit = FailedLoginLimit(self.request, username)
        refused = limit.take()
        if refused is not None:
            wait, where = refused
            self.retry_after = wait
            raise ValidationError(
                "Too many failed sign-in attempts %(where)s. Try again in %(wait)s.",
                params={"where": where, "wait": ratelimit.in_words(wait)},
                code="throttled",
            )
        cleaned = super().clean()  # raises for a wrong password: the slots stay taken
        limit.give_back()
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


def refused_status(response: HttpResponse, form) -> HttpResponse:
    """A refused attempt's page answers 429 with ``Retry-After``."""
    if form is not None and getattr(form, "retry_after", None) is not None:
        response.status_code = 429
        response["Retry-After"] = ratelimit.retry_after_header(form.retry_after)
    return response


class ThrottledLoginView(LoginView):
    """Django's sign-in page, with failed attempts limited (see the module)."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form):
        return refused_status(super().form_invalid(form), form)


def throttled_admin_login(site):
    """The admin site's ``login`` view with the same limit and the same 429."""
    site.login_form = ThrottledAdminAuthenticationForm
    login = site.login

    def view(request, extra_context=None):
        response = login(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        return refused_status(response, context.get("form"))

    return view
