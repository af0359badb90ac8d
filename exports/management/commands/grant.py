from django.core.management.base import BaseCommand, CommandError

from exports.data.granting import clean_subtopic, give
from exports.iam import acting_as
from exports.management.commands._grants import (
    add_grant_arguments,
    as_command_error,
    describe,
    find_channel,
    find_grantee,
)


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
        with as_command_error():
            subtopic = clean_subtopic(subtopic)
        who = find_grantee(grantee)
        channel_id, name = find_channel(channel)
        with acting_as(None), as_command_error():
            grant, _ = give(who, channel_id, subtopic, read=read, publish=publish)
        self.stdout.write(f"{describe(who, channel_id, name, subtopic)}: may now {grant.rights}.")
