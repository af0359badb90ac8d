"""The fast path of CSV and JSON (PostgreSQL formats the rows with COPY) writes the very bytes
today's path writes, and the one rule (``writers.copying.fast_path``) says when it is taken.

Every comparison exports the same request both ways (``EXPORT_FAST_PATH`` on and off) and
compares SHA-256 hashes: DST days of Rome and New York, half-hour and 45-minute zones, local
mean time (offsets with seconds), numbers at every edge of the shortest form, fixed decimals,
the decimal comma, BOM, delimiters, every column, texts a spreadsheet would run, labels with
quotes, commas and line breaks, several items, ``expanded`` zips, empty windows. The
PostgreSQL parts skip on SQLite, where the rule is tested to say no.
"""

import hashlib
import io
import math
import random
import struct
import time
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exports.engine.tables import build_report_info, build_tables
from exports.models import ExportColumn, ExportItem, ExportRequest, Message
from exports.requests.vocabulary import ColumnId
from exports.writers import writer_for
from exports.writers.copying import fast_path
from exports.writers.csv import csv_cell
from exports.writers.json import json_value
from exports.writers.sqlcells import number_sql

pytestmark = pytest.mark.django_db
ON_POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="the fast path is PostgreSQL's COPY; SQLite always takes the rows"
)

SLOT = datetime(2026, 12, 1, tzinfo=UTC)
ALL_COLUMNS = [
    (ColumnId.PUBLISHER, "publisher"),
    (ColumnId.PUBLISHER_NAME, 'Device "name"'),
    (ColumnId.CHANNEL, "channel"),
    (ColumnId.CHANNEL_NAME, "Channel, name"),
    (ColumnId.SUBTOPIC, "subtopic"),
    (ColumnId.NAME, "=name"),
    (ColumnId.UNIT, "unit\nline"),
    (ColumnId.TIME, "Ora"),
    (ColumnId.TIME_UTC, "UTC"),
    (ColumnId.EPOCH, "epoch"),
    (ColumnId.VALUE, "Valore %s"),
    (ColumnId.CREATED, "created"),
]
NUMBERS = [
    0.0,
    -0.0,
    55.0,
    -5.5,
    24.985,
    0.1 + 0.2,
    1 / 3,
    12345678.123,
    1e-05,
    1.5e-07,
    0.0001,
    5e-324,
    2.2250738585072014e-308,
    123456789012345.67,
    1e15,
    1000000000000000.5,
    1234567890123456.8,
    -9999999999999998.0,
    1e16,
    3.092535278770144e18,
    2.0**63,
    1.7e19,
    1e21,
    1e22,
    1.5e300,
    1.7976931348623157e308,
    -1e-300,
    math.nan,
    math.inf,
    -math.inf,
]
TEXTS = [
    "=1+1",
    "+1.5e3",
    "-5",
    "-2+3",
    "@home",
    "\tx",
    "\rx",
    "plain",
    "",
    'say "hi", ok',
    "line1\nline2",
    "a\r\nb",
    "-\u0663",
    "back\\slash",
    "ünïcode ✓ \u2028",
    "\x01\x1f\x7f",
    '{"json": [1, 2]}',
    ";semi",
    "'quoted",
]


def add(channel, name, start, values, *, publisher="dev-1", unit="u", step=None, **fields):
    step = step or timedelta(minutes=7, seconds=13, microseconds=123_456)
    rows = []
    for index, value in enumerate(values):
        time = start + step * index
        row = dict(value=None, string_value=None, bool_value=None, data_value=None)
        if isinstance(value, bool):
            row["bool_value"] = value
        elif isinstance(value, float):
            row["value"] = value
        elif isinstance(value, tuple):
            row["data_value"] = value[0]
        else:
            row["string_value"] = value
        rows.append(
            Message(
                channel=channel,
                subtopic="s",
                publisher=publisher,
                name=name,
                unit=unit,
                time=time,
                created=time + timedelta(seconds=1),
                **row,
                **fields,
            )
        )
    Message.objects.bulk_create(rows)


def make_request(owner, *, items, columns=ALL_COLUMNS, timezone="Europe/Rome", **fields):
    request = ExportRequest.objects.create(
        owner=owner, name="Fast", timezone=timezone, **{"extension": "csv", **fields}
    )
    for position, (column_id, label) in enumerate(columns or []):
        ExportColumn.objects.create(
            request=request, position=position, column_id=column_id, label=label
        )
    for position, item in enumerate(items):
        ExportItem.objects.create(
            request=request, position=position, subtopic="s", **{"channel_id": "ch", **item}
        )
    return request


