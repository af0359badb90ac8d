"""Data for the upgrade to read grants, in its own migration: on PostgreSQL the schema change of
0094_read_grants creates its foreign-key index at the end of its transaction, which cannot
follow rows changed in the same transaction (pending trigger events)."""

from django.db import migrations


def owners_read_their_channels(apps, schema_editor):
    """Read access for every request owner on the channels their saved requests use, so no
    export that worked before the upgrade fails after it (whole channels: a request may name
    any subtopic of them). An existing publish grant on the same channel gains read."""
    ExportItem = apps.get_model("exports", "ExportItem")
    ChannelGrant = apps.get_model("exports", "ChannelGrant")
    pairs = set(
        ExportItem.objects.exclude(channel_id="")
        .values_list("request__owner_id", "channel_id")
        .distinct()
    )
    for owner_id, channel_id in sorted(pairs):
        grant, created = ChannelGrant.objects.get_or_create(
            user_id=owner_id,
            channel_id=channel_id,
            subtopic="",
            defaults={"can_read": True, "can_publish": False},
        )
        if not created and not grant.can_read:
            grant.can_read = True
            grant.save(update_fields=["can_read"])


class Migration(migrations.Migration):

    dependencies = [
        ("exports", "0094_read_grants"),
    ]

    operations = [
        migrations.RunPython(owners_read_their_channels, migrations.RunPython.noop),
    ]
