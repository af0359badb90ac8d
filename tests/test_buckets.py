"""Decimation buckets on the local clock (issue 9 §1), checked against an independent pandas
construction of the rule, through the real engine and database."""

import math
import zoneinfo
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from exports.engine.buckets import Buckets
from exports.engine.tables import build_tables
from exports.models import ExportColumn, ExportItem, ExportRequest, Message
from exports.rows.times import from_micros, to_micros

CHANNEL = "chan"


def pandas_buckets(times, values, tz_name, ds, window_start):
    """The expected (stamp, mean) pairs, built with pandas only: floor each point's local wall
    time to the size (counted from 1970-01-01 local), localise the floor back with the point's
    own DST flag for the repeated hour and ``shift_forward`` for a skipped one, then stamp a
    bucket cut by the window at the window start."""
    index = pd.DatetimeIndex(times).tz_convert(tz_name)
    wall = index.tz_localize(None)
    floors = wall.floor(pd.Timedelta(ds.replace("m", "min")))
    is_dst = [bool(ts.dst()) for ts in index]
    exact = floors.tz_localize(tz_name, ambiguous=is_dst, nonexistent="NaT")
    before_gap = floors.tz_localize(tz_name, ambiguous=is_dst, nonexistent="shift_backward")
    stamps = exact.where(~exact.isna(), before_gap + pd.Timedelta(microseconds=1))
    edge = pd.Timestamp(window_start).tz_convert(tz_name)
    stamps = stamps.where(stamps >= edge, edge)
    means = pd.Series(values, index=stamps).groupby(level=0).mean()
    return [(ts.tz_convert("UTC").to_pydatetime(), value) for ts, value in means.items()]


def engine_buckets(owner, times, values, tz_name, ds, window):
    Message.objects.bulk_create(
        Message(channel=CHANNEL, subtopic="s", publisher="p", name="t", time=t, value=v)
        for t, v in zip(times, values, strict=True)
    )
    request = ExportRequest.objects.create(owner=owner, name="b", timezone=tz_name)
    for position, column in enumerate(["time", "value"]):
        ExportColumn.objects.create(
            request=request, position=position, column_id=column, label=column
        )
    ExportItem.objects.create(
        request=request,
        target_value="t",
        channel_id=CHANNEL,
        subtopic="s",
        from_time=window[0],
        to_time=window[1],
        ds=ds,
        dsf="avg",
    )
    [table] = build_tables(request, window[1])
    return [(stamp.astimezone(UTC), value) for stamp, value in table.rows]


# (zone, size, window start UTC, hours, step minutes, local wall starts that must appear)
CASES = [
    ("Asia/Kolkata", "1h", datetime(2026, 1, 1, 18, 30, tzinfo=UTC), 6, 7, ["01:00", "05:00"]),
    ("Asia/Kathmandu", "1h", datetime(2026, 1, 1, 18, 15, tzinfo=UTC), 6, 7, ["01:00", "02:00"]),
    ("Asia/Kathmandu", "15m", datetime(2026, 1, 1, 18, 15, tzinfo=UTC), 2, 4, ["00:15", "00:30"]),
    ("Europe/Rome", "6h", datetime(2026, 1, 1, 23, 0, tzinfo=UTC), 48, 17, ["06:00", "18:00"]),
    ("Europe/Rome", "1h", datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 6, 10, ["02:00", "03:00"]),
    ("Europe/Rome", "1h", datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 6, 10, ["01:00", "03:00"]),
    ("Europe/Rome", "2h", datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 8, 10, ["02:00", "04:00"]),
    ("Australia/Lord_Howe", "1h", datetime(2026, 10, 3, 13, 0, tzinfo=UTC), 5, 10, ["02:30"]),
    ("Australia/Lord_Howe", "30m", datetime(2026, 4, 4, 13, 0, tzinfo=UTC), 5, 10, ["01:30"]),
    ("America/New_York", "1h", datetime(2026, 11, 1, 4, 0, tzinfo=UTC), 6, 10, ["01:00"]),
    ("America/New_York", "1h", datetime(2026, 3, 8, 5, 0, tzinfo=UTC), 6, 10, ["03:00"]),
    ("America/New_York", "7h", datetime(2026, 3, 7, 5, 0, tzinfo=UTC), 48, 30, []),
    ("UTC", "90s", datetime(2026, 1, 1, tzinfo=UTC), 1, 0.5, ["00:09", "00:15"]),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "ds", "start", "hours", "step", "walls"), CASES)
def test_it_puts_bucket_edges_on_the_local_wall_clock_like_pandas(
    alice, zone, ds, start, hours, step, walls
):
    # Start the window 7 minutes late so its first bucket is cut by the window edge.
    window = (start + timedelta(minutes=7), start + timedelta(hours=hours))
    count = int((window[1] - window[0]) / timedelta(minutes=step))
    times = [window[0] + timedelta(minutes=step) * i for i in range(count)]
    values = [round(20 + 5 * math.sin(i / 5), 2) for i in range(count)]
    got = engine_buckets(alice, times, values, zone, ds, window)
    expected = pandas_buckets(times, values, zone, ds, window[0])
    assert [stamp for stamp, _ in got] == [stamp for stamp, _ in expected]
    for (stamp, value), (_, want) in zip(got, expected, strict=True):
        assert value == pytest.approx(want, rel=1e-12), stamp
    tz = zoneinfo.ZoneInfo(zone)
    local_walls = {stamp.astimezone(tz).strftime("%H:%M") for stamp, _ in got}
    assert set(walls) <= local_walls
    assert got[0][0] == window[0]  # the cut bucket is stamped at the window edge
    assert all(window[0] <= stamp < window[1] for stamp, _ in got)


def test_it_gives_the_repeated_autumn_hour_two_buckets_and_the_skipped_spring_hour_none():
    rome = zoneinfo.ZoneInfo("Europe/Rome")
    buckets = Buckets("1h", rome)

    def local_starts(day_start_utc):
        starts = {
            buckets.start_of(to_micros(day_start_utc) + minutes * 60_000_000)
            for minutes in range(0, 25 * 60, 5)
        }
        return [from_micros(start).astimezone(rome) for start in sorted(starts)]

    autumn = local_starts(datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    twos = [stamp for stamp in autumn if stamp.hour == 2 and stamp.day == 25]
    assert [stamp.utcoffset() for stamp in twos] == [timedelta(hours=2), timedelta(hours=1)]
    spring = local_starts(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    assert [stamp.hour for stamp in spring if stamp.day == 29][:4] == [0, 1, 3, 4]


@pytest.mark.parametrize(
    ("zone", "ds", "cell"),
    [
        ("UTC", "1h", 3600),
        ("Europe/Rome", "1h", 3600),
        ("Asia/Kolkata", "1h", 1800),
        ("Asia/Kathmandu", "1h", 900),
        ("Australia/Lord_Howe", "1h", 1800),
        ("Europe/Rome", "15m", 900),
    ],
)
def test_it_reads_cells_fine_enough_that_none_straddles_a_local_edge(zone, ds, cell):
    buckets = Buckets(ds, zoneinfo.ZoneInfo(zone))
    first = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
    last = to_micros(datetime(2026, 12, 31, tzinfo=UTC))
    assert buckets.fine_seconds(first, last) == cell
