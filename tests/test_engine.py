"""The export engine: windows, decimation (against pandas), delta, long/wide, columns and time."""

import math
import zoneinfo
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from exports.engine.reading import Point, read_points
from exports.engine.tables import build_tables, pinned_windows
from exports.models import ExportColumn, ExportItem, ExportRequest, Message
from exports.scheduling.windows import job_windows

pytestmark = pytest.mark.django_db
ROME = zoneinfo.ZoneInfo("Europe/Rome")
CHANNEL = "chan"


def add_series(name, start, step, values, publisher="dev-1", **fields):
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=publisher,
            name=name,
            unit="u",
            time=start + step * i,
            value=value,
            created=start + step * i,
            **fields,
        )
        for i, value in enumerate(values)
    )


def make_request(owner, columns=None, timezone="Europe/Rome", template="tabular", **item):
    request = ExportRequest.objects.create(
        owner=owner, name="Engine", timezone=timezone, template=template
    )
    for position, (column_id, label) in enumerate(columns or []):
        ExportColumn.objects.create(
            request=request, position=position, column_id=column_id, label=label
        )
    fields = {"target_value": "temp", "channel_id": CHANNEL, "subtopic": "s", **item}
    ExportItem.objects.create(request=request, **fields)
    return request


def rows_of(request, slot):
    tables = build_tables(request, slot)
    return [(table.headers, [list(row) for row in table.rows]) for table in tables]


# Readings every 20 minutes from 2026-03-27 00:00 to 2026-03-31 00:00 Rome time: the
# 29th is a 23-hour day (spring forward), so a local-day bucket differs from a UTC day.
DST_START = datetime(2026, 3, 26, 23, 0, tzinfo=UTC)
DST_STEP = timedelta(minutes=20)
DST_VALUES = [math.sin(i / 7) * 10 + (i % 5) for i in range(4 * 72)]


def pandas_daily(dsf: str) -> dict[datetime, float]:
    index = pd.DatetimeIndex([DST_START + DST_STEP * i for i in range(len(DST_VALUES))]).tz_convert(
        "Europe/Rome"
    )
    series = pd.Series(DST_VALUES, index=index)
    method = {"avg": "mean", "stddev": "std", "variance": "var"}.get(dsf, dsf)
    result = getattr(series.resample("1D"), method)()
    return {ts.to_pydatetime(): value for ts, value in result.items()}


@pytest.mark.parametrize("dsf", ["avg", "max", "min", "sum", "stddev", "variance"])
def test_daily_decimation_on_a_dst_day_matches_pandas(alice, dsf):
    add_series("temp", DST_START, DST_STEP, DST_VALUES)
    request = make_request(
        alice,
        columns=[("time", "time"), ("value", "value")],
        ds="1d",
        dsf=dsf,
        from_time=DST_START,
        to_time=DST_START + DST_STEP * len(DST_VALUES),
    )
    [(headers, rows)] = rows_of(request, DST_START + timedelta(days=10))
    expected = pandas_daily(dsf)
    assert [row[0] for row in rows] == list(expected)
    for (stamp, value), want in zip(rows, expected.values(), strict=True):
        assert value == pytest.approx(want, rel=1e-9), stamp
    # the bucket of the short day holds 23 hours of readings
    assert rows[2][0] == datetime(2026, 3, 29, tzinfo=ROME)
    # (subtract in UTC: same-zone aware datetimes subtract as wall clock)
    assert rows[3][0].astimezone(UTC) - rows[2][0].astimezone(UTC) == timedelta(hours=23)


def test_monthly_decimation_uses_calendar_months_in_the_request_timezone(alice):
    start = datetime(2026, 1, 30, 23, 0, tzinfo=UTC)  # Jan 31 00:00 in Rome
    add_series("temp", start, timedelta(hours=6), [float(i) for i in range(4 * 40)])
    request = make_request(
        alice,
        columns=[("time", "t"), ("value", "v")],
        ds="1M",
        dsf="sum",
        from_time=start,
        to_time=start + timedelta(days=40),
    )
    [(_, rows)] = rows_of(request, start + timedelta(days=50))
    index = pd.DatetimeIndex([start + timedelta(hours=6) * i for i in range(160)])
    expected = pd.Series([float(i) for i in range(160)], index=index.tz_convert("Europe/Rome"))
    expected = expected.resample("1MS").sum()
    # January is cut by the window: its bucket is stamped at the window start, Jan 31.
    stamps = [start.astimezone(ROME)] + [ts.to_pydatetime() for ts in expected.index[1:]]
    assert [row[0] for row in rows] == stamps
    assert [row[1] for row in rows] == list(expected.values)


