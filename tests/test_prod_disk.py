"""A full temporary disk (issue 17, item 4): an XLSX export that cannot write its sheet is a
transient failure (retried), and leaves no temporary file behind.

The disk is really full: each sheet's temporary file is a link to /dev/full, where every
write fails with ENOSPC from the kernel (no mount or privilege needed).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl.worksheet import _writer as sheet_writer

from exports.models import ExportJob, JobStatus, Message
from exports.queue import lifecycle
from exports.queue.runner import create_job, is_transient, run_job
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def full_temp_disk(tmp_path, monkeypatch):
    """openpyxl's sheet files go to ``tmp_path``, each one a disk with no space left."""
    folder = tmp_path / "tmp"
    folder.mkdir()

    def create_temporary_file(suffix: str = "") -> str:
        path = str(folder / f"openpyxl.{len(os.listdir(folder))}{suffix}.xml")
        os.symlink("/dev/full", path)
        sheet_writer.ALL_TEMP_FILES.append(path)
        return path

    monkeypatch.setattr(sheet_writer, "create_temporary_file", create_temporary_file)
    return folder


@pytest.fixture
def xlsx_request(alice):
    Message.objects.bulk_create(
        Message(
            channel="disk",
            subtopic="events.data",
            publisher="dev-1",
            name="temperature",
            unit="Cel",
            time=START + timedelta(seconds=10 * i),
            value=float(i),
        )
        for i in range(5000)
    )
    spec = parse_request(
        {
            "name": "Full disk",
            "type": "oneTime",
            "format": {"extension": "xlsx", "timezone": "UTC"},
            "items": [
                {
                    "params": {
                        "target": {"value": "temperature"},
                        "channelId": "disk",
                        "subtopic": "events.data",
                        "from": START.isoformat(),
                        "to": (START + timedelta(days=1)).isoformat(),
                    }
                }
            ],
        },
        owner=alice,
    )
    return save_spec(spec)


@pytest.mark.django_db
def test_an_xlsx_export_on_a_full_temp_disk_is_retried_and_leaves_no_temp_file(
    xlsx_request, full_temp_disk, settings, monkeypatch
):
    settings.EXPORTS_MAX_ATTEMPTS = 3
    job = create_job(xlsx_request, START + timedelta(days=1))
    assert lifecycle.hand_over(job.pk, 0, "test-disk-1", START)
    job = run_job_as(job.pk, "test-disk-1")
    # Transient: back to waiting for its retry, not failed at once.
    assert (job.status, job.attempts, job.stage) == (JobStatus.NOT_PROCESSED, 1, "retry")
    assert job.retry_at is not None and "IO_ENOSPC" in job.error and "no space" in job.error
    assert not job.file
    assert os.listdir(full_temp_disk) == []  # the sheet file is gone with the attempt
    assert not [p for p in sheet_writer.ALL_TEMP_FILES if str(full_temp_disk) in p]
    # Space is back: the retry writes the file.
    monkeypatch.undo()
    ExportJob.objects.filter(pk=job.pk).update(retry_at=None)
    assert lifecycle.hand_over(job.pk, 1, "test-disk-2", START)
    job = run_job_as(job.pk, "test-disk-2")
    assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 2, 5000)


def run_job_as(job_pk: int, rq_job_id: str) -> ExportJob:
    from unittest import mock

    with mock.patch("exports.queue.lifecycle._current_rq_job", return_value=(rq_job_id, "w")):
        return run_job(job_pk)


def test_lxml_write_errors_are_transient_and_other_lxml_errors_are_not():
    from lxml.etree import SerialisationError

    assert is_transient(SerialisationError("IO_ENOSPC"))
    assert is_transient(SerialisationError("IO_EIO"))
    assert not is_transient(SerialisationError("unknown encoding"))
    assert is_transient(OSError(28, "No space left on device"))
