"""Where export files live: the local disk by default, an S3 bucket with ``EXPORTS_STORAGE=s3``.

Export files go through Django's default storage (``STORAGES["default"]``), which is one
of the two classes of this package. Both add what downloads and health checks need on
top of Django's storage API, so the rest of the code never asks which kind it has:

- ``open_stream(name)`` → ``(binary file object, size)``, read in chunks, never whole;
- ``temporary_url(name, filename=..., content_type=...)`` → a short-lived URL that serves
  the file with our name and type, or ``None`` where the store cannot hand one out;
- ``check()`` → ``None`` when the store answers, else raises ``StorageUnavailable``.

A store that cannot be reached raises ``StorageUnavailable`` (a missing file stays
``FileNotFoundError``; both are ``OSError``), so a job treats it as transient and
retries, and a download answers 503 instead of pretending the file is gone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import IO

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, default_storage

# Where an export being written lies on the local disk: under the storage's exports/ folder,
# whose orphan sweep (files/retention.py) removes what a killed worker leaves here.
PARTIAL_DIR = "exports/.partial"


class StorageUnavailable(OSError):
    """The file store could not be reached or refused to work; worth a retry later.

    An ``OSError``, like a failing disk: code that already treats storage I/O errors as
    transient (job retries, best-effort deletes) treats an unreachable bucket the same way.
    Downloads tell it apart from a missing file (503, not 410).
    """


class ExportFileSystemStorage(FileSystemStorage):
    """Django's file-system storage (``MEDIA_ROOT``) with the export-storage additions."""

    def open_stream(self, name: str) -> tuple[IO[bytes], int]:
        """Open ``name`` for reading; raises ``FileNotFoundError`` when it is gone."""
        handle = self.open(name, "rb")
        return handle, os.fstat(handle.fileno()).st_size

    def temporary_url(self, name: str, *, filename: str, content_type: str) -> str | None:
        """Local files are only served through the app, so there is no URL to hand out."""
        return None

    def check(self) -> None:
        """The directory exists (or can be made) and this process may write to it."""
        root = self.location
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the storage directory: {exc}") from exc
        if not os.access(root, os.W_OK | os.X_OK):
            raise StorageUnavailable("the storage directory is not writable")


def export_storage() -> Storage:
    """The storage holding export files (the default storage, as ``ExportJob.file`` uses)."""
    return default_storage


@contextlib.contextmanager
def spool_file(storage: Storage) -> Iterator[IO[bytes]]:
    """A temporary file to write an export into, deleted on leaving unless it was stored.

    On the local disk it is made in the storage's own directory, so storing it
    (:func:`stored_content`) is a rename, not a second write of the whole file; for another
    store it is an anonymous temporary file that the store's ``save`` reads."""
    if not isinstance(storage, FileSystemStorage):
        with tempfile.TemporaryFile() as handle:
            yield handle
        return
    folder = storage.path(PARTIAL_DIR)
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="export-", delete=False) as handle:
        try:
            yield handle
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(handle.name)  # gone when it was moved into place


class _MovableFile(File):
    """A named temporary file: Django's file-system storage moves it (``file_move_safe``)
    into place instead of copying it, as it does with large uploads."""

    def temporary_file_path(self) -> str:
        return self.file.name


def stored_content(handle: IO[bytes]) -> File:
    """``handle`` (from :func:`spool_file`, written) as the content for ``Storage.save``."""
    handle.flush()
    if isinstance(getattr(handle, "name", None), str):
        return _MovableFile(handle)
    return File(handle)
