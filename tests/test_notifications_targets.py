"""Targets are checked for their medium when a request is saved."""

import pytest
from django.core.exceptions import ValidationError

from notifications.targets import describe_target, is_public_address, validate_target


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
    ],
)
def test_it_refuses_a_bad_target(medium, target, error):
    with pytest.raises(ValidationError) as caught:
        validate_target(medium, target)
    assert error in " ".join(caught.value.messages)


def test_allowed_hosts_may_be_private_and_use_plain_http(settings):
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
    ):
        assert not is_public_address(address), address


def test_webhook_urls_are_shown_as_their_host_only():
    assert describe_target("slack", "https://hooks.slack.com/services/T/B/SECRET") == (
        "hooks.slack.com"
    )
    assert describe_target("telegram", "-100123") == "-100123"
