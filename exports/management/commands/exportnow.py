from exports.iam import acting_as
from exports.management.commands._requestfile import load_spec
from exports.management.commands._runjob import (
    OneShotCommand,
    check_out_dir,
    parse_slot,
    run_slot,
)
from exports.requests.spec import save_spec


class Command(OneShotCommand):
    help = (
        "Create an export request from a JSON file, run its job synchronously (the same code "
        "the worker runs), copy the file into DIR and print its path. Usage: manage.py "
        "exportnow FILE.json --owner USERNAME --out DIR [--slot ISO_DATETIME]"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the request JSON file.")
        parser.add_argument("--owner", required=True, help="Username of the request's owner.")
        parser.add_argument("--out", required=True, help="Directory to copy the export into.")
        parser.add_argument(
            "--slot",
            default=None,
            help="Slot to export for (ISO 8601 with offset, or Unix seconds); default now.",
        )

    def handle(self, *args, file: str, owner: str, out: str, slot: str | None, **options):
        out_dir = check_out_dir(out)
        when = parse_slot(slot)
        spec = load_spec(file, owner)
        with acting_as(spec.request.owner):
            request = save_spec(spec)
        self.stdout.write(str(run_slot(request, when, out_dir)))
