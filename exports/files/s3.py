"""Export files in an S3 bucket (any S3-compatible store), through django-storages.

Configured by django-storages' own setting names (``AWS_STORAGE_BUCKET_NAME``,
``AWS_S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_S3_REGION_NAME``, ...). Kept in its own module so that a site on the local
disk never imports boto3.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from exports.files.storage import StorageUnavailable

log = logging.getLogger(__name__)


@contextmanager
def _reachable(action: str) -> Iterator[None]:
    """Turn boto errors into ``StorageUnavailable`` with a message free of hosts and keys.

    django-storages already maps "no such key" to ``FileNotFoundError`` (or ``False``);
    what reaches here is the store being down, slow, throttling or refusing us.
    """
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code") or "error"
        log.warning("S3 %s failed: %s", action, exc)
        raise StorageUnavailable(f"object storage refused to {action} ({code})") from exc
    except (BotoCoreError, Boto3Error) as exc:
        log.warning("S3 %s failed: %s", action, exc)
        raise StorageUnavailable(
            f"object storage did not answer when asked to {action} ({exc.__class__.__name__})"
        ) from exc


class ExportS3Storage(S3Storage):
    """django-storages' S3 backend with the export-storage additions (see the package doc).

    Defaults that differ from django-storages': a file is never overwritten (a retried
    attempt gets a name of its own, so a stale attempt cannot delete the new file); the
    client gives up after a few seconds and three tries so that a job fails over to its
    own retry instead of hanging on an unreachable endpoint; ``open()`` buffers at most
    8 MiB in memory, the rest on disk.
    """

    def get_default_settings(self) -> dict:
        defaults = super().get_default_settings()
        defaults["file_overwrite"] = getattr(settings, "AWS_S3_FILE_OVERWRITE", False)
        # open() copies the object into a spooled buffer; django-storages' 0 means "never
        # spill to disk", which would hold a whole multi-GB export in memory.
        defaults["max_memory_size"] = getattr(settings, "AWS_S3_MAX_MEMORY_SIZE", 8 * 1024 * 1024)
        if defaults["client_config"] is None:
            defaults["client_config"] = Config(
                s3={"addressing_style": defaults["addressing_style"]},
                # SigV4 everywhere (presigned URLs would otherwise use the retired SigV2).
                signature_version=defaults["signature_version"] or "s3v4",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            )
        return defaults

    def _save(self, name, content):
        with _reachable("store the file"):
            return super()._save(name, content)

    def _open(self, name, mode="rb"):
        with _reachable("open the file"):
            return super()._open(name, mode)

    def delete(self, name):
        with _reachable("delete the file"):
            return super().delete(name)

    def exists(self, name):
        with _reachable("look the file up"):
            return super().exists(name)

    def size(self, name):
        with _reachable("look the file up"):
            return super().size(name)

    def open_stream(self, name: str) -> tuple[IO[bytes], int]:
        """The object's body, streamed from the bucket as it is read, and its size.

        Unlike ``open()``, which copies the whole object into a local buffer first,
        the first bytes reach the client while the rest is still in the bucket.
        """
        key = self._normalize_name(clean_name(name))
        with _reachable("read the file"):
            try:
                response = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
            except ClientError as exc:
                if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                    raise FileNotFoundError(f"No such file in storage: {name}") from None
                raise
        return response["Body"], response["ContentLength"]

    def temporary_url(self, name: str, *, filename: str, content_type: str) -> str | None:
        """A presigned GET URL valid ``EXPORTS_DOWNLOAD_URL_TTL`` seconds.

        The bucket answers it with our attachment name and content type. Signing needs no
        request, so the object is looked up first: a file that is gone is a
        ``FileNotFoundError`` here, not an error page from the bucket.
        """
        if not self.exists(name):
            raise FileNotFoundError(f"No such file in storage: {name}")
        parameters = {"ResponseContentDisposition": content_disposition_header(True, filename)}
        if content_type:
            parameters["ResponseContentType"] = content_type
        with _reachable("sign a download link"):
            public = getattr(settings, "AWS_S3_PUBLIC_ENDPOINT_URL", None)
            if not public:
                return self.url(
                    name, parameters=parameters, expire=settings.EXPORTS_DOWNLOAD_URL_TTL
                )
            # Signed for the address browsers use, not the one the servers reach it by.
            return self._public_client(public).generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket_name,
                    "Key": self._normalize_name(clean_name(name)),
                    **parameters,
                },
                ExpiresIn=settings.EXPORTS_DOWNLOAD_URL_TTL,
            )

    def _public_client(self, endpoint_url: str):
        """An S3 client for ``AWS_S3_PUBLIC_ENDPOINT_URL``, only ever used to sign URLs."""
        client = getattr(self, "_public_s3_client", None)
        if client is None:
            client = self._create_session().client(
                "s3",
                region_name=self.region_name,
                endpoint_url=endpoint_url,
                config=self.client_config,
            )
            self._public_s3_client = client
        return client

    def warm(self) -> None:
        """Build this thread's S3 client now, without a request.

        Building it costs about half a second (botocore loads and parses the S3 service
        model). RQ's worker calls this before it forks a work horse per job, so every horse
        inherits the client instead of building its own. No request is made here, so no
        open connection is shared across the fork; each horse opens its own.
        """
        self.connection  # noqa: B018 - the property builds and caches the client

    def check(self) -> None:
        """The bucket exists and these credentials may use it (one HEAD request)."""
        with _reachable("answer"):
            self.connection.meta.client.head_bucket(Bucket=self.bucket_name)
