"""The one duration type: spellings that mean the same, and fractional days on DST days.

Slots and windows move instants with the same :class:`Duration`, so P1.5D (one calendar day,
then 12 hours) gives the same answer to both. Before, a window read P1.5D as 36 exact hours
while a slot read it as a day and 12 hours, so on a DST day the window of a P1.5D schedule
started an hour before or after the previous slot.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest

from exports.models import ExportItem, ExportRequest
from exports.models.tokens import expiry_after
from exports.requests.durations import Duration
from exports.scheduling.slots import Schedule
from exports.scheduling.windows import Window, item_window, job_windows


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("P1.5D", "P1DT12H"),
        ("P1,5D", "P1DT12H"),
        ("P2.0D", "P2D"),
        ("P1.5W", "P10DT12H"),
        ("P0.5D", "PT12H"),
        ("PT0.5H", "PT30M"),
        ("P0001-02-03T04:00:00", "P1Y2M3DT4H"),
        ("P1Y", "P12M"),
    ],
)
def test_the_value_decides_not_the_spelling(text, same_as):
    assert Duration.parse(text) == Duration.parse(same_as)


def test_whole_days_are_calendar_days_and_the_rest_is_elapsed_time():
    assert Duration.parse("P1.5D") == Duration(days=1, exact=timedelta(hours=12))
    assert Duration.parse("PT36H") == Duration(exact=timedelta(hours=36))
    assert Duration.parse("P1Y6M2W3DT4H") == Duration(18, 17, timedelta(hours=4))


# (zone, slot 0 as local wall time, slot 1 in UTC, hours from slot 0 to slot 1), each worked
# out by hand: a P1.5D step is one calendar day on the wall clock, then 12 elapsed hours, so it
# is 35 hours across a spring-forward night and 37 across an autumn one (it was 36 for a window).
FRACTIONAL_DAY_ON_DST_DAYS = [
    ("Europe/Rome", "2024-03-30T12:00", "2024-03-31T22:00", 35),  # 1 April 00:00 CEST
    ("Europe/Rome", "2024-10-26T12:00", "2024-10-27T23:00", 37),  # 28 October 00:00 CET
    ("America/New_York", "2024-03-09T12:00", "2024-03-11T04:00", 35),  # 11 March 00:00 EDT
    ("America/New_York", "2024-11-02T12:00", "2024-11-04T05:00", 37),  # 4 November 00:00 EST
]


@pytest.mark.parametrize(("zone", "start", "slot", "hours"), FRACTIONAL_DAY_ON_DST_DAYS)
def test_a_fractional_day_slot_is_a_calendar_day_and_then_elapsed_hours(zone, start, slot, hours):
    schedule = Schedule.create(datetime.fromisoformat(start), "P1.5D", zone)
    assert schedule.slot_at(1) == utc(slot)
    assert schedule.slot_at(1) - schedule.slot_at(0) == timedelta(hours=hours)
    assert Schedule.create(datetime.fromisoformat(start), "P1DT12H", zone).slot_at(1) == utc(slot)


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "start", "slot", "hours"), FRACTIONAL_DAY_ON_DST_DAYS)
def test_a_fractional_day_window_starts_at_the_previous_slot(alice, zone, start, slot, hours):
    start_utc = datetime.fromisoformat(start).replace(tzinfo=zoneinfo.ZoneInfo(zone))
    request = ExportRequest.objects.create(
        owner=alice,
        name="Every day and a half",
        type="recurring",
        periodicity="P1.5D",
        period_start=start_utc,
        timezone=zone,
    )
    item = ExportItem.objects.create(
        request=request, target_value="t", channel_id="c", subtopic="s", period="P1.5D"
    )
    expected = Window(start_utc.astimezone(UTC), utc(slot))
    assert expected.end - expected.start == timedelta(hours=hours)
    # The window without a schedule (the engine's, for jobs without pinned windows) and the
    # pinned one, on and off the grid, all start at slot 0: consecutive windows tile the slots.
    assert item_window(request, item, utc(slot)) == expected
    for k in (1, None):
        [pinned] = job_windows(request, utc(slot), k)
        assert (pinned["start"], pinned["end"]) == tuple(t.isoformat() for t in expected)


def test_an_exact_period_ending_in_the_repeated_hour_is_elapsed_time():
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    second_0230 = utc("2024-10-27T01:30")  # 02:30 CET, the second 02:30 of the night
    assert Duration.parse("PT1H").before(second_0230, rome) == utc("2024-10-27T00:30")
    assert Duration.parse("P1D").before(second_0230, rome) == utc("2024-10-26T00:30")


def test_without_a_timezone_durations_count_in_utc():
    assert Duration.parse("P1M").after(utc("2024-01-31T10:00")) == utc("2024-02-29T10:00")
    assert Duration.parse("P1.5D").before(utc("2024-03-31T12:00")) == utc("2024-03-30T00:00")


def test_a_token_lifetime_obeys_the_bounds_of_every_duration():
    now = utc("2026-01-31T09:00")
    assert expiry_after("P1M", now) == utc("2026-02-28T09:00")
    with pytest.raises(ValueError, match="longer than P100Y"):
        expiry_after("P2000Y", now)
    with pytest.raises(ValueError, match="not a positive duration"):
        expiry_after("PT0S", now)
    with pytest.raises(ValueError, match="not an ISO 8601 duration such as P30D"):
        expiry_after("a month", now)
