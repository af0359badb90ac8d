"""``manage.py drainworkers``: stop our RQ workers once their current job is done."""

from __future__ import annotations

import time

import django_rq
from django.core.management.base import BaseCommand, CommandError
from rq import Worker
from rq.command import send_shutdown_command

from exports.queue import namespace


def our_workers() -> list[Worker]:
    """The live RQ workers serving any of this installation's queues."""
    found: dict[str, Worker] = {}
    for name in namespace.queue_names():
        queue = django_rq.get_queue(name)
        for worker in Worker.all(queue=queue):
            found.setdefault(worker.name, worker)
    return list(found.values())


class Command(BaseCommand):
    help = (
        "Drain this installation's workers before a deploy: each one stops taking jobs, "
        "finishes the job it is running, and exits (RQ's warm shutdown, as on SIGTERM). Workers "
        "of other installations sharing the Redis are left alone. A worker run by "
        "deploy/exporter-worker@.service stays stopped (Restart=on-failure) until it is started "
        "again. --wait SECONDS: wait until every drained worker has exited (exit status 1 if "
        "some are still busy then). Usage: manage.py drainworkers [--wait SECONDS]"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to wait for the workers to exit (default 0: ask and return).",
        )

    def handle(self, *args, wait: float = 0, **options) -> None:
        workers = our_workers()
        if not workers:
            self.stdout.write("No worker of this installation is running.")
            return
        connection = django_rq.get_connection(namespace.queue_name("exports"))
        for worker in workers:
            job = worker.get_current_job_id()
            send_shutdown_command(connection, worker.name)
            self.stdout.write(
                f"Asked {worker.name} to stop"
                + (f" after its current job {job}." if job else " (idle).")
            )
        names = {worker.name for worker in workers}
        deadline = time.monotonic() + wait
        while wait:
            left = names & {worker.name for worker in our_workers()}
            if not left:
                self.stdout.write(f"All {len(names)} worker(s) stopped.")
                return
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"Still running after {wait:g} s: {', '.join(sorted(left))} "
                    "(busy with a job; they exit when it ends)."
                )
            time.sleep(0.5)
