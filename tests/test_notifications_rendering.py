"""Placeholders, per-medium escaping, facts and operator layouts."""

import json
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from exports.requests.placeholders import PLACEHOLDERS, validate_placeholders
from exports.requests.vocabulary import Medium
from notifications import placeholders
from notifications.errors import TransportError
from notifications.facts import facts_for_job, format_size, format_window
from notifications.transports import transport_for
from tests.test_notifications_fakes import (
    FakeChatService,
    SmtpSink,
    add_message,
    make_job,
    make_request,
)

pytestmark = pytest.mark.django_db

LINK = "https://exporter.example.org/d/tok"
EVIL_TITLE = "<script>alert(1)</script> <!channel> @everyone <@123> *bold* & more"
NOSY_TEXT = "{settings.SECRET_KEY} {{ settings.SECRET_KEY }} {% debug %} {request.owner.password}"


@pytest.fixture
def chat(settings):
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.TELEGRAM_BOT_TOKEN = "1:T"
    with FakeChatService() as service:
        settings.TELEGRAM_API_BASE = service.base_url
        yield service


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port
        yield sink


@pytest.fixture
def done_job(alice):
    return make_job(make_request(alice))


def send(job, medium, target="", **fields):
    message = add_message(job.request, medium, target, **fields)
    return transport_for(message).notify(facts_for_job(job, LINK))


def as_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_every_placeholder_is_replaced(done_job):
    text = " | ".join(f"{name}={{{name}}}" for name in PLACEHOLDERS)
    rendered = placeholders.render(text, facts_for_job(done_job, LINK).values(), str)
    assert rendered == (
        "request_name=Boiler temps | status=done | slot=2025-01-02 00:00 CET"
        " | window=2025-01-01 00:00 CET – 2025-01-02 00:00 CET | timezone=Europe/Rome"
        f" | format=csv | rows=2 | empty= | size={done_job.size} B | link={LINK} | error="
        " | schedule=Once"
    )


def test_doubled_braces_are_literal_and_unknown_fields_stay_as_written():
    rendered = placeholders.render("{{rows}} {nope} {rows}", {"rows": "5"}, str)
    assert rendered == "{rows} {nope} 5"


def test_unknown_placeholders_are_refused_when_saving():
    validate_placeholders("{request_name} has {rows} rows, {{literal}}")
    with pytest.raises(ValidationError) as caught:
        validate_placeholders("Hi {user} and {settings.SECRET_KEY}")
    message = caught.value.messages[0]
    assert "{user}, {settings.SECRET_KEY}" in message and "{request_name}" in message


def test_a_user_template_cannot_read_settings(chat, smtp, done_job, settings):
    settings.SECRET_KEY = "super-secret-key-value"
    send(done_job, Medium.EMAIL, title=NOSY_TEXT, text=NOSY_TEXT)
    send(done_job, Medium.SLACK, f"{chat.base_url}/hook", title=NOSY_TEXT, text=NOSY_TEXT)
    send(done_job, Medium.TELEGRAM, "1", title=NOSY_TEXT, text=NOSY_TEXT)
    [mail] = smtp.mails
    everything = mail.message.as_string() + as_text(chat.payloads)
    assert "super-secret-key-value" not in everything
    assert "alice-pass" not in everything and "md5$" not in everything
    # The text arrives as typed: nothing was evaluated.
    assert "{settings.SECRET_KEY} { settings.SECRET_KEY } {% debug %}" in mail.message["Subject"]
    with pytest.raises(ValidationError):
        validate_placeholders(NOSY_TEXT)


def test_html_in_a_title_arrives_escaped_by_email(smtp, alice):
    job = make_job(make_request(alice, name="<b>Boiler</b>"))
    send(job, Medium.EMAIL, title=EVIL_TITLE, text="{request_name}")
    html = smtp.mails[0].message.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>Boiler</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Boiler&lt;/b&gt;" in html
    assert smtp.mails[0].message["Subject"].startswith("<script>alert(1)</script>")  # plain text


def test_slack_control_sequences_arrive_inert(chat, alice):
    job = make_job(make_request(alice, name="<!here> plant"))
    send(job, Medium.SLACK, f"{chat.base_url}/hook", title=EVIL_TITLE, text="Go <http://x|y>")
    payload = as_text(chat.payloads[0])
    for live in ("<!channel>", "<@123>", "<!here>", "<http://x|y>", "<script>"):
        assert live not in payload
    assert "&lt;!channel&gt;" in payload and "&lt;!here&gt; plant" in payload
    assert "Go &lt;http://x|y&gt;" in payload


