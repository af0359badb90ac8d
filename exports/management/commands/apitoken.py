from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from exports.models import ApiToken
from exports.models.token_lifetime import default_expiry
from exports.models.tokens import TokenLimitReached, clean_publishers, expiry_after


class Command(BaseCommand):
    help = (
        "Issue a personal API token for USER and print its secret as the last line (it is "
        "stored hashed and cannot be shown again). Usage: manage.py apitoken USER "
        "[--name NAME] [--expires ISO8601-DURATION, e.g. P30D] [--publisher ID ...]. A user holds "
        "at most API_TOKENS_PER_USER live tokens."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="User name the token acts as.")
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument(
            "--expires", default="", help="ISO 8601 lifetime (default: API_TOKEN_DEFAULT_LIFETIME)."
        )
        parser.add_argument(
            "--publisher",
            action="append",
            default=[],
            dest="publishers",
            help="A device token: HTTP ingest with it stores readings only under this publisher "
            "id (repeat for several; default: any).",
        )

    def handle(self, *args, user: str, name: str, expires: str, publishers: list, **options):
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
        try:
            publishers = clean_publishers(publishers)
        except ValueError as exc:
            raise CommandError(f"--publisher: {exc}") from None
        try:
            token, secret = ApiToken.objects.issue(owner, name, expires_at, publishers)
        except TokenLimitReached as exc:
            raise CommandError(f"{user}: {exc}") from None
        when = expires_at.isoformat() if expires_at else "never"
        bound = f", publishes as: {', '.join(publishers)}" if publishers else ""
        self.stdout.write(
            f"Token {token.name!r} ({token.prefix}) for {user}, expires: {when}{bound}"
        )
        self.stdout.write(secret)
