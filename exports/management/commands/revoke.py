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
        with acting_as(None), transaction.atomic():
            grant = (
                ChannelGrant.objects.select_for_update()
                .filter(channel_id=channel_id, subtopic=subtopic, **who)
                .first()
            )
            if grant is None:
                raise CommandError(f"{label}: there is no such grant.")
            keep_read = grant.can_read and not read
            keep_publish = grant.can_publish and not publish
            if keep_read or keep_publish:
                grant.can_read, grant.can_publish = keep_read, keep_publish
                grant.save()
                left = f"may still {grant.rights}"
            else:
                grant.delete()  # its IAM event shows what was held
                left = "no access left"
        self.stdout.write(f"{label}: {left}.")
