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
