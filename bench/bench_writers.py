"""Benchmark of the format writers against the raw libraries they are built on.

Not a test: run it by hand to check the writers stay fast and flat in memory.

    .venv/bin/python bench/bench_writers.py               # 1,000,000 rows, PDF 10,000
    .venv/bin/python bench/bench_writers.py --rows 200000 --pdf-rows 5000

Rows are the default column set (publisher, channel, name, time, value, created)
with times in Europe/Rome, cycled from a pool of 10,000 made in memory, so the
source costs next to nothing and holds a few MB. Every case runs in its own
subprocess writing to a temporary file, so each peak RSS is its own; "growth" is
the peak minus the RSS just before writing (interpreter and imports excluded).

Cases, each ours against the raw library doing the least that produces the format:
  csv   csv.writer.writerow(row) (datetimes through str())      target ratio >= 0.5
  json  json.dumps(dict(zip(headers, row)), default=str) a row  target ratio >= 0.5
  xlsx  openpyxl write-only append, naive datetimes             target ratio >= 0.8
  pdf   one reportlab platypus table of all rows, repeatRows=1  target ratio >= 0.5
  xhtml2pdf: the naive HTML table, for scale only (--xhtml2pdf-rows, 0 to skip)
Peak growth for the streamed formats must stay under 200 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import cycle, islice
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exporter_site.settings")

HEADERS = ["publisher", "channel", "name", "time", "value", "created"]
POOL_SIZE = 10_000
TARGETS = {"csv": 0.5, "json": 0.5, "xlsx": 0.8, "pdf": 0.5}
MEMORY_LIMIT_MB = 200


def row_pool() -> list[tuple]:
    """10,000 distinct rows as the export engine produces them (aware local datetimes)."""
    rome = ZoneInfo("Europe/Rome")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    rows = []
    for i in range(POOL_SIZE):
        moment = (start + timedelta(seconds=15 * i)).astimezone(rome)
        rows.append(
            (
                f"sensor-{i % 50:03d}",
                "4c1a8e9b-6f3d-4b7a-9c2e-1d5f0a7b3e61",
                "temperature" if i % 2 else "humidity",
                moment,
                20.0 + (i % 997) * 0.013,
                moment + timedelta(milliseconds=37),
            )
        )
    return rows


def rows(count: int) -> Iterator[tuple]:
    return islice(cycle(row_pool()), count)


def info():
    from exports.writers import ReportInfo

    return ReportInfo(
        title="Bench report",
        request_name="Bench",
        timezone="Europe/Rome",
        window="2026-03-28T13:00:00+01:00 – 2026-04-01T00:00:00+02:00",
        generated_at=datetime.now(UTC),
    )


def ours(extension: str) -> Callable[[int, io.BufferedIOBase], None]:
    def run(count: int, sink) -> None:
        from exports.writers import WRITERS, Table

        WRITERS[extension]().write([Table("data", HEADERS, rows(count))], sink, info())

    return run


def raw_csv(count: int, sink) -> None:
    import csv

    text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    for row in rows(count):
        writer.writerow(row)
    text.detach()


def raw_json(count: int, sink) -> None:
    write = sink.write
    write(b"[")
    separator = b"\n"
    for row in rows(count):
        write(separator + json.dumps(dict(zip(HEADERS, row, strict=True)), default=str).encode())
        separator = b",\n"
    write(b"\n]\n")


def raw_xlsx(count: int, sink) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(HEADERS)
    for p, c, n, t, v, cr in rows(count):
        # openpyxl refuses aware datetimes: the least any caller must do.
        sheet.append([p, c, n, t.replace(tzinfo=None), v, cr.replace(tzinfo=None)])
    workbook.save(sink)


def raw_pdf(count: int, sink) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    data = [HEADERS] + [
        [str(value) for value in row[:3]] + [row[3].isoformat(), str(row[4]), row[5].isoformat()]
        for row in rows(count)
    ]
    doc = SimpleDocTemplate(sink, pagesize=A4)
    table = Table(data, colWidths=[doc.width / 6] * 6, repeatRows=1)
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 7)]))
    doc.build([table])


def xhtml2pdf_table(count: int, sink) -> None:
    from xhtml2pdf import pisa

    cells = "".join(
        "<tr>" + "".join(f"<td>{value}</td>" for value in row) + "</tr>" for row in rows(count)
    )
    head = "".join(f"<th>{label}</th>" for label in HEADERS)
    html = (
        "<html><body><table repeat='1' style='font-size:7pt'>"
        f"<thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></body></html>"
    )
    pisa.CreatePDF(html, dest=sink)


CASES: dict[str, Callable[[int, io.BufferedIOBase], None]] = {
    "csv-raw": raw_csv,
    "csv-ours": ours("csv"),
    "json-raw": raw_json,
    "json-ours": ours("json"),
    "xlsx-raw": raw_xlsx,
    "xlsx-ours": ours("xlsx"),
    "pdf-raw": raw_pdf,
    "pdf-ours": ours("pdf"),
    "pdf-xhtml2pdf": xhtml2pdf_table,
}


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(case: str, count: int) -> None:
    """Run one case in this process and print its measurements as JSON."""
    run = CASES[case]
    run(10, io.BytesIO())  # imports and first-call costs are not what we measure
    with tempfile.TemporaryFile() as sink:
        before = rss_mb()
        start = time.perf_counter()
        run(count, sink)
        seconds = time.perf_counter() - start
        size = sink.tell()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak": peak, "growth": peak - before, "bytes": size}))


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
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for CSV, JSON, XLSX")
    parser.add_argument("--pdf-rows", type=int, default=10_000, help="rows for the PDF cases")
    parser.add_argument("--xhtml2pdf-rows", type=int, default=1_000, help="0 skips the case")
    parser.add_argument("--only", nargs="*", default=["csv", "json", "xlsx", "pdf"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return

    print("| format | rows | raw rows/s | ours rows/s | ratio (target) | ours peak / growth MB |")
    print("|---|---|---|---|---|---|")
    failures = []
    for extension in args.only:
        count = args.pdf_rows if extension == "pdf" else args.rows
        raw, mine = measure(f"{extension}-raw", count), measure(f"{extension}-ours", count)
        raw_speed, our_speed = count / raw["seconds"], count / mine["seconds"]
        ratio = our_speed / raw_speed
        if ratio < TARGETS[extension]:
            failures.append(f"{extension} ratio {ratio:.2f} < {TARGETS[extension]}")
        if extension != "pdf" and mine["growth"] >= MEMORY_LIMIT_MB:
            failures.append(f"{extension} grew {mine['growth']:.0f} MB")
        print(
            f"| {extension} | {count:,} | {raw_speed:,.0f} | {our_speed:,.0f} "
            f"| {ratio:.2f} (≥ {TARGETS[extension]}) "
            f"| {mine['peak']:.0f} / {mine['growth']:.0f} (raw {raw['peak']:.0f} / "
            f"{raw['growth']:.0f}) |",
            flush=True,
        )
    if "pdf" in args.only and args.xhtml2pdf_rows:
        naive = measure("pdf-xhtml2pdf", args.xhtml2pdf_rows)
        print(
            f"| pdf via xhtml2pdf (scale only) | {args.xhtml2pdf_rows:,} "
            f"| {args.xhtml2pdf_rows / naive['seconds']:,.0f} | – | – "
            f"| {naive['peak']:.0f} / {naive['growth']:.0f} |"
        )
    print("\nall targets met" if not failures else "\nMISSED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
