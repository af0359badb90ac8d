"""Targets are checked for their medium when a request is saved."""

import pytest
from django.core.exceptions import ValidationError

from exports.requests.recipients import (
    describe_target,
    is_public_address,
    parse_webhook_url,
    validate_target,
)


@pytest.mark.parametrize(
    ("medium", "target"),
    [
        ("email", ""),
        ("email", "ops@example.org"),
        ("slack", "https://hooks.slack.com/services/T000/B000/XXXX"),
        ("slack", "https://93.184.216.34/hook"),
        ("discord", "https://discord.com/api/webhooks/1/abc"),
        ("telegram", "123456789"),
        ("telegram", "-1001234567890"),
        ("telegram", "@plant_reports"),
    ],
)
def test_it_accepts_a_valid_target(medium, target):
    validate_target(medium, target)


@pytest.mark.parametrize(
    ("medium", "target", "error"),
    [
        ("email", "not-an-address", "valid email"),
        ("slack", "", "needs a target"),
        ("slack", "http://hooks.slack.com/services/T/B/X", "https://"),
        ("slack", "ftp://hooks.slack.com/x", "https://"),
        ("slack", "https://user:pw@hooks.slack.com/x", "webhook URL such as"),
        ("slack", "https://127.0.0.1/hook", "private or local"),
        ("slack", "https://localhost:8000/hook", "private or local"),
        ("slack", "https://10.1.2.3/hook", "private or local"),
        ("slack", "https://169.254.169.254/latest/meta-data", "private or local"),
        ("discord", "https://[::1]/hook", "private or local"),
        ("discord", "https://[::ffff:192.168.0.1]/hook", "private or local"),
        ("discord", "https://hooks.example.org:99999/x", "invalid port"),
        ("telegram", "", "needs a target"),
        ("telegram", "12ab", "chat id"),
        ("telegram", "@ab", "chat id"),
        ("sms", "+391234", "Unknown medium"),
        # Loopback and private networks hidden in IPv6 forms.
        ("slack", "https://[::1%lo]/hook", "IPv6 zone"),
        ("slack", "https://[fe80::1%25eth0]/hook", "IPv6 zone"),
        ("slack", "https://[64:ff9b::7f00:1]/", "private or local"),
        ("slack", "https://[64:ff9b::a00:1]/", "private or local"),
        ("slack", "https://[2002:7f00:1::]/", "private or local"),
        ("slack", "https://[2002:c0a8:101::1]/", "private or local"),
        ("slack", "https://[::127.0.0.1]/", "private or local"),
        ("slack", "https://[::ffff:7f00:1]/", "private or local"),
        ("slack", "https://[fec0::1]/", "private or local"),
        ("slack", "https://[::]/", "private or local"),
        ("slack", "https://0.0.0.0/", "private or local"),
        ("slack", "https://100.64.0.1/", "private or local"),
        ("slack", "https://[ff02::1]/", "private or local"),
        # Host names that cannot be parsed or resolved.
        ("slack", "https://a..b/hook", "invalid host name"),
        ("slack", "https://-a.example.org/hook", "invalid host name"),
        ("slack", f"https://{'a' * 64}.example.org/hook", "invalid host name"),
        ("slack", "https://127.1/hook", "unusual form"),
        ("slack", "https://2130706433/hook", "unusual form"),
        ("slack", "https://0x7f000001/hook", "unusual form"),
        ("slack", "https://[::1/hook", "cannot be read"),
        ("slack", "https://nowhere.invalid/hook", "does not resolve"),
        ("slack", "https://hooks.slack.com:0/x", "invalid port"),
        ("slack", "https://hooks.slack.com/a b", "spaces or line breaks"),
        ("slack", "https://hooks.slack.com/\thook", "spaces or line breaks"),
        ("slack", "https://hooks.slack\x00.com/x", "NUL character"),
        ("slack", "https://hooks.slack.com/\ud800", "unpaired surrogate"),
        ("email", "ops\x00@example.org", "NUL character"),
        ("telegram", "12\x0034", "NUL character"),
    ],
)
def test_it_refuses_a_bad_target(medium, target, error):
    with pytest.raises(ValidationError) as caught:
        validate_target(medium, target)
    assert error in " ".join(caught.value.messages)


def test_a_host_resolving_to_any_private_address_is_refused(fake_dns, monkeypatch):
    monkeypatch.setitem(fake_dns, "mixed.example.org", ["93.184.215.14", "10.0.0.7"])
    monkeypatch.setitem(fake_dns, "nat64.example.org", ["64:ff9b::c0a8:1"])
    for host in ("mixed.example.org", "nat64.example.org"):
        with pytest.raises(ValidationError, match="private or local"):
            validate_target("discord", f"https://{host}/api/webhooks/1/x")


def test_an_idn_host_is_checked_in_its_ascii_form(fake_dns, monkeypatch):
    monkeypatch.setitem(fake_dns, "xn--bcher-kva.example", ["93.184.215.14"])
    validate_target("slack", "https://bücher.example/hook")
    parsed = parse_webhook_url("https://BÜCHER.example./hook?x=1", "Slack")
    assert (parsed.host, parsed.port, parsed.target) == ("xn--bcher-kva.example", 443, "/hook?x=1")


def test_a_telegram_message_needs_a_configured_bot(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(ValidationError, match="no TELEGRAM_BOT_TOKEN configured"):
        validate_target("telegram", "123456789")


def test_allowed_hosts_may_be_private_and_use_plain_http(settings, fake_dns, monkeypatch):
    monkeypatch.setitem(fake_dns, "chat.internal", ["10.0.0.5"])
    settings.NOTIFICATIONS_ALLOWED_HOSTS = ["127.0.0.1", "chat.internal"]
    validate_target("slack", "http://127.0.0.1:8080/hook")
    validate_target("discord", "https://chat.internal/api/webhooks/1/x")
    with pytest.raises(ValidationError):
        validate_target("slack", "http://localhost:8080/hook")  # only the listed names


def test_public_addresses_are_told_apart_from_private_ones():
    assert is_public_address("8.8.8.8") and is_public_address("2001:4860:4860::8888")
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "224.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "::7f00:1",
        "fec0::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "not an address",
    ):
        assert not is_public_address(address), address
    # Public IPv4 behind NAT64 or 6to4 is public (an IPv6-only network reaches it so).
    assert is_public_address("64:ff9b::808:808") and is_public_address("2002:808:808::")


def test_webhook_urls_are_shown_as_their_host_only():
    assert describe_target("slack", "https://hooks.slack.com/services/T/B/SECRET") == (
        "hooks.slack.com"
    )
    assert describe_target("telegram", "-100123") == "-100123"
