"""The API tokens page: issue a token (its secret is shown once), list and revoke yours.

At most ``API_TOKENS_PER_USER`` live tokens; a token may be bound to publisher ids (a device's).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from exports.models import ApiToken
from exports.models.token_lifetime import DEFAULT_CHOICE, default_expiry
from exports.models.tokens import TokenLimitReached, clean_publishers, expiry_after

LIFETIMES = [
    ("", DEFAULT_CHOICE),
    ("P7D", "7 days"),
    ("P30D", "30 days"),
    ("P90D", "90 days"),
    ("P1Y", "1 year"),
]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. “gateway in greenhouse 2”."
    )
    lifetime = forms.ChoiceField(choices=LIFETIMES, required=False, label="Expires after")
    publishers = forms.CharField(
        required=False,
        max_length=2000,
        label="Publish only as",
        help_text="For a device: the publisher id(s) it may store readings under, separated by "
        "commas. Empty: any.",
    )

    def clean_publishers(self) -> list[str]:
        try:
            return clean_publishers(self.cleaned_data["publishers"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """Your tokens; a POST issues one and shows its secret on this answer only."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            lifetime = form.cleaned_data["lifetime"]
            try:
                _, secret = ApiToken.objects.issue(
                    request.user,
                    form.cleaned_data["name"],
                    expiry_after(lifetime) if lifetime else default_expiry(),
                    form.cleaned_data["publishers"],
                )
                form = TokenForm()
            except TokenLimitReached as exc:
                form.add_error(None, str(exc))
                status = 422
        else:
            status = 422
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "exports/tokens.html",
        {"form": form, "tokens": tokens, "secret": secret},
        status=status,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of your tokens (another user's is a 404, as everywhere)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("exports:tokens")
