from django.core.management.base import BaseCommand, CommandError

from exports.data.granting import GrantError, take
from exports.iam import acting_as
from exports.management.commands._grants import (
    add_grant_arguments,
    describe,
    find_channel,
    find_grantee,
)


class Command(BaseCommand):
    help = (
        "Take read and/or publish access to a channel from a user or a team. Usage: "
        "manage.py revoke USER|@GROUP CHANNEL [--read] [--publish] [--subtopic PREFIX]; "
        "with neither flag, both are taken. Saved exports that need the channel fail at their "
        "next run, saying why."
    )

    def add_arguments(self, parser):
        add_grant_arguments(parser, "Revoke")

    def handle(self, *args, grantee, channel, read, publish, subtopic, **options):
        if not (read or publish):
            read = publish = True
        subtopic = subtopic.strip()
        who = find_grantee(grantee)
        channel_id, name = find_channel(channel)
        label = describe(who, channel_id, name, subtopic)
        try:
            with acting_as(None):
                grant = take(who, channel_id, subtopic, read=read, publish=publish)
        except GrantError:
            raise CommandError(f"{label}: there is no such grant.") from None
        left = f"may still {grant.rights}" if grant else "no access left"
        self.stdout.write(f"{label}: {left}.")
