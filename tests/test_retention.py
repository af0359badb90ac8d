"""pruneexports: retention by age, then a total-size cap, oldest first."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from exports.models import ExportJob, ExportRequest, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_(alice):
    return ExportRequest.objects.create(owner=alice, name="Temps")


def make_done_job(request_, age_days: float, size: int) -> ExportJob:
    finished = timezone.now() - timedelta(days=age_days)
    job = ExportJob.objects.create(
        request=request_, slot=finished, status=JobStatus.DONE, finished_at=finished, size=size
    )
    job.file.save(f"job{job.pk}.csv", ContentFile(b"x" * size))
    return job


def test_it_expires_jobs_past_retention_and_deletes_their_files(request_, settings, capsys):
    settings.EXPORTS_RETENTION = "P7D"
    old = make_done_job(request_, 8, 10)
    fresh = make_done_job(request_, 1, 20)
    old_name = old.file.name
    call_command("pruneexports")
    assert "Expired 1 job(s) past retention" in capsys.readouterr().out
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == JobStatus.EXPIRED
    assert not old.file.storage.exists(old_name)
    assert fresh.status == JobStatus.DONE and fresh.file.storage.exists(fresh.file.name)


def test_it_enforces_the_size_cap_oldest_first(request_, settings):
    settings.EXPORTS_RETENTION = "P30D"
    oldest = make_done_job(request_, 3, 100)
    middle = make_done_job(request_, 2, 100)
    newest = make_done_job(request_, 1, 100)
    call_command("pruneexports", max_bytes=150)
    statuses = [
        j.status
        for j in ExportJob.objects.filter(pk__in=[oldest.pk, middle.pk, newest.pk]).order_by(
            "finished_at"
        )
    ]
    assert statuses == [JobStatus.EXPIRED, JobStatus.EXPIRED, JobStatus.DONE]


def test_it_leaves_failed_and_running_jobs_alone(request_, settings):
    settings.EXPORTS_RETENTION = "P1D"
    long_ago = timezone.now() - timedelta(days=10)
    failed = ExportJob.objects.create(
        request=request_, slot=long_ago, status=JobStatus.FAILED, finished_at=long_ago
    )
    call_command("pruneexports")
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED


def test_deleting_a_request_deletes_its_files_after_commit(
    request_, django_capture_on_commit_callbacks
):
    job = make_done_job(request_, 1, 10)
    name = job.file.name
    with django_capture_on_commit_callbacks(execute=True):
        request_.delete()
    assert not job.file.storage.exists(name)
