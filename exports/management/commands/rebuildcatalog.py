from django.core.management.base import BaseCommand

from exports.data.catalog import rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the series catalog (channel, subtopic, publisher, metric, unit, count, first "
        "and last time) from the stored messages. Ingest keeps the catalog right as it stores; "
        "run this after loading messages by other means. Channel and publisher names are kept. "
        "Usage: manage.py rebuildcatalog"
    )

    def handle(self, *args, **options):
        count = rebuild()
        self.stdout.write(self.style.SUCCESS(f"Catalog rebuilt: {count} series"))
