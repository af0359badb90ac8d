"""Who may read which channel: grants to users and teams, subtopic narrowing, staff, modes,
the grant/revoke commands, the upgrade's data migration and the IAM events of access changes.

Every exit of data (pickers, catalog, series, preview, save, run) is checked in
tests/test_access_exits.py; this file pins the one decision they all ask.
"""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from exports.data.access import can_publish, can_read, read_scope
from exports.models import Channel, ChannelGrant, IamEvent, Series
from exports.models.access import subtopic_covers

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def grants_mode(settings):
    settings.EXPORTS_DATA_ACCESS = "grants"


@pytest.fixture
def greenhouse(db):
    moment = datetime(2026, 12, 1, tzinfo=UTC)
    Channel.objects.create(channel_id="6b1f0f3a-green", name="Greenhouse")
    Channel.objects.create(channel_id="9c2e1d4b-cold", name="Cold storage")
    for channel, subtopic in (("6b1f0f3a-green", "events.data"), ("9c2e1d4b-cold", "")):
        Series.objects.create(
            channel=channel,
            subtopic=subtopic,
            publisher="dev-1",
            name="temperature",
            count=1,
            first_time=moment,
            last_time=moment,
        )
    return "6b1f0f3a-green"


def test_subtopic_prefix_covers_whole_segments_only():
    assert subtopic_covers("", "") and subtopic_covers("", "events.data")
    assert subtopic_covers("events", "events") and subtopic_covers("events", "events.data")
    assert not subtopic_covers("events", "eventsX") and not subtopic_covers("events", "")
    assert not subtopic_covers("events.data", "events")


def test_a_user_without_a_grant_reads_nothing(alice, greenhouse):
    scope = read_scope(alice)
    assert scope.nothing and not scope.allows(greenhouse, "events.data")
    assert not Series.objects.filter(scope.q()).exists()


def test_a_user_grant_reads_its_channel_only(alice, greenhouse):
    ChannelGrant.objects.create(user=alice, channel_id=greenhouse, can_read=True)
    assert can_read(alice, greenhouse, "events.data") and can_read(alice, greenhouse)
    assert not can_read(alice, "9c2e1d4b-cold")
    assert set(
        read_scope(alice).filter(Series.objects.all()).values_list("channel", flat=True)
    ) == {greenhouse}
    assert not can_publish(alice, greenhouse), "read does not let one publish"


def test_a_team_grant_reaches_every_member_and_only_while_they_are_members(alice, bob, greenhouse):
    team = Group.objects.create(name="greenhouse")
    ChannelGrant.objects.create(group=team, channel_id=greenhouse, can_read=True)
    assert not can_read(alice, greenhouse)
    alice.groups.add(team)
    assert can_read(alice, greenhouse) and not can_read(bob, greenhouse)
    alice.groups.remove(team)
    assert not can_read(alice, greenhouse)


def test_a_subtopic_grant_narrows_reading(alice, greenhouse):
    ChannelGrant.objects.create(user=alice, channel_id=greenhouse, subtopic="events", can_read=True)
    scope = read_scope(alice)
    assert scope.allows(greenhouse, "events.data") and scope.allows(greenhouse, "events")
    assert not scope.allows(greenhouse, "") and not scope.allows(greenhouse, "eventsX")
    assert scope.allows_channel(greenhouse)
    assert Series.objects.filter(scope.q()).count() == 1
    Series.objects.filter(channel=greenhouse).update(subtopic="other")
    assert not Series.objects.filter(scope.q()).exists()


def test_staff_read_everything_and_open_mode_opens_reading_not_publishing(
    alice, admin_user, greenhouse, settings
):
    assert read_scope(admin_user).everything and can_publish(admin_user, greenhouse)
    settings.EXPORTS_DATA_ACCESS = "open"
    assert read_scope(alice).everything
    assert not can_publish(alice, greenhouse)


def test_inactive_and_anonymous_read_nothing(alice, greenhouse):
    from django.contrib.auth.models import AnonymousUser

    ChannelGrant.objects.create(user=alice, channel_id=greenhouse, can_read=True)
    alice.is_active = False
    assert read_scope(alice).nothing and read_scope(AnonymousUser()).nothing


def test_publish_grants_follow_subtopics_and_teams(alice, greenhouse):
    team = Group.objects.create(name="field")
    alice.groups.add(team)
    ChannelGrant.objects.create(
        group=team, channel_id=greenhouse, subtopic="events", can_publish=True
    )
    assert can_publish(alice, greenhouse, "events.data")
    assert not can_publish(alice, greenhouse, "alarms")
    assert not can_read(alice, greenhouse, "events.data")