def export(request, settings, *, fast: bool, expect_fast: bool = True) -> bytes:
    settings.EXPORT_FAST_PATH = fast
    writer = writer_for(request)
    tables = build_tables(request, SLOT)
    verdicts = [fast_path(table, writer) for table in tables]
    if fast and expect_fast and ON_POSTGRES:
        assert all(verdicts), [verdict.reason for verdict in verdicts]
    sink = io.BytesIO()
    info = build_report_info(request, SLOT)
    writer.write(tables, sink, info, expanded=request.template == "expanded")
    return sink.getvalue()


def same_both_ways(request, settings, *, expect_fast: bool = True) -> bytes:
    fast = export(request, settings, fast=True, expect_fast=expect_fast)
    slow = export(request, settings, fast=False)
    if fast != slow:  # show where, not only that the hashes differ
        fast_lines, slow_lines = fast.splitlines(True), slow.splitlines(True)
        diff = [(a, b) for a, b in zip(fast_lines, slow_lines, strict=False) if a != b][:3]
        pytest.fail(f"{len(fast_lines)} vs {len(slow_lines)} lines; first differences {diff}")
    assert hashlib.sha256(fast).hexdigest() == hashlib.sha256(slow).hexdigest()
    return fast


def mixed_data(channel="ch", start=datetime(2026, 10, 24, 22, tzinfo=UTC)):
    """Numbers, texts, booleans and data values of two devices, around ``start``."""
    add(channel, "temp", start, NUMBERS * 3)
    add(channel, "temp", start, [float(i) / 8 for i in range(40)], publisher="=dev-2", unit="")
    add(channel, "state", start, TEXTS + [True, False, ("payload,1",)], unit="m,s")


def plain_data():
    """Finite readings of two devices (sums of ``mixed_data``'s would overflow)."""
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)
    add("ch", "temp", start, [round(math.sin(i) * 30, 3) for i in range(300)])
    add("ch", "temp", start, [float(i) / 8 for i in range(40)], publisher="dev-2")


# --- the same bytes both ways ---------------------------------------------------------------

ZONES = [
    ("Europe/Rome", datetime(2026, 10, 24, 22, tzinfo=UTC)),  # autumn: an hour twice
    ("Europe/Rome", datetime(2026, 3, 28, 22, tzinfo=UTC)),  # spring: an hour skipped
    ("America/New_York", datetime(2026, 10, 31, 22, tzinfo=UTC)),
    ("Asia/Kolkata", datetime(2026, 1, 1, tzinfo=UTC)),
    ("Asia/Kathmandu", datetime(2026, 1, 1, tzinfo=UTC)),
    ("Europe/Amsterdam", datetime(1937, 6, 30, 20, tzinfo=UTC)),  # +00:19:32, then +00:20
    ("UTC", datetime(1969, 12, 31, 23, tzinfo=UTC)),  # before the epoch
]


@postgres_only
@pytest.mark.parametrize("extension", ["csv", "json"])
@pytest.mark.parametrize(("zone", "start"), ZONES)
def test_every_column_in_every_zone_is_byte_identical(alice, settings, extension, zone, start):
    mixed_data(start=start)
    request = make_request(
        alice,
        timezone=zone,
        extension=extension,
        items=[{"target_value": "temp,state", "target_label": '"T" \nx,=S'}],
    )
    body = same_both_ways(request, settings)
    assert body.count(b"\n") > 100


@postgres_only
@pytest.mark.parametrize("decimals", [None, 0, 2, 10])
@pytest.mark.parametrize("separator", [".", ","])
@pytest.mark.parametrize("extension", ["csv", "json"])
def test_decimals_and_separators(alice, settings, decimals, separator, extension):
    mixed_data()
    request = make_request(
        alice,
        extension=extension,
        decimals=decimals,
        decimal_separator=separator,
        csv_delimiter=";" if separator == "," else ",",
        items=[{"target_value": "temp,state"}],
    )
    same_both_ways(request, settings)


@postgres_only
@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|", " ", "-", "e", "'"])
@pytest.mark.parametrize("bom", [True, False])
def test_delimiters_and_byte_order_mark(alice, settings, delimiter, bom):
    mixed_data()
    request = make_request(
        alice, csv_delimiter=delimiter, csv_bom=bom, items=[{"target_value": "temp,state"}]
    )
    body = same_both_ways(request, settings)
    assert body.startswith(b"\xef\xbb\xbf") == bom


