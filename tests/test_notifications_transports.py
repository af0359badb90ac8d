"""Transports against real stand-ins: aiosmtpd for email, HTTP servers on 127.0.0.1 for chats."""

import socket

import pytest

from exports.requests.vocabulary import Medium
from notifications.errors import TransportError
from notifications.facts import facts_for_job
from notifications.http import Response, retry_after
from notifications.transports import TRANSPORTS, transport_for
from tests.test_notifications_fakes import (
    FILE_CONTENT,
    FakeChatService,
    Reply,
    SmtpSink,
    add_message,
    make_job,
    make_request,
)

pytestmark = pytest.mark.django_db

LINK = "https://exporter.example.org/d/abc_DEF-123"


@pytest.fixture
def chat(settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    with FakeChatService() as service:
        yield service


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.DEFAULT_FROM_EMAIL = "Exporter <exporter@example.org>"
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port
        yield sink


@pytest.fixture
def done_job(alice):
    return make_job(make_request(alice))


def send(job, medium, target="", **fields):
    message = add_message(job.request, medium, target, **fields)
    return transport_for(message).notify(facts_for_job(job, LINK))


def test_every_medium_has_exactly_one_transport():
    assert set(TRANSPORTS) == set(Medium.values)
    assert all(TRANSPORTS[medium].medium == medium for medium in TRANSPORTS)


def test_slack_posts_the_layout_with_the_facts_to_the_webhook(chat, done_job):
    summary = send(done_job, Medium.SLACK, f"{chat.base_url}/services/T0/B0/XYZ", title="Ready")
    assert summary == "HTTP 200: ok"
    [request] = chat.requests
    assert request.path == "/services/T0/B0/XYZ"
    assert request.headers["Content-Type"].startswith("application/json")
    payload = request.json
    assert payload["text"] == "Ready"
    assert payload["unfurl_links"] is False  # Slack must not fetch (and log) the link
    fields = " ".join(field["text"] for field in payload["blocks"][1]["fields"])
    assert "Boiler temps" in fields
    assert "2025-01-02 00:00 CET" in fields  # the slot in the request's time zone
    assert "2025-01-01 00:00 CET – 2025-01-02 00:00 CET" in fields
    assert payload["blocks"][2]["text"]["text"] == f"<{LINK}|Download the file>"


def test_discord_posts_an_embed_that_pings_nobody(chat, done_job):
    send(done_job, Medium.DISCORD, f"{chat.base_url}/api/webhooks/1/abc", text="Rows: {rows}")
    [payload] = chat.payloads
    assert payload["allowed_mentions"] == {"parse": []}
    [embed] = payload["embeds"]
    assert embed["title"] == "Export “Boiler temps” is ready"  # the default title
    assert embed["url"] == LINK
    assert embed["description"] == f"Rows: 2\n\n[Download the file]({LINK})"
    assert {"name": "Size", "value": f"{len(FILE_CONTENT)} B", "inline": True} in embed["fields"]


def test_telegram_sends_html_to_the_chat_through_the_configured_api(chat, done_job, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:SECRET"
    settings.TELEGRAM_API_BASE = chat.base_url
    chat.replies.append(Reply(200, {"ok": True, "result": {"message_id": 42}}))
    summary = send(done_job, Medium.TELEGRAM, "-1001234567890", title="{request_name} is ready")
    assert summary == "HTTP 200, message_id 42"
    [request] = chat.requests
    assert request.path == "/bot123:SECRET/sendMessage"
    payload = request.json
    assert payload["chat_id"] == -1001234567890
    assert payload["parse_mode"] == "HTML"
    assert payload["link_preview_options"] == {"is_disabled": True}
    assert payload["text"].startswith("<b>Boiler temps is ready</b>")
    assert f'<a href="{LINK}">Download the file</a>' in payload["text"]


def test_telegram_accepts_a_channel_name_as_chat_id(chat, done_job, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:SECRET"
    settings.TELEGRAM_API_BASE = chat.base_url
    send(done_job, Medium.TELEGRAM, "@plant_reports")
    assert chat.payloads[0]["chat_id"] == "@plant_reports"


def test_telegram_without_a_bot_token_is_a_permanent_error(done_job, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(TransportError, match="TELEGRAM_BOT_TOKEN") as caught:
        send(done_job, Medium.TELEGRAM, "12345")
    assert caught.value.permanent


def test_a_blocked_bot_is_permanent_and_the_error_text_is_kept(chat, done_job, settings):
    settings.TELEGRAM_BOT_TOKEN = "123:SECRET"
    settings.TELEGRAM_API_BASE = chat.base_url
    chat.replies.append(
        Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"})
    )
    with pytest.raises(TransportError) as caught:
        send(done_job, Medium.TELEGRAM, "12345")
    assert caught.value.permanent
    assert "HTTP 403" in str(caught.value) and "bot was blocked" in str(caught.value)
    assert "SECRET" not in str(caught.value)  # the token is part of the URL: never shown


def test_a_5xx_is_transient(chat, done_job):
    chat.replies.append(Reply(503, "upstream unavailable"))
    with pytest.raises(TransportError) as caught:
        send(done_job, Medium.SLACK, f"{chat.base_url}/hook")
    assert not caught.value.permanent
    assert str(caught.value) == "Slack answered HTTP 503: upstream unavailable"


def test_a_deleted_webhook_404_is_permanent(chat, done_job):
    chat.replies.append(Reply(404, "no_service"))
    with pytest.raises(TransportError) as caught:
        send(done_job, Medium.SLACK, f"{chat.base_url}/hook")
    assert caught.value.permanent
    assert "no_service" in str(caught.value)


def test_a_429_is_transient_with_the_retry_after_of_the_header(chat, done_job):
    chat.replies.append(Reply(429, "rate limited", {"Retry-After": "7"}))
    with pytest.raises(TransportError) as caught:
        send(done_job, Medium.DISCORD, f"{chat.base_url}/hook")
    assert not caught.value.permanent
    assert caught.value.retry_after == 7


def test_telegram_429_takes_retry_after_from_the_body(chat, done_job, settings):
    settings.TELEGRAM_BOT_TOKEN = "1:T"
    settings.TELEGRAM_API_BASE = chat.base_url
    chat.replies.append(Reply(429, {"ok": False, "parameters": {"retry_after": 5}}))
    with pytest.raises(TransportError) as caught:
        send(done_job, Medium.TELEGRAM, "12345")
    assert caught.value.retry_after == 5 and not caught.value.permanent


def test_retry_after_may_be_an_http_date():
    from email.message import Message

    headers = Message()
    headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"  # in the past: retry now
    assert retry_after(Response(429, headers, "")) == 0


def test_a_timeout_is_transient(chat, done_job, settings):
    settings.NOTIFICATIONS_HTTP_TIMEOUT = 0.3
    chat.replies.append(Reply(200, "ok", delay=1))
    with pytest.raises(TransportError, match="did not answer within 0.3 s") as caught:
        send(done_job, Medium.SLACK, f"{chat.base_url}/hook")
    assert not caught.value.permanent


def test_a_refused_connection_is_transient(done_job, settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again once the block ends
    with pytest.raises(TransportError, match="Could not reach Slack") as caught:
        send(done_job, Medium.SLACK, f"http://127.0.0.1:{port}/hook")
    assert not caught.value.permanent


def test_redirects_are_not_followed(chat, done_job):
    chat.replies.append(Reply(302, "", {"Location": "http://169.254.169.254/"}))
    with pytest.raises(TransportError, match="HTTP 302") as caught:
        send(done_job, Medium.SLACK, f"{chat.base_url}/hook")
    assert caught.value.permanent
    assert len(chat.requests) == 1


def test_a_webhook_resolving_to_a_private_address_is_refused_when_connecting(
    chat, done_job, settings
):
    # Saved while allowed, then the operator removed the host: the send-time check still holds.
    settings.NOTIFICATIONS_ALLOWED_HOSTS = []
    with pytest.raises(TransportError, match="private or local network") as caught:
        send(done_job, Medium.SLACK, f"https://localhost:{chat.server.server_port}/hook")
    assert caught.value.permanent
    with pytest.raises(TransportError, match="must be an https:// webhook URL"):
        send(done_job, Medium.DISCORD, f"{chat.base_url}/hook")
    assert chat.requests == []


def test_email_is_multipart_text_and_html_to_the_owner_by_default(smtp, done_job):
    summary = send(done_job, Medium.EMAIL, title="{request_name}: {rows} rows", text="Hi!\nBye.")
    assert summary == "Accepted by the mail server for alice@example.com"
    [mail] = smtp.mails
    assert mail.recipients == ["alice@example.com"]
    assert mail.mail_from == "exporter@example.org"
    assert mail.message["Subject"] == "Boiler temps: 2 rows"
    assert mail.message.get_content_type() == "multipart/alternative"
    text = mail.message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = mail.message.get_body(("html",)).get_content()
    assert "Hi!\nBye." in text and f"Download: {LINK}" in text
    assert "Slot:     2025-01-02 00:00 CET" in text
    assert "Hi!<br>Bye." in html and f'<a href="{LINK}"' in html


def test_email_goes_to_the_target_address_when_given(smtp, done_job):
    send(done_job, Medium.EMAIL, "ops@example.net")
    assert smtp.mails[0].recipients == ["ops@example.net"]


def test_email_to_an_owner_without_address_is_a_permanent_error(smtp, done_job, alice):
    alice.email = ""
    alice.save()
    done_job.request.owner = alice
    with pytest.raises(TransportError, match="no email address") as caught:
        send(done_job, Medium.EMAIL)
    assert caught.value.permanent and smtp.mails == []


@pytest.mark.parametrize(
    ("reply", "permanent"), [("550 No such user", True), ("451 Try again later", False)]
)
def test_a_refused_recipient_follows_the_smtp_code(settings, done_job, reply, permanent):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with SmtpSink(reject_rcpt=reply) as sink:
        settings.EMAIL_PORT = sink.port
        with pytest.raises(TransportError, match=reply.split()[0]) as caught:
            send(done_job, Medium.EMAIL)
    assert caught.value.permanent is permanent
    assert reply.split(" ", 1)[1] in str(caught.value)


def test_an_unreachable_mail_server_is_transient(settings, done_job):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 2
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.EMAIL_PORT = probe.getsockname()[1]
    with pytest.raises(TransportError, match="Could not reach the mail server") as caught:
        send(done_job, Medium.EMAIL)
    assert not caught.value.permanent
