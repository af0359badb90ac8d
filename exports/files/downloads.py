"""Serving a job's file: the one place that names and streams downloads (pages and links).

The file is streamed from wherever it is stored (local disk or bucket, see
``exports.files.storage``), in chunks. With ``EXPORTS_DOWNLOAD_REDIRECT`` and a store that can
sign URLs (S3), the answer is instead a redirect to a short-lived URL that the bucket
serves with the same name and type. Callers check access first; :func:`serve_job_file`
decides, once for the pages, the API and capability links, whether there is a file to serve
and why not (:class:`DownloadRefused`), and each caller renders the refusal its own way.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from exports.files.naming import export_filename
from exports.files.storage import StorageUnavailable
from exports.models import ExportJob, JobStatus

__all__ = [
    "DownloadRefused",
    "StorageUnavailable",
    "download_filename",
    "file_response",
    "serve_job_file",
]

# Bytes per read while streaming. FileResponse's 4 KiB makes a bucket download a third as
# fast as boto3 reading 64 KiB at a time (bench/bench_storage.py).
STREAM_CHUNK = 64 * 1024


def download_filename(job: ExportJob) -> str:
    """``<filename or request name>_<slot in local time>.<ext>``.

    The extension comes from the stored file, since an expanded CSV or JSON
    export is stored as a .zip.
    """
    request = job.request
    extension = PurePosixPath(job.file.name).suffix.lstrip(".") or request.extension
    return export_filename(request.filename or request.name, job.slot, request.timezone, extension)


def file_response(job: ExportJob) -> HttpResponse:
    """The download of ``job``'s file: streamed as an attachment, or a redirect to the bucket.

    Raises ``OSError`` (e.g. ``FileNotFoundError``) when the stored file is gone, and
    ``StorageUnavailable`` when the store cannot be reached right now.
    """
    storage = job.file.storage
    filename = download_filename(job)
    if settings.EXPORTS_DOWNLOAD_REDIRECT:
        url = storage.temporary_url(job.file.name, filename=filename, content_type=job.content_type)
        if url is not None:  # the local disk has no URL of its own: stream it instead
            return HttpResponseRedirect(url)
    handle, size = storage.open_stream(job.file.name)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type=job.content_type or None,
    )
    # A bucket's body cannot seek, so FileResponse cannot measure it; the store can.
    response["Content-Length"] = str(size)
    response.block_size = STREAM_CHUNK
    return response


MISSING = "This file is missing from storage. Run the export again."
# Seconds after which a download refused because the store was unreachable may be retried.
STORAGE_RETRY_AFTER = 60


class DownloadRefused(Exception):
    """Why a job's file cannot be served.

    ``status`` is the HTTP status (404: the job has no file; 410: expired or gone; 503: the
    store cannot be reached, the file may well be there), ``reason`` a sentence for people,
    ``kind`` one of ``none``, ``gone``, ``storage`` for callers with their own wording, and
    ``retry_after`` the seconds after which a client may try again (set for a 503), which
    every caller answers as ``Retry-After`` (:meth:`with_headers`, the API's ``Problem``).
    """

    def __init__(self, status: int, reason: str, kind: str, retry_after: int | None = None):
        super().__init__(reason)
        self.status, self.reason, self.kind = status, reason, kind
        self.retry_after = retry_after

    def with_headers(self, response: HttpResponse) -> HttpResponse:
        """``response``, a caller's page for this refusal, with ``Retry-After`` when it has one."""
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def serve_job_file(job: ExportJob) -> HttpResponse:
    """The download of a done job's file (see :func:`file_response`).

    Raises :class:`DownloadRefused` when the job is expired, has no file (yet), or its file is
    gone or unreachable.
    """
    if job.status == JobStatus.EXPIRED:
        raise DownloadRefused(
            410, "This file has expired: retention deleted it. Run the export again.", "gone"
        )
    if job.status != JobStatus.DONE:
        reason = f"This run has no file to download ({job.status_label.lower()})."
        raise DownloadRefused(404, reason, "none")
    if not job.file:
        raise DownloadRefused(410, MISSING, "gone")
    try:
        return file_response(job)
    except StorageUnavailable:  # an OSError too, but the file may well be there
        raise DownloadRefused(
            503,
            "File storage is unreachable right now. Try again in a minute.",
            "storage",
            retry_after=STORAGE_RETRY_AFTER,
        ) from None
    except OSError:  # deleted between the status check and the open (retention, an operator)
        raise DownloadRefused(410, MISSING, "gone") from None