@postgres_only
@pytest.mark.parametrize("extension", ["csv", "json"])
def test_default_columns_several_items_expanded_and_empty(alice, settings, extension):
    mixed_data()
    add("other", "hum", datetime(2026, 10, 25, tzinfo=UTC), [1.0, 2.5, math.nan])
    items = [
        {"target_value": "temp"},
        {"target_value": "hum", "channel_id": "other", "filename": "second"},
        {"target_value": "missing"},
    ]
    for template in ("tabular", "expanded"):
        request = make_request(
            alice, columns=None, extension=extension, template=template, items=items
        )
        same_both_ways(request, settings)
    empty = make_request(alice, extension=extension, items=[{"target_value": "missing"}])
    body = same_both_ways(empty, settings)
    assert body.count(b"\r\n") == 1 if extension == "csv" else body == b"[]\n"


@postgres_only
def test_named_publishers_and_channels(alice, settings):
    from exports.models import Channel, Publisher

    mixed_data()
    Publisher.objects.create(publisher_id="dev-1", name='Cold "room", 1')
    Publisher.objects.create(publisher_id="=dev-2", name="")
    Channel.objects.create(channel_id="ch", name="=Greenhouse")
    for extension in ("csv", "json"):
        request = make_request(alice, extension=extension, items=[{"target_value": "temp"}])
        assert b"Cold" in same_both_ways(request, settings)


@pytest.fixture
def keeping(monkeypatch):
    """This process keeps its COPY connection between exports, as a worker's horse does."""
    from exports.writers import copying

    monkeypatch.setattr(copying, "_keeping", False)
    monkeypatch.setattr(copying, "_kept", {})
    copying.keep_connections()
    yield copying._kept
    copying.close_kept_connections()  # else the test database could not be dropped


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_horse_reuses_its_copy_connection_and_replaces_one_that_died(settings, keeping):
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("copier")
    plain_data()
    request = make_request(owner, items=[{"target_value": "temp", "channel_id": "ch"}])
    first = export(request, settings, fast=True)
    [raw] = keeping.values()
    assert raw.info.transaction_status.name == "IDLE"  # no transaction held between exports
    assert export(request, settings, fast=True) == first
    assert list(keeping.values()) == [raw]  # the same connection, kept again
    backend = raw.info.backend_pid
    with connection.cursor() as cursor:  # the server restarts, or an admin ends it
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    assert export(request, settings, fast=True) == first
    [fresh] = keeping.values()
    assert fresh is not raw and fresh.info.backend_pid != backend and raw.closed


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_horse_the_copy_connection_is_closed_after_each_export(settings):
    from django.contrib.auth import get_user_model

    from exports.writers import copying

    owner = get_user_model().objects.create_user("copier")
    plain_data()
    request = make_request(owner, items=[{"target_value": "temp", "channel_id": "ch"}])
    before = backends()
    export(request, settings, fast=True)
    assert not copying._kept
    deadline = time.monotonic() + 5  # a backend leaves pg_stat_activity once it has exited
    while backends() != before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backends() == before


def backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_progress_is_reported_while_copying_on_its_own_connection(settings):
    """Outside a transaction the COPY has its own connection, so progress (saved on Django's)
    is reported while rows arrive, and the output is the same."""
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("copier")
    add("big", "temp", datetime(2026, 1, 1, tzinfo=UTC), [float(i) for i in range(12_000)])
    request = make_request(owner, items=[{"target_value": "temp", "channel_id": "big"}])
    reports = []
    settings.EXPORT_FAST_PATH = True
    writer = writer_for(request)
    sink = io.BytesIO()
    result = writer.write(
        build_tables(request, SLOT),
        sink,
        build_report_info(request, SLOT),
        # A query on Django's connection while the COPY runs on its own.
        progress=lambda count: reports.append((count, ExportRequest.objects.count())),
    )
    assert result.rows == 12_000
    assert reports == [(5000, 1), (10000, 1)]
    assert sink.getvalue() == export(request, settings, fast=False)


@postgres_only
@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.one_of(st.floats(), st.text(max_size=8), st.booleans()), min_size=1, max_size=30
    ),
    zone=st.sampled_from(["Europe/Rome", "Asia/Kathmandu", "America/St_Johns", "UTC"]),
)
def test_any_values_are_byte_identical(alice, settings, values, zone):
    values = [value.replace("\x00", "") if isinstance(value, str) else value for value in values]
    channel = f"h{random.getrandbits(40)}"
    add(channel, "v", datetime(2026, 3, 29, tzinfo=UTC), values)
    for extension in ("csv", "json"):
        request = make_request(
            alice,
            timezone=zone,
            extension=extension,
            items=[{"target_value": "v", "channel_id": channel}],
        )
        same_both_ways(request, settings)


