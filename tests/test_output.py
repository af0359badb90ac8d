"""Output people can trust (issue 9 §2, §3, §5) through real jobs: decimals in every format,
CSV byte order mark, readable PDFs checked as text, byte-identical re-runs, empty exports."""

import csv
import io
import json
import subprocess
import time
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from openpyxl import load_workbook
from pypdf import PdfReader

from exports.models import ExportJob, JobStatus, Message, Publisher
from exports.queue.runner import create_job, run_job
from exports.requests.dump import dump_request
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec
from exports.requests.vocabulary import EmptyReason
from notifications.dispatch import job_finished
from notifications.facts import facts_for_job
from notifications.models import Delivery

pytestmark = pytest.mark.django_db
CHANNEL = "chan-9"
START = datetime(2026, 1, 2, 0, 0, tzinfo=UTC)  # 05:30 in Asia/Kolkata
SLOT = START + timedelta(hours=3)
DEVICES = ("a3c9e0d2-5b7f-4e61-8c2a-1f0000000001", "a3c9e0d2-5b7f-4e61-8c2a-1f0000000002")


@pytest.fixture
def readings(db):
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="s",
            publisher=device,
            name="temperature",
            unit="Cel",
            time=START + timedelta(minutes=30 * i),
            value=[24.98, 25.0, 25.1, 12345678.123, 20.0, 20.191][i],
        )
        for device in DEVICES
        for i in range(6)
    )


def export(owner, extension="csv", items=None, notification=None, **fmt):
    data = {
        "name": "Température °C",
        "type": "oneTime",
        "format": {"extension": extension, "timezone": "Asia/Kolkata", **fmt},
        "items": items
        or [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": CHANNEL,
                    "subtopic": "s",
                    "publisher": DEVICES[0],
                    "period": "PT3H",
                }
            }
        ],
    }
    if notification:
        data["notification"] = notification
    return save_spec(parse_request(data, owner=owner))


def run(request, slot=SLOT) -> ExportJob:
    job = run_job(create_job(request, slot).pk)
    assert job.status == JobStatus.DONE, job.error
    return job


def content(job) -> bytes:
    with job.file.open("rb") as fh:
        return fh.read()


def pdf_text(data: bytes) -> str:
    """The PDF's text as pdftotext (poppler) extracts it, page by page, layout kept."""
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode()


# --- decimals -----------------------------------------------------------------------------


def test_it_writes_fixed_decimals_in_csv_json_and_pdf_text(alice, readings):
    csv_job = run(export(alice, decimals=2, columns=[{"id": "value", "label": "v"}]))
    assert content(csv_job).decode("utf-8-sig").split("\r\n")[1:4] == ["24.98", "25.00", "25.10"]
    json_job = run(export(alice, "json", decimals=0, columns=[{"id": "value", "label": "v"}]))
    assert content(json_job).decode().split("\n")[1:4] == ['{"v": 25},', '{"v": 25},', '{"v": 25},']
    assert [row["v"] for row in json.loads(content(json_job))][3] == 12345678
    pdf_job = run(export(alice, "pdf", decimals=3))
    text = pdf_text(content(pdf_job))
    assert "24.980" in text and "12345678.123" in text and "25.000" in text


def test_it_keeps_xlsx_numbers_whole_and_gives_them_a_matching_number_format(alice, readings):
    job = run(export(alice, "xlsx", decimals=1, columns=[{"id": "value", "label": "v"}]))
    sheet = load_workbook(io.BytesIO(content(job))).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in cells][:4] == [24.98, 25.0, 25.1, 12345678.123]
    assert {cell.number_format for cell in cells} == {"0.0"}


def test_it_refuses_decimals_outside_0_to_10_and_round_trips_the_options(alice):
    for bad in (11, -1, 2.5, "2", True):
        with pytest.raises(RequestSchemaError) as caught:
            export(alice, decimals=bad)
        assert "format.decimals" in caught.value.errors
    with pytest.raises(RequestSchemaError) as caught:
        export(alice, csvBom="no")
    assert "format.csvBom" in caught.value.errors
    request = export(alice, decimals=4, csvBom=False)
    dumped = dump_request(request)
    assert dumped["format"]["decimals"] == 4 and dumped["format"]["csvBom"] is False
    again = save_spec(parse_request(dumped, owner=alice))
    assert (again.decimals, again.csv_bom) == (4, False)


def test_computed_values_come_out_without_float_noise(alice, readings):
    item = {
        "params": {
            "target": {"value": "temperature"},
            "channelId": CHANNEL,
            "subtopic": "s",
            "publisher": DEVICES[0],
            "period": "PT3H",
            "transform": "delta",
        }
    }
    job = run(export(alice, "json", items=[item], columns=[{"id": "value", "label": "v"}]))
    values = [row["v"] for row in json.loads(content(job))]
    assert values == [0.02, 0.1, 12345653.023, -12345658.123, 0.191]
    averaged = dict(item, params={**item["params"], "transform": "", "decimation": {"ds": "1h"}})
    job = run(export(alice, "csv", items=[averaged], columns=[{"id": "value", "label": "v"}]))
    # Local hours in Kolkata: 05:30 (cut by the window), 06:00, 07:00, 08:00.
    assert content(job).decode("utf-8-sig").split("\r\n")[1:5] == [
        "24.98",
        "25.05",
        "6172849.0615",
        "20.191",
    ]


