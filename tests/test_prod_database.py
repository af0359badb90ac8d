"""A database restart gives no 500s (issue 17, item 3): kept connections are checked first."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from django.conf import settings as django_settings
from django.db import close_old_connections, connection

from exports.models import ApiToken
from tests.test_deploy import free_port, get, process_env, unit_command
from tests.test_scheduler import ROOT, database_for_subprocesses

pytestmark = pytest.mark.django_db(transaction=True)


def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL; SQLite has no server connection")


def terminate_every_other_connection() -> int:
    """What a server restart or failover does to every client of this database but us."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_settings_turn_health_checks_on_by_default():
    from tests.test_health import settings_from_env

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DATABASE_CONN_HEALTH_CHECKS", raising=False)
        default = settings_from_env(patch, DATABASE_URL="postgres://u@h/x")["DATABASES"]["default"]
        off = settings_from_env(
            patch, DATABASE_URL="postgres://u@h/x", DATABASE_CONN_HEALTH_CHECKS="false"
        )
    assert default["CONN_HEALTH_CHECKS"] is True
    assert off["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is False


def test_web_requests_after_every_connection_was_terminated_succeed(alice, redis_conn, tmp_path):
    postgresql_only()
    _, secret = ApiToken.objects.issue(alice, "restart drill")
    port = free_port()
    with database_for_subprocesses() as url:
        env = process_env(
            ALLOWED_HOSTS="127.0.0.1",
            DATABASE_URL=url,
            DATABASE_CONN_MAX_AGE="600",  # kept connections: what a restart leaves dead
            REDIS_URL=django_settings.REDIS_URL,
            EXPORTS_STORAGE="local",
            EXPORTS_INSTANCE="test",
            MEDIA_ROOT=str(tmp_path / "media"),
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_WORKERS="2",
            GUNICORN_THREADS="4",
            GUNICORN_FORWARDED_ALLOW_IPS="127.0.0.1",
            TRUSTED_PROXY_COUNT="1",
            GUNICORN_GRACEFUL_TIMEOUT="5",
            STATIC_ROOT=str(tmp_path / "static"),
        )
        process = subprocess.Popen(
            unit_command("exporter-web.service"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        headers = {"X-Forwarded-Proto": "https", "Authorization": f"Bearer {secret}"}
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if get(port, "/livez")[0] == 200:
                        break
                except OSError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "no gunicorn"
                time.sleep(0.2)
            # Every worker thread opens (and keeps) its connection.
            before = [get(port, "/api/exports", **headers)[0] for _ in range(40)]
            assert set(before) == {200}
            assert terminate_every_other_connection() >= 1
            after = [get(port, "/api/exports", **headers)[0] for _ in range(40)]
        finally:
            process.send_signal(signal.SIGINT)
            log = process.communicate(timeout=60)[1]
    assert after.count(200) == 40, (after, log[-3000:])


def test_a_long_running_process_reconnects_at_its_next_step():
    """The scheduler (each tick) and a worker (each job) call close_old_connections first:
    with health checks on, a connection the server dropped is replaced before it is used."""
    postgresql_only()
    connection.close()
    original = (
        connection.settings_dict["CONN_MAX_AGE"],
        connection.settings_dict["CONN_HEALTH_CHECKS"],
    )
    connection.settings_dict["CONN_MAX_AGE"] = 600
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            first = cursor.fetchone()[0]
        other = connection.copy()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [first])
        other.close()
        close_old_connections()  # the start of a tick (runscheduler) or request
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != first
    finally:
        connection.settings_dict["CONN_MAX_AGE"], connection.settings_dict["CONN_HEALTH_CHECKS"] = (
            original
        )
        connection.close()
