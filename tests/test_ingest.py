"""manage.py ingest: SenML packs and JSON lines into the message store, all or nothing."""

import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from exports.data.ingestion import store_records
from exports.data.senml import NormalisedRecord
from exports.models import Message

pytestmark = pytest.mark.django_db

CHANNEL = "6b1f0f3a-0000-4000-8000-00000000c001"
PUBLISHER = "a3c9e0d2-0000-4000-8000-00000000d001"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
PACK = [
    {"bn": "urn:dev:ow:10e2073a01080063:", "bt": T0, "bu": "Cel", "n": "temperature", "v": 21.5},
    {"n": "temperature", "t": 300, "v": 21.75},
    {"n": "humidity", "u": "%RH", "t": 300, "v": 48},
    {"n": "door", "t": 600, "vb": True},
    {"n": "energy", "u": "kWh", "t": 600, "v": 12.5, "s": 1520.25},
]


def ingest(path, *args, **options):
    out = io.StringIO()
    options = {"channel": CHANNEL, "subtopic": "events.data", "publisher": PUBLISHER, **options}
    call_command("ingest", str(path), *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def pack_file(tmp_path):
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(PACK), encoding="utf-8")
    return path


def test_it_stores_every_record_of_a_pack_resolved(pack_file):
    output = ingest(pack_file)

    assert "Stored 5 records" in output
    rows = list(Message.objects.order_by("time", "id"))
    assert [(m.name, m.unit, m.value) for m in rows] == [
        ("urn:dev:ow:10e2073a01080063:temperature", "Cel", 21.5),
        ("urn:dev:ow:10e2073a01080063:temperature", "Cel", 21.75),
        ("urn:dev:ow:10e2073a01080063:humidity", "%RH", 48.0),
        ("urn:dev:ow:10e2073a01080063:door", "Cel", None),
        ("urn:dev:ow:10e2073a01080063:energy", "kWh", 12.5),
    ]
    first = rows[0]
    assert first.time == datetime.fromtimestamp(T0, tz=UTC)
    assert (first.channel, first.subtopic, first.publisher) == (
        CHANNEL,
        "events.data",
        PUBLISHER,
    )
    assert first.protocol == "senml"
    assert rows[3].bool_value is True
    assert rows[4].sum == 1520.25


def test_it_records_the_protocol_given(pack_file):
    ingest(pack_file, protocol="mqtt")
    assert set(Message.objects.values_list("protocol", flat=True)) == {"mqtt"}


def test_it_resolves_relative_times_against_the_time_of_ingestion(tmp_path):
    path = tmp_path / "now.json"
    path.write_text(json.dumps([{"n": "t", "t": -60, "v": 1}, {"n": "t", "v": 2}]))
    before = datetime.now(UTC)
    ingest(path)
    after = datetime.now(UTC)
    past, now = Message.objects.order_by("time")
    assert before - timedelta(seconds=60) <= past.time <= after - timedelta(seconds=60)
    assert before <= now.time <= after
    assert now.time - past.time == timedelta(seconds=60)


def test_it_reads_json_lines_as_one_stream(tmp_path):
    path = tmp_path / "readings.jsonl"
    path.write_text(
        f'{{"bn": "dev:", "bt": {T0}, "n": "a", "v": 1}}\n'
        "\n"
        '[{"n": "b", "t": 5, "v": 2}, {"n": "c", "t": 10, "vs": "ok"}]\n',
        encoding="utf-8",
    )
    assert "Stored 3 records" in ingest(path)
    assert list(Message.objects.order_by("time").values_list("name", flat=True)) == [
        "dev:a",
        "dev:b",
        "dev:c",
    ]
    assert Message.objects.get(name="dev:c").string_value == "ok"


def test_it_reads_json_lines_from_any_file_name_when_told(tmp_path):
    path = tmp_path / "readings.txt"
    path.write_text('{"n": "a", "v": 1}\n{"n": "b", "v": 2}\n')
    assert "Stored 2 records" in ingest(path, input_format="lines")


def test_it_inserts_in_batches_of_the_given_size(tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"n": "x", "t": T0 + i, "v": i} for i in range(5)]))
    output = ingest(path, batch_size=2, verbosity=2)
    assert [line.strip() for line in output.splitlines()[:3]] == [
        "2 records",
        "4 records",
        "5 records",
    ]
    assert Message.objects.count() == 5


def test_it_rejects_a_malformed_pack_with_the_record_index_and_stores_nothing(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([*PACK, {"n": "x", "v": "21.5"}]))
    with pytest.raises(CommandError) as caught:
        ingest(path)
    assert str(caught.value) == (
        "Malformed SenML pack, nothing stored: record 5: v must be a number, not the string '21.5'."
    )
    assert Message.objects.count() == 0


