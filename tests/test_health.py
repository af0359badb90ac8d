"""/healthz for load balancers: database, Redis and file storage, no login, nothing secret."""

import importlib.util
import json
import logging
import socket
import sys
import time

import pytest
from django.db import connections
from django.db.utils import ConnectionHandler

from exports.ops.json_logging import JsonFormatter
from exports.queue.namespace import NamespacedQueues

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the OS just handed it out and took it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_reports_each_check_and_200_when_all_pass(client, redis_conn):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "redis": {"ok": True}, "storage": {"ok": True}},
    }


def test_it_answers_503_naming_redis_when_redis_is_down(client, settings):
    port = closed_port()
    settings.RQ_QUEUES = NamespacedQueues(
        {
            alias: {**queue, "URL": f"redis://127.0.0.1:{port}/0"}
            for alias, queue in settings.RQ_QUEUES.configs.items()
        }
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"] == {"ok": True}
    assert str(port) not in response.content.decode()  # no addresses, hosts or secrets


def settings_from_env(monkeypatch, **env: str) -> dict:
    """The site's settings module evaluated afresh with ``env`` set (the loaded one untouched)."""
    spec = importlib.util.find_spec("exporter_site.settings")
    module = importlib.util.module_from_spec(spec)
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        spec.loader.exec_module(module)
    return vars(module)


def test_a_postgresql_connection_gives_up_after_the_connect_timeout(monkeypatch):
    url = "postgres://postgres@127.0.0.1:5432/exporter"
    monkeypatch.delenv("DATABASE_CONNECT_TIMEOUT", raising=False)
    default = settings_from_env(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]
    assert default["OPTIONS"]["connect_timeout"] == 5
    configured = settings_from_env(monkeypatch, DATABASE_URL=url, DATABASE_CONNECT_TIMEOUT="2")
    assert configured["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 2
    in_url = settings_from_env(monkeypatch, DATABASE_URL=url + "?connect_timeout=9")
    assert in_url["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 9


def test_it_answers_503_naming_the_database_when_it_is_unreachable(client, redis_conn, monkeypatch):
    port = closed_port()
    env = settings_from_env(monkeypatch, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x")
    unreachable = ConnectionHandler(env["DATABASES"])["default"]
    # Every use of the default database in this request goes to the closed port.
    reachable = connections["default"]
    connections["default"] = unreachable
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        connections["default"] = reachable
        unreachable.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {
        "database": {"ok": False, "error": "OperationalError"},
        "redis": {"ok": True},
        "storage": {"ok": True},
    }
    assert str(port) not in response.content.decode()
    assert elapsed < 5


def test_it_answers_503_naming_storage_when_the_files_cannot_be_written(
    client, settings, redis_conn, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "exports.files.storage.ExportFileSystemStorage",
            "OPTIONS": {"location": str(blocker / "media")},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == {"ok": False, "error": "StorageUnavailable"}
    assert str(tmp_path) not in response.content.decode()


def test_it_needs_no_login_and_answers_any_host_over_plain_http_in_production(
    client, settings, redis_conn
):
    # Balancers probe each backend by its address over HTTP: no host check, no HTTPS redirect.
    settings.ALLOWED_HOSTS = ["exporter.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.head("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    # ...while every other page still gets both.
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    login = client.get("/accounts/login/", HTTP_HOST="exporter.example.com")
    assert login.status_code == 301 and login["Location"].startswith("https://")


def test_it_refuses_other_methods(client):
    response = client.post("/healthz")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


def test_a_log_line_in_json_carries_the_message_extras_and_exception():
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.getLogger("exports.test").makeRecord(
            "exports.test",
            logging.ERROR,
            __file__,
            1,
            "job %s failed",
            (7,),
            exc_info=sys.exc_info(),
            extra={"job_id": 7, "request": object()},
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "exports.test"
    assert entry["message"] == "job 7 failed" and entry["job_id"] == 7
    assert entry["request"].startswith("<object object")  # not JSON: its repr
    assert entry["exception"].endswith("ValueError: bad value")
    assert entry["time"].endswith("+00:00")
