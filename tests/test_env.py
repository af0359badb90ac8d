"""Settings read from the environment: a bad value stops start-up with a clear message."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from exporter_site.env import env_duration


@pytest.mark.parametrize("value", ["PT0S", "P0D", "PT0.0S", "P0Y0M"])
def test_a_minimum_periodicity_of_zero_is_refused_at_start_up(monkeypatch, value):
    monkeypatch.setenv("EXPORTS_MIN_PERIODICITY", value)
    with pytest.raises(ImproperlyConfigured, match="must be longer than zero"):
        env_duration("EXPORTS_MIN_PERIODICITY", "PT1M", positive=True)


@pytest.mark.parametrize("value", ["PT1S", "PT30S", "P1M", "P1Y"])
def test_a_positive_minimum_periodicity_is_taken_as_given(monkeypatch, value):
    monkeypatch.setenv("EXPORTS_MIN_PERIODICITY", value)
    assert env_duration("EXPORTS_MIN_PERIODICITY", "PT1M", positive=True) == value


def test_zero_stays_allowed_where_it_means_off(monkeypatch):
    monkeypatch.setenv("EXPORTS_PRUNE_INTERVAL", "P0D")  # "never prune by itself"
    assert env_duration("EXPORTS_PRUNE_INTERVAL", "PT1H") == "P0D"


def test_text_that_is_no_duration_is_refused(monkeypatch):
    monkeypatch.setenv("EXPORTS_MIN_PERIODICITY", "one minute")
    with pytest.raises(ImproperlyConfigured, match="must be an ISO 8601 duration"):
        env_duration("EXPORTS_MIN_PERIODICITY", "PT1M", positive=True)


# --- the product's own rules, checked once at start-up (exports/ops/startup.py) -------------


def test_the_shipped_settings_pass_the_start_up_check():
    from exports.ops.startup import problems

    assert problems() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("API_TOKEN_DEFAULT_LIFETIME", "P200Y", "longer than P100Y"),
        ("API_TOKEN_DEFAULT_LIFETIME", "P0D", "must be longer than zero"),
        ("EXPORTS_RETENTION", "P1.5M", "whole"),
        ("SUBSCRIBER_DEDUP_WINDOW", "PT0S", "must be longer than zero"),
        ("API_THROTTLE_RATE", "600 a minute", "API_THROTTLE_RATE='600 a minute'"),
        ("AUTH_FAILURE_RATE", "0/10m", "AUTH_FAILURE_RATE='0/10m'"),
    ],
)
def test_a_setting_that_breaks_the_products_rule_stops_start_up(settings, name, value, message):
    from exports.ops.startup import check_settings

    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured) as caught:
        check_settings()
    assert name in str(caught.value)
    assert message in str(caught.value)


def test_zero_where_it_means_off_passes_and_every_bad_setting_is_named_at_once(settings):
    from exports.ops.startup import problems

    settings.MESSAGES_RETENTION = "P0D"
    settings.EXPORTS_PRUNE_INTERVAL = "P0D"
    assert problems() == []
    settings.EXPORTS_MIN_PERIODICITY = "P0D"
    settings.LOGIN_FAILURE_RATE_PER_USER = "ten"
    assert [line.split("=")[0] for line in problems()] == [
        "EXPORTS_MIN_PERIODICITY",
        "LOGIN_FAILURE_RATE_PER_USER",
    ]


def test_a_process_with_a_bad_rate_does_not_start(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(
        os.environ, AUTH_FAILURE_RATE="twenty", DJANGO_SETTINGS_MODULE="exporter_site.settings"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "AUTH_FAILURE_RATE='twenty'" in result.stderr
