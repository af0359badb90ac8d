"""Slot arithmetic: a hand-checked table, an independent computation, and windows that tile."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil import tz as dateutil_tz
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError

from exports.models import ExportItem, ExportRequest
from exports.scheduling.slots import Periodicity, Schedule, next_slot_after, upcoming_slots
from exports.scheduling.windows import job_windows


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def wall(text: str) -> datetime:
    """A naive local wall time; Schedule.create reads it in the schedule's timezone."""
    return datetime.fromisoformat(text)


# (timezone, periodicity, start as local wall time, {k: expected slot in UTC}) — each expected
# value worked out by hand from the DST rules (EU: last Sunday of March/October at 01:00 UTC;
# US: second Sunday of March / first Sunday of November at 02:00 local).
TABLE = [
    # P1D from a local midnight stays at local midnight: 23 h and 25 h days.
    ("Europe/Rome", "P1D", "2024-03-30T00:00", {1: "2024-03-30T23:00", 2: "2024-03-31T22:00"}),
    ("Europe/Rome", "P1D", "2024-10-26T00:00", {1: "2024-10-26T22:00", 2: "2024-10-27T23:00"}),
    ("America/New_York", "P1D", "2024-03-09T00:00", {1: "2024-03-10T05:00", 2: "2024-03-11T04:00"}),
    ("America/New_York", "P1D", "2024-11-02T00:00", {1: "2024-11-03T04:00", 2: "2024-11-04T05:00"}),
    # A wall time inside the spring gap moves forward by the gap (02:30 -> 03:30 summer time).
    ("Europe/Rome", "P1D", "2024-03-30T02:30", {1: "2024-03-31T01:30", 2: "2024-04-01T00:30"}),
    ("America/New_York", "P1D", "2024-03-09T02:30", {1: "2024-03-10T07:30", 2: "2024-03-11T06:30"}),
    # A repeated autumn wall time is its first occurrence (still summer time).
    ("Europe/Rome", "P1D", "2024-10-26T02:30", {1: "2024-10-27T00:30", 2: "2024-10-28T01:30"}),
    ("America/New_York", "P1D", "2024-11-02T01:30", {1: "2024-11-03T05:30", 2: "2024-11-04T06:30"}),
    # Exact durations are elapsed time: PT15M through the gap, PT24H is not P1D.
    (
        "Europe/Rome",
        "PT15M",
        "2024-03-31T01:30",
        {1: "2024-03-31T00:45", 2: "2024-03-31T01:00", 3: "2024-03-31T01:15"},
    ),
    (
        "Europe/Rome",
        "PT15M",
        "2024-10-27T02:30",  # first 02:30 (CEST); k=4 is the second 02:30 (CET)
        {1: "2024-10-27T00:45", 2: "2024-10-27T01:00", 4: "2024-10-27T01:30"},
    ),
    ("Europe/Rome", "PT24H", "2024-03-30T00:00", {1: "2024-03-30T23:00", 2: "2024-03-31T23:00"}),
    ("Europe/Rome", "P1DT12H", "2024-03-30T00:00", {1: "2024-03-31T11:00"}),
    # Months clamp to shorter months and come back (k multiplied, not repeated addition).
    (
        "UTC",
        "P1M",
        "2024-01-31T00:00",
        {
            1: "2024-02-29T00:00",
            2: "2024-03-31T00:00",
            3: "2024-04-30T00:00",
            13: "2025-02-28T00:00",
        },
    ),
    ("UTC", "P1M", "2023-01-31T08:00", {1: "2023-02-28T08:00", 2: "2023-03-31T08:00"}),
    (
        "Europe/Rome",
        "P1M",
        "2024-01-31T00:00",
        {1: "2024-02-28T23:00", 2: "2024-03-30T23:00", 3: "2024-04-29T22:00"},
    ),
    # Leap day: yearly from 29 February, daily across it.
    (
        "UTC",
        "P1Y",
        "2024-02-29T12:00",
        {1: "2025-02-28T12:00", 3: "2027-02-28T12:00", 4: "2028-02-29T12:00"},
    ),
    ("UTC", "P1D", "2024-02-28T06:00", {1: "2024-02-29T06:00", 2: "2024-03-01T06:00"}),
    ("America/New_York", "P1Y", "2023-07-04T12:00", {1: "2024-07-04T16:00"}),
    # Weekly on Monday midnight across the spring change.
    ("Europe/Rome", "P1W", "2024-03-25T00:00", {1: "2024-03-31T22:00", 2: "2024-04-07T22:00"}),
    ("America/New_York", "P2W", "2024-10-28T09:00", {1: "2024-11-11T14:00"}),
]


