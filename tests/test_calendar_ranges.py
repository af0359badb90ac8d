"""Calendar ranges ("yesterday", "previous month", ...): hand-checked windows in their zone,
DST days, month ends, leap days, ISO weeks; pinned windows that tile; the JSON field."""

import re
import zoneinfo
from datetime import UTC, datetime

import pytest

from exports.models import ExportItem, ExportRequest
from exports.requests.dump import dump_request
from exports.requests.ranges import RANGES, calendar_window
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.vocabulary import CalendarRange
from exports.scheduling.slots import Schedule
from exports.scheduling.windows import item_window, job_windows

ROME = zoneinfo.ZoneInfo("Europe/Rome")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz=ROME) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


# (zone, range, slot in UTC, expected [start, end) in UTC) — each worked out by hand.
# Rome is UTC+1 in winter, UTC+2 from the last Sunday of March to the last Sunday of October.
TABLE = [
    # yesterday: the local calendar day before the slot's day.
    ("Europe/Rome", "yesterday", "2026-03-02T05:00", ("2026-02-28T23:00", "2026-03-01T23:00")),
    # a slot at local midnight: the day that just ended
    ("Europe/Rome", "yesterday", "2026-03-01T23:00", ("2026-02-28T23:00", "2026-03-01T23:00")),
    # 29 March 2026 (spring forward) is 23 hours long
    ("Europe/Rome", "yesterday", "2026-03-30T08:00", ("2026-03-28T23:00", "2026-03-29T22:00")),
    # 25 October 2026 (fall back) is 25 hours long
    ("Europe/Rome", "yesterday", "2026-10-26T08:00", ("2026-10-24T22:00", "2026-10-25T23:00")),
    # the slot's local date, not its UTC date: 00:30 in Rome is still 23:30 UTC the day before
    ("Europe/Rome", "yesterday", "2026-06-14T22:30", ("2026-06-13T22:00", "2026-06-14T22:00")),
    ("America/New_York", "yesterday", "2026-03-09T12:00", ("2026-03-08T05:00", "2026-03-09T04:00")),
    ("UTC", "yesterday", "2024-03-01T00:00", ("2024-02-29T00:00", "2024-03-01T00:00")),  # leap day
    # today so far; at a day's first instant, the whole day that just ended
    ("Europe/Rome", "today", "2026-03-29T10:00", ("2026-03-28T23:00", "2026-03-29T10:00")),
    ("Europe/Rome", "today", "2026-03-28T23:00", ("2026-03-27T23:00", "2026-03-28T23:00")),
    # ISO weeks: Monday 00:00 to Monday 00:00, across a year boundary (week 1 of 2026 starts
    # on Monday 29 December 2025) and across DST (the week of 29 March 2026 is 167 hours)
    ("UTC", "previousWeek", "2026-01-01T12:00", ("2025-12-22T00:00", "2025-12-29T00:00")),
    ("UTC", "weekToDate", "2026-01-01T12:00", ("2025-12-29T00:00", "2026-01-01T12:00")),
    ("Europe/Rome", "previousWeek", "2026-03-30T06:00", ("2026-03-22T23:00", "2026-03-29T22:00")),
    ("Europe/Rome", "previousWeek", "2026-03-29T22:00", ("2026-03-22T23:00", "2026-03-29T22:00")),
    ("UTC", "weekToDate", "2026-01-05T00:00", ("2025-12-29T00:00", "2026-01-05T00:00")),
    # months: lengths 28, 29, 30, 31; month to date from the 1st
    ("UTC", "previousMonth", "2025-03-15T00:00", ("2025-02-01T00:00", "2025-03-01T00:00")),
    ("UTC", "previousMonth", "2024-03-31T23:59", ("2024-02-01T00:00", "2024-03-01T00:00")),
    ("UTC", "previousMonth", "2024-05-01T00:00", ("2024-04-01T00:00", "2024-05-01T00:00")),
    ("Europe/Rome", "previousMonth", "2026-04-01T10:00", ("2026-02-28T23:00", "2026-03-31T22:00")),
    ("Europe/Rome", "previousMonth", "2026-01-15T10:00", ("2025-11-30T23:00", "2025-12-31T23:00")),
    ("Europe/Rome", "monthToDate", "2026-10-31T12:00", ("2026-09-30T22:00", "2026-10-31T12:00")),
    # at the month's first instant: the whole month that just ended, not an empty window
    ("Europe/Rome", "monthToDate", "2026-10-31T23:00", ("2026-09-30T22:00", "2026-10-31T23:00")),
    ("UTC", "monthToDate", "2024-02-29T08:00", ("2024-02-01T00:00", "2024-02-29T08:00")),
    # years, including a leap year's 366 days
    ("UTC", "previousYear", "2025-01-01T00:00", ("2024-01-01T00:00", "2025-01-01T00:00")),
    ("Europe/Rome", "yearToDate", "2026-02-01T00:00", ("2025-12-31T23:00", "2026-02-01T00:00")),
    # a zone whose clocks skip midnight (Santiago, 11 September 2022: 00:00 → 01:00): the day
    # starts at 01:00 local (04:00 UTC), the skipped midnight moves forward by the gap
    (
        "America/Santiago",
        "yesterday",
        "2022-09-12T12:00",
        ("2022-09-11T04:00", "2022-09-12T03:00"),
    ),
]


