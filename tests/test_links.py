"""Capability download links: /d/<token> for people without an account."""

import hashlib
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from exports.files.downloads import download_filename
from exports.files.retention import expire_job
from exports.models import ExportJob
from notifications.links import (
    create_link,
    login_download_url,
    message_link,
    revoke_links,
)
from notifications.models import DownloadLink, DownloadLog
from tests.test_notifications_fakes import FILE_CONTENT, make_job, make_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice):
    return make_job(make_request(alice, name="Secret plant"))


def path_of(token: str) -> str:
    return reverse("notifications:download", args=[token])


def test_a_link_holds_256_random_bits_and_only_their_hash_is_stored(job):
    link, token = create_link(job)
    other_link, other_token = create_link(job)
    assert len(token) == 43 and token != other_token  # token_urlsafe(32): 32 random bytes
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = DownloadLink.objects.filter(pk=link.pk).values().get()
    assert token not in {str(value) for value in stored.values()}


def test_a_live_link_downloads_the_file_and_logs_it(job, client):
    link, token = create_link(job)
    response = client.get(path_of(token), REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="curl/8.5")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == FILE_CONTENT
    assert response["Content-Type"] == "text/csv"
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    log = DownloadLog.objects.get()
    assert (log.link, log.job, log.ip, log.user_agent) == (link, job, "203.0.113.5", "curl/8.5")
    assert timezone.now() - log.at < timedelta(seconds=5)
    client.get(path_of(token))
    assert DownloadLog.objects.count() == 2  # every download, not just the first


def test_an_unknown_token_is_a_404_that_reveals_nothing(job, client):
    create_link(job)
    for token in ("A" * 43, "short", "../../etc/passwd"):
        response = client.get(f"/d/{token}")
        assert response.status_code == 404
        assert b"Secret plant" not in response.content
    response = client.get(path_of("A" * 43))
    assert b"This download link is not valid." in response.content
    assert DownloadLog.objects.count() == 0


def test_an_expired_link_is_gone(job, client, settings):
    settings.EXPORTS_LINK_TTL = "PT1H"
    link, token = create_link(job, now=timezone.now() - timedelta(hours=2))
    assert link.expires_at < timezone.now()
    response = client.get(path_of(token))
    assert response.status_code == 410
    assert b"This download link has expired." in response.content
    assert b"Secret plant" not in response.content and FILE_CONTENT not in response.content
    assert DownloadLog.objects.count() == 0


def test_a_link_expires_with_the_retention_or_sooner_with_the_link_ttl(job, settings):
    settings.EXPORTS_RETENTION = "P7D"
    settings.EXPORTS_LINK_TTL = ""
    link, _ = create_link(job)
    assert link.expires_at == job.finished_at + timedelta(days=7)
    settings.EXPORTS_LINK_TTL = "P1D"
    now = timezone.now()
    link, _ = create_link(job, now=now)
    assert link.expires_at == now + timedelta(days=1)
    settings.EXPORTS_LINK_TTL = "P30D"  # never longer than the file lives
    link, _ = create_link(job, now=now)
    assert link.expires_at == job.finished_at + timedelta(days=7)


def test_a_revoked_link_is_gone(job, client):
    _, token = create_link(job)
    assert revoke_links(job) == 1
    assert revoke_links(job) == 0
    response = client.get(path_of(token))
    assert response.status_code == 410
    assert b"This download link has been revoked." in response.content


def test_a_link_to_a_file_removed_by_retention_is_gone(job, client):
    _, token = create_link(job)
    assert expire_job(job)
    response = client.get(path_of(token))
    assert response.status_code == 410
    assert b"The file is no longer available." in response.content


def test_a_link_whose_file_vanished_from_storage_is_gone(job, client):
    _, token = create_link(job)
    job.file.storage.delete(job.file.name)
    response = client.get(path_of(token))
    assert response.status_code == 410


def test_the_owner_revokes_links_from_the_job_row(job, client, alice):
    _, token = create_link(job)
    client.force_login(alice)
    response = client.post(reverse("notifications:revoke-links", args=[job.pk]))
    assert response["Location"] == reverse("exports:detail", args=[job.request_id])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Revoked 1 download link(s) to this file."
    ]
    assert client.get(path_of(token)).status_code == 410


def test_only_the_owner_and_staff_may_revoke(job, client, bob, admin_user):
    _, token = create_link(job)
    url = reverse("notifications:revoke-links", args=[job.pk])
    assert client.post(url)["Location"].startswith(reverse("login"))
    client.force_login(bob)
    assert client.post(url).status_code == 404  # like every page: no hint the id exists
    assert client.get(path_of(token)).status_code == 200
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert client.get(path_of(token)).status_code == 410


def test_the_job_row_offers_revocation_while_links_are_live(job, rf):
    from django.middleware.csrf import get_token

    template = Template("{% load notifications %}{% job_deliveries job %}")
    context = {"job": job, "csrf_token": get_token(rf.get("/"))}
    assert "Revoke" not in template.render(Context(context))
    create_link(job)
    html = template.render(Context(context))
    assert "Revoke 1 download link" in html
    assert reverse("notifications:revoke-links", args=[job.pk]) in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_messages_carry_a_capability_link_to_a_downloadable_job(job, settings):
    settings.SITE_URL = "https://exporter.example.org"
    url, link = message_link(job)
    assert url.startswith("https://exporter.example.org/d/") and link.job == job


def test_with_capability_links_off_messages_carry_the_login_protected_link(job, settings):
    settings.NOTIFICATIONS_CAPABILITY_LINKS = False
    settings.SITE_URL = "https://exporter.example.org"
    url, link = message_link(job)
    assert link is None and DownloadLink.objects.count() == 0
    assert url == login_download_url(job)
    assert url.startswith("https://exporter.example.org/")
    assert "/d/" not in urlsplit(url).path


def test_a_failed_job_links_to_its_request_page(alice, settings):
    settings.SITE_URL = "https://exporter.example.org"
    failed = make_job(make_request(alice), status="failed", error="boom")
    url, link = message_link(failed)
    assert link is None and url == f"https://exporter.example.org/exports/{failed.request_id}/"


def test_the_download_is_named_after_the_request_and_the_local_slot(alice):
    request = make_request(alice, name="Boiler / temps", filename="")
    job = make_job(request)
    assert download_filename(job) == "Boiler__temps_2025-01-02T0000.csv"
    request.filename = "plant-report"
    expanded = ExportJob.objects.get(pk=job.pk)
    expanded.request = request
    expanded.file.save("bundle.zip", ContentFile(b"PK"))  # expanded CSV is a zip
    assert download_filename(expanded) == "plant-report_2025-01-02T0000.zip"
