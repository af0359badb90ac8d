"""Ingest benchmark (not a test): HTTP ingest and `manage.py ingest` against a raw baseline.

Usage:  .venv/bin/python bench/bench_ingest.py [--records 20000] [--repeat 3]

One SenML pack of N records (base name, base time, base unit, relative times) is stored in a
fresh SQLite database per case, in one run:
  * raw baseline: ``json.loads`` of the pack and a plain sqlite3 ``executemany`` of rows that
    were resolved beforehand (no validation, no catalog);
  * ``manage.py ingest`` (check pass + store pass through ``store_records``, catalog kept);
  * ``POST /api/channels/{channel}/messages/{subtopic}`` through the whole Django stack
    in-process (bearer token, throttle, parser, resolve, check, ``store_records``).
Prints the median records/s of each case and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANNEL, SUBTOPIC, PUBLISHER = "bench-channel", "events.data", "bench-device"


def make_pack(records: int) -> list[dict]:
    pack = [{"bn": "bench:", "bt": 1_767_225_600, "bu": "Cel", "n": "temperature", "v": 20.0}]
    pack += [
        {"n": "temperature", "t": index, "v": 20 + index % 50 / 10} for index in range(1, records)
    ]
    return pack


def migrated_template(workdir: Path) -> Path:
    template = workdir / "template.sqlite3"
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{template}")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], check=True, env=env
    )
    return template


def run_case(case: str, template: Path, pack_path: Path, workdir: Path) -> float:
    """Run one case in a child process on a fresh copy of the database; returns seconds."""
    db = workdir / f"{case}.sqlite3"
    shutil.copy(template, db)
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db}")
    out = subprocess.run(
        [sys.executable, __file__, "--case", case, "--pack", str(pack_path)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def child(case: str, pack_path: Path) -> float:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/minute")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS.append("testserver")
    settings.INGEST_MAX_BYTES = 1 << 30
    body = pack_path.read_bytes()

    if case == "raw":
        from exports.data.senml import parse_pack

        resolved = parse_pack(json.loads(body), now=time.time())
        rows = [
            (CHANNEL, SUBTOPIC, PUBLISHER, "senml", r.name, r.unit, r.time.isoformat(), r.value)
            for r in resolved
        ]
        connection = sqlite3.connect(settings.DATABASES["default"]["NAME"])
        start = time.perf_counter()
        json.loads(body)
        with connection:
            connection.executemany(
                "INSERT INTO exports_message (channel, subtopic, publisher, protocol, name, unit,"
                " time, value, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, datetime('now'))",
                rows,
            )
        return time.perf_counter() - start

    if case == "command":
        import io

        from django.core.management import call_command

        start = time.perf_counter()
        call_command(
            "ingest",
            str(pack_path),
            channel=CHANNEL,
            subtopic=SUBTOPIC,
            publisher=PUBLISHER,
            stdout=io.StringIO(),
        )
        return time.perf_counter() - start

    from django.contrib.auth import get_user_model
    from django.test import Client

    from exports.models import ApiToken

    staff = get_user_model().objects.create_superuser("bench", "bench@example.com", "x")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(staff, 'bench')[1]}")
    client.get("/api/series")  # warm up: the first request imports and resolves the URLconf
    start = time.perf_counter()
    response = client.post(
        f"/api/channels/{CHANNEL}/messages/{SUBTOPIC}?publisher={PUBLISHER}",
        body,
        content_type="application/senml+json",
    )
    elapsed = time.perf_counter() - start
    assert response.status_code == 202, response.content[:500]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--pack", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(child(args.case, Path(args.pack)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        pack_path = workdir / "pack.json"
        pack_path.write_text(json.dumps(make_pack(args.records)))
        template = migrated_template(workdir)
        print(f"{args.records} SenML records, {pack_path.stat().st_size / 1e6:.1f} MB, SQLite")
        medians = {}
        for case in ("raw", "command", "http"):
            times = [run_case(case, template, pack_path, workdir) for _ in range(args.repeat)]
            medians[case] = statistics.median(times)
        for case, label in (
            ("raw", "raw baseline (json + sqlite3 executemany)"),
            ("command", "manage.py ingest"),
            ("http", "POST /api/channels/…/messages/…"),
        ):
            rate = args.records / medians[case]
            ratio = medians[case] / medians["raw"]
            print(f"  {label:44s} {rate:>10,.0f} records/s  {ratio:5.1f}× baseline time")


if __name__ == "__main__":
    main()
