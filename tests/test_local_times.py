"""Column-wise local times and column chunks: the fast paths write what the per-cell ones do.

The engine hands writers ``ColumnChunks`` whose time columns are ``LocalTimes`` (epoch
microseconds converted a minute at a time); every other caller gets rows of aware datetimes.
Both must give the same bytes, whatever the zone: DST days, half-hour and 45-minute offsets,
Lord Howe's 30-minute shift, offsets of seconds (Amsterdam's +00:19:32 until 1937) and a
transition in the middle of a minute (Dublin, 1 October 1916, 02:25:21 UTC).
"""

import io
import random
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.rows.tables import ColumnChunks, ReportInfo, Table
from exports.rows.times import EPOCH, LocalClock
from exports.writers.cells import iso_timestamp
from exports.writers.csv import CsvWriter
from exports.writers.json import JsonWriter
from exports.writers.xlsx import XlsxWriter

# (zone, a day around one of its transitions)
TRANSITIONS = [
    ("Europe/Rome", datetime(2026, 3, 29, tzinfo=UTC)),
    ("Europe/Rome", datetime(2026, 10, 25, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, 3, tzinfo=UTC)),
    ("Asia/Kolkata", datetime(2026, 1, 2, tzinfo=UTC)),
    ("Asia/Kathmandu", datetime(2026, 1, 2, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 12, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 3, 12, tzinfo=UTC)),
    ("Europe/Amsterdam", datetime(1937, 6, 30, 12, tzinfo=UTC)),
    ("Europe/Dublin", datetime(1916, 10, 1, tzinfo=UTC)),
    ("UTC", datetime(2026, 1, 1, tzinfo=UTC)),
]
DUBLIN_1916 = datetime(1916, 10, 1, 2, 25, 21, tzinfo=UTC)


def micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def day_of_instants(day: datetime, seed: int) -> list[int]:
    """Every minute of a day with a random part of a second, and some exact minutes, sorted
    with repeats (series share their times)."""
    rnd = random.Random(seed)
    start = micros(day)
    instants = []
    for minute in range(0, 24 * 60, 7):
        instant = start + minute * 60_000_000
        instants.append(instant)
        instants.append(instant + rnd.randrange(60_000_000))
        instants.append(instants[-1])
    return sorted(instants)


def per_cell(clock: LocalClock, instants: list[int]) -> list[datetime]:
    return [clock.aware(instant) for instant in instants]


@pytest.mark.parametrize(("zone", "day"), TRANSITIONS)
def test_local_times_of_a_transition_day_are_what_the_datetimes_say(zone, day):
    clock = LocalClock(zoneinfo.ZoneInfo(zone))
    instants = day_of_instants(day, seed=len(zone))
    aware = per_cell(LocalClock(clock.tz), instants)
    column = clock.column(instants)
    assert list(column) == aware
    assert column.iso_texts() == [iso_timestamp(value) for value in aware]
    assert column.iso_texts('"') == ['"' + iso_timestamp(value) + '"' for value in aware]
    assert column.wall_times() == [value.replace(tzinfo=None) for value in aware]


