"""Production serving as the README's Deploying section documents it, run for real.

`manage.py check --deploy` with deploy/exporter.env, and gunicorn with
deploy/gunicorn.conf.py serving the site (whitenoise for static files) behind a TLS proxy.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "deploy" / "exporter.env"


def documented_env() -> dict[str, str]:
    """deploy/exporter.env read as systemd reads an EnvironmentFile (KEY=value lines)."""
    env = {}
    for line in ENV_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and key == key.strip(), f"not a KEY=value line: {line!r}"
        # systemd keeps a trailing "# comment" as part of the value: there must be none.
        assert "#" not in value, f"comment after a value in {ENV_FILE.name}: {line!r}"
        env[key] = value
    return env


def process_env(**overrides: str) -> dict[str, str]:
    """A clean process environment: PATH, the documented env, a real secret, overrides."""
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/")}
    env |= documented_env()
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DJANGO_SETTINGS_MODULE"] = "exporter_site.settings"
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # nothing here may reach for an instance role
    env |= overrides
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=process_env())
    assert result.returncode == 0, result.stdout + result.stderr
    # One silenced: security.W021 (HSTS preload), off as the README advises until every
    # subdomain is HTTPS for good.
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_the_documented_env_refuses_to_start_without_a_secret_key():
    result = manage("check", env=process_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_s3_storage_refuses_to_start_without_a_bucket():
    result = manage("check", env=process_env(AWS_STORAGE_BUCKET_NAME=""))
    assert result.returncode != 0
    assert "AWS_STORAGE_BUCKET_NAME must be set when EXPORTS_STORAGE=s3" in result.stderr


def unit_command(unit: str) -> list[str]:
    """The ExecStart of a deploy/ unit, with /opt/exporter/.venv/bin/ mapped to this venv."""
    for line in (ROOT / "deploy" / unit).read_text().splitlines():
        if line.startswith("ExecStart="):
            program, *args = shlex.split(line.removeprefix("ExecStart="))
            assert program.startswith("/opt/exporter/.venv/bin/"), program
            return [str(Path(sys.executable).with_name(Path(program).name)), *args]
    raise AssertionError(f"{unit} has no ExecStart")


def test_the_worker_unit_runs_a_real_worker_on_the_installations_queues(redis_conn, tmp_path):
    database = tmp_path / "db.sqlite3"
    env = process_env(
        REDIS_URL=django_settings.REDIS_URL,
        DATABASE_URL=f"sqlite:///{database}",
        EXPORTS_STORAGE="local",
    )
    assert env["EXPORTS_INSTANCE"] == ""  # as documented: the id stored in the database
    command = unit_command("exporter-worker@.service")
    assert command[1:] == ["manage.py", "runworker"]

    def burst() -> subprocess.CompletedProcess:
        return subprocess.run(
            [*command, "--burst"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    unmigrated = burst()
    assert unmigrated.returncode != 0
    assert "Run `manage.py migrate` first, or set EXPORTS_INSTANCE." in unmigrated.stderr
    assert manage("migrate", "--noinput", env=env).returncode == 0
    result = burst()
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as db:
        [(instance,)] = db.execute("SELECT instance_id FROM exports_installation").fetchall()
    listening = f"Listening on {instance}:exports, {instance}:notifications, {instance}:default"
    assert listening in result.stdout + result.stderr


def test_the_scheduler_unit_runs_the_scheduler_command():
    command = unit_command("exporter-scheduler.service")
    assert command[1:] == ["manage.py", "runscheduler"]
    result = subprocess.run(
        [*command, "--help"], cwd=ROOT, env=process_env(), capture_output=True, text=True
    )
    assert result.returncode == 0 and "--once" in result.stdout


def test_the_systemd_units_are_valid(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    venv_bin = str(Path(sys.executable).parent) + "/"
    units = []
    for unit in sorted((ROOT / "deploy").glob("*.service")):
        text = unit.read_text().replace("/opt/exporter/.venv/bin/", venv_bin)
        # A template is checked as one of its instances.
        target = tmp_path / unit.name.replace("@.service", "@1.service")
        target.write_text(text.replace("/opt/exporter", str(ROOT)))
        units.append(str(target))
    assert len(units) == 4  # web, worker, scheduler, subscriber
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of text, json, got 'xml'"),
        ("EXPORTS_STORAGE", "gcs", "EXPORTS_STORAGE must be one of local, s3, got 'gcs'"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS must be an integer"),
    ],
)
def test_a_setting_that_does_not_parse_stops_start_up_with_its_name(variable, value, message):
    result = manage("check", env=process_env(**{variable: value}))
    assert result.returncode != 0 and message in result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}", **headers})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.fixture
def gunicorn_site(tmp_path):
    """gunicorn as deploy/exporter-web.service runs it, on a free port of 127.0.0.1."""
    port = free_port()
    env = process_env(
        ALLOWED_HOSTS="127.0.0.1",
        CSRF_TRUSTED_ORIGINS=f"https://127.0.0.1:{port}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=django_settings.REDIS_URL,
        EXPORTS_STORAGE="local",
        MEDIA_ROOT=str(tmp_path / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_FORWARDED_ALLOW_IPS="127.0.0.1",
        # A worker that does not stop on SIGQUIT is killed after this; the arbiter still exits
        # and flushes its log (CI once saw a worker outlive the 30 s default under load).
        GUNICORN_GRACEFUL_TIMEOUT="5",
    )
    collected = manage("collectstatic", "--noinput", env=env)
    assert collected.returncode == 0, collected.stderr
    process = subprocess.Popen(
        unit_command("exporter-web.service"),  # exactly what systemd runs
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "gunicorn did not start in 30 s"
            time.sleep(0.2)
    yield {"port": port, "static_root": tmp_path / "static", "process": process}
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        process.communicate(timeout=60)


def test_gunicorn_serves_the_site_behind_a_tls_proxy_with_whitenoise(gunicorn_site):
    port = gunicorn_site["port"]
    https = {"X-Forwarded-Proto": "https"}

    status, _, body = get(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

    status, headers, _ = get(port, "/accounts/login/")  # plain HTTP goes to HTTPS
    assert status == 301 and headers["Location"] == f"https://127.0.0.1:{port}/accounts/login/"

    status, headers, body = get(port, "/accounts/login/", **https)
    assert status == 200 and b"csrfmiddlewaretoken" in body
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "Secure" in cookie
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"

    manifest = json.loads((gunicorn_site["static_root"] / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/app.css"]
    assert hashed != "css/app.css"
    assert f"/static/{hashed}".encode() in body  # pages link the hashed, cacheable name
    status, headers, css = get(port, f"/static/{hashed}", **https, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]


def test_with_json_logs_gunicorn_and_the_app_log_one_json_object_per_line(gunicorn_site):
    get(gunicorn_site["port"], "/healthz")
    get(gunicorn_site["port"], "/accounts/login/", **{"X-Forwarded-Proto": "https"})
    process = gunicorn_site["process"]
    process.send_signal(signal.SIGINT)
    log = process.communicate(timeout=60)[1]
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers
    assert any("GET /healthz" in entry["message"] for entry in entries)
