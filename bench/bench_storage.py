"""Benchmark of export-file storage in S3 (moto's server on 127.0.0.1) against raw boto3.

Not a test: run it by hand to check uploads and downloads stay near boto3's own speed and
that a download streams (first bytes at once, flat memory) instead of buffering the file.

    .venv/bin/python bench/bench_storage.py            # a 100 MB file, median of 3 runs
    .venv/bin/python bench/bench_storage.py --mb 20 --repeat 1

moto's server runs in its own process; every case runs in a subprocess of its own, so each
peak RSS growth (peak minus the RSS before the transfer) is its own. Cases:
  upload    raw: boto3 upload_fileobj    ours: ExportS3Storage.save (what a job does)
  download  raw: get_object, read 64 KiB at a time
            ours: exports.files.downloads.file_response (open_stream + FileResponse)
            for scale: django-storages' own open() + read(), which fetches the whole
            object before the first byte
  local     FileSystemStorage save + streamed read of the same file, for reference
Targets: ours/raw throughput >= 0.8; streamed download growth < 50 MB. The uploads' growth
is boto3's (multipart parts buffered by its transfer threads), the same for raw and ours.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _s3server import start_moto_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHUNK = 64 * 1024
KEY = "bench/export.csv"
CASES = ("upload-raw", "upload-ours", "download-raw", "download-ours", "download-open", "local")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def storage(endpoint: str, bucket: str):
    import django

    os.environ.update(
        DJANGO_SETTINGS_MODULE="exporter_site.settings",
        EXPORTS_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=endpoint,
        AWS_S3_REGION_NAME="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    django.setup()
    from exports.files.storage import export_storage

    return export_storage()


def run_case(case: str, endpoint: str, bucket: str, path: str) -> dict:
    """One measurement in this process; returns seconds, first-byte seconds and growth."""
    from django.core.files import File

    size = os.path.getsize(path)
    s3 = client(endpoint) if case.endswith("raw") else None
    store = None if s3 else storage(endpoint, bucket)
    if case == "local":
        from django.core.files.storage import FileSystemStorage

        store = FileSystemStorage(location=tempfile.mkdtemp(prefix="bench-storage-"))
    name = None
    if store is not None and case != "local":
        # Connect (and load boto3's models) before timing, as raw's client already did.
        store.exists("bench/warm-up")
        if case.startswith("download"):
            name = "bench/" + next(iter(store.listdir("bench")[1]))
    base = rss_mb()
    first = None
    start = time.perf_counter()
    if case == "upload-raw":
        with open(path, "rb") as handle:
            s3.upload_fileobj(handle, bucket, KEY + ".raw")
    elif case == "upload-ours":
        with open(path, "rb") as handle:
            store.save(KEY, File(handle))
    elif case == "download-raw":
        body = s3.get_object(Bucket=bucket, Key=KEY)["Body"]
        while body.read(CHUNK):
            first = first or time.perf_counter()
    elif case == "download-ours":
        from datetime import UTC, datetime

        from exports.files.downloads import file_response
        from exports.models import ExportJob, ExportRequest

        # Unsaved rows: file_response needs the job's file, name and slot, not the database.
        request = ExportRequest(name="bench", timezone="UTC", extension="csv")
        job = ExportJob(request=request, slot=datetime(2026, 1, 1, tzinfo=UTC), file=name)
        job.content_type = "text/csv"
        for _chunk in file_response(job):
            first = first or time.perf_counter()
    elif case == "download-open":
        with store.open(name, "rb") as handle:
            while handle.read(CHUNK):
                first = first or time.perf_counter()
    elif case == "local":
        with open(path, "rb") as handle:
            name = store.save("export.csv", File(handle))
        with store.open(name, "rb") as handle:
            while handle.read(CHUNK):
                first = first or time.perf_counter()
    seconds = time.perf_counter() - start
    return {
        "case": case,
        "seconds": seconds,
        "mb_s": size / 2**20 / seconds,
        "first_byte_ms": None if first is None else (first - start) * 1000,
        "growth_mb": peak_mb() - base,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="file size in MB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median shown)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--bucket", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    if args.case:
        print(json.dumps(run_case(args.case, args.endpoint, args.bucket, args.path)))
        return

    server, endpoint = start_moto_server()
    try:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client(endpoint).create_bucket(Bucket=bucket)
        with tempfile.NamedTemporaryFile(suffix=".csv") as data:
            line = b"sensor-001,4c1a8e9b-6f3d-4b7a,temperature,2026-03-28T13:00:00+01:00,21.5\n"
            block = line * (2**20 // len(line))
            for _ in range(args.mb):  # a MB at a time: a child inherits this process's peak RSS
                data.write(block)
            data.flush()
            results = {}
            for case in CASES:
                runs = []
                for _ in range(args.repeat):
                    output = subprocess.run(
                        [sys.executable, __file__, "--case", case, "--endpoint", endpoint]
                        + ["--bucket", bucket, "--path", data.name],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    runs.append(json.loads(output.strip().splitlines()[-1]))
                results[case] = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"{args.mb} MB file, moto S3 server on 127.0.0.1, chunks of {CHUNK // 1024} KiB, "
        f"median of {args.repeat}"
    )
    print(f"{'case':<15}{'seconds':>9}{'MB/s':>9}{'first byte':>12}{'growth MB':>11}")
    for result in results.values():
        first = result["first_byte_ms"]
        first_text = "" if first is None else f"{first:.0f} ms"
        print(
            f"{result['case']:<15}{result['seconds']:>9.2f}{result['mb_s']:>9.1f}"
            f"{first_text:>12}{result['growth_mb']:>11.1f}"
        )
    upload = results["upload-ours"]["mb_s"] / results["upload-raw"]["mb_s"]
    download = results["download-ours"]["mb_s"] / results["download-raw"]["mb_s"]
    print(f"upload ours/raw {upload:.2f}, download ours/raw {download:.2f} (target >= 0.8)")
    growth = results["download-ours"]["growth_mb"]
    print(f"streamed download growth {growth:.1f} MB (target < 50)")


if __name__ == "__main__":
    main()