def test_a_grant_names_one_grantee_and_allows_something(alice, greenhouse):
    team = Group.objects.create(name="t")
    for bad in (
        {"channel_id": greenhouse, "can_read": True},
        {"user": alice, "group": team, "channel_id": greenhouse, "can_read": True},
        {"user": alice, "channel_id": greenhouse},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            ChannelGrant.objects.create(**bad)
    ChannelGrant.objects.create(user=alice, channel_id=greenhouse, can_read=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelGrant.objects.create(user=alice, channel_id=greenhouse, can_publish=True)


def test_grant_and_revoke_commands_work_by_name(alice, bob, greenhouse, capsys):
    cold = Group.objects.create(name="cold-chain")
    bob.groups.add(cold)
    call_command("grant", "@cold-chain", "greenhouse", "--read")
    assert "@cold-chain on Greenhouse (6b1f0f3a-green): may now read." in capsys.readouterr().out
    assert can_read(bob, greenhouse) and not can_read(alice, greenhouse)
    call_command("grant", "@cold-chain", greenhouse, "--publish")
    grant = ChannelGrant.objects.get(group=cold)
    assert grant.can_read and grant.can_publish
    call_command("revoke", "@cold-chain", "Greenhouse", "--read")
    grant.refresh_from_db()
    assert not grant.can_read and grant.can_publish and not can_read(bob, greenhouse)
    call_command("revoke", "@cold-chain", "Greenhouse")
    assert not ChannelGrant.objects.exists()
    call_command("grant", "alice", "Cold storage", "--read", "--subtopic", "events")
    assert can_read(alice, "9c2e1d4b-cold", "events.x") and not can_read(alice, "9c2e1d4b-cold")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["alice", "Greenhouse"], "Say what to grant"),
        (["carol", "Greenhouse", "--read"], "No user named 'carol'"),
        (["@nobody", "Greenhouse", "--read"], "No group named 'nobody'"),
        (["alice", "Greenhous", "--read"], "Did you mean 'Greenhouse'"),
        (["alice", "Greenhouse", "--read", "--subtopic", ".events"], "neither starts nor ends"),
    ],
)
def test_grant_refuses_what_it_cannot_find(alice, greenhouse, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("grant", *args)
    assert not ChannelGrant.objects.exists()


def test_two_channels_with_one_name_need_the_id(alice, greenhouse):
    Channel.objects.create(channel_id="other-green", name="greenhouse")
    with pytest.raises(CommandError, match="Two or more channels are named"):
        call_command("grant", "alice", "Greenhouse", "--read")
    with pytest.raises(CommandError, match="there is no such grant"):
        call_command("revoke", "alice", greenhouse)


def test_every_grant_and_team_change_is_an_iam_event(alice, greenhouse):
    IamEvent.objects.all().delete()
    call_command("grant", "alice", "Greenhouse", "--read")
    call_command("grant", "alice", "Greenhouse", "--publish")
    team = Group.objects.create(name="greenhouse")
    alice.groups.add(team)
    team.user_set.remove(alice)
    call_command("revoke", "alice", "Greenhouse")
    assert list(IamEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "exporter:channels:grant.create",
        "exporter:channels:grant.update",
        "exporter:groups:create",
        "exporter:groups:members.add",
        "exporter:groups:members.remove",
        "exporter:channels:grant.delete",
    ]
    last = IamEvent.objects.order_by("id").last()
    assert last.resource == f"exporter:channels:{greenhouse}"
    assert last.snapshot["user"] == "alice" and last.snapshot["publish"] is True
    member = IamEvent.objects.get(action="exporter:groups:members.add")
    assert member.snapshot == {"group": "greenhouse", "users": ["alice"]}


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_gives_owners_read_on_their_requests_channels_and_keeps_publish_grants():
    executor = MigrationExecutor(connection)
    before = [("exports", "0093_input")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User = old.get_model("auth", "User")
    owner = User.objects.create(username="olga")
    other = User.objects.create(username="oscar")
    Request = old.get_model("exports", "ExportRequest")
    Item = old.get_model("exports", "ExportItem")
    OldGrant = old.get_model("exports", "ChannelGrant")
    request = Request.objects.create(name="r", owner=owner, type="oneTime")
    for channel in ("ch-a", "ch-b", "ch-a"):
        Item.objects.create(request=request, channel_id=channel, target_value="t", subtopic="s")
    OldGrant.objects.create(user=owner, channel_id="ch-a")
    OldGrant.objects.create(user=other, channel_id="ch-z")

    executor = MigrationExecutor(connection)
    executor.migrate([("exports", "0094_owners_read_their_channels")])
    executor.loader.build_graph()
    grants = {
        (g.user.username, g.channel_id, g.subtopic, g.can_read, g.can_publish)
        for g in ChannelGrant.objects.select_related("user")
    }
    assert grants == {
        ("olga", "ch-a", "", True, True),
        ("olga", "ch-b", "", True, False),
        ("oscar", "ch-z", "", False, True),
    }
    call_command("migrate", verbosity=0)
