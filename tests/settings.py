"""Test settings: the real settings with a dedicated Redis database and fast hashing."""

import os
import tempfile

from exporter_site.settings import *  # noqa: F403
from exporter_site.settings import RQ_QUEUES

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
for queue in RQ_QUEUES.values():
    queue["URL"] = TEST_REDIS_URL
REDIS_URL = TEST_REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="exporter-test-media-")
IAM_EVENTS_STREAM = "test.exporter.iam"
