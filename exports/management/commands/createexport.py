from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from exports.iam import acting_as
from exports.management.commands._requestfile import load_spec
from exports.queue.ondemand import QueueFull, start_one_time
from exports.requests.spec import save_spec


class Command(BaseCommand):
    help = (
        "Create an export request from a JSON file (the platform's request shape) and print "
        "its id; a one-time request gets its job queued (unless it is paused), as on the pages. "
        "Usage: manage.py createexport FILE.json --owner USERNAME"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the request JSON file.")
        parser.add_argument("--owner", required=True, help="Username of the request's owner.")

    def handle(self, *args, file: str, owner: str, **options):
        spec = load_spec(file, owner)
        try:
            with acting_as(spec.request.owner), transaction.atomic():
                request = save_spec(spec)
                job = start_one_time(request)
        except QueueFull as exc:
            raise CommandError(f"Not created: {exc.detail}") from None
        self.stdout.write(str(request.pk))
        if job is not None:
            self.stderr.write(f"Queued export job {job.pk} for {job.slot.isoformat()}.")