# --- CSV byte order mark ------------------------------------------------------------------


def test_csv_starts_with_a_byte_order_mark_unless_turned_off(alice, readings):
    with_bom = content(run(export(alice, columns=[{"id": "value", "label": "Température °C"}])))
    assert with_bom.startswith("\ufeffTempérature °C\r\n".encode())
    request = export(alice, csvBom=False, columns=[{"id": "value", "label": "Température °C"}])
    assert content(run(request)).startswith("Température °C\r\n".encode())


# --- PDF as a reader sees it --------------------------------------------------------------


def test_the_pdf_reads_well(alice, readings):
    Publisher.objects.create(publisher_id=DEVICES[1], name="Boiler room")
    item = {
        "params": {
            "target": {"value": "temperature", "label": "temperature with a long label"},
            "channelId": CHANNEL,
            "subtopic": "s",
            "period": "PT3H",
            "outputFormat": "wide",
        }
    }
    request = export(alice, "pdf", items=[item])
    text = pdf_text(content(run(request)))
    # Local times as people write them; the zone once, in the header.
    assert "2026-01-02 05:30" in text and "2026-01-02 08:00" in text
    assert "T05:30" not in text and "+05:30" not in text
    assert text.count("Asia/Kolkata") == 1
    # Device columns are told apart: a short id that differs, or the catalog's name.
    assert "(a3c9e0d2-5b7f-4e61-8c2a-1f0000000001)" not in text
    assert "(…00000001)" in text and "(Boiler" in text and "room)" in text  # header wraps
    # Headers wrap instead of being cut; each device's series is named twice: its summary,
    # its column header.
    assert text.count("temperature with a long label") == 4 and "label…" not in text
    # Numbers as stored, computed ones settled; no ISO milliseconds.
    assert "12345678.123" in text and "24.98" in text and ".000" not in text
    # The footer says the title once and counts pages.
    footer = [line for line in text.splitlines() if "Page 1 of 1" in line][0]
    assert footer.count("Température °C") == 1


# --- byte-identical re-runs ---------------------------------------------------------------


def test_a_rerun_of_a_slot_gives_the_same_bytes_in_every_format(alice, readings):
    requests = [export(alice, extension) for extension in ("csv", "json", "xlsx", "pdf")]
    first = [content(run(request)) for request in requests]
    ExportJob.objects.all().delete()
    time.sleep(2.1)  # the wall clock moves on (zip dates have a two-second grain)
    assert [content(run(request)) for request in requests] == first


def test_the_xlsx_and_pdf_carry_the_slot_as_their_date(alice, readings):
    xlsx = load_workbook(io.BytesIO(content(run(export(alice, "xlsx")))))
    assert xlsx.properties.created == SLOT.replace(tzinfo=None)
    assert xlsx.properties.modified == SLOT.replace(tzinfo=None)
    ExportJob.objects.all().delete()
    pdf = PdfReader(io.BytesIO(content(run(export(alice, "pdf")))))
    assert pdf.metadata["/CreationDate"].startswith("D:20260102030000")


# --- names --------------------------------------------------------------------------------


def test_a_file_named_after_several_metrics_joins_them_readably(alice, readings):
    item = {
        "params": {
            "target": {"value": "temperature,humidity"},
            "channelId": CHANNEL,
            "subtopic": "s",
            "period": "PT3H",
        }
    }
    data = {"type": "oneTime", "format": {"extension": "csv"}, "items": [item]}
    request = save_spec(parse_request(data, owner=alice))
    job = run(request)
    assert "temperature-humidity" in job.file.name
    expanded = export(alice, items=[item], template="expanded")
    with zipfile.ZipFile(io.BytesIO(content(run(expanded, SLOT + timedelta(hours=1))))) as zf:
        assert zf.namelist() == ["temperature-humidity.csv"]


def test_an_items_filename_names_its_sheet(alice, readings):
    item = {
        "params": {
            "target": {"value": "temperature"},
            "channelId": CHANNEL,
            "subtopic": "s",
            "period": "PT3H",
        },
        "filename": "Boiler",
    }
    sheets = load_workbook(io.BytesIO(content(run(export(alice, "xlsx", items=[item])))))
    assert sheets.sheetnames == ["Boiler"]


# --- empty exports ------------------------------------------------------------------------


def empty_item(name="temperature"):
    return {
        "params": {
            "target": {"value": name},
            "channelId": CHANNEL,
            "subtopic": "s",
            "period": "PT1H",
        }
    }


