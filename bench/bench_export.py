"""End-to-end export benchmark (not a test): raw baselines vs the project's exports.

Usage:  .venv/bin/python bench/bench_export.py [--rows 1000000] [--pdf-rows 10000]

Generates N messages in a fresh SQLite database, then measures in one run, each case in
its own process so peak memory (max RSS) is the case's own:
  * raw baseline: a plain sqlite3 cursor writing the same rows with csv.writer, times
    converted to Europe/Rome;
  * the project's CSV, JSON and XLSX exports of the same rows (run_job: read, shape,
    convert, write, store) — the ratio is against that baseline (XLSX also against raw
    openpyxl write-only);
  * PDF for ``--pdf-rows`` rows against a raw reportlab table of the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Rome"
CHANNEL, SUBTOPIC, NAME = "bench-channel", "events.data", "temperature"
START = datetime(2026, 1, 1, tzinfo=UTC)


def django_setup(db_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")
    os.environ.setdefault("MEDIA_ROOT", str(Path(db_path).parent / "media"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(db_path: str, rows: int) -> None:
    """Create the schema with migrate, then insert ``rows`` messages with plain sqlite3."""
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{db_path}")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], check=True, env=env
    )
    rng = random.Random(42)
    conn = sqlite3.connect(db_path)
    created = START.strftime("%Y-%m-%d %H:%M:%S")
    batch = []
    for index in range(rows):
        stamp = (START + timedelta(seconds=index)).strftime("%Y-%m-%d %H:%M:%S")
        batch.append(
            (
                CHANNEL,
                SUBTOPIC,
                f"dev-{index % 4}",
                "senml",
                NAME,
                "Cel",
                stamp,
                round(20 + rng.random() * 5, 3),
                created,
            )
        )
        if len(batch) == 50_000:
            _insert(conn, batch)
            batch = []
    if batch:
        _insert(conn, batch)
    conn.commit()
    conn.close()


def _insert(conn, batch) -> None:
    conn.executemany(
        "INSERT INTO exports_message (channel, subtopic, publisher, protocol, name, unit, time,"
        " value, created) VALUES (?,?,?,?,?,?,?,?,?)",
        batch,
    )


def window(rows: int) -> tuple[datetime, datetime]:
    return START, START + timedelta(seconds=rows)


def raw_rows(db_path: str, rows: int):
    """The baseline's reading: a plain cursor, times parsed and converted to the zone."""
    import zoneinfo

    zone = zoneinfo.ZoneInfo(TZ)
    start, end = window(rows)
    conn = sqlite3.connect(db_path)
    cursor = conn.execute(
        "SELECT publisher, channel, name, time, value, created FROM exports_message"
        " WHERE channel=? AND subtopic=? AND name=? AND time>=? AND time<? ORDER BY time",
        (
            CHANNEL,
            SUBTOPIC,
            NAME,
            start.strftime("%Y-%m-%d %H:%M:%S"),
            end.strftime("%Y-%m-%d %H:%M:%S"),
        ),
    )
    parse = datetime.fromisoformat
    for publisher, channel, name, stamp, value, created in cursor:
        yield (
            publisher,
            channel,
            name,
            parse(stamp).replace(tzinfo=UTC).astimezone(zone),
            value,
            parse(created).replace(tzinfo=UTC).astimezone(zone),
        )