def test_discord_mentions_and_markdown_arrive_inert(chat, done_job):
    send(done_job, Medium.DISCORD, f"{chat.base_url}/hook", title=EVIL_TITLE, text="[x](http://e)")
    payload = chat.payloads[0]
    embed = payload["embeds"][0]
    assert payload["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in as_text(payload) and "<@123>" not in as_text(payload)
    assert "@\u200beveryone" in embed["title"] and "\\<@\u200b123\\>" in embed["title"]
    assert embed["title"].startswith("\\<script\\>") and "\\*bold\\*" in embed["title"]
    assert embed["description"].startswith("\\[x\\]\\(http://e\\)")


def test_telegram_html_arrives_escaped(chat, done_job):
    send(done_job, Medium.TELEGRAM, "1", title=EVIL_TITLE, text="<a href='http://evil'>x</a>")
    text = chat.payloads[0]["text"]
    assert "<script>" not in text and "http://evil'>" not in text
    assert text.startswith("<b>&lt;script&gt;alert(1)&lt;/script&gt;")
    assert "&lt;a href=&#x27;http://evil&#x27;&gt;x&lt;/a&gt;" in text


def test_the_link_placeholder_becomes_a_link_of_the_medium(chat, smtp, done_job):
    send(done_job, Medium.EMAIL, text="Get it: {link}")
    send(done_job, Medium.SLACK, f"{chat.base_url}/hook", text="Get it: {link}")
    html = smtp.mails[0].message.get_body(("html",)).get_content()
    assert f'Get it: <a href="{LINK}">{LINK}</a>' in html
    assert f"Get it: <{LINK}>" in chat.payloads[0]["blocks"][0]["text"]["text"]


def test_a_failure_reports_the_error_summary_and_links_the_request(chat, alice):
    job = make_job(make_request(alice), status="failed", error="Database gone\nTraceback ...")
    facts = facts_for_job(job, "https://exporter.example.org/exports/1/")
    assert facts.error == "Database gone" and facts.rows == "" and not facts.is_success
    message = add_message(job.request, Medium.SLACK, f"{chat.base_url}/hook", policy="onFailure")
    transport_for(message).notify(facts)
    payload = chat.payloads[0]
    assert payload["text"] == "Export “Boiler temps” failed"
    assert payload["blocks"][2]["text"]["text"] == (
        "*Error:* Database gone\n<https://exporter.example.org/exports/1/|See the export request>"
    )


def test_facts_are_formatted_for_people():
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    assert format_size(512) == "512 B"
    assert format_size(1536) == "1.5 KB"
    assert format_size(3 * 1024**3) == "3.0 GB"
    windows = [
        {"start": None, "end": "2025-07-01T22:00:00+00:00"},
        {"start": "2025-06-30T22:00:00+00:00", "end": "2025-07-01T22:00:00+00:00"},
    ]
    assert format_window(windows, rome) == "until 2025-07-02 00:00 CEST"
    assert format_window(windows[1:], rome) == "2025-07-01 00:00 CEST – 2025-07-02 00:00 CEST"
    assert format_window([], rome) == ""


def test_an_operator_can_override_a_layout(chat, done_job, settings, tmp_path):
    layouts = tmp_path / "notifications" / "layouts"
    layouts.mkdir(parents=True)
    (layouts / "slack.json").write_text(
        '{% load notifications %}{"text": {% filter json %}[{{ facts.status }}] {{ title }} '
        "{{ link }}{% endfilter %}}"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    send(done_job, Medium.SLACK, f"{chat.base_url}/hook", title="<!channel> ready")
    assert chat.payloads == [{"text": f"[done] &lt;!channel&gt; ready {LINK}"}]


def test_a_broken_layout_override_is_a_permanent_error(chat, done_job, settings, tmp_path):
    layouts = tmp_path / "notifications" / "layouts"
    layouts.mkdir(parents=True)
    (layouts / "discord.json").write_text('{"content": {{ title }}}')  # forgot |json
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    with pytest.raises(TransportError, match="discord.json layout does not render valid JSON"):
        send(done_job, Medium.DISCORD, f"{chat.base_url}/hook")
    assert chat.requests == []
