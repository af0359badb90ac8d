from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exports.models import ApiToken
from exports.models.token_lifetime import default_expiry
from exports.models.tokens import expiry_after


class Command(BaseCommand):
    help = (
        "Issue a personal API token for USER and print its secret as the last line (it is "
        "stored hashed and cannot be shown again). Usage: manage.py apitoken USER "
        "[--name NAME] [--expires ISO8601-DURATION, e.g. P30D]"
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="User name the token acts as.")
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument(
            "--expires", default="", help="ISO 8601 lifetime (default: API_TOKEN_DEFAULT_LIFETIME)."
        )

    def handle(self, *args, user: str, name: str, expires: str, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No user named {user!r}.")
        if not owner.is_active:
            raise CommandError(f"User {user!r} is inactive.")
        name = name.strip()
        if not name or len(name) > ApiToken._meta.get_field("name").max_length:
            raise CommandError("--name must be 1 to 100 characters.")
        try:
            expires_at = expiry_after(expires) if expires else default_expiry()
        except ValueError as exc:
            raise CommandError(f"--expires: {exc}") from None
        token, secret = ApiToken.objects.issue(owner, name, expires_at)
        when = expires_at.isoformat() if expires_at else "never"
        self.stdout.write(f"Token {token.name!r} ({token.prefix}) for {user}, expires: {when}")
        self.stdout.write(secret)
