"""Real stand-ins for the providers, on 127.0.0.1: an SMTP server and a chat webhook/API.

Imported by the notification test modules; holds no tests itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Reply:
    status: int = 200
    body: Any = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    json: Any
    at: float


class FakeChatService:
    """An HTTP server recording each JSON POST and answering from a script of replies.

    ``replies`` are used in order; when they run out every request gets 200 "ok".
    ``hold`` makes the handler wait before answering, so a test can act while a
    sender is blocked mid-request (``arrived`` is set when a request is in).
    """

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[Received] = []
        self.arrived = threading.Event()
        self.hold: threading.Event | None = None
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"null")
                service.requests.append(
                    Received(self.path, dict(self.headers), payload, time.monotonic())
                )
                service.arrived.set()
                if service.hold is not None:
                    service.hold.wait(10)
                reply = service.replies.pop(0) if service.replies else Reply()
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body.encode())))
                    self.end_headers()
                    self.wfile.write(body.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> FakeChatService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def payloads(self) -> list[Any]:
        return [request.json for request in self.requests]


@dataclass
class Mail:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


class SmtpSink:
    """An aiosmtpd server keeping every message; ``reject_rcpt`` refuses recipients with a code."""

    def __init__(self, reject_rcpt: str | None = None) -> None:
        self.mails: list[Mail] = []
        self.reject_rcpt = reject_rcpt
        with socket.socket() as probe:  # aiosmtpd needs a concrete port to check it is up
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.reject_rcpt:
            return self.reject_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


# --- factories shared by the notification tests ---------------------------------------------

ROME = "Europe/Rome"
FILE_CONTENT = b"time,value\n2025-01-01T00:00:00+01:00,21.5\n2025-01-01T01:00:00+01:00,21.7\n"


def make_request(owner, **fields):
    from exports.models import ExportRequest

    values = {"name": "Boiler temps", "timezone": ROME, "extension": "csv"} | fields
    return ExportRequest.objects.create(owner=owner, **values)


def make_job(request, status: str = "done", error: str = "", content: bytes = FILE_CONTENT):
    """A finished job for the slot 2025-01-02 00:00 Rome, with a file when it is done."""
    from datetime import UTC, datetime

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from exports.models import ExportJob, JobStatus

    job = ExportJob.objects.create(
        request=request,
        slot=datetime(2025, 1, 1, 23, 0, tzinfo=UTC),
        status=status,
        windows=[
            {
                "item": 1,
                "position": 0,
                "start": "2024-12-31T23:00:00+00:00",
                "end": "2025-01-01T23:00:00+00:00",
            },
        ],
        row_count=2 if status == JobStatus.DONE else None,
        size=len(content) if status == JobStatus.DONE else None,
        content_type="text/csv",
        error=error,
        attempts=1,
        finished_at=timezone.now(),
    )
    if status == JobStatus.DONE:
        job.file.save("x.csv", ContentFile(content))
    return job


def add_message(request, medium: str, target: str = "", policy: str = "onSuccess", **fields):
    return request.messages.create(
        medium=medium, target=target, policy=policy, position=request.messages.count(), **fields
    )
