"""Files people read (issue 18): names instead of ids, times that survive the clock change,
the reader's decimal separator, one file for one format, the file in the email. Every file is
made by a real job and read back with the tool its users read it with (pandas, openpyxl,
pdftotext, json)."""

import io
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from openpyxl import load_workbook

from exports.data.catalog import record_messages
from exports.models import Channel, ExportJob, JobStatus, Message, Publisher
from exports.queue.runner import create_job, run_job
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec
from notifications.dispatch import job_finished
from notifications.jobs import deliver
from notifications.models import Delivery, DeliveryStatus
from tests.test_notifications_fakes import SmtpSink

pytestmark = pytest.mark.django_db

CHANNEL = "6b1f0f3a-0000-4000-8000-00000000c0de"
DEVICES = ("a3c9e0d2-5b7f-4e61-8c2a-1f0000000001", "a3c9e0d2-5b7f-4e61-8c2a-1f0000000002")
# Rome's autumn change: 03:00 CEST becomes 02:00 CET at 01:00 UTC on 2026-10-25.
ROME_START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 local
ROME_SLOT = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # the next local midnight
# New York's: 02:00 EDT becomes 01:00 EST at 06:00 UTC on 2026-11-01.
NY_START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 local
VALUES = [18.5, 20.0, 19.25, 55.0, 21.125, 20.0, 17.75, 22.0]
COLUMNS = [
    {"id": "publisherName", "label": "Device"},
    {"id": "channelName", "label": "Channel"},
    {"id": "time", "label": "time"},
    {"id": "timeUtc", "label": "time UTC"},
    {"id": "epoch", "label": "epoch ms"},
    {"id": "value", "label": "value"},
]


def readings(start: datetime, *, names=("Greenhouse north", "Greenhouse south")) -> None:
    """Two devices, a reading every 30 minutes for 4 hours from ``start``."""
    messages = Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=device,
            name="temperature",
            unit="Cel",
            time=start + timedelta(minutes=30 * i),
            value=VALUES[i],
        )
        for device in DEVICES
        for i in range(8)
    )
    record_messages(messages)
    Channel.objects.filter(channel_id=CHANNEL).update(name="Greenhouse")
    for device, name in zip(DEVICES, names, strict=True):
        Publisher.objects.filter(publisher_id=device).update(name=name)


def export(owner, extension, *, zone="Europe/Rome", wide=False, columns=COLUMNS, **fmt):
    params = {"target": {"value": "temperature"}, "channelId": CHANNEL, "subtopic": "s"}
    params |= {"period": "P1D", "outputFormat": "wide" if wide else "long"}
    data = {
        "name": "Greenhouse day",
        "type": "oneTime",
        "format": {"extension": extension, "timezone": zone, "columns": columns, **fmt},
        "items": [{"params": params}],
    }
    return save_spec(parse_request(data, owner=owner))


def run(request, slot=ROME_SLOT) -> ExportJob:
    job = run_job(create_job(request, slot).pk)
    assert job.status == JobStatus.DONE, job.error
    return job


def content(job) -> bytes:
    with job.file.open("rb") as handle:
        return handle.read()