@pytest.mark.parametrize(("zone", "periodicity", "start", "expected"), TABLE)
def test_slots_match_the_hand_checked_table(zone, periodicity, start, expected):
    schedule = Schedule.create(wall(start), periodicity, zone)
    for k, slot in expected.items():
        assert schedule.slot_at(k) == utc(slot), f"k={k}"


def independent_slot(start_wall: datetime, zone: str, periodicity: str, k: int) -> datetime:
    """The same rules through other code: dateutil's tz, relativedelta and resolve_imaginary."""
    tzinfo = dateutil_tz.gettz(zone)
    parts = {"P1D": (0, 1, 0), "P1W": (0, 7, 0), "P1M": (1, 0, 0), "P3M": (3, 0, 0)}
    parts |= {"P1Y": (12, 0, 0), "PT15M": (0, 0, 900), "PT1H": (0, 0, 3600)}
    parts |= {"P1DT6H": (0, 1, 6 * 3600)}
    months, days, seconds = parts[periodicity]
    shifted = start_wall + relativedelta(months=k * months) + relativedelta(days=k * days)
    local = dateutil_tz.resolve_imaginary(shifted.replace(tzinfo=tzinfo, fold=0))
    return local.astimezone(UTC) + timedelta(seconds=k * seconds)


@pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York", "Australia/Lord_Howe", "UTC"])
@pytest.mark.parametrize("periodicity", ["P1D", "P1W", "P1M", "P3M", "P1Y", "P1DT6H"])
@pytest.mark.parametrize("start", ["2023-01-31T00:00", "2024-02-29T02:30", "2023-03-12T01:45"])
def test_calendar_slots_agree_with_an_independent_computation(zone, periodicity, start):
    schedule = Schedule.create(wall(start), periodicity, zone)
    steps = 800 if periodicity in ("P1D", "P1DT6H") else 120
    for k in range(1, steps):
        expected = independent_slot(wall(start), zone, periodicity, k)
        if expected.year >= 2037:
            break  # dateutil reads only the explicit transitions, which zic writes up to 2037
        assert schedule.slot_at(k) == expected, f"k={k}"


@pytest.mark.parametrize("zone", ["Europe/Rome", "America/New_York"])
@pytest.mark.parametrize("periodicity", ["PT15M", "PT1H"])
def test_exact_slots_agree_with_an_independent_computation(zone, periodicity):
    start = "2024-03-09T23:50"
    schedule = Schedule.create(wall(start), periodicity, zone)
    for k in range(1, 24 * 4 * 250, 7):  # through both 2024 changes in both zones
        assert schedule.slot_at(k) == independent_slot(wall(start), zone, periodicity, k)


def test_pt24h_is_elapsed_time_and_p1d_is_a_calendar_day():
    assert Periodicity.parse("PT24H") == Periodicity(exact=timedelta(hours=24))
    assert Periodicity.parse("P1D") == Periodicity(days=1)
    assert Periodicity.parse("P1Y6M2W3DT4H") == Periodicity(18, 17, timedelta(hours=4))
    assert Periodicity.parse("P0.5D") == Periodicity(exact=timedelta(hours=12))
    assert Periodicity.parse("P0001-02-03T04:00:00") == Periodicity(14, 3, timedelta(hours=4))


def test_invalid_periodicities_are_refused_with_the_validator_message():
    with pytest.raises(ValidationError, match="must be longer than zero"):
        Periodicity.parse("PT0S")
    with pytest.raises(ValidationError, match="not an ISO 8601 duration"):
        Periodicity.parse("every day")


@pytest.mark.parametrize("periodicity", ["PT15M", "P1D", "P1M", "P1Y", "P1W", "P1DT6H"])
def test_index_search_finds_the_slot_at_or_before_any_instant(periodicity):
    schedule = Schedule.create(wall("2024-01-31T02:30"), periodicity, "Europe/Rome")
    instant = utc("2023-11-01T00:00")
    while instant < utc("2026-06-01T00:00"):
        k = schedule.index_at_or_before(instant)
        assert schedule.slot_at(k) <= instant < schedule.slot_at(k + 1)
        instant += timedelta(hours=37, minutes=11)


def test_slots_strictly_increase_even_where_wall_times_collide():
    # 02:30 daily in Rome: 31 March has no 02:30, 27 October has two.
    schedule = Schedule.create(wall("2024-01-01T02:30"), "P1D", "Europe/Rome")
    slots = [schedule.slot_at(k) for k in range(0, 800)]
    assert all(a < b for a, b in zip(slots, slots[1:], strict=False))