@pytest.mark.parametrize(
    ("metric", "reason", "said"),
    [
        ("temperature", EmptyReason.NO_DATA, "0 — no data for the metrics in the window"),
        ("temprature", EmptyReason.NO_METRICS, "0 — none of the metrics exist"),
    ],
)
def test_an_empty_export_is_done_with_zero_rows_and_says_why(alice, readings, metric, reason, said):
    request = export(alice, items=[empty_item(metric)])
    job = run(request, START + timedelta(days=30))
    assert (job.row_count, job.empty_reason) == (0, reason)
    with job.file.open("rb") as fh:
        assert list(csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig"))) == [
            ["publisher", "channel", "name", "time", "value", "created"]
        ]
    facts = facts_for_job(job, "http://x/d/1")
    assert facts.rows == said and facts.empty == reason.label


def test_a_message_told_to_skip_empty_exports_stays_silent_and_others_say_no_data(
    alice, readings, django_capture_on_commit_callbacks, settings, redis_conn
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    messages = [
        {"medium": "email", "title": "quiet", "skipEmpty": True},
        {"medium": "email", "title": "loud"},
    ]
    request = export(alice, items=[empty_item()], notification={"messages": messages})
    assert dump_request(request)["notification"]["messages"][0]["skipEmpty"] is True
    job = run(request, START + timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        job_finished(job.pk)
    assert [d.message.title for d in Delivery.objects.all()] == ["loud"]
    from notifications.jobs import deliver

    deliver(Delivery.objects.get().pk)
    [sent] = mail.outbox
    assert "0 — no data for the metrics in the window" in sent.body
    full = run(request, SLOT)  # with rows, both speak
    with django_capture_on_commit_callbacks(execute=True):
        job_finished(full.pk)
    assert Delivery.objects.filter(job=full).count() == 2


# --- XLSX times and row estimates ---------------------------------------------------------


def test_xlsx_times_are_real_datetimes_with_milliseconds_only_when_they_have_some(alice, readings):
    job = run(export(alice, "xlsx", columns=[{"id": "time", "label": "t"}]))
    sheet = load_workbook(io.BytesIO(content(job))).worksheets[0]
    first = next(sheet.iter_rows(min_row=2, max_row=2))[0]
    assert first.value == datetime(2026, 1, 2, 5, 30)  # local wall time in Kolkata
    assert ".000" not in first.number_format and "yy" in first.number_format


def test_the_row_estimate_comes_from_the_catalog_and_matches_the_rows(alice):
    from exports.data.ingestion import store_records
    from exports.data.senml import NormalisedRecord
    from exports.engine.tables import estimate_rows

    records = [
        NormalisedRecord(name="temperature", unit="Cel", time=START + timedelta(minutes=i), value=i)
        for i in range(240)
    ]
    store_records(
        records, {"channel": CHANNEL, "subtopic": "s", "publisher": DEVICES[0], "protocol": "senml"}
    )
    request = export(alice)
    Message.objects.filter(channel=CHANNEL).delete()  # the estimate must not scan messages
    assert abs(estimate_rows(request, SLOT) - 180) <= 2  # [00:00, 03:00) of 4 h of minutes


# --- the pages ------------------------------------------------------------------------------


def test_the_page_saves_decimals_the_bom_switch_and_skip_empty(client, alice, redis_conn):
    from django.urls import reverse

    from exports.data.catalog import record_messages
    from exports.models import ExportRequest
    from tests.test_views import form_data

    at = datetime(2025, 1, 1, tzinfo=UTC)
    record_messages(
        [Message(channel="c1", subtopic="events.data", publisher="p", name="temperature", time=at)]
    )
    client.force_login(alice)
    new = client.get(reverse("exports:create")).content.decode()
    assert 'name="decimals"' in new and 'name="csv_bom"' in new and "checked" in new
    data = form_data(decimals="3", **{"messages-0-skip_empty": "on"})  # csv_bom left unticked
    response = client.post(reverse("exports:create"), data)
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert (export.decimals, export.csv_bom) == (3, False)
    assert export.messages.get().skip_empty is True
    bad = client.post(reverse("exports:create"), form_data(name="Other", decimals="11"))
    assert bad.status_code == 422 and ExportRequest.objects.count() == 1
    assert "less than or equal to 10" in bad.content.decode()


def test_the_admin_edits_the_output_options_and_lists_why_a_job_was_empty(
    client, admin_user, alice, readings
):
    from django.urls import reverse

    request = export(alice, items=[empty_item("temprature")])
    run(request, START + timedelta(days=30))
    client.force_login(admin_user)
    page = client.get(reverse("admin:exports_exportrequest_change", args=[request.pk]))
    text = page.content.decode()
    assert 'name="decimals"' in text and 'name="csv_bom"' in text and "skip_empty" in text
    jobs = client.get(reverse("admin:exports_exportjob_changelist")).content.decode()
    assert "none of the metrics exist" in jobs
