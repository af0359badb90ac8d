"""Serving a job's file: the one place that names and streams downloads (pages and links)."""

from pathlib import PurePosixPath

from django.http import FileResponse

from .models import ExportJob
from .naming import export_filename


def download_filename(job: ExportJob) -> str:
    """``<filename or request name>_<slot in local time>.<ext>``.

    The extension comes from the stored file, since an expanded CSV or JSON
    export is stored as a .zip.
    """
    request = job.request
    extension = PurePosixPath(job.file.name).suffix.lstrip(".") or request.extension
    return export_filename(request.filename or request.name, job.slot, request.timezone, extension)


def file_response(job: ExportJob) -> FileResponse:
    """Stream ``job``'s file as an attachment (never read whole into memory).

    Raises ``OSError`` (e.g. ``FileNotFoundError``) when the stored file is gone.
    """
    handle = job.file.storage.open(job.file.name, "rb")
    return FileResponse(
        handle,
        as_attachment=True,
        filename=download_filename(job),
        content_type=job.content_type or None,
    )
