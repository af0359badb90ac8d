"""Running a job end to end: the file, its name, the row count, failures, exportnow/runexport."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exports.models import ExportJob, ExportRequest, JobStatus, Message
from exports.queue.runner import create_job, run_job
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec

pytestmark = pytest.mark.django_db
CHANNEL = "chan-1"
START = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture
def readings(db):
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="events.data",
            publisher="dev-1",
            name=name,
            unit="Cel",
            time=START + timedelta(minutes=10 * i),
            value=float(i),
        )
        for name in ("temperature", "humidity")
        for i in range(6)
    )


def make_request(owner, **fmt):
    spec = parse_request(
        {
            "name": "Greenhouse",
            "type": "oneTime",
            "format": {"extension": "csv", "timezone": "Europe/Rome", **fmt},
            "items": [
                {
                    "params": {
                        "target": {"value": "temperature", "label": "Temp"},
                        "channelId": CHANNEL,
                        "subtopic": "events.data",
                        "period": "PT1H",
                    },
                    "filename": "temp",
                },
                {
                    "params": {
                        "target": {"value": "humidity"},
                        "channelId": CHANNEL,
                        "subtopic": "events.data",
                        "period": "PT1H",
                    }
                },
            ],
        },
        owner=owner,
    )
    return save_spec(spec)


SLOT = START + timedelta(hours=1)


def test_a_job_writes_its_file_and_ends_done(alice, readings):
    request = make_request(
        alice,
        columns=[
            {"id": "time", "label": "Ora"},
            {"id": "name", "label": "Metric"},
            {"id": "value", "label": "Valore"},
        ],
    )
    job = run_job(create_job(request, SLOT).pk)
    assert job.status == JobStatus.DONE, job.error
    assert job.row_count == 12 and job.attempts == 1
    assert job.file.name.endswith("Greenhouse_2026-01-10T0200.csv")
    with job.file.open("rb") as fh:
        rows = list(csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig")))
    assert rows[0] == ["Ora", "Metric", "Valore"]
    assert rows[1] == ["2026-01-10T01:00:00.000+01:00", "Temp", "0"]  # whole numbers without .0
    assert job.size == job.file.size
    assert job.started_at <= job.finished_at


def test_windows_are_pinned_when_the_job_is_created(alice, readings):
    request = make_request(alice)
    job = create_job(request, SLOT)
    assert [(w["start"], w["end"]) for w in job.windows] == [
        ("2026-01-10T00:00:00+00:00", "2026-01-10T01:00:00+00:00")
    ] * 2
    request.items.update(period="PT10M")  # an edit after the job was created
    job = run_job(job.pk)
    assert job.row_count == 12


def test_expanded_csv_is_a_zip_with_one_file_per_item(alice, readings):
    request = make_request(alice, template="expanded")
    job = run_job(create_job(request, SLOT).pk)
    assert job.file.name.endswith(".zip")
    with job.file.open("rb") as fh:
        assert zipfile.ZipFile(fh).namelist() == ["temp.csv", "humidity.csv"]


def test_a_job_runs_once_even_if_asked_twice(alice, readings):
    job = create_job(make_request(alice), SLOT)
    run_job(job.pk)
    again = run_job(job.pk)
    assert again.attempts == 1 and again.status == JobStatus.DONE


def test_a_request_that_cannot_be_exported_fails_with_the_error(alice, readings):
    request = make_request(alice)
    job = create_job(request, SLOT)
    request.items.all().delete()
    job = run_job(job.pk)
    assert job.status == JobStatus.FAILED
    assert "no items" in job.error
    assert not job.file


def write_request_file(tmp_path, **overrides):
    data = {
        "name": "Greenhouse",
        "type": "oneTime",
        "format": {"extension": "json", "timezone": "UTC"},
        "items": [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": CHANNEL,
                    "subtopic": "events.data",
                }
            }
        ],
    }
    data.update(overrides)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(data))
    return path


def test_exportnow_creates_runs_and_copies_the_file(alice, readings, tmp_path, capsys):
    path = write_request_file(tmp_path)
    call_command(
        "exportnow",
        str(path),
        owner="alice",
        out=str(tmp_path / "out"),
        slot="2026-01-10T01:00:00Z",
    )
    printed = capsys.readouterr().out.strip()
    assert printed.endswith("Greenhouse_2026-01-10T0100.json")
    with open(printed, encoding="utf-8-sig") as fh:
        rows = json.load(fh)
    assert len(rows) == 6 and rows[0]["time"] == "2026-01-10T00:00:00.000+00:00"
    assert ExportJob.objects.get().status == JobStatus.DONE


@pytest.mark.parametrize(
    "overrides, options, message",
    [
        ({"format": {"extension": "docx"}}, {}, "format.extension"),
        ({}, {"slot": "tomorrow"}, "--slot"),
        ({}, {"owner": "nobody"}, "No user named"),
    ],
)
def test_exportnow_refuses_bad_input_with_a_clear_message(
    alice, tmp_path, overrides, options, message
):
    path = write_request_file(tmp_path, **overrides)
    kwargs = {"owner": "alice", "out": str(tmp_path / "out"), **options}
    with pytest.raises(CommandError, match=message):
        call_command("exportnow", str(path), **kwargs)
    assert ExportRequest.objects.count() == 0


def test_runexport_reruns_a_slot_and_gives_the_same_file(alice, readings, tmp_path, capsys):
    request = make_request(alice)
    out = tmp_path / "out"
    call_command("runexport", str(request.pk), slot="2026-01-10T01:00:00Z", out=str(out))
    first_path = Path(capsys.readouterr().out.strip())
    first = first_path.read_bytes()
    call_command("runexport", str(request.pk), slot="2026-01-10T01:00:00Z", out=str(out))
    second = Path(capsys.readouterr().out.strip()).read_bytes()
    assert first == second and first.count(b"\n") == 13
    assert ExportJob.objects.count() == 1


def test_runexport_reports_an_unknown_request():
    with pytest.raises(CommandError, match="No export request"):
        call_command("runexport", "12345")


def test_a_transient_failure_is_retried_then_succeeds(alice, readings, monkeypatch, settings):
    from exports.writers.csv import CsvWriter

    settings.EXPORTS_MAX_ATTEMPTS = 3
    original = CsvWriter.write
    calls = []

    def flaky_write(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk briefly unavailable")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CsvWriter, "write", flaky_write)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    assert job.status == JobStatus.NOT_PROCESSED and job.enqueued_at is None
    assert "attempt 1 failed: OSError: disk briefly unavailable" in job.error
    job = run_job(job.pk)
    assert job.status == JobStatus.DONE and job.attempts == 2


def test_a_transient_failure_waits_out_a_doubling_backoff_before_it_is_handed_out_again(
    alice, readings, monkeypatch, settings, redis_conn
):
    from django.utils import timezone

    from exports.queue.lifecycle import due_jobs
    from exports.writers.csv import CsvWriter

    settings.EXPORTS_MAX_ATTEMPTS = 3
    settings.EXPORTS_RETRY_BACKOFF = 30

    def broken_write(self, *args, **kwargs):
        raise OSError("bucket briefly unreachable")

    monkeypatch.setattr(CsvWriter, "write", broken_write)
    before = timezone.now()
    job = run_job(create_job(make_request(alice), SLOT).pk)

    assert job.status == JobStatus.NOT_PROCESSED and job.attempts == 1
    assert before + timedelta(seconds=30) <= job.retry_at <= timezone.now() + timedelta(seconds=30)
    # Not due inside the backoff, due after it: the dispatcher only hands out due jobs.
    assert not due_jobs(before + timedelta(seconds=29)).filter(pk=job.pk).exists()
    assert due_jobs(job.retry_at).filter(pk=job.pk).exists()

    second = timezone.now()
    job = run_job(job.pk)
    assert job.attempts == 2 and job.retry_at >= second + timedelta(seconds=60)


def test_a_transient_failure_on_the_last_attempt_fails_the_job(
    alice, readings, monkeypatch, settings
):
    from exports.writers.csv import CsvWriter

    settings.EXPORTS_MAX_ATTEMPTS = 1

    def broken_write(self, *args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(CsvWriter, "write", broken_write)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    assert job.status == JobStatus.FAILED and job.error == "OSError: disk gone"


def test_a_local_file_is_moved_into_place_and_nothing_partial_stays(
    alice, readings, monkeypatch, settings
):
    """On the local disk the export is written beside the storage's files and renamed into
    place (not copied); a failed attempt leaves no partial file behind."""
    import os

    from django.core.files import move

    from exports.files.storage import PARTIAL_DIR
    from exports.writers.csv import CsvWriter

    moved = []
    real_move = move.file_move_safe

    def spy(old, new, *args, **kwargs):
        moved.append((os.stat(old).st_ino, old))
        return real_move(old, new, *args, **kwargs)

    monkeypatch.setattr(move, "file_move_safe", spy)
    monkeypatch.setattr("django.core.files.storage.filesystem.file_move_safe", spy)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    assert job.status == JobStatus.DONE, job.error
    ((inode, old),) = moved
    assert os.path.dirname(old) == job.file.storage.path(PARTIAL_DIR)
    assert os.stat(job.file.path).st_ino == inode  # the same file, renamed
    assert os.listdir(job.file.storage.path(PARTIAL_DIR)) == []
    with job.file.open("rb") as handle:
        assert handle.read().startswith(b"\xef\xbb\xbf")  # whole, as written

    settings.EXPORTS_MAX_ATTEMPTS = 1

    def failing_write(self, tables, sink, *args, **kwargs):
        sink.write(b"half a file")
        raise ValueError("writer broke")

    monkeypatch.setattr(CsvWriter, "write", failing_write)
    job = run_job(create_job(make_request(alice), SLOT + timedelta(hours=1)).pk)
    assert job.status == JobStatus.FAILED and "writer broke" in job.error
    assert not job.file
    assert os.listdir(job.file.storage.path(PARTIAL_DIR)) == []
