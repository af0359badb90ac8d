"""Export files in an S3 bucket (EXPORTS_STORAGE=s3), against moto's S3 server on 127.0.0.1.

Jobs run in a real RQ burst worker and upload through django-storages; downloads go
through the pages and capability links; retention deletes objects; the endpoint going
away (a proxy in front of it is cut) is a transient failure that is retried.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import django_rq
import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rq import SimpleWorker

from exports.files.downloads import STORAGE_RETRY_AFTER
from exports.files.retention import prune
from exports.models import ExportJob, JobStatus, Message
from exports.queue.dispatch import dispatch
from exports.queue.namespace import queue_name
from exports.queue.runner import create_job, run_job
from notifications.links import create_link
from notifications.models import DownloadLog
from tests.builders import one_day_of_temperature
from tests.s3 import ACCESS_KEY, REGION, SECRET_KEY, FaultProxy, S3Server
from tests.test_api import bearer, issue

CHANNEL = "chan-s3"
START = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3_server():
    server = S3Server()
    server.start()
    yield server
    server.stop()


class Bucket:
    """A fresh bucket on the moto server, and a client of our own to look inside it."""

    def __init__(self, server: S3Server):
        self.name = f"exports-{uuid.uuid4().hex[:12]}"
        self.client = boto3.client(
            "s3",
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        self.client.create_bucket(Bucket=self.name)

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return [entry["Key"] for entry in listing.get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.name, Key=key)
        except ClientError:
            return False
        return True


def store_exports_in(settings, bucket: Bucket, endpoint_url: str) -> None:
    """Point the default storage (and so ``ExportJob.file``) at ``bucket`` via ``endpoint_url``."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "exports.files.s3.ExportS3Storage",
            "OPTIONS": {
                "bucket_name": bucket.name,
                "endpoint_url": endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
            },
        },
    }


@pytest.fixture
def bucket(s3_server, settings, monkeypatch):
    # Credentials are explicit; never let boto3 look for an instance role on the network.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = Bucket(s3_server)
    store_exports_in(settings, bucket, s3_server.url)
    return bucket


@pytest.fixture
def proxy(s3_server):
    """A cuttable path to the S3 server: the endpoint that the storage is given in fault tests."""
    proxy = FaultProxy(s3_server.port)
    proxy.start()
    yield proxy
    proxy.stop()


def add_readings(count: int) -> None:
    Message.objects.bulk_create(
        Message(
            channel=CHANNEL,
            subtopic="events.data",
            publisher="dev-1",
            name="temperature",
            unit="Cel",
            time=START + timedelta(seconds=10 * i),
            value=float(i),
        )
        for i in range(count)
    )


def make_request(owner, name: str = "Boiler room"):
    return one_day_of_temperature(owner, name=name, channel=CHANNEL, start=START)


SLOT = START + timedelta(days=1)


def run_in_worker(job: ExportJob, max_jobs: int | None = None) -> ExportJob:
    """Hand the job to RQ as the scheduler does and let a real burst worker run it."""
    dispatch()
    django_rq.get_worker(queue_name("exports"), worker_class=SimpleWorker).work(
        burst=True, max_jobs=max_jobs
    )
    job.refresh_from_db()
    return job


@pytest.fixture
def done_job(alice, bucket, db):
    """A job run by ``run_job``, the code a worker runs (the first test uses a real worker)."""
    add_readings(12)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    assert job.status == JobStatus.DONE, job.error
    return job


def download_path(job: ExportJob) -> str:
    return reverse("exports:job-download", args=[job.request_id, job.pk])


# --- storing ---------------------------------------------------------------------------------


def test_a_worker_stores_a_finished_export_as_one_object_in_the_bucket(
    alice, bucket, settings, redis_conn, transactional_db
):
    add_readings(12)
    done_job = run_in_worker(create_job(make_request(alice), SLOT))
    assert done_job.status == JobStatus.DONE, done_job.error
    assert bucket.keys() == [done_job.file.name]
    content = bucket.read(done_job.file.name)
    assert len(content) == done_job.size and done_job.row_count == 12
    assert b",2026-01-10T01:00:00.000+01:00,0," in content.splitlines()[1]  # Rome time
    assert done_job.file.name.endswith("/Boiler_room_2026-01-11T0100.csv")
    assert not list(Path(settings.MEDIA_ROOT).rglob("Boiler_room_*"))  # nothing on local disk


def test_the_worker_builds_the_s3_client_before_it_forks_and_a_horse_stores_with_it(
    bucket, redis_conn
):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from exports.queue.worker import PreloadingWorker

    PreloadingWorker([queue_name("exports")], connection=redis_conn)
    inherited = default_storage._connections.connection  # built in the parent, no request made
    assert bucket.keys() == []
    child = os.fork()
    if child == 0:  # a work horse: RQ forks one per job
        status = 1
        try:
            same = default_storage.connection is inherited
            name = default_storage.save("horse/probe.txt", ContentFile(b"from the horse"))
            status = 0 if same and name == "horse/probe.txt" else 2
        finally:
            os._exit(status)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert bucket.read("horse/probe.txt") == b"from the horse"