def test_next_slot_after_starts_at_slot_one_and_is_strictly_after():
    schedule = Schedule.create(wall("2024-05-01T00:00"), "P1D", "UTC")
    assert next_slot_after(schedule, utc("2020-01-01T00:00")) == (1, utc("2024-05-02T00:00"))
    assert next_slot_after(schedule, utc("2024-05-03T00:00")) == (3, utc("2024-05-04T00:00"))
    assert list(schedule.slots_between(utc("2024-05-02T00:00"), utc("2024-05-04T00:00"))) == [
        (2, utc("2024-05-03T00:00")),
        (3, utc("2024-05-04T00:00")),
    ]


# --- windows pinned on jobs ------------------------------------------------------------------


@pytest.fixture
def monthly(alice):
    request = ExportRequest.objects.create(
        owner=alice,
        name="Monthly",
        type="recurring",
        periodicity="P1M",
        period_start=utc("2024-01-30T23:00"),  # 31 January, local midnight in Rome
        timezone="Europe/Rome",
    )
    ExportItem.objects.create(
        request=request, position=0, target_value="t", channel_id="c", subtopic="s"
    )
    ExportItem.objects.create(
        request=request, position=1, target_value="t", channel_id="c", subtopic="s", period="P1M"
    )
    return request


@pytest.mark.django_db
def test_windows_of_consecutive_slots_tile_without_gap_or_overlap(monthly):
    schedule = Schedule.of(monthly)
    windows = [job_windows(monthly, schedule.slot_at(k), k) for k in range(1, 40)]
    for item_index in (0, 1):  # no period, and a period equal to the periodicity
        spans = [(w[item_index]["start"], w[item_index]["end"]) for w in windows]
        assert spans[0][0] == "2024-01-30T23:00:00+00:00"
        for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert end == next_start
    april = windows[2]  # slot 3: 30 April; the window starts at slot 2 (31 March), not 30 March
    assert april[0]["start"] == april[1]["start"] == "2024-03-30T23:00:00+00:00"
    assert april[0]["end"] == "2024-04-29T22:00:00+00:00"


@pytest.mark.django_db
def test_item_windows_follow_from_to_period_and_one_time_rules(alice):
    request = ExportRequest.objects.create(owner=alice, name="Once", timezone="Europe/Rome")
    fixed = ExportItem.objects.create(
        request=request,
        target_value="t",
        channel_id="c",
        subtopic="s",
        from_time=utc("2024-01-01T00:00"),
        to_time=utc("2024-02-01T00:00"),
    )
    relative = ExportItem.objects.create(
        request=request, position=1, target_value="t", channel_id="c", subtopic="s", period="P1D"
    )
    everything = ExportItem.objects.create(
        request=request, position=2, target_value="t", channel_id="c", subtopic="s"
    )
    slot = utc("2024-03-31T10:00")  # a 23-hour day in Rome: P1D back is 11:00 UTC the day before
    assert job_windows(request, slot) == [
        {"item": fixed.pk, "position": 0, "start": "2024-01-01T00:00:00+00:00",
         "end": "2024-02-01T00:00:00+00:00"},
        {"item": relative.pk, "position": 1, "start": "2024-03-30T11:00:00+00:00",
         "end": "2024-03-31T10:00:00+00:00"},
        {"item": everything.pk, "position": 2, "start": None, "end": "2024-03-31T10:00:00+00:00"},
    ]  # fmt: skip


@pytest.mark.django_db
def test_run_now_of_a_recurring_request_exports_the_last_whole_period(monthly):
    windows = job_windows(monthly, utc("2024-05-10T08:00"))  # off the grid: no k
    assert windows[0]["start"] == "2024-04-10T08:00:00+00:00"
    assert windows[0]["end"] == "2024-05-10T08:00:00+00:00"


@pytest.mark.django_db
def test_upcoming_slots_are_shown_in_the_request_timezone(monthly):
    monthly.next_run_at = None  # not scheduled yet: counted from now
    slots = upcoming_slots(monthly, n=2, now=utc("2024-02-10T00:00"))
    assert [s.isoformat() for s in slots] == [
        "2024-02-29T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
    ]
    monthly.next_run_at = utc("2024-02-28T23:00")  # pending slot 1, about to be picked up
    slots = upcoming_slots(monthly, n=3, now=utc("2024-03-01T00:00"))
    assert [s.isoformat() for s in slots] == [
        "2024-02-29T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-30T00:00:00+02:00",
    ]
    monthly.paused = True
    assert upcoming_slots(monthly) == []
