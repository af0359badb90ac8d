"""/healthz for load balancers: database, Redis and file storage, no login, nothing secret."""

import json
import logging
import socket
import sys

import pytest

from exports.json_logging import JsonFormatter

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
    settings.RQ_QUEUES = {
        name: {**queue, "URL": f"redis://127.0.0.1:{port}/0"}
        for name, queue in settings.RQ_QUEUES.items()
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"] == {"ok": True}
    assert str(port) not in response.content.decode()  # no addresses, hosts or secrets


def test_it_answers_503_naming_storage_when_the_files_cannot_be_written(
    client, settings, redis_conn, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "exports.storage.ExportFileSystemStorage",
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
