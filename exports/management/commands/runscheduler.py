"""``manage.py runscheduler``: the scheduler loop (safe to run in several processes)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from exports.files.retention import prune_if_due
from exports.iam import publish_pending_events
from exports.ops.json_logging import JsonFormatter
from exports.queue.dispatch import dispatch
from exports.queue.reaper import reap
from exports.scheduling import conf
from exports.scheduling.scheduler import schedule_due
from notifications import dispatch as deliveries

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the export scheduler: each tick reaps jobs whose worker died, creates the jobs of "
        "due recurring requests, hands waiting jobs to this installation's RQ 'exports' queue "
        "(<instance>:exports) fairly across users, hands due notification deliveries (and "
        "retries) to its 'notifications' queue, "
        "re-hands whatever Redis lost, retries unpublished IAM events, and prunes old files "
        "and rows (job rows, IAM events, messages: see their *_RETENTION settings) at most "
        "every EXPORTS_PRUNE_INTERVAL. Several schedulers may run at once. With "
        "LOG_FORMAT=json its lines are JSON objects. "
        "SIGTERM or SIGINT stops it after the current step. "
        "Usage: manage.py runscheduler [--once] [--interval SECONDS]"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Do one tick, print it, exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds to sleep when a tick found nothing to do "
            "(default: EXPORTS_SCHEDULER_INTERVAL, 5).",
        )

    def handle(self, *args, once: bool = False, interval: float | None = None, **options):
        self.stop = threading.Event()
        if once:
            self.tick(verbose=True)
            if self.failed_steps:
                raise CommandError(f"Failed step(s): {', '.join(self.failed_steps)}")
            return
        interval = conf.scheduler_interval() if interval is None else interval
        previous = {
            signum: signal.signal(signum, self.on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        self.say(f"Scheduler started (idle interval {interval:g} s).")
        try:
            while not self.stop.is_set():
                # Loop at once while there is work; sleep only after an idle tick.
                if not self.tick(verbose=False):
                    self.stop.wait(interval)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.say("Scheduler stopped.")

    failed_steps: list[str]

    def on_signal(self, signum, frame) -> None:
        # Only set the flag: the current step finishes its transaction, then the loop exits.
        self.stop.set()

    def tick(self, verbose: bool) -> bool:
        """Run every step once; returns True when any of them did something."""
        close_old_connections()  # a long-running process must not keep dead connections
        self.failed_steps = []
        did_work = False
        for step in (
            self.handle_one_reap,
            self.handle_one_schedule,
            self.handle_one_dispatch,
            self.handle_one_deliveries,
            self.handle_one_publish,
            self.handle_one_prune,
        ):
            if self.stop.is_set():
                break
            did_work |= self.run_step(step, verbose)
        close_old_connections()
        return did_work

    def run_step(self, step: Callable[[bool], bool], verbose: bool) -> bool:
        try:
            return step(verbose)
        except Exception:  # noqa: BLE001 - one failing step (Redis down) must not stop the loop
            log.exception("Scheduler step %s failed", step.__name__)
            self.failed_steps.append(step.__name__)
            return False

    def report(self, verbose: bool, did_work: bool, text: str) -> None:
        if verbose or did_work:
            self.say(text)

    def say(self, text: str) -> None:
        """One line of the scheduler's own output: JSON like every log line with
        ``LOG_FORMAT=json`` (for log collectors), plain text otherwise."""
        if getattr(settings, "LOG_FORMAT", "text") == "json":
            record = logging.makeLogRecord(
                {"name": log.name, "levelno": logging.INFO, "levelname": "INFO", "msg": text}
            )
            text = JsonFormatter().format(record)
        self.stdout.write(text)

    def handle_one_reap(self, verbose: bool) -> bool:
        result = reap()
        self.report(
            verbose,
            bool(result),
            f"Reaped: {result.requeued} job(s) requeued after a lost worker, "
            f"{result.released} released from a lost RQ job, {result.failed} failed.",
        )
        return bool(result)

    def handle_one_schedule(self, verbose: bool) -> bool:
        result = schedule_due()
        self.report(
            verbose,
            bool(result),
            f"Scheduled: {result.requests} due request(s), {result.created} job(s) created, "
            f"{result.skipped} missed slot(s) recorded as skipped"
            + (f", {result.duplicates} already had a job" if result.duplicates else "")
            + (f", {result.errors} with an unusable schedule" if result.errors else "")
            + (f", {result.over_cap} skipped over the per-user cap" if result.over_cap else "")
            + ".",
        )
        return bool(result)

    def handle_one_dispatch(self, verbose: bool) -> bool:
        handed = dispatch()
        self.report(verbose, bool(handed), f"Dispatched: {handed} job(s) handed to the queue.")
        # Not "work" for the loop: a dispatch fills the backlog, and what frees room next is a
        # worker finishing a job, whose horse dispatches then (runner.run_job). Looping at once
        # only raced the horses for the lock: measured in a fan-out of 200 exports on two
        # workers, the schedulers spun through a tick every few milliseconds (issue 21).
        return False

    def handle_one_deliveries(self, verbose: bool) -> bool:
        result = deliveries.tick()
        self.report(
            verbose,
            bool(result),
            f"Deliveries: {result.handed_over} handed to the queue, {result.released} re-handed "
            f"after Redis lost them, {result.unknown} marked unknown, "
            f"{result.notified_jobs} finished job(s) notified late.",
        )
        return bool(result)

    def handle_one_prune(self, verbose: bool) -> bool:
        result = prune_if_due()
        if result is None:
            self.report(verbose, False, "Retention: not due.")
            return False
        expired = result.expired_by_age + result.expired_by_size
        self.report(
            verbose,
            bool(expired),
            f"Retention: {result.expired_by_age} job(s) expired past retention, "
            f"{result.expired_by_size} over the size cap, {result.bytes_freed} bytes freed.",
        )
        records = result.records
        if records:
            self.report(
                verbose,
                True,
                f"Retention: deleted {records.jobs} old job row(s), {records.iam_events} "
                f"published IAM event(s), {records.messages} message(s).",
            )
        # Not "work" for the loop: pruning again at once would find nothing new.
        return False

    def handle_one_publish(self, verbose: bool) -> bool:
        published = publish_pending_events()
        self.report(verbose, bool(published), f"IAM events published: {published}.")
        return bool(published)
