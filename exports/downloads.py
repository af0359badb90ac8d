"""Serving a job's file: the one place that names and streams downloads (pages and links).

The file is streamed from wherever it is stored (local disk or bucket, see
``exports.storage``), in chunks. With ``EXPORTS_DOWNLOAD_REDIRECT`` and a store that can
sign URLs (S3), the answer is instead a redirect to a short-lived URL that the bucket
serves with the same name and type. Callers check access and job status first; this
module only knows the file.
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.http import FileResponse, HttpResponse, HttpResponseRedirect

from .models import ExportJob
from .naming import export_filename
from .storage import StorageUnavailable

__all__ = ["StorageUnavailable", "download_filename", "file_response"]

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