def test_a_rerun_of_the_same_slot_gets_an_object_of_its_own(done_job, bucket, alice):
    # A retried or reaped attempt never overwrites (or deletes) another attempt's object.
    ExportJob.objects.filter(pk=done_job.pk).update(status=JobStatus.NOT_PROCESSED, file="")
    again = run_job(done_job.pk)
    assert again.status == JobStatus.DONE
    assert again.file.name != done_job.file.name
    assert sorted(bucket.keys()) == sorted([done_job.file.name, again.file.name])


def test_runexport_copies_the_file_out_of_the_bucket(done_job, bucket, tmp_path, capsys):
    call_command("runexport", str(done_job.request_id), slot=SLOT.isoformat(), out=str(tmp_path))
    copied = Path(capsys.readouterr().out.strip())
    assert copied.read_bytes() == bucket.read(done_job.file.name)


# --- downloading -----------------------------------------------------------------------------


def test_the_page_streams_the_object_with_the_download_name_and_headers(done_job, bucket, client):
    client.force_login(done_job.request.owner)
    response = client.get(download_path(done_job))
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == bucket.read(done_job.file.name)
    assert response["Content-Type"] == done_job.content_type == "text/csv; charset=utf-8"
    assert response["Content-Length"] == str(done_job.size)
    assert response["Content-Disposition"] == (
        'attachment; filename="Boiler_room_2026-01-11T0100.csv"'
    )
    assert "no-store" in response["Cache-Control"]


def test_another_user_cannot_download_from_the_bucket(done_job, bob, client):
    client.force_login(bob)
    assert client.get(download_path(done_job)).status_code == 404