# --- the rendering rules, value by value ----------------------------------------------------


@postgres_only
def test_numbers_render_as_python_writes_them():
    """200,000 random bit patterns, decimals and the edges: PostgreSQL's text is Python's."""
    rng = random.Random(21)
    values = [
        struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(150_000)
    ]
    values += [round(rng.uniform(-1e4, 1e4), rng.randint(0, 7)) for _ in range(20_000)]
    values += [rng.uniform(1e15, 1e16) for _ in range(10_000)]
    values += [float(rng.randrange(10**16, 10**22)) for _ in range(10_000)]
    values += [10.0**e for e in range(-323, 309)] + NUMBERS
    with connection.cursor() as cursor:
        cursor.execute("SET extra_float_digits = 1")
        for negative_zero, python in ((False, csv_cell), (True, json_value)):
            cursor.execute(
                f"SELECT {number_sql('v', negative_zero=negative_zero)} "
                "FROM unnest(%s::float8[]) WITH ORDINALITY AS x(v, i) ORDER BY i",
                [values],
            )
            got = [row[0] for row in cursor.fetchall()]
            expected = [python(value) for value in values]
            expected = [None if text in ("", "null") else str(text) for text in expected]
            wrong = [(v, g, e) for v, g, e in zip(values, got, expected, strict=True) if g != e]
            assert wrong == []


@postgres_only
def test_json_strings_render_as_python_encodes_them():
    texts = [chr(code) for code in range(1, 0x3000)] + TEXTS
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_json(t)::text FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, i) ORDER BY i",
            [texts],
        )
        got = [row[0] for row in cursor.fetchall()]
    assert got == [encode_basestring(text) for text in texts]


# --- the rule --------------------------------------------------------------------------------


def verdict(request, settings, *, fast=True):
    settings.EXPORT_FAST_PATH = fast
    writer = writer_for(request)
    return [fast_path(table, writer) for table in build_tables(request, SLOT)]


def test_the_rule_takes_long_csv_and_json_on_postgres_only(alice, settings):
    mixed_data()
    for extension in ("csv", "json"):
        request = make_request(alice, extension=extension, items=[{"target_value": "temp"}])
        (found,) = verdict(request, settings)
        if ON_POSTGRES:
            assert found.ok and not found.reason
        else:
            assert not found and found.reason == "sqlite: COPY needs PostgreSQL"
        (off,) = verdict(request, settings, fast=False)
        assert not off and "EXPORT_FAST_PATH" in off.reason


@pytest.mark.parametrize(
    ("fields", "item", "columns", "reason"),
    [
        ({"extension": "xlsx"}, {}, ALL_COLUMNS, "xlsx is written in Python"),
        ({"extension": "parquet"}, {}, ALL_COLUMNS, "parquet is written in Python"),
        ({}, {"output_format": "wide"}, ALL_COLUMNS, "a wide table"),
        ({}, {"ds": "1h", "dsf": "avg"}, ALL_COLUMNS, "a decimated item"),
        ({}, {"transform": "delta"}, ALL_COLUMNS, "a transformed item"),
        ({}, {}, [(ColumnId.VALUE, "v")], "one column"),
        ({"csv_delimiter": "§"}, {}, ALL_COLUMNS, "more than one byte"),
    ],
)
def test_the_rule_says_why_not(alice, settings, fields, item, columns, reason):
    plain_data()
    request = make_request(
        alice, columns=columns, items=[{"target_value": "temp", **item}], **fields
    )
    (found,) = verdict(request, settings)
    assert not found
    # On SQLite a rule checked earlier may answer first; else the database does.
    expected = {reason} if ON_POSTGRES else {reason, "sqlite: COPY needs PostgreSQL"}
    assert any(text in found.reason for text in expected), found.reason
    # Whatever the reason, the file is today's.
    if fields.get("extension") in (None, "csv"):
        same_both_ways(request, settings, expect_fast=False)


@postgres_only
@pytest.mark.parametrize("dsf", ["avg", "min", "max", "sum", "stddev", "variance"])
def test_decimated_items_fall_back_and_write_todays_file(alice, settings, dsf):
    plain_data()
    request = make_request(alice, items=[{"target_value": "temp", "ds": "1h", "dsf": dsf}])
    (found,) = verdict(request, settings)
    assert not found and found.reason == "a decimated item (aggregated in Python)"
    same_both_ways(request, settings, expect_fast=False)
