"""Hardening: the API limits hold under concurrency, per user, and for failed authentication.

Counters are sliding windows counted by one Lua script in the real Redis of the ``api-throttle``
cache (``exports.ops.ratelimit``): 32 threads, or two processes, sharing one limit are let
through exactly ``limit`` times between them.
"""

import os
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from exports.api.auth import TokenRateThrottle
from exports.models import ApiToken
from exports.ops import ratelimit
from exports.ops.clients import client_address

ROOT = Path(__file__).resolve().parent.parent
WRONG = "exp_00000000_" + "x" * 43


def bearer(secret: str, address: str = "127.0.0.1") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=address)


def fake_request(address="203.0.113.7", user=None):
    meta = {"REMOTE_ADDR": address}
    return SimpleNamespace(user=user or AnonymousUser(), META=meta, auth=None)


def in_threads(count: int, calls: int, function) -> list:
    start = threading.Barrier(count)

    def worker(_):
        start.wait()
        return [function() for _ in range(calls)]

    with ThreadPoolExecutor(count) as pool:
        return [result for batch in pool.map(worker, range(count)) for result in batch]


# --- the counter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [("600/minute", 600, 60), ("60/min", 60, 60), ("20/10m", 20, 600), ("5/hour", 5, 3600)],
)
def test_rates_read_like_drfs_and_with_a_multiple(text, limit, window):
    assert ratelimit.Rate.parse(text) == ratelimit.Rate(limit, window)


def test_32_threads_are_let_through_exactly_the_limit(redis_conn):
    rate = ratelimit.Rate(100, 60)
    name = ratelimit.key("test", "threads")
    outcomes = in_threads(32, 10, lambda: ratelimit.hit(name, rate))
    assert sum(outcome.allowed for outcome in outcomes) == 100
    refused = [outcome for outcome in outcomes if not outcome.allowed]
    assert len(refused) == 220
    assert all(0 < outcome.retry_after <= 60 for outcome in refused)


def test_two_processes_share_one_limit(redis_conn):
    name = ratelimit.key("test", "processes")
    script = (
        "import django; django.setup()\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from exports.ops import ratelimit\n"
        f"rate, name = ratelimit.Rate(150, 60), {name!r}\n"
        "with ThreadPoolExecutor(16) as pool:\n"
        "    hits = list(pool.map(lambda _: ratelimit.hit(name, rate).allowed, range(200)))\n"
        "print(sum(hits))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, cwd=ROOT)
        for _ in range(2)
    ]
    allowed = [int(process.communicate(timeout=120)[0]) for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert sum(allowed) == 150, allowed


def test_the_anonymous_limit_holds_across_threads_per_address(settings, redis_conn):
    settings.API_ANON_THROTTLE_RATE = "60/minute"

    def one_request(address):
        return TokenRateThrottle().allow_request(fake_request(address), None)

    results = in_threads(32, 5, lambda: one_request("198.51.100.1"))
    assert sum(results) == 60
    assert one_request("198.51.100.2")  # another address has its own window


def test_a_refusal_says_how_long_to_wait(settings, redis_conn):
    settings.API_ANON_THROTTLE_RATE = "2/hour"
    throttle = TokenRateThrottle()
    assert [throttle.allow_request(fake_request(), None) for _ in range(3)] == [True, True, False]
    assert 3590 < throttle.wait() <= 3600


@pytest.mark.django_db
def test_a_redis_outage_lets_requests_through(settings, redis_conn, caplog):
    settings.API_ANON_THROTTLE_RATE = "1/hour"
    settings.API_THROTTLE_RATE = "1/hour"
    settings.CACHES = {
        **settings.CACHES,
        "api-throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    assert all(TokenRateThrottle().allow_request(fake_request(), None) for _ in range(3))
    assert "throttle cache is unavailable" in caplog.text
    assert bearer(WRONG).get("/api/exports").status_code == 401  # failures: let through too


# --- through the API --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_user_from_32_threads_gets_exactly_the_limit(alice, settings, redis_conn):
    settings.API_THROTTLE_RATE = "40/minute"
    secrets = [ApiToken.objects.issue(alice, f"t{n}")[1] for n in range(4)]
    # Used just now: no request writes last_used_at (SQLite's shared in-memory test database
    # refuses concurrent writers outright instead of waiting).
    ApiToken.objects.update(last_used_at=timezone.now())
    counter = iter(range(10_000))
    lock = threading.Lock()

    def call():
        with lock:
            secret = secrets[next(counter) % len(secrets)]  # four tokens, one user
        return bearer(secret).get("/api/exports").status_code

    statuses = in_threads(32, 3, call)
    assert statuses.count(200) == 40, Counter(statuses)
    assert statuses.count(429) == 56, Counter(statuses)


@pytest.mark.django_db
def test_a_429_carries_retry_after_and_the_error_shape(alice, settings, redis_conn):
    settings.API_THROTTLE_RATE = "1/minute"
    client = bearer(ApiToken.objects.issue(alice, "t")[1])
    assert client.get("/api/exports").status_code == 200
    refused = client.get("/api/exports")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["path"] == ""


# --- failed bearer secrets --------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_secrets_are_limited_per_address(alice, settings, redis_conn):
    settings.AUTH_FAILURE_RATE = "5/10m"
    attacker = bearer(WRONG, "203.0.113.66")
    statuses = [attacker.get("/api/exports").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    refused = attacker.get("/api/exports")
    assert 500 < int(refused["Retry-After"]) <= 600
    message = refused.json()["errors"][0]["message"]
    assert message.startswith("Too many requests with an unknown API token from your address")
    assert "try again in 10 minutes" in message
    # Even the right token from that address waits (or guessing would go on) ...
    right = ApiToken.objects.issue(alice, "t")[1]
    assert bearer(right, "203.0.113.66").get("/api/exports").status_code == 429
    # ... while everyone else is not affected.
    assert bearer(right, "203.0.113.67").get("/api/exports").status_code == 200
    assert bearer(WRONG, "203.0.113.67").get("/api/exports").status_code == 401


@pytest.mark.django_db
def test_right_tokens_do_not_count_as_failures(alice, settings, redis_conn):
    settings.AUTH_FAILURE_RATE = "2/10m"
    right = bearer(ApiToken.objects.issue(alice, "t")[1])
    assert {right.get("/api/exports").status_code for _ in range(5)} == {200}


@pytest.mark.django_db(transaction=True)
def test_unknown_secrets_from_32_threads_are_limited_too(settings, redis_conn):
    settings.AUTH_FAILURE_RATE = "50/10m"
    statuses = in_threads(32, 4, lambda: bearer(WRONG).get("/api/exports").status_code)
    assert 50 <= statuses.count(401) <= 50 + 32  # checked, then counted: in-flight ones finish
    assert statuses.count(429) == 128 - statuses.count(401)
    assert bearer(WRONG).get("/api/exports").status_code == 429


def test_the_client_address_is_remote_addr_only():
    request = fake_request("192.0.2.5")
    request.META["HTTP_X_FORWARDED_FOR"] = "10.0.0.1"
    assert client_address(request) == "192.0.2.5"
    assert client_address(SimpleNamespace(META={})) == "unknown"
