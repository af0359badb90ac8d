"""Personal API tokens: `manage.py apitoken`, the tokens page, hashing, expiry and revocation."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import ApiToken, ChannelGrant
from exports.models.tokens import hash_secret

pytestmark = pytest.mark.django_db


def apitoken(*args, **options) -> list[str]:
    out = io.StringIO()
    call_command("apitoken", *args, stdout=out, **options)
    return out.getvalue().splitlines()


def test_the_command_prints_a_working_secret_as_its_last_line_and_stores_only_its_hash(alice):
    secret = apitoken("alice", name="gateway")[-1]
    token = ApiToken.objects.get()
    assert token.name == "gateway" and token.user == alice
    assert token.expires_at > timezone.now() + timedelta(days=89)  # API_TOKEN_DEFAULT_LIFETIME
    assert token.secret_hash == hash_secret(secret) and secret not in token.secret_hash
    assert secret.startswith(f"exp_{token.prefix}_")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/exports")
    assert response.status_code == 200


def test_the_command_sets_an_expiry_from_an_iso_duration(alice):
    apitoken("alice", expires="P30D")
    expires_at = ApiToken.objects.get().expires_at
    assert abs(expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "args, options, message",
    [
        (["nobody"], {}, "No user named 'nobody'"),
        (["alice"], {"expires": "30 days"}, "not an ISO 8601 duration"),
        (["alice"], {"expires": "-P1D"}, "not a positive duration"),
        (["alice"], {"name": " "}, "--name must be 1 to 100 characters"),
    ],
)
def test_the_command_refuses_bad_input_clearly(alice, args, options, message):
    with pytest.raises(CommandError, match=message):
        apitoken(*args, **options)
    assert not ApiToken.objects.exists()


def test_the_tokens_page_needs_a_login(client):
    response = client.get(reverse("exports:tokens"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_token_made_on_the_page_is_shown_once_and_works(client, alice):
    client.force_login(alice)
    made = client.post(reverse("exports:tokens"), {"name": "script", "lifetime": "P7D"})
    assert made.status_code == 200
    secret = made.context["secret"]
    assert secret and secret in made.content.decode()
    token = ApiToken.objects.get()
    assert token.expires_at > timezone.now() + timedelta(days=6)
    listed = client.get(reverse("exports:tokens")).content.decode()
    assert "script" in listed and secret not in listed
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/series").status_code == 200


def test_a_nameless_token_is_refused_with_the_form_error(client, alice):
    client.force_login(alice)
    response = client.post(reverse("exports:tokens"), {"name": "", "lifetime": "P9D"})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_a_revoked_token_stops_working_at_once(client, alice):
    token, secret = ApiToken.objects.issue(alice, "old")
    client.force_login(alice)
    response = client.post(reverse("exports:token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/exports").status_code == 401
    assert "revoked" in client.get(reverse("exports:tokens")).content.decode()


def test_another_users_token_cannot_be_revoked_or_seen(client, alice, bob):
    token, _ = ApiToken.objects.issue(alice, "alice's secret script")
    client.force_login(bob)
    assert client.post(reverse("exports:token-revoke", args=[token.pk])).status_code == 404
    assert "alice's secret script" not in client.get(reverse("exports:tokens")).content.decode()
    token.refresh_from_db()
    assert not token.is_revoked


def test_the_site_header_links_to_the_tokens_page(client, alice):
    client.force_login(alice)
    page = client.get(reverse("exports:list")).content.decode()
    assert f'href="{reverse("exports:tokens")}"' in page


def test_an_inactive_users_token_is_refused(alice):
    _, secret = ApiToken.objects.issue(alice, "t")
    alice.is_active = False
    alice.save()
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get("/api/exports")
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_person_creates_copies_and_revokes_a_token_in_the_browser(
    live_server, chromium_page, alice, tmp_path
):
    page = chromium_page
    page.goto(live_server.url + reverse("login"))
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    page.click("button[type=submit]")
    page.click("text=API tokens")
    page.fill("#id_name", "nightly script")
    page.select_option("#id_lifetime", "P30D")
    page.click("text=Create token")
    secret = page.input_value("input[aria-label='New API token']")
    page.screenshot(path=str(tmp_path / "tokens.png"), full_page=True)
    assert secret.startswith("exp_")
    assert ApiToken.objects.get().secret_hash == hash_secret(secret)
    page.click("text=Revoke")
    page.wait_for_selector("text=revoked")
    assert ApiToken.objects.get().is_revoked


def test_staff_grant_channels_and_see_tokens_but_no_secret_in_the_admin(client, admin_user, alice):
    token, secret = ApiToken.objects.issue(alice, "gateway")
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_publish=True)
    client.force_login(admin_user)
    tokens = client.get(reverse("admin:exports_apitoken_changelist"))
    assert tokens.status_code == 200 and "gateway" in tokens.content.decode()
    change = client.get(reverse("admin:exports_apitoken_change", args=[token.pk])).content.decode()
    assert secret not in change and token.secret_hash not in change
    assert client.get(reverse("admin:exports_apitoken_add")).status_code == 403
    grants = client.get(reverse("admin:exports_channelgrant_changelist")).content.decode()
    assert "c1" in grants
    added = client.post(
        reverse("admin:exports_channelgrant_add"),
        {"user": alice.pk, "channel_id": "c2", "subtopic": "", "can_publish": "on"},
    )
    assert added.status_code == 302
    assert set(ChannelGrant.objects.values_list("channel_id", flat=True)) == {"c1", "c2"}
