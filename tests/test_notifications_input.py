"""Hostile targets and text at send time: Slack mrkdwn inert, webhook URLs judged again when
connecting (by the same code as at save), and "Send test" reporting every failure, never a 500.

No test here connects anywhere but 127.0.0.1: names resolve through ``conftest.fake_dns``.
"""

import json
import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from exports.requests.vocabulary import Medium
from notifications.errors import TransportError
from notifications.facts import facts_for_job
from notifications.transports import transport_for
from notifications.transports.slack import Slack
from tests.test_notifications_fakes import add_message, make_job, make_request

pytestmark = pytest.mark.django_db

LINK = "https://exporter.example.org/d/abc_DEF-123"
MRKDWN = "*bold?* _it_ ~gone~ `code` <@here> <!channel> <http://x|y> & co"


@pytest.fixture
def done_job(alice):
    return make_job(make_request(alice, name="my_export *v2*"))


def send(job, medium, target, **fields):
    message = add_message(job.request, medium, target, **fields)
    return transport_for(message).notify(facts_for_job(job, LINK))


def test_slack_text_keeps_no_mrkdwn_control_character(chat, done_job):
    send(done_job, Medium.SLACK, f"{chat.base_url}/hook", title=MRKDWN, text=MRKDWN)
    payload = chat.payloads[0]
    first = payload["blocks"][0]["text"]["text"]
    # The layout's own bold markers wrap the title; everything between them is inert.
    assert first.startswith("*") and first.count("*") == 2
    user_text = first[1:].replace("*", "", 1)
    assert not re.search(r"[*_~`<>]", user_text), user_text
    assert "&lt;@here&gt;" in user_text and "&lt;!channel&gt;" in user_text
    assert "&amp; co" in user_text and "&amp;lt;" not in user_text
    fields = json.dumps(payload["blocks"][1]["fields"], ensure_ascii=False)
    assert "my\u02cdexport \u2217v2\u2217" in fields  # the request name is user text too
    # Our own link keeps its characters: look-alikes apply to text, not to URLs.
    assert f"<{LINK}|Download the file>" == payload["blocks"][2]["text"]["text"]


def test_slack_escaping_maps_each_control_character():
    slack = Slack.__new__(Slack)
    assert slack.escape("*_~`<>&") == "\u2217\u02cd\u223c\u02cb&lt;&gt;&amp;"
    assert slack.escape_url("https://h/x?a=1&b=<2>|3") == "https://h/x?a=1&amp;b=&lt;2&gt;%7C3"


@pytest.mark.parametrize(
    ("target", "error", "permanent"),
    [
        ("https://[::1%lo]/hook", "IPv6 zone", True),
        ("https://a..b/hook", "invalid host name", True),
        ("https://[64:ff9b::7f00:1]/", "private or local", True),
        ("https://[2002:7f00:1::]/", "private or local", True),
        ("https://nowhere.invalid/hook", "does not resolve", False),
        ("http://hooks.slack.com/x", "must be an https:// webhook URL", True),
    ],
)
def test_a_target_stored_around_validation_is_refused_when_sending(
    done_job, target, error, permanent
):
    with pytest.raises(TransportError, match=re.escape(error)) as caught:
        send(done_job, Medium.SLACK, target)
    assert caught.value.permanent is permanent


def test_a_host_whose_dns_turned_private_after_saving_is_refused(done_job, fake_dns, monkeypatch):
    monkeypatch.setitem(fake_dns, "hooks.example.org", ["127.0.0.1"])
    with pytest.raises(TransportError, match="private or local network") as caught:
        send(done_job, Medium.DISCORD, "https://hooks.example.org/api/webhooks/1/x")
    assert caught.value.permanent


BAD_STORED_TARGETS = [
    ("slack", "https://[::1%lo]/hook", "IPv6 zone"),
    ("slack", "https://a..b/hook", "invalid host name"),
    ("discord", "https://[64:ff9b::7f00:1]/", "private or local"),
    ("discord", "https://[::1/hook", "cannot be read"),
    ("slack", "https://nowhere.invalid/hook", "does not resolve"),
    ("slack", "https://hooks.slack.com:99999/x", "invalid port"),
    ("telegram", "12345", "TELEGRAM_BOT_TOKEN is not set"),
]


@pytest.mark.parametrize(("medium", "target", "error"), BAD_STORED_TARGETS)
def test_send_test_reports_the_failure_and_never_answers_500(
    client, alice, settings, medium, target, error
):
    settings.TELEGRAM_BOT_TOKEN = ""
    message = add_message(make_request(alice), medium, target)
    client.force_login(alice)
    client.raise_request_exception = False
    response = client.post(reverse("notifications:test-send", args=[message.pk]))
    assert response.status_code == 302
    [shown] = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown.startswith("The ") and "test notification failed" in shown and error in shown


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL cannot even store a NUL")
def test_send_test_of_a_target_holding_a_nul_is_an_error_message(client, alice):
    message = add_message(make_request(alice), "slack", "https://hooks.slack.com/\x00")
    client.force_login(alice)
    client.raise_request_exception = False
    response = client.post(reverse("notifications:test-send", args=[message.pk]))
    assert response.status_code == 302
    [shown] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "NUL character" in shown


def test_the_request_page_shows_stored_hostile_targets_without_failing(client, alice):
    export = make_request(alice)
    for medium, target, _ in BAD_STORED_TARGETS:
        add_message(export, medium, target)
    client.force_login(alice)
    response = client.get(reverse("exports:detail", args=[export.pk]))
    assert response.status_code == 200
    assert "hooks.slack.com" in response.text and "services" not in response.text


@pytest.mark.parametrize("target", ["not-an-address", "a@b.example\nBcc: x@evil.example"])
def test_an_unusable_stored_email_address_is_a_permanent_error(done_job, target):
    with pytest.raises(TransportError, match="Not a usable email address") as caught:
        send(done_job, Medium.EMAIL, target)
    assert caught.value.permanent
