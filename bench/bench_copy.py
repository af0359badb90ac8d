"""Large exports on PostgreSQL against the database's own COPY (issue 21 §2; not a test).

Usage:  DATABASE_URL=postgres://… .venv/bin/python bench/bench_copy.py [--rows 1000000] [--runs 2]

Fills the database of ``DATABASE_URL`` (migrated here) with ``--rows`` messages of one series
(once: rows already there are reused; the series catalog filled as the ingest path keeps
it), then measures in one run, each case as its own process
(wall time, start-up included, and that process's peak RSS from ``wait4``):
  * COPY: ``psql -c "COPY (SELECT to_char(time, …), name, value …) TO STDOUT CSV"`` with
    ``TimeZone`` set, to a file: the baseline;
  * ``manage.py exportnow`` of a CSV and a JSON request of the same rows and columns (time,
    name, value), on the fast path (the database formats the rows) and, for comparison, with
    ``EXPORT_FAST_PATH = False`` (today's path through Python rows);
  * the six default columns, against a COPY of the same six columns.
Each case runs ``--best`` times, interleaved, and the fastest counts; the ratio is COPY's wall
time over the case's (target ≥ 0.5); the load average is printed, since the machine may be
shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TZ = "Europe/Rome"
CHANNEL, SUBTOPIC, NAME = "bench-copy", "events.data", "temperature"
START = 1767225600  # 2026-01-01T00:00:00Z
TIME = "to_char(time, 'YYYY-MM-DD\"T\"HH24:MI:SS.MSTZH:TZM')"
WHERE = (
    f"FROM exports_message WHERE channel = '{CHANNEL}' AND subtopic = '{SUBTOPIC}'"
    f" AND name = '{NAME}' AND time >= to_timestamp({START}) AND time < to_timestamp({{end}})"
)
COPY_SQL = {
    "three": f"SELECT {TIME}, name, value {WHERE} ORDER BY time",
    "six": (
        f"SELECT publisher, channel, name, {TIME}, value, {TIME.replace('time', 'created', 1)}"
        f" {WHERE} ORDER BY time"
    ),
}


def psql_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (postgres://…)")
    return url


def prepare(rows: int) -> None:
    """Migrate, add the bench user, and insert the rows unless they are there already."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="exporter_site.settings")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], check=True, env=env)
    script = (
        "from django.contrib.auth import get_user_model\n"
        "u, _ = get_user_model().objects.get_or_create(username='bench')\n"
        "u.is_superuser = u.is_staff = True; u.save()\n"
    )
    subprocess.run([*manage, "shell", "-c", script], check=True, env=env, capture_output=True)
    count = psql(f"SELECT count(*) {WHERE.format(end=START + rows)}").strip()
    if int(count) != rows:
        psql(f"DELETE FROM exports_message WHERE channel = '{CHANNEL}'")
        psql(
            "INSERT INTO exports_message (channel, subtopic, publisher, protocol, name, unit,"
            " time, value, created) SELECT"
            f" '{CHANNEL}', '{SUBTOPIC}', 'dev-' || (i % 4), 'senml', '{NAME}', 'Cel',"
            f" to_timestamp({START} + i), round((20 + random() * 5)::numeric, 3)::float8,"
            f" to_timestamp({START}) FROM generate_series(0, {rows - 1}) AS i"
        )
        # The series catalog, as the ingest path keeps it (row estimates read it).
        psql(f"DELETE FROM exports_series WHERE channel = '{CHANNEL}'")
        psql(
            "INSERT INTO exports_series (channel, subtopic, publisher, name, unit, count,"
            " first_time, last_time) SELECT channel, subtopic, publisher, name, max(unit),"
            f" count(*), min(time), max(time) FROM exports_message WHERE channel = '{CHANNEL}'"
            " GROUP BY channel, subtopic, publisher, name"
        )
        psql("VACUUM ANALYZE exports_message")