def case_raw_csv(db_path: str, rows: int) -> int:
    import csv

    count = 0
    with open(os.devnull, "w", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(["publisher", "channel", "name", "time", "value", "created"])
        for row in raw_rows(db_path, rows):
            writer.writerow(
                (
                    row[0],
                    row[1],
                    row[2],
                    row[3].isoformat(timespec="milliseconds"),
                    row[4],
                    row[5].isoformat(timespec="milliseconds"),
                )
            )
            count += 1
    return count


def case_raw_xlsx(db_path: str, rows: int) -> int:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(["publisher", "channel", "name", "time", "value", "created"])
    count = 0
    for row in raw_rows(db_path, rows):
        sheet.append(
            [
                row[0],
                row[1],
                row[2],
                row[3].replace(tzinfo=None),
                row[4],
                row[5].replace(tzinfo=None),
            ]
        )
        count += 1
    with tempfile.TemporaryFile() as sink:
        workbook.save(sink)
    return count


def case_raw_pdf(db_path: str, rows: int) -> int:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    data = [["publisher", "channel", "name", "time", "value", "created"]]
    for row in raw_rows(db_path, rows):
        data.append(
            [
                row[0],
                row[1],
                row[2],
                row[3].isoformat(timespec="milliseconds"),
                str(row[4]),
                row[5].isoformat(timespec="milliseconds"),
            ]
        )
    width = landscape(A4)[0] - 72
    table = Table(data, colWidths=[width / 6] * 6, repeatRows=1)
    table.setStyle(
        TableStyle(
            [("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 7)]
        )
    )
    with tempfile.TemporaryFile() as sink:
        SimpleDocTemplate(sink, pagesize=landscape(A4)).build([table])
    return len(data) - 1


def case_project(db_path: str, rows: int, extension: str) -> int:
    django_setup(db_path)
    from django.contrib.auth import get_user_model

    from exports.queue.runner import create_job, run_job
    from exports.requests.schema import parse_request
    from exports.requests.spec import save_spec

    owner, _ = get_user_model().objects.get_or_create(username="bench")
    start, end = window(rows)
    spec = parse_request(
        {
            "name": f"bench-{extension}",
            "type": "oneTime",
            "format": {"extension": extension, "timezone": TZ},
            "items": [
                {
                    "params": {
                        "target": {"value": NAME},
                        "channelId": CHANNEL,
                        "subtopic": SUBTOPIC,
                        "from": start.timestamp(),
                        "to": end.timestamp(),
                    }
                }
            ],
        },
        owner=owner,
    )
    request = save_spec(spec)
    job = run_job(create_job(request, end).pk)
    if job.status != "done":
        raise SystemExit(f"{extension} export failed: {job.error}")
    return job.row_count


CASES = {
    "raw-csv": case_raw_csv,
    "raw-xlsx": case_raw_xlsx,
    "raw-pdf": case_raw_pdf,
    "csv": lambda db, n: case_project(db, n, "csv"),
    "json": lambda db, n: case_project(db, n, "json"),
    "xlsx": lambda db, n: case_project(db, n, "xlsx"),
    "pdf": lambda db, n: case_project(db, n, "pdf"),
}


def run_case(name: str, db_path: str, rows: int) -> dict:
    """Run one case in a fresh process; return rows, seconds and that process's peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, "--db", db_path, "--rows", str(rows)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pdf-rows", type=int, default=10_000)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:  # child process: run one case and report
        import resource

        began = time.perf_counter()
        count = CASES[args.case](args.db, args.rows)
        seconds = time.perf_counter() - began
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"rows": count, "seconds": seconds, "peak_mb": peak_mb}))
        return

    with tempfile.TemporaryDirectory(prefix="exporter-bench-") as tmp:
        db_path = str(Path(tmp) / "bench.sqlite3")
        began = time.perf_counter()
        generate(db_path, args.rows)
        print(f"generated {args.rows:,} messages in {time.perf_counter() - began:.1f} s\n")
        results = {}
        for name in ("raw-csv", "csv", "json", "raw-xlsx", "xlsx"):
            results[name] = run_case(name, db_path, args.rows)
        for name in ("raw-pdf", "pdf"):
            results[name] = run_case(name, db_path, args.pdf_rows)
        baselines = {
            "csv": "raw-csv",
            "json": "raw-csv",
            "xlsx": "raw-xlsx",
            "pdf": "raw-pdf",
            "raw-xlsx": "raw-csv",
        }
        targets = {"csv": 0.5, "json": 0.5, "xlsx": 0.8, "pdf": 0.5}
        print(
            f"{'case':<9} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'ratio':>14} "
            f"{'target':>7} {'peak MB':>8}"
        )
        for name, result in results.items():
            rate = result["rows"] / result["seconds"]
            base = baselines.get(name)
            ratio = ""
            if base:
                base_rate = results[base]["rows"] / results[base]["seconds"]
                ratio = f"{rate / base_rate:.2f}x {base}"
            target = f">={targets[name]}" if name in targets else ""
            print(
                f"{name:<9} {result['rows']:>10,} {result['seconds']:>8.2f} {rate:>9,.0f} "
                f"{ratio:>14} {target:>7} {result['peak_mb']:>8.0f}"
            )


if __name__ == "__main__":
    main()
