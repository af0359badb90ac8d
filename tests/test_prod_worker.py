"""Stopping a worker never kills its export (issue 17, item 1): the shipped unit's keys, a
SIGTERM to every process of a worker mid-export, and ``manage.py drainworkers``."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from exports.models import JobStatus
from exports.queue.ondemand import run_now
from tests.test_faults import (
    ROWS,
    SLOW_WORKER,
    STARTED,
    file_bytes,
    make_request,
    readings,  # noqa: F401 - a fixture
    reference_bytes,
    stop,
)
from tests.test_scheduler import ROOT, database_for_subprocesses, subprocess_env, wait_for

# The same slowed-down worker as the fault tests, but a long-running one (as systemd runs it),
# not a burst worker that would exit by itself.
LONG_RUNNING_WORKER = SLOW_WORKER.replace('"exports", "--burst")', '"exports")')
assert LONG_RUNNING_WORKER != SLOW_WORKER


def unit(name: str) -> configparser.ConfigParser:
    """A deploy/ unit file read as systemd reads its keys (sections, key=value)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((ROOT / "deploy" / name).read_text())
    return parser


def seconds(timespan: str) -> float:
    """A systemd time span ("6h 5min", "90", "30s") in seconds."""
    units = {"h": 3600, "min": 60, "s": 1, "ms": 0.001}
    total = 0.0
    for part in timespan.split():
        number = part.rstrip("hmins")
        suffix = part[len(number) :] or "s"
        total += float(number) * units[suffix]
    return total


def test_the_worker_unit_stops_only_the_worker_and_waits_for_the_longest_job():
    service = unit("exporter-worker@.service")["Service"]
    # SIGTERM to the main process only; the cgroup is SIGKILLed only past TimeoutStopSec.
    assert service["KillMode"] == "mixed"
    assert service["KillSignal"] == "SIGTERM"
    # An RQ job may run EXPORTS_JOB_TIMEOUT, and RQ gives it a minute more before killing it.
    assert seconds(service["TimeoutStopSec"]) > django_settings.EXPORTS_JOB_TIMEOUT + 60
    # A drained worker exits 0 and must stay stopped; a crashed one comes back.
    assert service["Restart"] == "on-failure"


def test_the_web_and_scheduler_units_stop_gracefully():
    web = unit("exporter-web.service")["Service"]
    assert web["KillMode"] == "mixed" and web["Type"] == "notify"
    scheduler = unit("exporter-scheduler.service")["Service"]
    assert seconds(scheduler["TimeoutStopSec"]) >= 30 and scheduler["Restart"] == "always"


def start_worker(media_root: str, database_url: str) -> subprocess.Popen:
    """`manage.py runworker exports`, slowed down, in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-c", LONG_RUNNING_WORKER, media_root],
        cwd=ROOT,
        env=subprocess_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("readings")
def test_sigterm_to_every_process_of_a_worker_mid_export_lets_the_job_finish(
    alice,
    redis_conn,
    settings,
):
    expected = reference_bytes(alice)
    job = run_now(make_request(alice))
    with database_for_subprocesses() as url:
        worker = start_worker(settings.MEDIA_ROOT, url)
        try:
            wait_for(lambda: redis_conn.get(STARTED), 60, "the export to start")
            job_pk, horse, _ = redis_conn.get(STARTED).decode().split(":")
            # What systemd's default KillMode=control-group, or `kill -TERM -<pgid>`, does:
            # SIGTERM to the worker's process group and to its horse (a group of its own).
            os.killpg(worker.pid, signal.SIGTERM)
            os.killpg(int(horse), signal.SIGTERM)
            # A warm shutdown: the worker exits by itself, once the export is done.
            assert worker.wait(timeout=120) == 0, worker.stderr.read()
        finally:
            stop(worker)
    assert int(job_pk) == job.pk
    job.refresh_from_db()
    assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 1, ROWS)
    assert file_bytes(job) == expected


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("readings")
def test_drainworkers_stops_a_busy_worker_after_its_job(alice, redis_conn, settings):
    job = run_now(make_request(alice))
    with database_for_subprocesses() as url:
        worker = start_worker(settings.MEDIA_ROOT, url)
        try:
            wait_for(lambda: redis_conn.get(STARTED), 60, "the export to start")
            call_command("drainworkers", "--wait", "120")
            assert worker.wait(timeout=30) == 0
        finally:
            stop(worker)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.row_count) == (JobStatus.DONE, 1, ROWS)
    # Nothing left to drain.
    call_command("drainworkers")