def pdftotext(data: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode()


# --- 1, 2, 3: one request in every format ------------------------------------------------


def test_csv_with_decimal_comma_reads_back_in_pandas_with_names_and_one_clock(alice):
    readings(ROME_START)
    job = run(export(alice, "csv", decimalSeparator=","))
    text = content(job).decode("utf-8-sig")
    assert text.splitlines()[0] == "Device;Channel;time;time UTC;epoch ms;value"
    frame = pd.read_csv(io.StringIO(text), sep=";", decimal=",")
    assert frame["Device"].tolist() == ["Greenhouse north", "Greenhouse south"] * 8
    assert set(frame["Channel"]) == {"Greenhouse"}
    assert frame["value"].tolist() == [v for v in VALUES for _ in DEVICES]
    assert frame["value"].dtype == float
    # Whole numbers without ".0", others with a comma.
    assert ";55\r\n" in text and ";18,5\r\n" in text and ";55,0" not in text
    # The repeated hour: wall times repeat, instants do not.
    instants = pd.to_datetime(frame["time"], utc=True)
    assert instants.nunique() == 8
    assert frame["time"].str[11:16].tolist().count("02:30") == 4  # 02:30 +02:00 and +01:00
    assert (pd.to_datetime(frame["time UTC"]) == instants).all()
    assert (pd.to_datetime(frame["epoch ms"], unit="ms", utc=True) == instants).all()
    assert frame["time UTC"][0] == "2026-10-24T22:00:00.000Z"


def test_xlsx_adds_a_utc_offset_column_when_the_clock_changes(alice):
    readings(ROME_START)
    job = run(export(alice, "xlsx"))
    frame = pd.read_excel(io.BytesIO(content(job)))
    assert frame.columns.tolist() == [
        "Device",
        "Channel",
        "time",
        "UTC offset",
        "time UTC",
        "epoch ms",
        "value",
    ]
    assert frame["Device"].tolist()[:2] == ["Greenhouse north", "Greenhouse south"]
    north = frame[frame["Device"] == "Greenhouse north"]
    pairs = list(zip(north["time"].astype(str), north["UTC offset"], strict=True))
    assert len(set(pairs)) == 8  # every instant told apart
    assert north["time"].nunique() == 6  # 02:00 and 02:30 twice as wall times
    assert ("2026-10-25 02:30:00", "+02:00") in pairs and ("2026-10-25 02:30:00", "+01:00") in pairs
    assert frame["value"].tolist()[:4] == [18.5, 18.5, 20, 20]  # numbers stay numbers


def test_xlsx_offsets_across_new_yorks_autumn_change_too(alice):
    readings(NY_START)
    request = export(alice, "xlsx", zone="America/New_York")
    job = run(request, slot=datetime(2026, 11, 2, 5, 0, tzinfo=UTC))
    sheet = load_workbook(io.BytesIO(content(job))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    time_at, offset_at = header.index("time"), header.index("UTC offset")
    north = [row for row in rows[1:] if row[0] == "Greenhouse north"]
    pairs = {(row[time_at], row[offset_at]) for row in north}
    assert len(pairs) == 8
    assert {offset for _, offset in pairs} == {"-04:00", "-05:00"}
    assert sum(1 for wall, _ in pairs if wall.hour == 1 and wall.minute == 30) == 2


def test_xlsx_without_a_clock_change_has_no_offset_column(alice):
    readings(datetime(2026, 6, 1, 22, 0, tzinfo=UTC))
    job = run(export(alice, "xlsx"), slot=datetime(2026, 6, 2, 22, 0, tzinfo=UTC))
    header = next(load_workbook(io.BytesIO(content(job))).active.iter_rows(values_only=True))
    assert "UTC offset" not in header


def test_json_has_names_and_whole_numbers(alice):
    readings(ROME_START)
    rows = json.loads(content(run(export(alice, "json", decimalSeparator=","))))
    assert rows[0]["Device"] == "Greenhouse north" and rows[0]["Channel"] == "Greenhouse"
    assert type(rows[2]["value"]) is int and rows[2]["value"] == 20  # JSON numbers stay numbers
    assert rows[0]["value"] == 18.5
    assert rows[0]["epoch ms"] == ROME_START.timestamp() * 1000
    frame = pd.read_json(io.BytesIO(content(run(export(alice, "json")))))
    assert frame["value"].tolist() == [v for v in VALUES for _ in DEVICES]


def test_pdf_shows_names_whole_numbers_and_decimal_comma(alice):
    readings(ROME_START)
    text = pdftotext(content(run(export(alice, "pdf", decimalSeparator=","))))
    assert "Greenhouse north" in text and "Greenhouse south" in text
    assert "18,5" in text and "21,125" in text
    assert "55,0" not in text and "55.0" not in text and " 55" in text


def test_parquet_epoch_is_an_integer_column(alice):
    readings(ROME_START)
    frame = pd.read_parquet(io.BytesIO(content(run(export(alice, "parquet")))))
    assert str(frame["epoch ms"].dtype) == "int64"
    assert frame["Device"].tolist()[:2] == ["Greenhouse north", "Greenhouse south"]


def test_an_unnamed_device_or_channel_reads_as_its_id(alice):
    readings(ROME_START, names=("Greenhouse north", ""))
    Channel.objects.update(name="")
    frame = pd.read_csv(io.BytesIO(content(run(export(alice, "csv")))), encoding="utf-8-sig")
    assert set(frame["Device"]) == {"Greenhouse north", DEVICES[1]}
    assert set(frame["Channel"]) == {CHANNEL}


@pytest.mark.parametrize("extension", ["csv", "json", "xlsx", "pdf", "parquet"])
def test_wide_headers_name_the_device_in_every_format(alice, extension):
    readings(ROME_START)
    job = run(export(alice, extension, wide=True, columns=[{"id": "time", "label": "time"}]))
    data = content(job)
    expected = ["temperature (Greenhouse north)", "temperature (Greenhouse south)"]
    if extension == "csv":
        headers = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig").columns.tolist()[1:]
    elif extension == "json":
        headers = list(json.loads(data)[0])[1:]
    elif extension == "xlsx":
        headers = pd.read_excel(io.BytesIO(data)).columns.tolist()[2:]  # time, UTC offset
    elif extension == "parquet":
        headers = pd.read_parquet(io.BytesIO(data)).columns.tolist()[1:]
    else:
        text = " ".join(pdftotext(data).split())
        headers = [header for header in expected if header in text]
    assert headers == expected


def test_devices_sharing_a_name_keep_distinct_headers(alice):
    readings(ROME_START, names=("Sensor", "Sensor"))
    job = run(export(alice, "csv", wide=True, columns=[{"id": "time", "label": "time"}]))
    headers = pd.read_csv(io.BytesIO(content(job)), encoding="utf-8-sig").columns.tolist()
    assert headers[1:] == ["temperature (Sensor …00000001)", "temperature (Sensor …00000002)"]


# --- 3: refusals -------------------------------------------------------------------------


def test_a_delimiter_equal_to_the_decimal_separator_is_refused(alice):
    with pytest.raises(RequestSchemaError) as caught:
        export(alice, "csv", decimalSeparator=",", csvDelimiter=",")
    assert "format.csvDelimiter" in caught.value.errors
    request = export(alice, "csv", decimalSeparator=",")
    assert request.csv_delimiter == ";"


# --- 4: one file when one format was asked ---------------------------------------------------


def mixed(extension: str) -> dict:
    params = {"target": "temperature", "channelId": CHANNEL, "subtopic": "s", "period": "P1D"}
    return {
        "name": "Mixed",
        "type": "oneTime",
        "format": {"extension": extension, "template": "tabular"},
        "items": [
            {"params": params | {"outputFormat": "long"}},
            {"params": params | {"outputFormat": "wide"}},
        ],
    }


@pytest.mark.parametrize("extension", ["csv", "json", "parquet"])
def test_a_tabular_file_mixing_long_and_wide_items_is_refused(alice, extension):
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(mixed(extension), owner=alice)
    message = " ".join(caught.value.errors["format.template"])
    assert "one table" in message and "expanded" in message


@pytest.mark.parametrize("extension", ["xlsx", "pdf"])
def test_xlsx_and_pdf_hold_both_tables_in_one_file(alice, extension):
    parse_request(mixed(extension), owner=alice)  # two sheets or sections: no error


def test_the_api_refuses_it_too(alice, client):
    client.force_login(alice)
    response = client.post("/api/exports", mixed("csv"), content_type="application/json")
    assert response.status_code == 400
    assert "expanded" in json.dumps(response.json())


# --- 6: the file in the email -----------------------------------------------------------------


@pytest.fixture
def smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port
        yield sink


def emailed(alice, smtp, extension="xlsx"):
    readings(ROME_START)
    request = export(alice, extension)
    request.messages.create(medium="email", target="ops@example.com", attach=True)
    job = run(request)
    job_finished(job.pk)
    delivery = Delivery.objects.get(job=job)
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT, delivery.error
    [mail] = smtp.mails
    return job, mail.message


def test_the_email_attaches_the_file_through_a_real_smtp_server(alice, smtp, settings):
    job, message = emailed(alice, smtp)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == content(job)
    assert attachment.get_filename().endswith(".xlsx")
    assert attachment.get_content_type() == job.content_type


def test_a_file_over_the_limit_is_linked_with_a_sentence_why(alice, smtp, settings):
    settings.NOTIFICATIONS_ATTACH_MAX_BYTES = 100
    job, message = emailed(alice, smtp)
    assert list(message.iter_attachments()) == []
    body = message.get_body(("plain",)).get_content()
    assert "not attached" in body and "100\xa0bytes" in body
    assert "not attached" in message.get_body(("html",)).get_content()
