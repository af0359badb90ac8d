"""The series catalog: kept right by every ingest path, rebuilt on demand, read without scans."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exports.data import catalog
from exports.data.access import NOTHING, ReadScope
from exports.data.ingestion import store_messages
from exports.models import Channel, Message, Publisher, Series

ALL = ReadScope(everything=True)

pytestmark = pytest.mark.django_db

CHANNEL = "6b1f0f3a-0000-4000-8000-00000000c001"
DEVICE = "a3c9e0d2-0000-4000-8000-00000000d001"
T0 = 1_700_000_000


def ingest(tmp_path, records, publisher=DEVICE, subtopic="events.data", name="pack.json"):
    path = tmp_path / name
    path.write_text(json.dumps(records), encoding="utf-8")
    call_command(
        "ingest",
        str(path),
        channel=CHANNEL,
        subtopic=subtopic,
        publisher=publisher,
        stdout=io.StringIO(),
    )


def at(seconds):
    return datetime.fromtimestamp(T0 + seconds, tz=UTC)


def catalog_rows():
    return {
        (s.subtopic, s.publisher, s.name): (s.unit, s.count, s.first_time, s.last_time)
        for s in Series.objects.all()
    }


def test_ingest_records_each_series_with_unit_count_and_time_span(tmp_path):
    ingest(
        tmp_path,
        [
            {"bt": T0, "n": "temperature", "u": "Cel", "v": 21.5},
            {"n": "temperature", "u": "Cel", "t": 300, "v": 21.7},
            {"n": "humidity", "u": "%RH", "t": 60, "v": 48},
        ],
    )

    assert catalog_rows() == {
        ("events.data", DEVICE, "temperature"): ("Cel", 2, at(0), at(300)),
        ("events.data", DEVICE, "humidity"): ("%RH", 1, at(60), at(60)),
    }
    # The ids get rows an admin can name.
    assert Channel.objects.filter(channel_id=CHANNEL, name="").exists()
    assert Publisher.objects.filter(publisher_id=DEVICE, name="").exists()


def test_a_later_ingest_adds_its_counts_and_widens_the_span(tmp_path):
    ingest(tmp_path, [{"bt": T0, "n": "temperature", "u": "Cel", "v": 21.5}])
    ingest(
        tmp_path,
        [
            {"bt": T0 - 600, "n": "temperature", "u": "Cel", "v": 20.0},
            {"bt": T0 + 900, "n": "temperature", "u": "degC", "v": 22.0},
        ],
        name="second.json",
    )

    # The unit of the newest point wins.
    assert catalog_rows() == {
        ("events.data", DEVICE, "temperature"): ("degC", 3, at(-600), at(900)),
    }


def test_batches_of_one_ingest_are_folded_one_by_one(tmp_path):
    records = [{"bt": T0 + i, "n": "energy", "u": "kWh", "v": i} for i in range(7)]
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    call_command(
        "ingest",
        str(path),
        channel=CHANNEL,
        subtopic="s",
        publisher=DEVICE,
        batch_size=3,
        stdout=io.StringIO(),
    )

    assert catalog_rows() == {("s", DEVICE, "energy"): ("kWh", 7, at(0), at(6))}


def test_a_rejected_ingest_leaves_the_catalog_as_it_was(tmp_path):
    ingest(tmp_path, [{"bt": T0, "n": "temperature", "u": "Cel", "v": 21.5}])
    before = catalog_rows()

    with pytest.raises(CommandError):
        ingest(
            tmp_path,
            [{"bt": T0, "n": "humidity", "v": 40}, {"n": "x" * 300, "v": 1}],
            name="bad.json",
        )

    assert catalog_rows() == before
    assert not Series.objects.filter(name="humidity").exists()


def test_rebuildcatalog_recomputes_what_ingest_kept(tmp_path):
    ingest(
        tmp_path,
        [
            {"bt": T0, "n": "temperature", "u": "Cel", "v": 21.5},
            {"n": "temperature", "u": "Cel", "t": 300, "v": 21.7},
            {"n": "humidity", "u": "%RH", "t": 60, "v": 48},
        ],
    )
    ingest(tmp_path, [{"bt": T0, "n": "temperature", "v": 1}], publisher="other", name="b.json")
    # Messages stored behind the catalog's back (say, restored from a backup).
    Message.objects.create(
        channel=CHANNEL,
        subtopic="events.data",
        publisher=DEVICE,
        name="door",
        unit="",
        time=at(5),
        value=1,
    )
    Channel.objects.filter(channel_id=CHANNEL).update(name="Greenhouse north")
    kept = catalog_rows()

    out = io.StringIO()
    call_command("rebuildcatalog", stdout=out)

    assert "4 series" in out.getvalue()
    assert catalog_rows() == {
        **kept,
        ("events.data", DEVICE, "door"): ("", 1, at(5), at(5)),
    }
    assert Channel.objects.get(channel_id=CHANNEL).name == "Greenhouse north"


def series_of(name, publisher=DEVICE, channel=CHANNEL, subtopic="events.data", unit="Cel"):
    return Message(
        channel=channel,
        subtopic=subtopic,
        publisher=publisher,
        name=name,
        unit=unit,
        time=at(0),
        value=1,
    )


def test_series_are_narrowed_by_what_is_chosen_and_searched_by_names():
    store_messages(
        [
            series_of("temperature"),
            series_of("humidity", publisher="dev-2"),
            series_of("temperature", channel="other-channel"),
            series_of("pressure", subtopic="events.other"),
        ]
    )
    Channel.objects.filter(channel_id=CHANNEL).update(name="Greenhouse north")
    Publisher.objects.filter(publisher_id="dev-2").update(name="Cold room 1")

    def names(**filters):
        return sorted(
            (s.channel[:5], s.subtopic, s.name) for s in catalog.series(scope=ALL, **filters)
        )

    assert names(channel=CHANNEL, subtopic="events.data") == [
        ("6b1f0", "events.data", "humidity"),
        ("6b1f0", "events.data", "temperature"),
    ]
    assert names(channel=CHANNEL, publisher="dev-2") == [("6b1f0", "events.data", "humidity")]
    assert names(q="greenhouse") == [
        ("6b1f0", "events.data", "humidity"),
        ("6b1f0", "events.data", "temperature"),
        ("6b1f0", "events.other", "pressure"),
    ]
    assert names(q="cold room") == [("6b1f0", "events.data", "humidity")]
    # A scope narrows every answer: here to one subtopic prefix of the channel.
    narrow = ReadScope(everything=False, pairs=frozenset({(CHANNEL, "events.other")}))
    found = catalog.series(scope=narrow, q="greenhouse")
    assert [(s.subtopic, s.name) for s in found] == [("events.other", "pressure")]
    assert not catalog.series(scope=NOTHING).exists()
    assert catalog.channel_display(CHANNEL) == "Greenhouse north (6b1f0f3a)"
    assert catalog.channel_display("other-channel") == "other-channel"


def test_reading_the_catalog_never_touches_the_message_table():
    store_messages([series_of("temperature"), series_of("humidity")])

    with CaptureQueriesContext(connection) as queries:
        list(catalog.series(scope=ALL, channel=CHANNEL, q="temp"))
        catalog.unknown_metrics(CHANNEL, "events.data", ["temperature", "temprature"], scope=ALL)
        catalog.channel_names()

    assert queries.captured_queries
    assert not any("exports_message" in q["sql"] for q in queries.captured_queries)


def test_unknown_metrics_are_the_names_never_seen_on_that_channel_and_subtopic():
    store_messages([series_of("temperature"), series_of("humidity", subtopic="other")])

    assert catalog.unknown_metrics(
        CHANNEL, "events.data", ["temperature", "temprature", "humidity"], scope=ALL
    ) == ["temprature", "humidity"]


def test_seeddemo_names_its_channels_and_devices():
    call_command("seeddemo", days=1, until="2026-01-10T00:00Z", stdout=io.StringIO())

    assert set(Channel.objects.values_list("name", flat=True)) == {"Greenhouse", "Cold storage"}
    assert "Greenhouse north" in set(Publisher.objects.values_list("name", flat=True))
    # 4 devices × 3 metrics, 288 readings a day each.
    assert Series.objects.count() == 12
    assert set(Series.objects.values_list("count", flat=True)) == {288}
    assert Series.objects.get(name="energy", publisher__endswith="01").unit == "kWh"
    assert max(Series.objects.values_list("last_time", flat=True)) == datetime(
        2026, 1, 10, tzinfo=UTC
    ) - timedelta(minutes=5)


def test_a_batch_of_plain_points_folds_in_as_the_same_messages_do():
    from exports.data.senml import NormalisedRecord

    points = [
        NormalisedRecord("temperature", "Cel", at(30), value=1.0),
        NormalisedRecord("temperature", "K", at(0), value=1.0),
        NormalisedRecord("humidity", "%RH", at(30), value=1.0),
        NormalisedRecord("humidity", "Cel", at(10), value=1.0),
        NormalisedRecord("temperature", "F", at(30), value=1.0),  # last at the newest time
    ]

    def as_messages(batch):
        return [
            Message(channel="messages", subtopic="events.data", publisher=DEVICE, **p._asdict())
            for p in batch
        ]

    for batch in (points[:3], points[3:], points[:2], points):
        catalog.record_points("points", "events.data", DEVICE, batch)
        catalog.record_messages(as_messages(batch))

    def rows(channel):
        return {
            s.name: (s.subtopic, s.publisher, s.unit, s.count, s.first_time, s.last_time)
            for s in Series.objects.filter(channel=channel)
        }

    assert rows("points") == rows("messages")
    assert rows("points")["temperature"] == ("events.data", DEVICE, "F", 8, at(0), at(30))
    assert set(Channel.objects.values_list("channel_id", flat=True)) == {"points", "messages"}