def test_it_rejects_malformed_json_lines_with_the_line_and_stores_nothing(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps({"n": "ok", "t": T0 + i, "v": i}) for i in range(10)]
    lines.append('{"n": "x", "v": 1, "vs": "two values"}')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError) as caught:
        ingest(path, batch_size=3)
    assert "line 11 (record 10): a record holds one value, not v, vs" in str(caught.value)
    assert Message.objects.count() == 0


def test_it_rejects_invalid_json_with_its_position(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"n": "x", "v": 1},\n {"n": "y" "v": 2}]')
    with pytest.raises(CommandError, match=r"not valid JSON: Expecting ',' delimiter at line 2"):
        ingest(path)
    assert Message.objects.count() == 0


def test_it_suggests_json_lines_when_a_pack_file_holds_several_documents(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"n": "a", "v": 1}\n{"n": "b", "v": 2}\n')
    with pytest.raises(CommandError, match="use --format lines"):
        ingest(path)


def test_it_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*missing.json: No such file"):
        ingest(tmp_path / "missing.json")
    with pytest.raises(CommandError, match="Cannot read .*missing.jsonl: No such file"):
        ingest(tmp_path / "missing.jsonl")


def test_it_rejects_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"n": "t", "vs": "caffè"}]'.encode("latin-1"))
    with pytest.raises(CommandError, match="is not UTF-8 text"):
        ingest(path)


def test_it_rejects_a_name_longer_than_the_store_holds(tmp_path):
    path = tmp_path / "long.json"
    path.write_text(json.dumps([{"n": "ok", "v": 1}, {"n": "x" * 256, "v": 1}]))
    with pytest.raises(CommandError, match="record 1: the name is longer than 255 characters"):
        ingest(path)
    assert Message.objects.count() == 0


def test_it_rejects_an_empty_channel_or_publisher(pack_file):
    with pytest.raises(CommandError, match="cannot be empty"):
        ingest(pack_file, channel="")
    assert Message.objects.count() == 0


def test_it_stores_nothing_and_says_so_for_an_empty_pack(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("[]")
    assert "Stored 0 records" in ingest(path)


def test_stored_rows_are_exactly_what_the_orm_stores_for_the_same_records():
    shared = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    records = [
        NormalisedRecord("a", "Cel", shared, value=21.5),
        NormalisedRecord("b", "%RH", shared, value=48),  # the same datetime object
        NormalisedRecord("a", "Cel", shared + timedelta(microseconds=1), value=-0.0),
        NormalisedRecord("c", "", datetime(2026, 1, 1, 13, 0, 0, 500000, tzinfo=UTC), sum=2.5),
        NormalisedRecord(
            "d",
            "°C",
            datetime(2026, 7, 1, 14, 30, tzinfo=ZoneInfo("Europe/Rome")),
            string_value="caffè",
        ),
        NormalisedRecord("e", "", datetime(1970, 1, 1, tzinfo=UTC), bool_value=False),
        NormalisedRecord(
            "f",
            "",
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            data_value="aGVsbG8",
            update_time=30.0,
        ),
        NormalisedRecord("g", "", datetime(1, 1, 1, tzinfo=UTC), value=1e308),
    ]
    created = datetime(2026, 2, 1, 8, 0, 0, 123456, tzinfo=UTC)
    store_records(records, origin("fast"), batch_size=3, created=created)
    Message.objects.bulk_create(
        Message(**origin("orm"), **record._asdict(), created=created) for record in records
    )

    def stored(channel):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT subtopic, publisher, protocol, name, unit, CAST(time AS TEXT), value,"
                " string_value, bool_value, data_value, sum, update_time, CAST(created AS TEXT)"
                " FROM exports_message WHERE channel = %s ORDER BY id",
                [channel],
            )
            return cursor.fetchall()

    assert len(stored("fast")) == len(records)
    assert stored("fast") == stored("orm")


def origin(channel):
    return {"channel": channel, "subtopic": "s", "publisher": PUBLISHER, "protocol": "senml"}


def test_a_naive_time_is_stored_in_the_connections_zone_as_the_orm_stores_it():
    if connection.vendor != "postgresql":
        pytest.skip("the binary COPY of PostgreSQL needs the zone said; SQLite stores text")
    naive = datetime(2026, 1, 1, 12, 0, 0, 250000)
    with pytest.warns(RuntimeWarning, match="naive datetime"):  # the ORM's, catalog included
        store_records([NormalisedRecord("a", "", naive, value=1.0)], origin("fast"))
        Message.objects.create(**origin("orm"), name="a", time=naive, value=1.0)

    assert Message.objects.get(channel="fast").time == Message.objects.get(channel="orm").time
    assert Message.objects.get(channel="fast").time == naive.replace(tzinfo=UTC)
