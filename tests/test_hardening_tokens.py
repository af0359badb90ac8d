"""Hardening: live tokens are capped per user; a token may be bound to publisher ids for ingest."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import ApiToken, ChannelGrant, Message

pytestmark = pytest.mark.django_db

INGEST = "/api/channels/c-http/messages/events.data"
PACK = [{"bn": "dev:", "bt": 1_700_000_000, "n": "temperature", "v": 21.5}]


def apitoken(*args) -> list[str]:
    out = io.StringIO()
    call_command("apitoken", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def cap_of_3(settings):
    settings.API_TOKENS_PER_USER = 3


# --- the cap ----------------------------------------------------------------------------------


def test_the_cap_defaults_to_20(settings):
    from exporter_site.settings import API_TOKENS_PER_USER

    assert API_TOKENS_PER_USER == 20


def test_the_command_refuses_a_token_past_the_cap(alice, cap_of_3):
    for _ in range(3):
        apitoken("alice")
    with pytest.raises(CommandError, match="3 live API tokens is the most one user may hold"):
        apitoken("alice")
    assert ApiToken.objects.count() == 3


def test_revoked_and_expired_tokens_do_not_count(alice, cap_of_3):
    tokens = [ApiToken.objects.issue(alice, f"t{n}")[0] for n in range(3)]
    tokens[0].revoke()
    ApiToken.objects.filter(pk=tokens[1].pk).update(expires_at=timezone.now() - timedelta(1))
    apitoken("alice")
    apitoken("alice")
    with pytest.raises(CommandError):
        apitoken("alice")


def test_the_page_refuses_a_token_past_the_cap_in_words(client, alice, bob, cap_of_3):
    for n in range(3):
        ApiToken.objects.issue(alice, f"t{n}")
    client.force_login(alice)
    response = client.post(reverse("exports:tokens"), {"name": "one more"})
    assert response.status_code == 422
    assert "3 live API tokens is the most one user may hold" in response.text
    assert "exp_" not in response.context["secret"]
    assert ApiToken.objects.filter(user=alice).count() == 3
    ApiToken.objects.issue(bob, "bob's")  # another user's tokens are their own


def test_the_admin_cannot_add_tokens_nor_revive_one_past_the_cap(
    client, admin_user, alice, cap_of_3
):
    tokens = [ApiToken.objects.issue(alice, f"t{n}")[0] for n in range(3)]
    tokens[0].revoke()
    ApiToken.objects.issue(alice, "replacement")
    client.force_login(admin_user)
    assert client.get(reverse("admin:exports_apitoken_add")).status_code == 403
    response = client.post(
        reverse("admin:exports_apitoken_change", args=[tokens[0].pk]),
        {
            "expires_at_0": "",
            "expires_at_1": "",
            "revoked_at_0": "",
            "revoked_at_1": "",
            "publishers": "[]",
        },
    )
    assert response.status_code == 200
    assert "3 live API tokens is the most one user may hold" in response.text
    tokens[0].refresh_from_db()
    assert tokens[0].is_revoked


def test_more_tokens_do_not_multiply_the_rate(alice, settings, redis_conn):
    settings.API_THROTTLE_RATE = "4/minute"
    clients = [
        Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(alice, f't{n}')[1]}")
        for n in range(8)
    ]
    statuses = [client.get("/api/exports").status_code for client in clients]
    assert statuses == [200] * 4 + [429] * 4


# --- publishers ---------------------------------------------------------------------------------


@pytest.fixture
def granted(alice):
    ChannelGrant.objects.create(user=alice, channel_id="c-http", can_publish=True)


def ingest(secret, query=""):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.post(INGEST + query, json.dumps(PACK), content_type="application/senml+json")


def test_a_device_token_stores_under_its_publisher_by_default(alice, granted):
    lines = apitoken("alice", "--name", "sensor", "--publisher", "dev-7")
    assert "publishes as: dev-7" in lines[0]
    response = ingest(lines[-1])
    assert response.status_code == 202, response.content
    assert response.json()["publisher"] == "dev-7"
    assert ingest(lines[-1], "?publisher=dev-7").status_code == 202
    assert set(Message.objects.values_list("publisher", flat=True)) == {"dev-7"}


def test_a_device_token_may_not_store_under_another_publisher(alice, granted):
    secret = apitoken("alice", "--publisher", "dev-7", "--publisher", "dev-8")[-1]
    assert ingest(secret, "?publisher=dev-8").status_code == 202
    response = ingest(secret, "?publisher=dev-9")
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {
            "path": "publisher",
            "message": "This token may publish only as 'dev-7', 'dev-8', not as 'dev-9'.",
        }
    ]
    assert set(Message.objects.values_list("publisher", flat=True)) == {"dev-8"}


def test_an_unbound_token_keeps_choosing_freely(alice, granted):
    secret = ApiToken.objects.issue(alice, "gateway")[1]
    assert ingest(secret, "?publisher=anything").json()["publisher"] == "anything"
    assert ingest(secret).json()["publisher"] == "alice"


def test_the_page_binds_a_token_to_publishers(client, alice, granted):
    client.force_login(alice)
    response = client.post(reverse("exports:tokens"), {"name": "s", "publishers": " a, b ,a"})
    assert response.status_code == 200
    assert ApiToken.objects.get().publishers == ["a", "b"]
    assert "a, b" in client.get(reverse("exports:tokens")).text
    bad = client.post(reverse("exports:tokens"), {"name": "s", "publishers": "x\x00y"})
    assert bad.status_code == 422


def test_the_command_refuses_a_bad_publisher(alice):
    with pytest.raises(CommandError, match="--publisher"):
        apitoken("alice", "--publisher", "a,b")
