from django.core.management.base import BaseCommand

from exports.iam import acting_as
from exports.schema import save_spec

from ._requestfile import load_spec


class Command(BaseCommand):
    help = (
        "Create an export request from a JSON file (the platform's request shape) and print "
        "its id. Usage: manage.py createexport FILE.json --owner USERNAME"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the request JSON file.")
        parser.add_argument("--owner", required=True, help="Username of the request's owner.")

    def handle(self, *args, file: str, owner: str, **options):
        spec = load_spec(file, owner)
        with acting_as(spec.request.owner):
            request = save_spec(spec)
        self.stdout.write(str(request.pk))