def test_a_minute_with_a_transition_inside_is_converted_instant_by_instant():
    clock = LocalClock(zoneinfo.ZoneInfo("Europe/Dublin"))
    edge = micros(DUBLIN_1916)
    instants = [edge - 1, edge, edge + 1, edge - 21_000_000, edge + 38_999_999]
    texts = clock.iso_texts(instants)
    assert texts[0] == "1916-10-01T02:59:59.999+00:34:39"  # Irish summer time
    assert texts[1] == "1916-10-01T02:25:21.000+00:00"  # Greenwich time from here
    assert texts == [iso_timestamp(value) for value in per_cell(clock, instants)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.integers(min_value=micros(datetime(1900, 1, 1, tzinfo=UTC)), max_value=10**17 // 3),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from([zone for zone, _ in TRANSITIONS] + ["America/St_Johns", "Pacific/Chatham"]),
)
def test_any_instants_in_any_zone_convert_as_the_datetimes_do(instants, zone):
    clock = LocalClock(zoneinfo.ZoneInfo(zone))
    aware = per_cell(LocalClock(clock.tz), instants)
    assert clock.iso_texts(instants) == [iso_timestamp(value) for value in aware]
    assert clock.wall_times(instants) == [value.replace(tzinfo=None) for value in aware]


# --- writers: column chunks against plain rows ---------------------------------------------

INFO = ReportInfo(
    title="Greenhouse",
    request_name="Greenhouse",
    timezone="Europe/Rome",
    window="the night of the change",
    generated_at=datetime(2026, 3, 29, 6, 0, tzinfo=UTC),
)
HEADERS = ["Ora", "Nome", "Valore", "Creato"]


def chunks_of(clock: LocalClock, *, fractions: bool, missing_created: bool) -> list[list]:
    """Chunks of (time, name, value, created) as the engine gives them, of uneven sizes; with
    ``fractions``, only one row, in the middle, has a fraction of a second."""
    rnd = random.Random(9)
    start = micros(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    values = [21.5, None, float("nan"), "=1+1", True, "ok", 7, -0.0, 12345678.123]
    chunks = []
    for size in (3, 500, 1, 250):
        times = []
        for _ in range(size):
            start += rnd.choice([0, 1_000_000, 37_000_000])
            times.append(start + (250_000 if fractions and size == 1 else 0))
        created = [t + 5 for t in times]
        if missing_created:
            created[0] = None
        chunks.append(
            [
                clock.column(times),
                [rnd.choice(["temperature", "Température °C"]) for _ in times],
                [rnd.choice(values) for _ in times],
                clock.column(created),
            ]
        )
    return chunks


def rows_of(chunks: list[list]) -> list[tuple]:
    return [row for columns in chunks for row in zip(*columns, strict=True)]


def written(writer, rows) -> bytes:
    stream = io.BytesIO()
    writer.write([Table("Serra", HEADERS, rows)], stream, INFO)
    return stream.getvalue()


@pytest.mark.parametrize("writer", [CsvWriter, JsonWriter, XlsxWriter])
@pytest.mark.parametrize("decimals", [None, 2])
@pytest.mark.parametrize("fractions", [False, True])
@pytest.mark.parametrize("missing_created", [False, True])
def test_column_chunks_are_written_exactly_as_the_same_rows(
    writer, decimals, fractions, missing_created
):
    clock = LocalClock(zoneinfo.ZoneInfo("Europe/Rome"))
    chunks = chunks_of(clock, fractions=fractions, missing_created=missing_created)
    plain = [tuple(row) for row in rows_of(chunks)]  # aware datetimes, as every caller had
    assert len(plain) == 754
    # Chunks of 100 rows: the XLSX writer decides per chunk whether times show milliseconds,
    # so the engine's chunks must be re-cut where the rows would have been.
    fast, slow = writer(decimals=decimals), writer(decimals=decimals)
    fast.chunk_rows = slow.chunk_rows = 100
    assert written(fast, ColumnChunks(chunks)) == written(slow, plain)


def test_column_chunks_are_rows_to_anyone_who_iterates_them():
    clock = LocalClock(zoneinfo.ZoneInfo("Asia/Kolkata"))
    chunks = chunks_of(clock, fractions=True, missing_created=True)
    assert list(ColumnChunks(chunks)) == rows_of(chunks)
    assert rows_of(chunks)[0][3] is None and rows_of(chunks)[1][0].utcoffset() == timedelta(
        hours=5, minutes=30
    )


def test_a_chunk_that_does_not_match_the_headers_is_refused():
    clock = LocalClock(zoneinfo.ZoneInfo("UTC"))
    short = [[clock.column([0, 1]), ["a", "b"], [1.0]]]
    with pytest.raises(ValueError, match="columns for 4 headers"):
        written(CsvWriter(), ColumnChunks(short))
    uneven = [[clock.column([0, 1]), ["a", "b"], [1.0], clock.column([0, 1])]]
    with pytest.raises(ValueError, match="columns of different lengths"):
        written(CsvWriter(), ColumnChunks(uneven))
