"""Test settings: the real settings with a dedicated Redis database and fast hashing."""

import atexit
import os
import shutil
import tempfile

from exporter_site.settings import *  # noqa: F403
from exporter_site.settings import RQ_QUEUES

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
for queue in RQ_QUEUES.configs.values():
    queue["URL"] = TEST_REDIS_URL
REDIS_URL = TEST_REDIS_URL
CACHES["api-throttle"]["LOCATION"] = TEST_REDIS_URL  # noqa: F405

# Most tests are about other things than who may read a channel, and their users hold no
# grants: they run as a one-team installation. tests/test_access.py (and every test that is
# about data access) sets EXPORTS_DATA_ACCESS="grants", the production default.
EXPORTS_DATA_ACCESS = "open"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "exports.files.storage.ExportFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="exporter-test-media-")
atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
# Static files are served by the finders in tests; no collectstatic run is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
IAM_EVENTS_STREAM = "test.exporter.iam"
# A configured bot, so Telegram messages can be saved; sends go to fake servers on 127.0.0.1
# (and the test resolver makes api.telegram.org unresolvable, see conftest.fake_dns).
TELEGRAM_BOT_TOKEN = "123456:test-token"
# One fixed namespace for the suite: worker subprocesses see the same one as the test process.
EXPORTS_INSTANCE = "test"
# Token ids repeat from test to test, so throttle counters would carry over: tests that check
# throttling set their own rate and flush Redis.
API_THROTTLE_RATE = "100000/minute"
API_ANON_THROTTLE_RATE = "100000/minute"
# The suite's own SMTP servers (aiosmtpd) stand in for the mail server, also in subprocesses.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Failed sign-ins and unknown bearer secrets (many tests try them on purpose, all from
# 127.0.0.1): tests of those limits set their own.
AUTH_FAILURE_RATE = "100000/minute"
LOGIN_FAILURE_RATE_PER_USER = "100000/minute"
# Tests issue tokens freely; tests of the cap set their own.
API_TOKENS_PER_USER = 100000
