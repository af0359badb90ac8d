"""Behind a proxy (issue 17, items 5 and 6): forwarded headers trusted only as far as the
configured proxies go, a Content Security Policy on the pages, presigned URLs for the
public address of the bucket."""

from __future__ import annotations

import urllib.request

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from rest_framework.throttling import SimpleRateThrottle

from exports.ops.proxies import forwarded_client_address
from tests.test_health import settings_from_env
from tests.test_storage_s3 import (  # noqa: F401 - fixtures
    bucket,
    done_job,
    download_path,
    s3_server,
)


def request_from(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/api/schema/", **headers)


@pytest.mark.parametrize(
    ("count", "forwarded", "client"),
    [
        (0, "6.6.6.6", "10.0.0.10"),  # no proxy configured: the header is the client's lie
        (0, None, "10.0.0.10"),
        (1, "203.0.113.7", "203.0.113.7"),  # nginx wrote the client's address
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # the client's own entry is ignored
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),  # a balancer, then nginx
        (2, "203.0.113.7", "203.0.113.7"),
        (1, None, "10.0.0.10"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(settings, count, forwarded, client):
    settings.TRUSTED_PROXY_COUNT = count
    assert forwarded_client_address(request_from("10.0.0.10", forwarded)) == client


@pytest.mark.parametrize("count", [0, 1, 2])
def test_drf_throttles_count_by_the_same_address(settings, count):
    settings.TRUSTED_PROXY_COUNT = count
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": count}
    throttle = SimpleRateThrottle.__new__(SimpleRateThrottle)
    for forwarded in ("1.1.1.1", "2.2.2.2, 203.0.113.7", "3.3.3.3, 4.4.4.4, 203.0.113.7"):
        request = request_from("10.0.0.10", forwarded)
        assert throttle.get_ident(request) == forwarded_client_address(request)


def test_a_client_varying_x_forwarded_for_stays_one_client_for_the_anonymous_limit(
    client, settings, redis_conn
):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    settings.API_ANON_THROTTLE_RATE = "3/minute"
    codes = [
        client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_the_settings_read_the_proxy_count_into_drf_and_refuse_a_proxy_header_without_one(
    monkeypatch,
):
    loaded = settings_from_env(monkeypatch, TRUSTED_PROXY_COUNT="1")
    assert loaded["TRUSTED_PROXY_COUNT"] == 1 and loaded["REST_FRAMEWORK"]["NUM_PROXIES"] == 1
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)
    assert settings_from_env(monkeypatch)["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
    assert "SECURE_PROXY_SSL_HEADER" not in settings_from_env(monkeypatch)
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_COUNT"):
        settings_from_env(monkeypatch, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    behind = settings_from_env(
        monkeypatch, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", TRUSTED_PROXY_COUNT="1"
    )
    assert behind["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_the_admin_does_not(client, admin_user):
    login = client.get("/accounts/login/")
    policy = login["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    client.force_login(admin_user)
    assert "Content-Security-Policy" in client.get("/")
    assert "Content-Security-Policy" not in client.get("/admin/")
    assert "Content-Security-Policy" not in client.get("/api/schema/")  # not HTML


@pytest.mark.django_db
def test_presigned_urls_are_signed_for_the_public_endpoint(done_job, bucket, client, settings):  # noqa: F811
    internal = bucket.client.meta.endpoint_url
    public = internal.replace("127.0.0.1", "localhost")
    assert public != internal
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = public
    settings.EXPORTS_DOWNLOAD_REDIRECT = True
    client.force_login(done_job.request.owner)
    response = client.get(download_path(done_job))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(public + "/") and "X-Amz-Signature=" in location
    with urllib.request.urlopen(location, timeout=10) as answer:  # valid for that host
        assert answer.status == 200 and answer.read()


def test_the_limits_count_the_client_behind_a_trusted_proxy(settings, rf):
    from exports.ops.clients import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "203.0.113.9"
