"""Hardening: rerunning a finished slot replaces its file, and retention sweeps orphans.

``runexport <id> --slot`` on a finished job once stored a second file and re-pointed the job,
leaving the first behind; now the rerun deletes it first (``lifecycle.requeue``) and gives the
same bytes. Files older versions orphaned are deleted by the prune (local storage and S3),
never one a job names nor one younger than a day.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from exports.files.retention import prune, sweep_orphans
from exports.models import ExportJob, JobStatus
from tests.test_jobs import make_request, readings  # noqa: F401 - a fixture
from tests.test_storage_s3 import bucket, done_job, s3_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def stored_files(media: Path) -> list[Path]:
    return sorted(path for path in media.rglob("*") if path.is_file())


def make_old(path: Path, days: float = 2) -> None:
    moment = (timezone.now() - timedelta(days=days)).timestamp()
    os.utime(path, (moment, moment))


def test_rerunning_a_finished_slot_leaves_one_file_with_the_same_bytes(
    alice,
    readings,  # noqa: F811 - the fixture imported above
    media,
    tmp_path,
    capsys,
):
    request = make_request(alice)
    out = tmp_path / "out"
    runs = []
    for _ in range(3):
        call_command("runexport", str(request.pk), slot="2026-01-10T01:00:00Z", out=str(out))
        runs.append(Path(capsys.readouterr().out.strip()).read_bytes())
        assert len(stored_files(media)) == 1
    job = ExportJob.objects.get()
    assert job.status == JobStatus.DONE
    [stored] = stored_files(media)
    assert job.file.path == str(stored)
    assert runs[0] == runs[1] == runs[2] == stored.read_bytes()


def done_job_with_file(alice, name="kept.csv"):
    job = ExportJob.objects.create(
        request=make_request(alice),
        slot=timezone.now().replace(microsecond=0),
        status=JobStatus.DONE,
        content_type="text/csv",
        finished_at=timezone.now(),
    )
    job.file.save(name, ContentFile(b"time,value\n1,2\n"))
    return job


def test_prune_deletes_old_orphans_only(alice, media):
    job = done_job_with_file(alice)
    make_old(Path(job.file.path), days=3)  # old, but a job names it
    orphan = media / "exports/2025/01/01/orphan.csv"
    young = media / "exports/2025/01/02/being-written.csv"
    outside = media / "elsewhere/not-ours.csv"
    for path in (orphan, young, outside):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
    make_old(orphan)
    make_old(outside)
    result = prune()
    assert result.orphans_deleted == 1 and result.expired_by_age == 0
    assert not orphan.exists()
    assert young.exists() and outside.exists() and Path(job.file.path).exists()
    assert prune().orphans_deleted == 0


def test_a_partial_export_a_killed_worker_left_is_swept_once_old(media):
    """A worker killed while writing leaves its spool file in exports/.partial/ (the local
    disk's files are written there and renamed into place): the orphan sweep takes it."""
    from exports.files.storage import PARTIAL_DIR

    left = media / PARTIAL_DIR / "export-abc123"
    writing = media / PARTIAL_DIR / "export-def456"
    for path in (left, writing):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    make_old(left)
    assert sweep_orphans() == 1
    assert not left.exists() and writing.exists()


def test_the_sweep_finds_no_storage_folder_as_nothing_to_do(media):
    assert sweep_orphans() == 0


def test_prune_sweeps_orphans_in_the_bucket(done_job, bucket):  # noqa: F811 - fixtures
    bucket.client.put_object(Bucket=bucket.name, Key="exports/2025/01/01/orphan.csv", Body=b"x")
    bucket.client.put_object(Bucket=bucket.name, Key="other/keep.csv", Body=b"x")
    assert prune(now=timezone.now()).orphans_deleted == 0  # too young yet
    result = prune(now=timezone.now() + timedelta(days=2))
    assert result.orphans_deleted == 1
    assert sorted(bucket.keys()) == sorted([done_job.file.name, "other/keep.csv"])
