import json

from django.core.management.base import BaseCommand, CommandError

from exports.models import ExportRequest
from exports.requests.dump import dump_request


class Command(BaseCommand):
    help = (
        "Print an export request as JSON (the shape createexport reads). "
        "Usage: manage.py dumpexport ID"
    )

    def add_arguments(self, parser):
        parser.add_argument("id", help="Export request id.")

    def handle(self, *args, id: str, **options):
        try:
            request = ExportRequest.objects.prefetch_related("items", "columns", "messages").get(
                pk=int(id)
            )
        except (ValueError, ExportRequest.DoesNotExist):
            raise CommandError(f"No export request with id {id!r}.") from None
        self.stdout.write(json.dumps(dump_request(request), indent=2, ensure_ascii=False))