@pytest.mark.parametrize("zone,name,slot,expected", TABLE)
def test_hand_checked_windows(zone, name, slot, expected):
    start, end = calendar_window(name, utc(slot), zoneinfo.ZoneInfo(zone))
    assert (start, end) == (utc(expected[0]), utc(expected[1]))


def test_every_range_is_named_in_the_vocabulary():
    assert set(RANGES) == set(CalendarRange.values)


@pytest.mark.parametrize("name", CalendarRange.values)
def test_windows_end_at_or_before_the_slot_and_are_never_empty(name):
    for zone in ("Europe/Rome", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"):
        tz = zoneinfo.ZoneInfo(zone)
        for slot in (
            utc("2026-03-29T00:59:59"),
            utc("2026-03-29T01:00"),
            utc("2026-10-25T01:00"),
            utc("2024-02-29T23:59"),
            utc("2026-12-31T23:00"),
        ):
            start, end = calendar_window(name, slot, tz)
            assert start < end <= slot
            # starts are local midnights (or just after a skipped one)
            assert start.astimezone(tz).time().hour == 0


@pytest.mark.parametrize(
    "name,periodicity,anchor",
    [
        ("yesterday", "P1D", "2026-03-20T00:00"),
        ("previousWeek", "P1W", "2025-12-01T00:00"),  # a Monday
        ("previousMonth", "P1M", "2024-01-01T00:00"),
        ("yesterday", "P1D", "2026-10-20T06:30"),  # a daily run at 06:30 still reads days
    ],
)
def test_scheduled_ranges_tile_across_dst_month_ends_and_leap_days(name, periodicity, anchor):
    schedule = Schedule.create(datetime.fromisoformat(anchor), periodicity, "Europe/Rome")
    windows = [calendar_window(name, schedule.slot_at(k), ROME) for k in range(1, 60)]
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        assert end == start


@pytest.fixture
def daily(alice):
    request = ExportRequest.objects.create(
        owner=alice,
        name="Daily",
        type="recurring",
        periodicity="P1D",
        period_start=local("2026-03-27T00:00"),
        timezone="Europe/Rome",
    )
    ExportItem.objects.create(
        request=request, target_value="t", channel_id="c", subtopic="s", calendar_range="yesterday"
    )
    return request


@pytest.mark.django_db
def test_job_windows_pin_the_range_for_grid_slots_and_run_now(daily):
    schedule = Schedule.of(daily)
    slot = schedule.slot_at(3)  # 30 March 00:00 CEST: yesterday is the 23-hour 29 March
    pinned = job_windows(daily, slot, 3)
    assert (pinned[0]["start"], pinned[0]["end"]) == (
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
    )
    # the same slot computed again (a rerun, a late run) gives the same window
    assert job_windows(daily, slot, 3) == pinned
    # off-grid ("Run now" at 15:00): still the calendar day before
    item = daily.items.get()
    window = item_window(daily, item, local("2026-03-30T15:00"), None, schedule)
    assert window.start == utc("2026-03-28T23:00")


def _json(**params):
    return {
        "type": "oneTime",
        "format": {"extension": "csv", "timezone": "Europe/Rome"},
        "items": [
            {"params": {"target": {"value": "t"}, "channelId": "c", "subtopic": "s", **params}}
        ],
    }


def test_the_json_field_is_parsed_and_refused_beside_another_window():
    spec = parse_request(_json(range="yesterday"))
    assert spec.items[0].calendar_range == "yesterday"
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(_json(range="lastFortnight"))
    assert "items[0].params.range" in caught.value.errors
    assert "yesterday" in caught.value.errors["items[0].params.range"][0]
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(_json(range="yesterday", period="P1D"))
    assert "not two" in caught.value.errors["items[0].params.range"][0]


@pytest.mark.django_db
def test_the_json_field_round_trips(daily):
    data = dump_request(daily)
    assert data["items"][0]["params"]["range"] == "yesterday"
    assert "period" not in data["items"][0]["params"]
    assert parse_request(data).items[0].calendar_range == "yesterday"


@pytest.mark.django_db
def test_run_now_exports_the_most_recent_scheduled_period_or_up_to_now(daily):
    from exports.queue.ondemand import run_now

    now = local("2026-03-30T15:20")
    job = run_now(daily, now)
    schedule = Schedule.of(daily)
    k = schedule.index_at_or_before(now)  # 30 March 00:00, yesterday = 29 March
    assert job.windows == job_windows(daily, schedule.slot_at(k), k)
    assert job.windows[0]["start"] == "2026-03-28T23:00:00+00:00"
    assert job.slot == now  # its own slot: the scheduled job of 30 March stays its own

    daily.items.update(calendar_range="")  # the scheduled period itself, [slot(k-1), slot(k))
    later = run_now(daily, local("2026-03-30T15:21"))
    assert (later.windows[0]["start"], later.windows[0]["end"]) == (
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
    )
    up_to_now = run_now(daily, local("2026-03-30T15:22"), up_to_now=True)
    assert up_to_now.windows[0]["end"] == "2026-03-30T13:22:00+00:00"


@pytest.mark.django_db
def test_the_detail_page_states_run_nows_window(client, alice, daily):
    daily.items.update(calendar_range="")  # the scheduled period: up to now differs
    client.force_login(alice)
    page = client.get(daily.get_absolute_url()).text
    assert "Run now exports the most recent scheduled period" in page
    assert "“Run up to now” exports <strong>" in page


@pytest.mark.django_db
def test_the_detail_page_says_once_a_window_both_buttons_share(client, alice, daily):
    """The item's window is "Yesterday": Run now and "Run up to now" export the same day."""
    client.force_login(alice)
    page = client.get(daily.get_absolute_url()).text
    [sentence] = re.findall(r'id="run-now-window">(.*?)</p>', page)
    assert sentence.startswith("Run now and “Run up to now” both export <strong>")
    assert sentence.count("<strong>") == 1 and "most recent scheduled period" not in sentence
    assert "Run up to now</button>" in page


@pytest.mark.django_db
def test_a_one_time_yesterday_on_a_dst_day_holds_exactly_that_calendar_day(alice):
    """Europe/Rome, saved on 30 March 2026 at 10:00: yesterday is the 23-hour 29 March."""
    from exports.data.ingestion import store_messages
    from exports.engine.tables import build_tables
    from exports.models import Message
    from exports.requests.spec import save_spec
    from exports.scheduling.windows import window_from_json

    store_messages(
        [
            Message(
                channel="c",
                subtopic="s",
                publisher="p",
                name="t",
                unit="Cel",
                time=utc("2026-03-27T00:00") + k * (utc("2026-01-01T01:00") - utc("2026-01-01")),
                value=k,
            )
            for k in range(24 * 5)
        ]
    )
    data = _json(range="yesterday")
    data["format"]["columns"] = [{"id": "time", "label": "time"}, {"id": "value", "label": "value"}]
    request = save_spec(parse_request(data, alice))
    slot = local("2026-03-30T10:00")
    windows = {w["item"]: window_from_json(w) for w in job_windows(request, slot)}
    [table] = build_tables(request, slot, windows=windows)
    times = [row[0] for row in table.rows]
    assert len(times) == 23  # hourly points of a 23-hour day
    assert str(times[0]).startswith("2026-03-29 00:00")
    assert str(times[-1]).startswith("2026-03-29 23:00")
