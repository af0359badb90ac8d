"""The editor's schedule presets (stored as plain periodicity + periodStart)."""

import zoneinfo
from datetime import UTC, datetime

import pytest

from exports.scheduling.presets import Preset, preset_of
from exports.scheduling.slots import Schedule

ROME = "Europe/Rome"


def local(text, tz=ROME):
    return datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(tz))


NOW = local("2026-11-30 07:37")  # a Monday


@pytest.mark.parametrize(
    ("preset", "periodicity", "anchor", "next_run"),
    [
        (Preset("minutes", every=15), "PT15M", "2026-11-30 00:00", "2026-11-30 07:45"),
        (Preset("hourly", minute=20), "PT1H", "2026-11-30 00:20", "2026-11-30 08:20"),
        (Preset("daily", hour=8), "P1D", "2026-11-29 08:00", "2026-11-30 08:00"),
        (Preset("daily", hour=6, minute=5), "P1D", "2026-11-30 06:05", "2026-12-01 06:05"),
        (Preset("weekly", weekday=0, hour=7), "P1W", "2026-11-30 07:00", "2026-12-07 07:00"),
        (Preset("weekly", weekday=4, hour=18), "P1W", "2026-11-27 18:00", "2026-12-04 18:00"),
        (Preset("monthly", day=31), "P1M", "2026-10-31 00:00", "2026-12-31 00:00"),
        (Preset("monthly", day=30, hour=9), "P1M", "2026-10-30 09:00", "2026-11-30 09:00"),
        (Preset("monthly", day=1, hour=9), "P1M", "2026-11-01 09:00", "2026-12-01 09:00"),
    ],
)
def test_a_preset_is_stored_as_periodicity_and_anchor_and_opens_again_as_itself(
    preset, periodicity, anchor, next_run
):
    start = preset.period_start(ROME, NOW)

    assert preset.periodicity == periodicity
    assert start == local(anchor)
    assert start <= NOW
    schedule = Schedule.create(start, periodicity, ROME)
    assert schedule.next_slot_after(NOW)[1] == local(next_run)
    assert preset_of(periodicity, start, ROME) == preset


def test_monthly_on_day_31_runs_on_the_last_day_of_shorter_months():
    start = Preset("monthly", day=31).period_start("UTC", datetime(2027, 1, 15, tzinfo=UTC))
    schedule = Schedule.create(start, "P1M", "UTC")

    assert start == datetime(2026, 12, 31, tzinfo=UTC)
    assert [schedule.slot_at(k).date().isoformat() for k in range(1, 4)] == [
        "2027-01-31",
        "2027-02-28",
        "2027-03-31",
    ]


@pytest.mark.parametrize(
    ("periodicity", "start"),
    [
        ("PT15M", "2026-03-01 00:07"),  # off the quarter-hour grid
        ("PT7M", "2026-03-01 00:00"),  # does not divide an hour
        ("P1DT1H", "2026-03-01 00:00"),
        ("P2D", "2026-03-01 00:00"),
        ("P1D", "2026-03-01 00:00:30"),
        ("nonsense", "2026-03-01 00:00"),
    ],
)
def test_schedules_without_a_preset_shape_open_as_custom(periodicity, start):
    assert preset_of(periodicity, local(start), ROME) is None


def test_a_preset_refuses_values_out_of_range():
    with pytest.raises(ValueError):
        Preset("minutes", every=7)
    with pytest.raises(ValueError):
        Preset("monthly", day=32)
    with pytest.raises(ValueError):
        Preset("yearly")