def psql(sql: str, *, out: str | None = None, zone: str | None = None) -> str:
    command = ["psql", psql_url(), "-X", "-q", "-A", "-t"]
    if zone:
        command += ["-c", f"SET TimeZone = '{zone}'"]
    command += ["-c", sql]
    if out:
        command += ["-o", out]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def timed(command: list[str], env: dict | None = None) -> dict:
    """Run ``command``; its wall seconds and peak RSS (MB) from ``wait4``."""
    began = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if status:
        raise SystemExit(f"{command[:4]} failed with status {status}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


def request_file(folder: Path, extension: str, rows: int, columns: list[str] | None) -> Path:
    data = {
        "name": f"bench-copy-{extension}-{len(columns or [])}",
        "type": "oneTime",
        "format": {"extension": extension, "timezone": TZ},
        "items": [
            {
                "params": {
                    "target": {"value": NAME},
                    "channelId": CHANNEL,
                    "subtopic": SUBTOPIC,
                    "from": START,
                    "to": START + rows,
                }
            }
        ],
    }
    if columns:
        data["format"]["columns"] = [{"id": column, "label": column} for column in columns]
    path = folder / f"{data['name']}.json"
    path.write_text(json.dumps(data))
    return path


def exportnow(folder: Path, request: Path, *, fast: bool) -> dict:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="exporter_site.settings")
    if not fast:  # today's path: the same settings with the fast path turned off
        (folder / "slow_settings.py").write_text(
            "from exporter_site.settings import *  # noqa: F403\nEXPORT_FAST_PATH = False\n"
        )
        env.update(DJANGO_SETTINGS_MODULE="slow_settings", PYTHONPATH=str(folder))
    out = folder / "out"
    command = [sys.executable, str(ROOT / "manage.py"), "exportnow", str(request)]
    return timed([*command, "--owner", "bench", "--out", str(out)], env)


def keep(results: dict, label: str, result: dict) -> None:
    """Keep the fastest run of ``label`` (and the highest peak RSS of all its runs)."""
    best = results.setdefault(label, result)
    if result["seconds"] < best["seconds"]:
        best["seconds"] = result["seconds"]
    best["peak_mb"] = max(best["peak_mb"], result["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--best", type=int, default=3, help="the fastest of this many")
    parser.add_argument("--slow", action="store_true", help="also run today's path")
    args = parser.parse_args()
    if not shutil.which("psql"):
        raise SystemExit("the COPY baseline needs psql")
    prepare(args.rows)
    # Bytecode, as an installed site has it (pip compiles what it installs; an editable
    # checkout under PYTHONDONTWRITEBYTECODE would compile every module at every start).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "exports", "notifications", "exporter_site"],
        cwd=ROOT,
        check=True,
    )
    end = START + args.rows
    with tempfile.TemporaryDirectory(prefix="exporter-copy-") as tmp:
        folder = Path(tmp)
        requests = {
            "csv": request_file(folder, "csv", args.rows, ["time", "name", "value"]),
            "json": request_file(folder, "json", args.rows, ["time", "name", "value"]),
            "csv-six": request_file(folder, "csv", args.rows, None),
        }
        cases = [("csv", True), ("json", True), ("csv-six", True)]
        if args.slow:
            cases += [("csv", False), ("json", False)]
        for run in range(1, args.runs + 1):
            print(f"run {run}: load average {Path('/proc/loadavg').read_text().split()[:3]}")
            results: dict[str, dict] = {}
            # Every case --best times, interleaved; the fastest of each (the machine is
            # shared: the least disturbed run is the one that says what the code costs).
            for _ in range(args.best):
                for shape, sql in COPY_SQL.items():
                    out = str(folder / f"copy-{shape}.csv")
                    sql = f"COPY ({sql.format(end=end)}) TO STDOUT CSV"
                    command = ["psql", psql_url(), "-X", "-q", "-c", f"SET TimeZone = '{TZ}'"]
                    keep(results, f"COPY {shape}", timed([*command, "-c", sql, "-o", out]))
                for name, fast in cases:
                    label = name if fast else f"{name} (today's path)"
                    keep(results, label, exportnow(folder, requests[name], fast=fast))
            print(f"  {'case':<24} {'seconds':>8} {'ratio':>7} {'target':>7} {'peak MB':>8}")
            for label, result in results.items():
                base = "COPY six" if "six" in label else "COPY three"
                ratio = results[base]["seconds"] / result["seconds"]
                target = "" if label.startswith("COPY") else ">=0.5"
                print(
                    f"  {label:<24} {result['seconds']:>8.2f} {ratio:>6.2f}x {target:>7} "
                    f"{result['peak_mb']:>8.0f}"
                )
            print(f"  load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
