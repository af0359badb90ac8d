"""The one way notifications talk HTTP: a JSON POST with timeouts and classified errors.

Built on ``http.client`` rather than ``urllib`` on purpose: no redirects are
followed (a webhook answering 3xx could bounce us into the private network), no
proxy is picked up from the environment, and the socket is opened by our own
function, which checks the addresses a user-supplied host resolves to right
before connecting (a check at save time alone can be defeated by changing DNS).
A user-supplied URL is parsed and resolved by the very functions that judged it
when it was saved (``parse_webhook_url`` and ``resolve_public`` of
``exports.requests.recipients``).
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import partial
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from exports.requests.recipients import WebhookURL, parse_webhook_url, resolve_public
from notifications import conf
from notifications.errors import TransportError

MAX_BODY = 64 * 1024  # a provider's answer is a short status; never read more
SUMMARY_LENGTH = 500
USER_AGENT = "Exporter-notifications/1.0"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def summary(self) -> str:
        """The status and the start of the body, for the delivery record."""
        body = " ".join(self.text.split())[:SUMMARY_LENGTH]
        return f"HTTP {self.status}" + (f": {body}" if body else "")


def post_json(url: str, payload: Any, *, service: str, trusted: bool = False) -> Response:
    """POST ``payload`` as JSON to ``url`` and return the 2xx response.

    ``service`` names the provider in error texts (the URL is never included:
    webhook URLs and bot API URLs contain credentials). ``trusted`` is for URLs
    from settings (the Telegram API base); user-supplied URLs are checked
    against private address ranges when connecting.

    Raises ``TransportError``: transient for timeouts, connection failures, 5xx,
    408 and 429 (with its Retry-After); permanent for other 4xx, 3xx, refused
    addresses and invalid URLs.
    """
    if trusted:
        parts = urlsplit(url)
        if not parts.hostname or parts.scheme not in ("http", "https"):
            raise TransportError(f"{service}: the target is not an http(s) URL.", permanent=True)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    else:
        try:
            webhook = parse_webhook_url(url, service)
        except ValidationError as exc:
            raise TransportError(" ".join(exc.messages), permanent=True) from None
        scheme, host, port, path = webhook.scheme, webhook.host, webhook.port, webhook.target
    connection_class = HTTPSConnection if scheme == "https" else HTTPConnection
    connection = connection_class(host, port, timeout=conf.http_timeout())
    if not trusted:
        connection._create_connection = partial(_connect_checked, webhook, service)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    try:
        connection.request("POST", path, body=body, headers=headers)
        raw = connection.getresponse()
        response = Response(raw.status, raw.headers, raw.read(MAX_BODY).decode("utf-8", "replace"))
    except TimeoutError:
        raise TransportError(
            f"{service} did not answer within {conf.http_timeout():g} s."
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise TransportError(
            f"{service}: TLS certificate not valid ({exc.verify_message}).", permanent=True
        ) from None
    except (OSError, HTTPException) as exc:
        raise TransportError(f"Could not reach {service}: {exc or type(exc).__name__}.") from None
    finally:
        connection.close()
    raise_for_status(response, service)
    return response


def raise_for_status(response: Response, service: str) -> None:
    """Classify a non-2xx answer as a transient or permanent ``TransportError``.

    Returns quietly for 2xx.
    """
    if response.ok:
        return
    message = f"{service} answered {response.summary}"
    if response.status == 429:
        raise TransportError(message, retry_after=retry_after(response))
    if response.status >= 500 or response.status == 408:
        raise TransportError(message, retry_after=retry_after(response))
    raise TransportError(message, permanent=True)


def retry_after(response: Response) -> float | None:
    """Seconds the provider asks us to wait, from Retry-After or its JSON body.

    Retry-After is seconds or an HTTP date; Telegram says
    ``parameters.retry_after`` and Discord ``retry_after`` in the body.
    Returns None when the answer names no wait.
    """
    header = (response.headers.get("Retry-After") or "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    data = response.json()
    if isinstance(data, dict):
        parameters = data.get("parameters")
        nested = parameters.get("retry_after") if isinstance(parameters, dict) else None
        for value in (nested, data.get("retry_after")):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0.0, float(value))
    return None


def _connect_checked(
    webhook: WebhookURL,
    service: str,
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: Any = None,
    **kwargs,
) -> socket.socket:
    """``socket.create_connection`` to the addresses ``resolve_public`` approves.

    Connects to an address that was checked, not to a second lookup of the name. Raises
    ``TransportError``: permanent for a refused address, transient when the name does not
    resolve right now; ``OSError`` for a failed connection.
    """
    try:
        addresses = resolve_public(webhook, service)
    except ValidationError as exc:
        raise TransportError(" ".join(exc.messages), permanent=exc.code != "unresolvable") from None
    return socket.create_connection((addresses[0], address[1]), timeout, source_address, **kwargs)
