from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from exports.iam import acting_as
from exports.management.commands._grants import (
    add_grant_arguments,
    describe,
    find_channel,
    find_grantee,
)
from exports.models import ChannelGrant


class Command(BaseCommand):
    help = (
        "Let a user or a team read and/or publish to a channel. Usage: manage.py grant "
        "USER|@GROUP CHANNEL --read --publish [--subtopic PREFIX]. CHANNEL is a name or an id; "
        "rights add to what the grantee has already."
    )

    def add_arguments(self, parser):
        add_grant_arguments(parser, "Grant")

    def handle(self, *args, grantee, channel, read, publish, subtopic, **options):
        if not (read or publish):
            raise CommandError("Say what to grant: --read, --publish, or both.")
        subtopic = subtopic.strip()
        if subtopic != subtopic.strip("."):
            raise CommandError("--subtopic neither starts nor ends with a dot.")
        who = find_grantee(grantee)
        channel_id, name = find_channel(channel)
        with acting_as(None), transaction.atomic():
            grant = (
                ChannelGrant.objects.select_for_update()
                .filter(channel_id=channel_id, subtopic=subtopic, **who)
                .first()
            )
            if grant is None:
                grant = ChannelGrant(channel_id=channel_id, subtopic=subtopic, **who)
            grant.can_read = grant.can_read or read
            grant.can_publish = grant.can_publish or publish
            grant.save()
        self.stdout.write(f"{describe(who, channel_id, name, subtopic)}: may now {grant.rights}.")
