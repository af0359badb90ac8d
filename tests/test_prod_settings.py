"""Settings of issue 17: key rotation, errors to people, retention, the production install."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.test_deploy import ROOT, documented_env
from tests.test_health import settings_from_env


def test_secret_key_fallbacks_come_from_the_environment(monkeypatch):
    loaded = settings_from_env(monkeypatch, SECRET_KEY_FALLBACKS="old-one, older-one")
    assert loaded["SECRET_KEY_FALLBACKS"] == ["old-one", "older-one"]


def test_admins_get_every_error_line_by_mail_once(monkeypatch):
    loaded = settings_from_env(monkeypatch, ADMINS="ops@example.com,oncall@example.com")
    assert loaded["ADMINS"] == [("ops@example.com",) * 2, ("oncall@example.com",) * 2]
    logging = loaded["LOGGING"]
    assert logging["handlers"]["mail_admins"]["level"] == "ERROR"
    assert "mail_admins" in logging["root"]["handlers"]
    assert logging["loggers"]["django"]["handlers"] == []  # reaches the root once
    monkeypatch.delenv("ADMINS", raising=False)
    assert "mail_admins" not in settings_from_env(monkeypatch)["LOGGING"]["handlers"]


def test_sentry_without_its_package_stops_start_up_with_the_fix(monkeypatch):
    try:
        import sentry_sdk  # noqa: F401
    except ImportError:
        with pytest.raises(ImproperlyConfigured, match=r"pip install '\.\[sentry\]'"):
            settings_from_env(monkeypatch, SENTRY_DSN="https://key@sentry.example.com/1")
    else:
        pytest.skip("sentry-sdk is installed here")


def test_retention_settings_parse_and_messages_are_kept_by_default(monkeypatch):
    for name in ("MESSAGES_RETENTION", "IAM_EVENTS_RETENTION", "EXPORTS_JOB_ROW_RETENTION"):
        monkeypatch.delenv(name, raising=False)
    loaded = settings_from_env(monkeypatch)
    assert loaded["MESSAGES_RETENTION"] == "P0D"
    assert loaded["IAM_EVENTS_RETENTION"] == loaded["EXPORTS_JOB_ROW_RETENTION"] == "P90D"
    with pytest.raises(ImproperlyConfigured, match="MESSAGES_RETENTION"):
        settings_from_env(monkeypatch, MESSAGES_RETENTION="a year")


def test_the_template_has_mail_no_preload_a_local_bind_and_a_proxy_count():
    env = documented_env()
    assert env["EMAIL_HOST"] and env["DEFAULT_FROM_EMAIL"]
    assert env["SECURE_HSTS_PRELOAD"] == "false"
    assert env["GUNICORN_BIND"].startswith("127.0.0.1:")
    assert env["TRUSTED_PROXY_COUNT"] == "1" and env["SECURE_PROXY_SSL_HEADER"]
    assert "AWS_S3_PUBLIC_ENDPOINT_URL" in env
    policy = (ROOT / "deploy" / "s3-policy.json").read_text()
    assert "s3:ListBucket" in policy


def test_nginx_example_takes_ingest_bodies_and_sets_forwarded_headers():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    size = re.search(r"client_max_body_size (\d+)m;", conf)
    from django.conf import settings

    assert size and int(size.group(1)) * 1024 * 1024 >= settings.INGEST_MAX_BYTES
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in conf
    assert "ssl_certificate " in conf


def test_make_install_prod_installs_without_the_dev_tools():
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile.split("install-prod:", 1)[1].split("\n\n", 1)[0]
    assert "pip install" in rule and "[dev]" not in rule and "-e" not in rule.split()