def test_delta_is_the_difference_to_the_previous_point_and_drops_the_first(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("energy", start, timedelta(hours=1), [10.0, 12.5, 12.5, 20.0])
    request = make_request(
        alice, columns=[("value", "v")], target_value="energy", transform="delta", from_time=start
    )
    [(_, rows)] = rows_of(request, start + timedelta(days=1))
    assert rows == [[2.5], [0.0], [7.5]]


def test_wide_has_one_row_per_timestamp_and_one_column_per_target_label(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(minutes=5), [20.0, 21.0])
    add_series("hum", start, timedelta(minutes=5), [50.0, 51.0])
    request = make_request(
        alice,
        columns=[("time", "Ora"), ("value", "v")],
        target_value="temp,hum",
        target_label="Temperatura,Umidità",
        output_format="wide",
        from_time=start,
    )
    [(headers, rows)] = rows_of(request, start + timedelta(hours=1))
    assert headers == ["Ora", "Temperatura", "Umidità"]
    assert rows == [
        [datetime(2026, 1, 1, 1, 0, tzinfo=ROME), 20.0, 50.0],
        [datetime(2026, 1, 1, 1, 5, tzinfo=ROME), 21.0, 51.0],
    ]


def test_long_keeps_selected_columns_in_order_with_labels_and_target_labels(alice):
    start = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    add_series("temp", start, timedelta(minutes=1), [1.5])
    request = make_request(
        alice,
        columns=[
            ("created", "Creato"),
            ("name", "Metrica"),
            ("publisher", "Dispositivo"),
            ("time", "Ora"),
        ],
        target_label="Temperatura",
        from_time=start,
    )
    [(headers, rows)] = rows_of(request, start + timedelta(hours=1))
    assert headers == ["Creato", "Metrica", "Dispositivo", "Ora"]
    local = datetime(2026, 7, 1, 12, 0, tzinfo=ROME)  # CEST, +02:00
    assert rows == [[local, "Temperatura", "dev-1", local]]
    assert rows[0][0].utcoffset() == timedelta(hours=2)


def test_default_columns_are_the_six_reference_columns(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(minutes=1), [1.0])
    request = make_request(alice, from_time=start)
    [(headers, _)] = rows_of(request, start + timedelta(hours=1))
    assert headers == ["publisher", "channel", "name", "time", "value", "created"]


def test_non_numeric_values_are_exported_in_long_output(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    Message.objects.bulk_create(
        [
            Message(
                channel=CHANNEL,
                subtopic="s",
                publisher="p",
                name="door",
                time=start,
                bool_value=True,
            ),
            Message(
                channel=CHANNEL,
                subtopic="s",
                publisher="p",
                name="door",
                time=start + timedelta(minutes=1),
                string_value="=open",
            ),
        ]
    )
    request = make_request(alice, columns=[("value", "v")], target_value="door", from_time=start)
    [(_, rows)] = rows_of(request, start + timedelta(hours=1))
    assert rows == [[True], ["=open"]]


def test_a_relative_period_reads_the_window_before_the_slot_only(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(hours=1), [float(i) for i in range(48)])
    request = make_request(alice, columns=[("value", "v")], period="PT3H")
    slot = start + timedelta(hours=10)
    [(_, rows)] = rows_of(request, slot)
    assert rows == [[7.0], [8.0], [9.0]]  # [slot − 3 h, slot): 07:00, 08:00, 09:00


def test_the_publisher_filter_keeps_one_device(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(hours=1), [1.0, 2.0], publisher="dev-1")
    add_series("temp", start, timedelta(hours=1), [5.0, 6.0], publisher="dev-2")
    request = make_request(
        alice, columns=[("publisher", "p"), ("value", "v")], publisher="dev-2", from_time=start
    )
    [(_, rows)] = rows_of(request, start + timedelta(days=1))
    assert rows == [["dev-2", 5.0], ["dev-2", 6.0]]


def test_expanded_gives_one_table_per_item_named_after_its_filename(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(hours=1), [1.0])
    add_series("hum", start, timedelta(hours=1), [2.0])
    request = make_request(alice, template="expanded", filename="temps", from_time=start)
    ExportItem.objects.create(
        request=request,
        position=1,
        target_value="hum",
        target_label="Humidity",
        channel_id=CHANNEL,
        subtopic="s",
        from_time=start,
    )
    tables = build_tables(request, start + timedelta(days=1))
    assert [table.name for table in tables] == ["temps", "Humidity"]


def test_points_read_without_the_optional_fields_are_the_same_points_with_none_there(alice):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    add_series("temp", start, timedelta(seconds=30), [1.5, 2.5, None, 4.0], publisher="dev-2")
    add_series("temp", start, timedelta(minutes=1), [7.0, 8.0], publisher="dev-1")
    add_series("door", start, timedelta(minutes=1), [None, None], string_value="=open")
    request = make_request(alice, target_value="temp,door", from_time=start)
    item = request.items.get()
    window = pinned_windows(job_windows(request, start + timedelta(hours=1)))[item.pk]
    full = list(read_points(item, window))
    assert len(full) == 8 and {point[2] for point in full} == {"dev-1", "dev-2"}
    assert [point[3] for point in full if point[1] == 1] == ["=open", "=open"]
    for fields in [set(), {"publisher"}, {"unit", "created"}, {"created"}]:
        read = fields | {"time", "target", "value"}
        kept = [
            tuple(
                value if name in read else None
                for name, value in zip(Point._fields, point, strict=True)
            )
            for point in full
        ]
        assert list(read_points(item, window, fields=fields)) == kept
