"""/healthz for load balancers: database, Redis and file storage, no login, nothing secret."""

import importlib.util
import json
import logging
import socket
import sys
import threading
import time

import pytest
from django.db.utils import ConnectionHandler

from exports.ops import health
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
    unreachable.inc_thread_sharing()  # the check runs in a thread of its own
    # The database check goes to the closed port.
    monkeypatch.setattr(health, "database_connection", lambda: unreachable)
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
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


@pytest.fixture
def hung_endpoint():
    """An address that accepts TCP connections (the kernel completes them) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    # Leave the storage check idle for the next test (its own timeouts end the hung run).
    prober = health._prober("storage")
    assert prober.busy.acquire(timeout=30)
    prober.busy.release()


def test_readiness_answers_in_seconds_when_the_bucket_hangs_and_liveness_stays_200(
    client, settings, redis_conn, hung_endpoint, caplog
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "exports.files.s3.ExportS3Storage",
            "OPTIONS": {
                "bucket_name": "exports",
                "endpoint_url": hung_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
            },
        },
    }
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed  # a hung S3 endpoint once held a probe for 241 s
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": {"ok": True},
        "redis": {"ok": True},
        "storage": {"ok": False, "error": "Timeout"},
    }
    assert hung_endpoint.rsplit(":", 1)[1] not in response.content.decode()
    # Probes while it still hangs fail at once instead of piling up threads.
    threads = threading.active_count()
    started = time.monotonic()
    for _ in range(5):
        assert client.get("/healthz").json()["checks"]["storage"]["ok"] is False
    assert time.monotonic() - started < 5 and threading.active_count() <= threads
    # The process itself answers: a balancer probing /livez keeps the site in rotation.
    live = client.get("/livez")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert client.head("/livez", HTTP_HOST="10.1.2.3").status_code == 200
    # One warning when the check started failing, not one per probe.
    failures = [r for r in caplog.records if "Health check storage failed" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is None


def test_a_failing_check_is_logged_once_per_change_of_state(caplog, monkeypatch):
    state = {"ok": False}

    def flaky() -> None:
        if not state["ok"]:
            raise ConnectionError("down")

    monkeypatch.setattr(health, "CHECKS", {"flaky": flaky})
    with caplog.at_level(logging.INFO, logger="exports.ops.health"):
        for _ in range(3):
            assert health.run_checks()[1]["flaky"] == {"ok": False, "error": "ConnectionError"}
        state["ok"] = True
        for _ in range(3):
            assert health.run_checks()[0] is True
    lines = [r.getMessage() for r in caplog.records if "flaky" in r.getMessage()]
    assert lines == [
        "Health check flaky failed: ConnectionError: down",
        "Health check flaky passes again",
    ]
    health._last_ok.pop("flaky", None)
