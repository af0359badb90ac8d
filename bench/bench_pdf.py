"""Benchmark of the PDF report (header, per-series summary and chart, table) against bare
reportlab platypus on the same rows, measured in the same run.

Not a test: run it by hand.

    .venv/bin/python bench/bench_pdf.py                 # 100,000 rows
    .venv/bin/python bench/bench_pdf.py --rows 20000

The rows are a long table as the engine makes it for the editor's default columns plus the
unit: device name, channel name, metric, time (aware, Europe/Rome, one reading a minute per
device), value, unit; four devices, so the report has four series, each with its summary and
chart. Cases, each in its own subprocess (so each peak RSS is its own):

  raw   bare platypus: the same cells as text (our cell formatting, done inside the timed
        part), tables of 500 rows with fixed column widths and repeatRows=1 on A4 portrait,
        Helvetica 7 pt; no header, summary, chart or footer. A single 100k-row Table would
        be a slower baseline (platypus copies the remaining rows at every page split), so
        the chunked one is the stricter comparison.
  ours  PdfWriter with everything the report has (charts included).

Target: ours ≥ 0.5× raw rows/s. Peak RSS is reported for both (reportlab keeps every page
until it saves, in both cases).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")

HEADERS = ["Device", "Channel", "name", "time", "value", "unit"]
KINDS = ["text", "text", "text", "time", "value", "text"]
DEVICES = ["Greenhouse north", "Greenhouse south", "Boiler room", "Cellar"]
TARGET = 0.5


def make_rows(count: int) -> list[tuple]:
    """``count`` rows, device by device, each device's readings a minute apart."""
    rome = ZoneInfo("Europe/Rome")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    per_device = -(-count // len(DEVICES))
    times = [(start + timedelta(minutes=i)).astimezone(rome) for i in range(per_device)]
    rows = []
    for number, device in enumerate(DEVICES):
        for i, moment in enumerate(times):
            if len(rows) == count:
                break
            value = round(18 + number + 4 * math.sin(i / 700) + (i % 13) * 0.01, 3)
            rows.append((device, "Greenhouse", "temperature", moment, value, "Cel"))
    return rows


def info():
    from exports.rows.tables import ReportInfo

    return ReportInfo(
        title="Bench report",
        request_name="Bench",
        timezone="Europe/Rome",
        window="2026-10-01 02:00 – 2026-11-10 00:00",
        generated_at=datetime(2026, 11, 10, tzinfo=UTC),
    )


def ours(rows: list[tuple], sink) -> None:
    from exports.rows.tables import Table
    from exports.writers.pdf import PdfWriter

    PdfWriter().write([Table("data", HEADERS, rows, kinds=KINDS)], sink, info())


def raw(rows: list[tuple], sink) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    from exports.writers.pdf.cells import pdf_text

    doc = SimpleDocTemplate(sink, pagesize=A4)
    style = TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 7)])
    widths = [doc.width / len(HEADERS)] * len(HEADERS)
    story = []
    for start in range(0, len(rows), 500):
        cells = [[pdf_text(value) for value in row] for row in rows[start : start + 500]]
        story.append(Table([HEADERS, *cells], colWidths=widths, repeatRows=1, style=style))
    doc.build(story)


CASES = {"raw": raw, "ours": ours}


def child(case: str, count: int) -> None:
    import django

    django.setup()
    run = CASES[case]
    run(make_rows(10), io.BytesIO())  # imports, font registration: not what we measure
    rows = make_rows(count)
    with tempfile.TemporaryFile() as sink:
        start = time.perf_counter()
        run(rows, sink)
        seconds = time.perf_counter() - start
        size = sink.tell()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "bytes": size}))


def measure(case: str, count: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", case, "--rows", str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"{args.rows:,} rows, load average {' '.join(load)}")
    results = {case: measure(case, args.rows) for case in ("raw", "ours")}
    print("| case | seconds | rows/s | peak RSS MB | file MB |")
    print("|---|---|---|---|---|")
    for case, result in results.items():
        print(
            f"| {case} | {result['seconds']:.1f} | {args.rows / result['seconds']:,.0f} "
            f"| {result['peak']:.0f} | {result['bytes'] / 1e6:.1f} |"
        )
    ratio = results["raw"]["seconds"] / results["ours"]["seconds"]
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"\nratio ours/raw rows/s: {ratio:.2f} (target ≥ {TARGET}): {verdict}")
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
