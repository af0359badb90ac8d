from django.core.management.base import BaseCommand

from exports.files.retention import prune


class Command(BaseCommand):
    help = (
        "Mark done export jobs older than EXPORTS_RETENTION (ISO 8601 duration, default P7D) "
        "expired and delete their files; then, if EXPORTS_MAX_TOTAL_BYTES (or --max-bytes) is "
        "set, expire the oldest until the kept files fit. Usage: manage.py pruneexports"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-bytes",
            type=int,
            default=None,
            help="Total size cap for kept files (overrides EXPORTS_MAX_TOTAL_BYTES; 0 = none).",
        )

    def handle(self, *args, max_bytes=None, **options):
        result = prune(max_total_bytes=max_bytes)
        self.stdout.write(
            f"Expired {result.expired_by_age} job(s) past retention and "
            f"{result.expired_by_size} over the size cap; freed {result.bytes_freed} bytes."
        )
