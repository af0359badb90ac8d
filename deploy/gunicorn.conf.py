"""gunicorn settings for the Exporter web service (see deploy/exporter-web.service).

    gunicorn -c deploy/gunicorn.conf.py exporter_site.wsgi

Static files are served by whitenoise from STATIC_ROOT (run ``collectstatic`` first).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sized for the host (README "Deploying", "Sizing the web server"). The pages and the API are
# CPU work in Python, one core per worker at a time (the GIL): more workers than cores only
# queue on the cores, so one worker a core plus one (for a worker busy waiting on a database,
# Redis or S3); the threads overlap those waits and keep a streaming download from blocking a
# worker.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
workers = int(os.environ.get("GUNICORN_WORKERS", (CORES or 1) + 1))
# Threads, not sync workers: a download streams for as long as the client takes, and a sync
# worker that streams past `timeout` would be killed mid-file by the arbiter.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A worker takes a connection only when it has a thread free for it: a busy worker leaves new
# connections in the shared queue for an idle one instead of piling them onto its own.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", threads))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
# How long a stopping worker may finish its requests before it is killed.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
# No keep-alive by default: a kept-alive connection stays with the worker that accepted it, so
# persistent clients (or nginx's upstream pool) end up pinned to whichever worker was idle when
# they connected, most on one, while the others wait. Closed after each response, every
# request goes back to the shared queue and the next free worker takes it. A new connection
# from the proxy on the same host costs a fraction of a millisecond.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 0))
# Recycle workers now and then so a slow leak cannot grow without bound; rarely (a recycled
# worker's first requests are slower), never two workers at once (the jitter).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 50000))
max_requests_jitter = max_requests // 10
# Import the site once in the arbiter, before forking: workers (and their replacements after
# max_requests) start with Django loaded and the templates and URLs warm (`when_ready`) instead
# of paying for it on their first request. Code changes then need a restart, not a HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() not in ("0", "false")
accesslog = "-"
errorlog = "-"
# Trust X-Forwarded-* only from the proxy in front (comma list of addresses).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json":
    # gunicorn's own loggers (access and errors) in the same JSON lines as the app's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "exports.ops.json_logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def when_ready(server):
    """With ``preload_app``: compile the pages' templates and fill the URL resolver in the
    arbiter, so every worker forked from it (and every replacement) starts with them."""
    if not server.cfg.preload_app:
        return
    from exports.ops.warmup import warm_up

    warm_up()
