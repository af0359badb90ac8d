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
import zoneinfo
from datetime import datetime
from pathlib import PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.text import get_valid_filename

from exports.models import ExportJob, ExportRequest

from . import conf
from .models import DownloadLink

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
    return min((job.finished_at or now) + conf.retention(), now + conf.link_ttl())


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
    """The login-protected download of ``job``'s file.

    That is the pages' per-job download view (``exports:download``); until the
    site has one, the request page, which lists the job, stands in.
    """
    try:
        return absolute(reverse("exports:download", args=[job.pk]))
    except NoReverseMatch:
        return request_url(job.request)


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


def download_filename(job: ExportJob) -> str:
    """``<filename or request name>_<slot in local time>.<ext>``.

    The extension comes from the stored file, since an expanded CSV or JSON
    export is stored as a .zip.
    """
    request = job.request
    zone = zoneinfo.ZoneInfo(request.timezone or "UTC")
    slot = job.slot.astimezone(zone).strftime("%Y-%m-%dT%H%M")
    suffix = "".join(PurePosixPath(job.file.name).suffixes[-1:]) or f".{request.extension}"
    try:
        stem = get_valid_filename(f"{request.filename or request.name}_{slot}")
    except SuspiciousFileOperation:  # a name made only of characters a filename cannot hold
        stem = f"export_{slot}"
    return f"{stem}{suffix}"


def file_response(job: ExportJob) -> FileResponse:
    """Stream ``job``'s file as an attachment.

    Raises ``OSError`` (e.g. ``FileNotFoundError``) when the stored file is gone.
    """
    handle = job.file.storage.open(job.file.name, "rb")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=download_filename(job),
        content_type=job.content_type or None,
    )
