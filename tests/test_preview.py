"""Preview: the first rows of the real file and a row estimate, computed without saving."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from exports.data.ingestion import store_messages
from exports.editor.preview import preview_request
from exports.models import Channel, ExportRequest, IamEvent, Message
from exports.queue.runner import create_job, run_job
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec

pytestmark = pytest.mark.django_db
CHANNEL = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
START = datetime(2026, 1, 10, tzinfo=UTC)
SLOT = START + timedelta(hours=6)


@pytest.fixture
def readings(db):
    store_messages(
        [
            Message(
                channel=CHANNEL,
                subtopic="events.data",
                publisher=publisher,
                name=name,
                unit="Cel",
                time=START + timedelta(minutes=5 * i),
                value=round(20 + i * 0.37 + (publisher == "dev-2"), 2),
            )
            for publisher in ("dev-1", "dev-2")
            for name in ("temperature", "energy")
            for i in range(72)
        ]
    )
    Channel.objects.filter(channel_id=CHANNEL).update(name="Greenhouse north")


def request_json(**item_params):
    params = {
        "target": {"value": "temperature,energy", "label": "Temp,Energy"},
        "channelId": CHANNEL,
        "subtopic": "events.data",
        "period": "PT6H",
        **item_params,
    }
    return {
        "name": "Greenhouse",
        "type": "oneTime",
        "format": {
            "extension": "csv",
            "timezone": "Asia/Kolkata",
            "template": "expanded",
            "columns": [
                {"id": "time", "label": "Ora"},
                {"id": "publisher", "label": "Device"},
                {"id": "name", "label": "Metric"},
                {"id": "value", "label": "Valore"},
            ],
        },
        "items": [
            {"params": params, "filename": "first"},
            {"params": {**params, "target": {"value": "energy"}}, "filename": "second"},
        ],
    }


def file_tables(owner, data):
    """The CSV tables of the real job for the same slot, by file name."""
    request = save_spec(parse_request(data, owner))
    job = run_job(create_job(request, SLOT).pk)
    with job.file.open("rb") as fh:
        archive = zipfile.ZipFile(io.BytesIO(fh.read()))
    return {
        name: list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8-sig")))
        for name in archive.namelist()
    }


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"decimation": {"ds": "1h", "dsf": "avg"}},
        {"decimation": {"ds": "30m", "dsf": "max"}, "transform": "delta"},
        {"outputFormat": "wide"},
        {"outputFormat": "wide", "decimation": {"ds": "1h", "dsf": "sum"}},
    ],
    ids=["raw", "hourly-avg", "delta-of-max", "wide", "wide-hourly-sum"],
)
def test_the_preview_is_the_first_rows_of_the_real_file(alice, readings, params):
    data = request_json(**params)

    preview = preview_request(data, alice, now=SLOT)
    tables = file_tables(alice, data)

    for item, name in zip(preview.items, ["first.csv", "second.csv"], strict=True):
        header, *rows = tables[name]
        assert item.headers == header
        assert item.rows == rows[:20]
        assert len(item.rows) == min(20, len(rows))
        assert item.estimated_rows == len(rows)


def test_a_preview_saves_nothing_and_emits_no_event(alice, readings):
    preview_request(request_json(), alice, now=SLOT)

    assert ExportRequest.objects.count() == 0
    assert IamEvent.objects.count() == 0


def test_the_preview_says_where_and_when_in_the_request_time_zone(alice, readings):
    preview = preview_request(request_json(), alice, now=SLOT)

    first = preview.items[0]
    assert first.channel == "Greenhouse north (6b1f0f3a)"
    assert first.metrics == ["temperature", "energy"]
    assert first.window == "2026-01-10 05:30 – 2026-01-10 11:30"
    assert preview.slot.isoformat() == "2026-01-10T11:30:00+05:30"
    assert first.rows[0][:3] == ["2026-01-10T05:30:00.000+05:30", "dev-1", "Temp"]


def test_a_recurring_preview_shows_the_window_of_the_next_run(alice, readings):
    data = {
        **request_json(),
        "type": "recurring",
        "periodicity": "PT1H",
        "periodStart": int(START.timestamp()),
    }

    preview = preview_request(data, alice, now=START + timedelta(minutes=90))

    assert preview.is_next_run
    assert preview.slot == START + timedelta(hours=2)
    assert preview.items[0].window == "2026-01-10 01:30 – 2026-01-10 07:30"


def test_metrics_the_catalog_never_saw_are_named(alice, readings):
    preview = preview_request(
        request_json(target={"value": "temperature,temprature"}), alice, now=SLOT
    )

    assert preview.items[0].unknown_metrics == ["temprature"]
    assert preview.items[1].unknown_metrics == []


def test_bad_input_gives_the_errors_saving_would(alice):
    data = request_json(decimation={"ds": "15x"})

    with pytest.raises(RequestSchemaError) as previewed:
        preview_request(data, alice)
    with pytest.raises(RequestSchemaError) as saved:
        parse_request(data, alice)

    assert previewed.value.errors == saved.value.errors
    assert "items[0].params.decimation.ds" in previewed.value.errors


def test_the_preview_json_has_the_api_shape(alice, readings):
    shape = preview_request(request_json(), alice, now=SLOT).as_json()

    assert shape["timezone"] == "Asia/Kolkata"
    assert set(shape["items"][0]) == {
        "title",
        "channel",
        "subtopic",
        "metrics",
        "window",
        "estimatedRows",
        "headers",
        "rows",
        "unknownMetrics",
        "unknownPlace",
    }
    assert shape["items"][0]["estimatedRows"] == 288  # 2 metrics × 2 devices × 72


def test_the_preview_rounds_numbers_as_the_file_does_with_fixed_decimals(alice, readings):
    data = request_json(decimation={"ds": "1h", "dsf": "avg"})
    data["format"]["decimals"] = 1

    preview = preview_request(data, alice, now=SLOT)
    tables = file_tables(alice, data)

    header, *rows = tables["first.csv"]
    assert preview.items[0].rows == rows[:20]
    assert all(len(row[3].partition(".")[2]) == 1 for row in preview.items[0].rows)
