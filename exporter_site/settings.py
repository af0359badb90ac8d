"""Settings for the Exporter site, read from the environment (see .env.example).

With no environment at all the site runs on SQLite and a local Redis, in DEBUG mode.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from exports.queue.namespace import NamespacedQueues

from .env import env_bool, env_choice, env_duration, env_int, env_list, env_required, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
# Old keys still accepted for sessions and signed values while a new SECRET_KEY rolls out
# (README, Runbooks): a comma list, emptied once the old sessions have expired.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# HTTPS hardening, on by default once DEBUG is false (`manage.py check --deploy` is clean
# with the env of deploy/exporter.env); each switch can still be turned off on its own.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# Preloading is a promise to browsers that is slow to undo, so it is opt-in.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# ...so `check --deploy` does not warn about it (security.W021) while it stays off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The number of proxies in front of gunicorn that add X-Forwarded-For (nginx alone: 1). 0:
# none, the header is ignored and the client is the connection's address. The throttles and
# anything else asking who the client is read it through exports.ops.proxies.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# Behind a proxy that terminates TLS, name the header it sets to "https" (only with a proxy:
# trusting it without one would let any client claim HTTPS).
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER:
    if not TRUSTED_PROXY_COUNT:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER needs a proxy in front: set TRUSTED_PROXY_COUNT (1 for "
            "one nginx), or unset SECURE_PROXY_SSL_HEADER when clients reach gunicorn directly"
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
# Sent with every HTML page but the exempt prefixes (third-party pages with inline code);
# empty: none. The pages load everything from the site itself.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)
CONTENT_SECURITY_POLICY_EXEMPT = env_list(
    "CONTENT_SECURITY_POLICY_EXEMPT", ["/admin/", "/api/docs", "/api/redoc"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # the stock widget templates, for FORM_RENDERER below
    "django_rq",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "exports",
    "notifications",
]

MIDDLEWARE = [
    # First: load balancers probe /healthz by address over plain HTTP, before any host
    # check or HTTPS redirect.
    "exports.ops.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "exports.ops.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "exports.ops.middleware.RefuseUnstorableQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "exports.iam.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exporter_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Widgets render through TEMPLATES, so templates/ can override a stock widget template
# (templates/admin/widgets/split_datetime.html labels the admin's date and time inputs).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

WSGI_APPLICATION = "exporter_site.wsgi.application"

# DATABASE_CONN_MAX_AGE: seconds a connection is kept for the next request (0: one per
# request). Kept connections are checked before reuse (DATABASE_CONN_HEALTH_CHECKS), so one
# the server dropped (a restart, a failover) is replaced instead of failing the request.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that is down fails a request, a probe or a worker in seconds, instead of
    # the operating system's TCP timeout of minutes. A connect_timeout in DATABASE_URL wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=1)
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, workers and scheduler read while one of them writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "exports:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # collectstatic target
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"
# Export files: the local disk under MEDIA_ROOT, or an S3 bucket configured by
# django-storages' own setting names (read from the environment of the same names).
EXPORTS_STORAGE = env_choice("EXPORTS_STORAGE", "local", ("local", "s3"))
# Downloads are streamed through the app; with this on, an S3 download is a redirect to a
# presigned URL of the bucket, valid EXPORTS_DOWNLOAD_URL_TTL seconds.
EXPORTS_DOWNLOAD_REDIRECT = env_bool("EXPORTS_DOWNLOAD_REDIRECT", False)
EXPORTS_DOWNLOAD_URL_TTL = env_int("EXPORTS_DOWNLOAD_URL_TTL", 60, minimum=1)
if EXPORTS_STORAGE == "s3":
    AWS_STORAGE_BUCKET_NAME = env_required("AWS_STORAGE_BUCKET_NAME", "when EXPORTS_STORAGE=s3")
    AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None  # None: AWS itself
    # Presigned download URLs (EXPORTS_DOWNLOAD_REDIRECT) are signed for this address when
    # browsers reach the store by another one than the servers (an internal MinIO address).
    AWS_S3_PUBLIC_ENDPOINT_URL = env_str("AWS_S3_PUBLIC_ENDPOINT_URL", "") or None
    AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "") or None
    # Unset: boto3's own chain (instance role, ~/.aws, ...).
    AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "") or None
    AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "") or None
    AWS_LOCATION = env_str("AWS_LOCATION", "")  # key prefix, to share a bucket
    AWS_S3_ADDRESSING_STYLE = env_str("AWS_S3_ADDRESSING_STYLE", "") or None
    _FILES_BACKEND = "exports.files.s3.ExportS3Storage"
else:
    _FILES_BACKEND = "exports.files.storage.ExportFileSystemStorage"
STORAGES = {
    "default": {"BACKEND": _FILES_BACKEND},
    "staticfiles": {
        "BACKEND": env_str(
            "STATICFILES_BACKEND",
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
EXPORTS_JOB_TIMEOUT = env_int("EXPORTS_JOB_TIMEOUT", 6 * 3600, minimum=1)
# Our queues by alias; in Redis (and for django-rq) each is named `<instance>:<alias>`, so
# installations sharing a Redis never see each other's jobs (exports.queue.namespace).
# Workers serve them in the order of namespace.QUEUES (`manage.py runworker`).
RQ_QUEUES = NamespacedQueues(
    {
        "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
        "notifications": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300},
        "exports": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": EXPORTS_JOB_TIMEOUT},
    }
)
RQ_SHOW_ADMIN_LINK = True
# Imports the job code before forking, so each job does not import it again.
RQ = {"WORKER_CLASS": "exports.queue.worker.PreloadingWorker"}

IAM_EVENTS_STREAM = env_str("IAM_EVENTS_STREAM", "exporter.iam")
IAM_EVENTS_STREAM_MAXLEN = env_int("IAM_EVENTS_STREAM_MAXLEN", 10000, minimum=1)

EXPORTS_RETENTION = env_duration("EXPORTS_RETENTION", "P7D")
# Who reads which channel: "grants" (read grants to users and groups; staff read all) or
# "open" (every signed-in user reads every channel: an installation for one team).
EXPORTS_DATA_ACCESS = env_choice("EXPORTS_DATA_ACCESS", "grants", ("grants", "open"))
# Data rows per XLSX sheet before the export continues on a new sheet (Excel's limit).
EXPORTS_XLSX_MAX_ROWS = env_int("EXPORTS_XLSX_MAX_ROWS", 1_048_575, minimum=1)
EXPORTS_MAX_TOTAL_BYTES = env_int("EXPORTS_MAX_TOTAL_BYTES", 0, minimum=0)  # 0 = no cap
EXPORTS_MAX_ATTEMPTS = env_int("EXPORTS_MAX_ATTEMPTS", 3, minimum=1)
# Seconds before a job is retried after a transient failure; doubles per attempt (max 1 h).
EXPORTS_RETRY_BACKOFF = env_int("EXPORTS_RETRY_BACKOFF", 30, minimum=0)
EXPORTS_MAX_QUEUED_PER_USER = env_int("EXPORTS_MAX_QUEUED_PER_USER", 10, minimum=1)
EXPORTS_MAX_CATCHUP = env_int("EXPORTS_MAX_CATCHUP", 24, minimum=1)
# Scheduled jobs one user may have waiting at once; older waiting slots beyond it are skipped.
EXPORTS_MAX_SCHEDULED_PER_USER = env_int("EXPORTS_MAX_SCHEDULED_PER_USER", 200, minimum=1)
# The shortest periodicity a recurring export may have (ISO 8601).
EXPORTS_MIN_PERIODICITY = env_duration("EXPORTS_MIN_PERIODICITY", "PT1M", positive=True)
# A running job whose heartbeat is older than this (seconds) is presumed lost and re-run.
EXPORTS_HEARTBEAT_TIMEOUT = env_int("EXPORTS_HEARTBEAT_TIMEOUT", 60, minimum=5)
# Jobs handed to RQ but not started yet; empty = 2 per running exports worker (at least 2).
EXPORTS_DISPATCH_BACKLOG = env_int("EXPORTS_DISPATCH_BACKLOG", 0, minimum=0) or None
# A work horse runs up to this many short jobs one after another (1 = a fork per job); a job
# longer than EXPORTS_HORSE_REUSE_SECONDS, or a horse grown by EXPORTS_HORSE_MAX_GROWTH_MB, ends it.
EXPORTS_HORSE_JOBS = env_int("EXPORTS_HORSE_JOBS", 100, minimum=1)
EXPORTS_HORSE_REUSE_SECONDS = env_int("EXPORTS_HORSE_REUSE_SECONDS", 10, minimum=0)
EXPORTS_HORSE_MAX_GROWTH_MB = env_int("EXPORTS_HORSE_MAX_GROWTH_MB", 200, minimum=1)
EXPORTS_SCHEDULER_INTERVAL = env_int("EXPORTS_SCHEDULER_INTERVAL", 5, minimum=1)
# Namespace of our RQ job ids and Redis keys; empty = a random id stored in the database.
EXPORTS_INSTANCE = env_str("EXPORTS_INSTANCE", "")
# Seconds after a hand-over to RQ before a job/delivery missing from Redis is handed over again.
EXPORTS_REQUEUE_AFTER = env_int("EXPORTS_REQUEUE_AFTER", 30, minimum=1)
# The scheduler runs retention (pruneexports) at most this often; P0D = never by itself.
EXPORTS_PRUNE_INTERVAL = env_duration("EXPORTS_PRUNE_INTERVAL", "PT1H")
# Rows the scheduler's retention deletes (exports.files.retention.prune_records); P0D keeps
# them for ever. Job rows: expired, failed or skipped jobs that ended this long ago (the
# latest job of each request stays); IAM events: published ones; messages: by their time.
EXPORTS_JOB_ROW_RETENTION = env_duration("EXPORTS_JOB_ROW_RETENTION", "P90D")
IAM_EVENTS_RETENTION = env_duration("IAM_EVENTS_RETENTION", "P90D")
MESSAGES_RETENTION = env_duration("MESSAGES_RETENTION", "P0D")
# Caps on one request, on every way in (exports/requests/caps.py): items and notification
# messages (each message has one target, so this also caps the addresses a request names).
EXPORTS_MAX_ITEMS = env_int("EXPORTS_MAX_ITEMS", 100, minimum=1)
EXPORTS_MAX_MESSAGES = env_int("EXPORTS_MAX_MESSAGES", 20, minimum=0)
# How long a new API token lives unless another lifetime is chosen (ISO 8601).
API_TOKEN_DEFAULT_LIFETIME = env_duration("API_TOKEN_DEFAULT_LIFETIME", "P90D", positive=True)

# Email (Django's own names) for notifications. In DEBUG with no EMAIL_HOST set (a fresh
# `make run`), messages are printed by the worker instead of failing on a missing mail server.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG and "EMAIL_HOST" not in os.environ
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "exporter@localhost")

EXPORTS_LINK_TTL = env_duration("EXPORTS_LINK_TTL", EXPORTS_RETENTION)
NOTIFICATIONS_CAPABILITY_LINKS = env_bool("NOTIFICATIONS_CAPABILITY_LINKS", True)
NOTIFICATIONS_ALLOWED_HOSTS = env_list("NOTIFICATIONS_ALLOWED_HOSTS", [])
NOTIFICATIONS_HTTP_TIMEOUT = env_int("NOTIFICATIONS_HTTP_TIMEOUT", 10, minimum=1)
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATIONS_RETRY_BACKOFF = [
    env_int("NOTIFICATIONS_RETRY_BACKOFF_" + str(step), default, minimum=1)
    for step, default in enumerate((30, 120, 600), start=1)
]
NOTIFICATIONS_MAX_RETRY_AFTER = env_int("NOTIFICATIONS_MAX_RETRY_AFTER", 3600, minimum=0)
# Seconds a delivery may stay "sending" before it is marked "unknown" (never resent by itself).
NOTIFICATIONS_ATTACH_MAX_BYTES = env_int(
    "NOTIFICATIONS_ATTACH_MAX_BYTES", 10 * 1024 * 1024, minimum=0
)
NOTIFICATIONS_SENDING_TIMEOUT = env_int("NOTIFICATIONS_SENDING_TIMEOUT", 300, minimum=30)
TELEGRAM_BOT_TOKEN = env_str("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_API_BASE = env_str("TELEGRAM_API_BASE", "https://api.telegram.org")

# The JSON API (exports/api): bearer tokens or the session, one error shape, per-user throttling.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")  # per user, all tokens together
API_ANON_THROTTLE_RATE = env_str("API_ANON_THROTTLE_RATE", "60/minute")  # per client address
INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 10 * 1024 * 1024, minimum=1)
# Hardening (README "API", "Throttling"): limits counted in the Redis of the api-throttle cache.
# Failed sign-ins and unknown bearer secrets per client address; failed sign-ins per user name.
AUTH_FAILURE_RATE = env_str("AUTH_FAILURE_RATE", "20/10m")
LOGIN_FAILURE_RATE_PER_USER = env_str("LOGIN_FAILURE_RATE_PER_USER", "10/10m")
API_TOKENS_PER_USER = env_int("API_TOKENS_PER_USER", 20, minimum=1)  # live (unrevoked, unexpired)

# --- Live data: manage.py runsubscriber (README "Live data") -------------------------------
MQTT_URL = env_str("MQTT_URL", "").strip()  # mqtt://user:pass@host:1883, mqtts:// for TLS
NATS_URL = env_str("NATS_URL", "").strip()  # nats://host:4222
NATS_STREAM = env_str("NATS_STREAM", "").strip()  # JetStream stream: durable, nothing lost
SUBSCRIBER_LAYOUTS = env_list("SUBSCRIBER_LAYOUTS", ["channels", "m"])
if not SUBSCRIBER_LAYOUTS or set(SUBSCRIBER_LAYOUTS) - {"channels", "m"}:
    raise ImproperlyConfigured(
        f"SUBSCRIBER_LAYOUTS must list channels and/or m, got {SUBSCRIBER_LAYOUTS!r}"
    )
SUBSCRIBER_BATCH_SIZE = env_int("SUBSCRIBER_BATCH_SIZE", 5000, minimum=1)  # messages
SUBSCRIBER_BATCH_MS = env_int("SUBSCRIBER_BATCH_MS", 200, minimum=1)
# Payload bytes: a batch of large packs closes at this size (its records are held at once).
SUBSCRIBER_BATCH_BYTES = env_int("SUBSCRIBER_BATCH_BYTES", 2 * 2**20, minimum=1)
SUBSCRIBER_PUBLISH_RULE = env_choice("SUBSCRIBER_PUBLISH_RULE", "grants", ("grants", "any"))
SUBSCRIBER_PUBLISHER = env_str("SUBSCRIBER_PUBLISHER", "unknown")  # when a message names none
SUBSCRIBER_DEDUP_WINDOW = env_duration("SUBSCRIBER_DEDUP_WINDOW", "P7D", positive=True)
SUBSCRIBER_DEAD_LETTERS = env_int("SUBSCRIBER_DEAD_LETTERS", 10000, minimum=1)
SUBSCRIBER_CLIENT_ID = env_str("SUBSCRIBER_CLIENT_ID", "exporter-subscriber")  # MQTT session
SUBSCRIBER_DURABLE = env_str("SUBSCRIBER_DURABLE", "exporter")  # JetStream consumer
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "exports.api.auth.BearerTokenAuthentication",
        # The pages' own fetches; unsafe methods need the CSRF token.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["exports.api.auth.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["exports.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "exports.api.errors.exception_handler",
    # X-Forwarded-For as far as our own proxies wrote it (exports.ops.proxies); DRF's
    # default (None) would count by the whole header, which any client can vary.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Exporter API",
    "DESCRIPTION": "Export requests, jobs, downloads, preview, the series catalog and ingest.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads Swagger UI from the package's static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "exports.models.jobs.JobStatus",
        "DeliveryStatusEnum": "notifications.models.DeliveryStatus",
    },
}
# Throttle counters live in Redis so every web process counts the same requests: the
# api-throttle cache must be a RedisCache (exports.ops.ratelimit runs a Lua script on it).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api-throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    },
}

# Prometheus metrics at /metrics (exports.ops.metrics), for a scraper sending
# "Authorization: Bearer <METRICS_TOKEN>"; empty: no /metrics at all.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# LOG_FORMAT=json writes one JSON object per line (for log collectors); text is for people.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ("text", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "exports.ops.json_logging.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Errors to people: ADMINS (comma list of addresses) get a mail for every ERROR line (a 500,
# an export that failed for good, a failing receiver) through the EMAIL_* server.
ADMINS = [(address, address) for address in env_list("ADMINS", [])]
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
if ADMINS:
    LOGGING["handlers"]["mail_admins"] = {
        "level": "ERROR",
        "class": "django.utils.log.AdminEmailHandler",
    }
    LOGGING["root"]["handlers"].append("mail_admins")
    # Django's own errors reach the root once (its default logger would mail them again).
    LOGGING["loggers"] = {"django": {"handlers": [], "level": "INFO", "propagate": True}}

# Errors to Sentry when SENTRY_DSN is set; needs the optional sentry-sdk (pip install
# '.[sentry]'): web requests, RQ jobs and ERROR log lines, with no personal data sent.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
        from sentry_sdk.integrations.rq import RqIntegration
    except ImportError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install '.[sentry]'"
        ) from None
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        traces_sample_rate=0.0,
    )
