from django.core.management.base import CommandError

from exports.management.commands._runjob import (
    OneShotCommand,
    check_out_dir,
    parse_slot,
    run_slot,
)
from exports.models import ExportRequest


class Command(OneShotCommand):
    help = (
        "Run the job of an existing export request for a slot synchronously and copy the file "
        "into DIR. Usage: manage.py runexport REQUEST_ID [--slot ISO_DATETIME] [--out DIR]"
    )

    def add_arguments(self, parser):
        parser.add_argument("request_id", help="Export request id.")
        parser.add_argument("--out", default=".", help="Directory to copy the export into.")
        parser.add_argument(
            "--slot",
            default=None,
            help="Slot to export for (ISO 8601 with offset, or Unix seconds); default now.",
        )

    def handle(self, *args, request_id: str, out: str, slot: str | None, **options):
        try:
            request = ExportRequest.objects.get(pk=int(request_id))
        except (ValueError, ExportRequest.DoesNotExist):
            raise CommandError(f"No export request with id {request_id!r}.") from None
        self.stdout.write(str(run_slot(request, parse_slot(slot), check_out_dir(out))))