def test_a_capability_link_streams_the_object_and_logs_the_download(done_job, bucket, client):
    _, token = create_link(done_job)
    response = client.get(reverse("notifications:download", args=[token]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == bucket.read(done_job.file.name)
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert DownloadLog.objects.filter(job=done_job).count() == 1


def test_the_api_streams_the_object_and_says_503_when_the_bucket_is_unreachable(
    alice, bucket, proxy, settings
):
    store_exports_in(settings, bucket, proxy.url)
    add_readings(3)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    api = bearer(issue(alice))
    response = api.get(f"/api/jobs/{job.pk}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == bucket.read(job.file.name)
    proxy.stop()
    response = api.get(f"/api/jobs/{job.pk}/download")
    assert response.status_code == 503
    assert "unreachable" in response.json()["errors"][0]["message"]
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER)


def test_with_redirects_on_a_download_goes_to_a_short_lived_presigned_url(
    done_job, bucket, client, settings
):
    settings.EXPORTS_DOWNLOAD_REDIRECT = True
    client.force_login(done_job.request.owner)
    response = client.get(download_path(done_job))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{bucket.client.meta.endpoint_url}/{bucket.name}/")
    assert "X-Amz-Expires=60" in location and "X-Amz-Signature=" in location
    with urllib.request.urlopen(location, timeout=10) as answer:  # the bucket itself answers
        assert answer.read() == bucket.read(done_job.file.name)
        assert answer.headers["Content-Type"] == done_job.content_type
        assert answer.headers["Content-Disposition"] == (
            'attachment; filename="Boiler_room_2026-01-11T0100.csv"'
        )


def test_with_redirects_on_a_capability_link_redirects_and_is_logged(done_job, client, settings):
    settings.EXPORTS_DOWNLOAD_REDIRECT = True
    _, token = create_link(done_job)
    response = client.get(reverse("notifications:download", args=[token]))
    assert response.status_code == 302 and "X-Amz-Signature=" in response["Location"]
    assert DownloadLog.objects.filter(job=done_job).count() == 1


@pytest.mark.parametrize("redirect", [False, True])
def test_an_object_deleted_from_the_bucket_is_gone_for_page_and_link(
    done_job, bucket, client, settings, redirect
):
    settings.EXPORTS_DOWNLOAD_REDIRECT = redirect
    bucket.client.delete_object(Bucket=bucket.name, Key=done_job.file.name)
    _, token = create_link(done_job)
    link_response = client.get(reverse("notifications:download", args=[token]))
    assert link_response.status_code == 410 and not link_response.has_header("Retry-After")
    client.force_login(done_job.request.owner)
    response = client.get(download_path(done_job))
    assert response.status_code == 410 and not response.has_header("Retry-After")
    assert b"missing from storage" in response.content


def test_an_unreachable_bucket_is_a_503_not_a_missing_file(alice, bucket, proxy, client, settings):
    store_exports_in(settings, bucket, proxy.url)
    add_readings(3)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    _, token = create_link(job)
    proxy.stop()
    client.force_login(alice)
    response = client.get(download_path(job))
    assert response.status_code == 503
    assert b"unreachable right now" in response.content
    assert response["Retry-After"] == str(STORAGE_RETRY_AFTER)
    link_response = client.get(reverse("notifications:download", args=[token]))
    assert link_response.status_code == 503
    assert b"File storage is unreachable right now." in link_response.content
    assert link_response["Retry-After"] == str(STORAGE_RETRY_AFTER)
    settings.EXPORTS_DOWNLOAD_REDIRECT = True
    redirected = client.get(download_path(job))
    assert redirected.status_code == 503 and redirected["Retry-After"] == str(STORAGE_RETRY_AFTER)


# --- retention -------------------------------------------------------------------------------


def test_retention_deletes_the_object_and_links_then_say_gone(done_job, bucket, client):
    _, token = create_link(done_job)
    result = prune(now=timezone.now() + timedelta(days=8))
    assert result.expired_by_age == 1
    assert not bucket.exists(done_job.file.name) and bucket.keys() == []
    done_job.refresh_from_db()
    assert done_job.status == JobStatus.EXPIRED
    assert client.get(reverse("notifications:download", args=[token])).status_code == 410


def test_retention_keeps_the_job_when_the_bucket_is_down_and_deletes_it_later(
    alice, bucket, proxy, settings
):
    store_exports_in(settings, bucket, proxy.url)
    add_readings(3)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    later = timezone.now() + timedelta(days=8)
    proxy.stop()
    assert prune(now=later).expired_by_age == 0
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and bucket.exists(job.file.name)
    proxy.start()
    assert prune(now=later).expired_by_age == 1
    assert not bucket.exists(job.file.name)


def test_deleting_a_request_deletes_its_objects_after_commit(
    done_job, bucket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done_job.request.delete()
    assert bucket.keys() == []


def test_deleting_a_request_while_the_bucket_is_down_still_deletes_the_request(
    alice, bucket, proxy, settings, django_capture_on_commit_callbacks
):
    store_exports_in(settings, bucket, proxy.url)
    add_readings(3)
    job = run_job(create_job(make_request(alice), SLOT).pk)
    proxy.stop()
    with django_capture_on_commit_callbacks(execute=True):
        job.request.delete()  # the object stays behind (logged); the deletion is not an error
    assert not ExportJob.objects.filter(pk=job.pk).exists()
    assert bucket.keys() == [job.file.name]


# --- the endpoint going away mid-upload --------------------------------------------------------


@pytest.mark.fault
def test_the_endpoint_dying_mid_upload_is_transient_and_the_retry_completes(
    alice, bucket, proxy, settings, redis_conn, transactional_db
):
    settings.EXPORTS_MAX_ATTEMPTS = 3
    store_exports_in(settings, bucket, proxy.url)
    add_readings(8000)  # a file of about 400 KB, so the cut lands inside the request body
    job = create_job(make_request(alice), SLOT)
    proxy.cut_after(b"PUT /", 150_000)

    # The burst worker would take a retry at once; the backoff keeps the job waiting instead,
    # so a short outage does not use up every attempt.
    job = run_in_worker(job)

    assert proxy.cuts == 1
    assert job.status == JobStatus.NOT_PROCESSED and job.attempts == 1
    assert job.retry_at > timezone.now() + timedelta(seconds=20)
    assert "StorageUnavailable" in job.error and "127.0.0.1" not in job.error
    assert bucket.keys() == []  # no partial object, and the job has no file
    assert not job.file

    ExportJob.objects.filter(pk=job.pk).update(retry_at=timezone.now())  # the backoff passed
    proxy.start()  # the endpoint is back; the scheduler's dispatch hands the job out again
    job = run_in_worker(job)

    assert job.status == JobStatus.DONE and job.attempts == 2, job.error
    assert bucket.keys() == [job.file.name]
    content = bucket.read(job.file.name)
    assert len(content) == job.size and job.row_count == 8000
    assert content.count(b"\n") == 8001


# --- health ----------------------------------------------------------------------------------


def test_healthz_checks_the_bucket(bucket, proxy, client, settings, redis_conn):
    store_exports_in(settings, bucket, proxy.url)
    assert client.get("/healthz").json()["checks"]["storage"] == {"ok": True}
    proxy.stop()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == {"ok": False, "error": "StorageUnavailable"}
    assert bucket.name not in response.content.decode()


# --- configuration from the environment --------------------------------------------------------


def test_the_environment_alone_configures_the_bucket(s3_server, tmp_path):
    """EXPORTS_STORAGE=s3 and django-storages' own variable names, in a fresh process."""
    bucket = Bucket(s3_server)
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "exporter_site.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "EXPORTS_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket.name,
        "AWS_S3_ENDPOINT_URL": s3_server.url,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    script = (
        "from django.core.files.base import ContentFile\n"
        "from exports.models import ExportJob\n"
        "storage = ExportJob._meta.get_field('file').storage\n"
        "name = storage.save('exports/from-env.csv', ContentFile(b'a,b\\n1,2\\n'))\n"
        "print(type(storage._wrapped).__name__, name)\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    backend, name = result.stdout.split()
    assert (backend, name) == ("ExportS3Storage", "exports/from-env.csv")
    assert bucket.read(name) == b"a,b\n1,2\n"
