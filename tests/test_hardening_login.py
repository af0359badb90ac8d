"""Hardening: failed sign-ins are limited per client address and per user name.

The refusal is a form error on Django's sign-in page saying how long to wait, with a 429 and
``Retry-After``; right passwords never count, and other addresses and names are not slowed.
"""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings, redis_conn):
    settings.AUTH_FAILURE_RATE = "20/10m"
    settings.LOGIN_FAILURE_RATE_PER_USER = "10/10m"


def sign_in(username, password, address="203.0.113.10", url=None):
    client = Client(REMOTE_ADDR=address)
    return client.post(url or reverse("login"), {"username": username, "password": password})


def test_wrong_passwords_for_one_name_then_even_the_right_one_waits(alice, bob, limits):
    statuses = [sign_in("alice", f"wrong-{n}").status_code for n in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    refused = sign_in("alice", "alice-pass-123")
    assert refused.status_code == 429
    assert 500 < int(refused["Retry-After"]) <= 600
    errors = refused.context["form"].non_field_errors()
    assert errors == [
        "Too many failed sign-in attempts for this user name. Try again in 10 minutes."
    ]
    page = refused.text
    assert "Too many failed sign-in attempts" in page and "<h1>Sign in</h1>" in page
    assert "_auth_user_id" not in refused.wsgi_request.session
    # Any address: the name is what is guessed at (case does not help) ...
    assert sign_in("ALICE", "alice-pass-123", address="198.51.100.9").status_code == 429
    # ... while another user signs in at once, from the same address too.
    assert sign_in("bob", "bob-pass-123").status_code == 302
    assert sign_in("bob", "bob-pass-123", address="198.51.100.9").status_code == 302


def test_one_address_trying_many_names_is_limited(alice, limits):
    statuses = [sign_in(f"user{n}", "guess").status_code for n in range(22)]
    assert statuses == [200] * 20 + [429] * 2
    refused = sign_in("alice", "alice-pass-123")
    assert refused.status_code == 429
    assert "from your address" in refused.context["form"].non_field_errors()[0]
    assert sign_in("alice", "alice-pass-123", address="198.51.100.9").status_code == 302


def test_right_passwords_never_count(alice, settings, redis_conn):
    settings.AUTH_FAILURE_RATE = settings.LOGIN_FAILURE_RATE_PER_USER = "2/10m"
    assert {sign_in("alice", "alice-pass-123").status_code for _ in range(6)} == {302}
    assert [sign_in("alice", "nope").status_code for _ in range(3)] == [200, 200, 429]


def test_an_empty_form_is_not_counted(alice, settings, redis_conn):
    settings.AUTH_FAILURE_RATE = settings.LOGIN_FAILURE_RATE_PER_USER = "1/10m"
    assert [sign_in("alice", "").status_code for _ in range(3)] == [200, 200, 200]
    assert sign_in("alice", "alice-pass-123").status_code == 302


def test_the_admin_sign_in_is_limited_the_same_way(admin_user, limits):
    url = reverse("admin:login")
    statuses = [sign_in("admin", "wrong", url=url).status_code for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    refused = sign_in("admin", "admin-pass-123", url=url)
    assert refused.status_code == 429 and refused.has_header("Retry-After")
    assert "Too many failed sign-in attempts" in refused.text
    assert sign_in("admin", "admin-pass-123", address="198.51.100.9").status_code == 429


def test_sign_in_works_when_the_throttle_redis_is_down(alice, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "api-throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    assert sign_in("alice", "wrong").status_code == 200
    assert sign_in("alice", "alice-pass-123").status_code == 302
    assert "throttle Redis is unavailable" in caplog.text
