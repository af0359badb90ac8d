"""Download links in messages: capability links ``/d/<token>`` and their fallbacks.

A capability link lets someone without an account download one job's file.
The token has 256 random bits; only its SHA-256 is stored. A link expires with
the file's retention, or sooner with ``EXPORTS_LINK_TTL``, and can be revoked.
With ``NOTIFICATIONS_CAPABILITY_LINKS`` off, messages carry the login-protected
link instead.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from exports.models import ExportJob, ExportRequest
from notifications import conf
from notifications.models import DownloadLink

# token_urlsafe(32) gives 43 characters; anything else cannot be one of ours.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_expiry(job: ExportJob, now: datetime | None = None) -> datetime:
    """When a link made now to ``job`` stops working.

    The earlier of: the end of the file's retention (counted from when the job
    finished, as the pruner counts) and ``now + EXPORTS_LINK_TTL``.
    """
    now = now or timezone.now()
    return min(conf.retention().after(job.finished_at or now), conf.link_ttl().after(now))


def create_link(job: ExportJob, now: datetime | None = None) -> tuple[DownloadLink, str]:
    """Make a capability link to ``job``'s file.

    Returns the stored link and the raw token; the token is not stored and
    cannot be recovered later, so put it in the message now.
    """
    token = secrets.token_urlsafe(32)
    link = DownloadLink.objects.create(
        job=job,
        token_hash=hash_token(token),
        created_at=now or timezone.now(),
        expires_at=link_expiry(job, now),
    )
    return link, token


def find_link(token: str) -> DownloadLink | None:
    """The link with this token (revoked and expired ones included), or None."""
    if not TOKEN_PATTERN.match(token):
        return None
    return (
        DownloadLink.objects.select_related("job__request")
        .filter(token_hash=hash_token(token))
        .first()
    )


def revoke_links(job: ExportJob) -> int:
    """Revoke every live link to ``job``'s file; returns how many were revoked."""
    return DownloadLink.objects.filter(job=job, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def absolute(path: str) -> str:
    """``SITE_URL`` + path: links in messages are read outside the site."""
    return conf.site_url() + path


def capability_url(token: str) -> str:
    return absolute(reverse("notifications:download", args=[token]))


def request_url(request: ExportRequest) -> str:
    """The request page (login required)."""
    return absolute(request.get_absolute_url())


def login_download_url(job: ExportJob) -> str:
    """The login-protected download of ``job``'s file (the pages' per-job download view)."""
    return absolute(reverse("exports:job-download", args=[job.request_id, job.pk]))


def message_link(job: ExportJob) -> tuple[str, DownloadLink | None]:
    """The link a message about ``job`` carries, and the capability link made for it.

    A downloadable job gets a fresh capability link (or, with capability links
    off, the login-protected download); any other job links to its request page.
    """
    if not job.is_downloadable:
        return request_url(job.request), None
    if not conf.capability_links_enabled():
        return login_download_url(job), None
    link, token = create_link(job)
    return capability_url(token), link
