"""The access pages: who may open them, granting and revoking by picking names, teams.

Each change is checked where it matters: ``exports.data.access.can_read`` answers
differently afterwards, and an IAM event says who did it.
"""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from exports.data.access import can_publish, can_read
from exports.models import Channel, ChannelGrant, IamEvent, Series

pytestmark = pytest.mark.django_db

GREEN = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
ORPHAN = "9d0c4b1e-0000-4c1e-8a51-77aa00bb11cc"  # series, but no Channel row (no name)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def series(channel: str, subtopic: str, name: str = "temperature") -> Series:
    return Series.objects.create(
        channel=channel,
        subtopic=subtopic,
        publisher="dev-1",
        name=name,
        count=10,
        first_time=T0,
        last_time=T0,
    )


@pytest.fixture(autouse=True)
def grants_mode(settings):
    settings.EXPORTS_DATA_ACCESS = "grants"


@pytest.fixture
def catalog(db):
    Channel.objects.create(channel_id=GREEN, name="Greenhouse")
    series(GREEN, "events.data")
    series(GREEN, "events.data", "humidity")
    series(GREEN, "events.alarms")
    series(ORPHAN, "")


@pytest.fixture
def keeper(db):
    """A user who is not staff but holds the manage-access permission."""
    user = get_user_model().objects.create_user("keeper", password="keeper-pass-123")
    user.user_permissions.add(Permission.objects.get(codename="manage_access"))
    return user


@pytest.fixture
def team(alice):
    group = Group.objects.create(name="growers")
    group.user_set.add(alice)
    return group


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def pages(team) -> list[str]:
    grant = ChannelGrant.objects.create(group=team, channel_id=GREEN, can_read=True)
    return [
        reverse("exports:access-channels"),
        reverse("exports:access-channel", args=[GREEN]),
        reverse("exports:access-channel", args=[ORPHAN]),
        reverse("exports:access-groups"),
        reverse("exports:access-group", args=[team.pk]),
        reverse("exports:access-group-delete", args=[team.pk]),
        # POST-only ones answer GET with 405 to those allowed, 404 to the others.
        reverse("exports:access-revoke", args=[GREEN, grant.pk]),
        reverse("exports:access-member-remove", args=[team.pk, team.user_set.get().pk]),
    ]


@pytest.mark.parametrize("who", ["anonymous", "alice", "keeper", "admin", "keeper-by-team"])
def test_only_staff_and_access_keepers_see_the_pages(who, catalog, team, keeper, admin_user):
    user = {"anonymous": None, "alice": team.user_set.get(), "keeper": keeper}.get(who, admin_user)
    if who == "keeper-by-team":  # the permission through a group counts too
        user = get_user_model().objects.create_user("carol")
        stewards = Group.objects.create(name="stewards")
        stewards.permissions.add(Permission.objects.get(codename="manage_access"))
        user.groups.add(stewards)
    client = client_for(user)
    for url in pages(team):
        answer = client.get(url)
        post_only = url.endswith("/revoke/") or url.endswith("/remove/")
        if who == "anonymous":
            assert answer.status_code == 302 and "/login/" in answer["Location"], url
        elif who == "alice":
            assert answer.status_code == 404, url
        else:
            assert answer.status_code == (405 if post_only else 200), url
    home = client.get(reverse("exports:list"))
    shows_link = who not in ("anonymous", "alice")
    assert (reverse("exports:access-channels") in home.content.decode()) is shows_link


def test_a_user_without_the_permission_changes_nothing_by_posting(catalog, team):
    alice = team.user_set.get()
    grant = ChannelGrant.objects.get_or_create(group=team, channel_id=GREEN, can_read=True)[0]
    IamEvent.objects.all().delete()
    client = client_for(alice)
    posts = [
        (reverse("exports:access-channel", args=[GREEN]), {"grantee": f"user:{alice.pk}"}),
        (reverse("exports:access-revoke", args=[GREEN, grant.pk]), {}),
        (reverse("exports:access-groups"), {"name": "mine"}),
        (reverse("exports:access-group", args=[team.pk]), {"user": alice.pk}),
        (reverse("exports:access-member-remove", args=[team.pk, alice.pk]), {}),
        (reverse("exports:access-group-delete", args=[team.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, {**data, "read": "on"}).status_code == 404, url
    assert ChannelGrant.objects.count() == 1 and Group.objects.count() == 1
    assert team.user_set.count() == 1 and not IamEvent.objects.exists()


def test_the_channel_list_shows_names_ids_series_grants_and_the_mode(
    catalog, team, keeper, settings
):
    ChannelGrant.objects.create(group=team, channel_id=GREEN, subtopic="events", can_read=True)
    ChannelGrant.objects.create(user=keeper, channel_id=ORPHAN, can_publish=True)
    page = client_for(keeper).get(reverse("exports:access-channels")).content.decode()
    assert "Greenhouse" in page and GREEN in page and ORPHAN in page
    assert page.index("Greenhouse") < page.index(ORPHAN)  # named first
    assert "@growers" in page and "keeper" in page
    assert "Access mode: <code>grants</code>" in page and "read only the channels" in page
    settings.EXPORTS_DATA_ACCESS = "open"
    page = client_for(keeper).get(reverse("exports:access-channels")).content.decode()
    assert "Access mode: <code>open</code>" in page and "reads every channel" in page


def test_the_grant_form_offers_names_and_known_subtopics(catalog, team, keeper):
    page = client_for(keeper).get(reverse("exports:access-channel", args=[GREEN])).content
    page = page.decode()
    assert f'<option value="group:{team.pk}">@growers</option>' in page
    assert ">alice</option>" in page and ">keeper</option>" in page
    for subtopic in ("events", "events.alarms", "events.data"):
        assert f'<option value="{subtopic}">{subtopic}</option>' in page


def test_granting_to_a_team_through_the_page_lets_its_members_read(catalog, team, keeper):
    alice = team.user_set.get()
    url = reverse("exports:access-channel", args=[GREEN])
    client = client_for(keeper)
    assert not can_read(alice, GREEN, "events.data")
    IamEvent.objects.all().delete()

    answer = client.post(url, {"grantee": f"group:{team.pk}", "subtopic": "events", "read": "on"})
    assert answer.status_code == 302
    assert can_read(alice, GREEN, "events.data") and not can_read(alice, GREEN, "other")
    assert not can_publish(alice, GREEN, "events.data")
    page = client.get(url).content.decode()
    assert "@growers on Greenhouse" in page and "may now read" in page  # the message

    # Adding publish merges into the same grant.
    client.post(url, {"grantee": f"group:{team.pk}", "prefix": "events", "publish": "on"})
    grant = ChannelGrant.objects.get()
    assert (grant.can_read, grant.can_publish, grant.subtopic) == (True, True, "events")
    assert can_publish(alice, GREEN, "events.alarms")

    events = list(IamEvent.objects.order_by("id"))
    assert [e.action for e in events] == [
        "exporter:channels:grant.create",
        "exporter:channels:grant.update",
    ]
    assert all(e.actor == keeper for e in events)
    assert events[0].snapshot["group"] == "growers" and events[0].snapshot["read"] is True


def test_revoking_through_the_page_takes_the_access_away(catalog, alice, keeper):
    grant = ChannelGrant.objects.create(user=alice, channel_id=GREEN, can_read=True)
    other = ChannelGrant.objects.create(user=alice, channel_id=ORPHAN, can_read=True)
    assert can_read(alice, GREEN)
    IamEvent.objects.all().delete()
    client = client_for(keeper)
    # A grant is revoked only through its own channel's address.
    assert client.post(reverse("exports:access-revoke", args=[GREEN, other.pk])).status_code == 404
    answer = client.post(reverse("exports:access-revoke", args=[GREEN, grant.pk]), follow=True)
    assert (
        "alice on Greenhouse" in answer.content.decode()
        and "read revoked" in answer.content.decode()
    )
    assert not can_read(alice, GREEN) and can_read(alice, ORPHAN)
    event = IamEvent.objects.get()
    assert event.action == "exporter:channels:grant.delete" and event.actor == keeper


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"read": "on"}, "Choose a team or a user."),
        ({"grantee": "USER"}, "Choose what to grant: read, publish, or both."),
        ({"grantee": "alice", "read": "on"}, "Pick one from the list."),
        ({"grantee": "user:99999", "read": "on"}, "Pick one from the list."),
        ({"grantee": "group:99999", "read": "on"}, "Pick one from the list."),
        ({"grantee": "USER", "subtopic": "nope", "read": "on"}, "Pick one from the list."),
        (
            {"grantee": "USER", "subtopic": "events", "prefix": "events.data", "read": "on"},
            "Pick a subtopic from the list or type a prefix, not both.",
        ),
        ({"grantee": "USER", "prefix": ".events", "read": "on"}, "neither starts nor ends"),
        ({"grantee": "USER", "prefix": "ev ents", "read": "on"}, "has no spaces"),
        ({"grantee": "USER", "prefix": "a..b", "read": "on"}, "no empty segment"),
    ],
)
def test_bad_grant_input_says_what_is_wrong_and_saves_nothing(
    catalog, alice, keeper, data, message
):
    if data.get("grantee") == "USER":
        data = {**data, "grantee": f"user:{alice.pk}"}
    IamEvent.objects.all().delete()
    answer = client_for(keeper).post(reverse("exports:access-channel", args=[GREEN]), data)
    assert answer.status_code == 422
    assert message in answer.content.decode()
    assert "Nothing was saved" in answer.content.decode()
    assert not ChannelGrant.objects.exists() and not IamEvent.objects.exists()


def test_an_unknown_channel_is_a_404(catalog, keeper):
    assert (
        client_for(keeper).get(reverse("exports:access-channel", args=["nope"])).status_code == 404
    )


def test_teams_are_created_filled_emptied_and_deleted_with_events(catalog, alice, keeper):
    client = client_for(keeper)
    IamEvent.objects.all().delete()
    answer = client.post(reverse("exports:access-groups"), {"name": "  growers "})
    team = Group.objects.get(name="growers")
    assert answer["Location"] == reverse("exports:access-group", args=[team.pk])
    ChannelGrant.objects.create(group=team, channel_id=GREEN, can_read=True)
    assert not can_read(alice, GREEN)

    page = client.get(reverse("exports:access-group", args=[team.pk])).content.decode()
    assert f'<option value="{alice.pk}">alice</option>' in page and "Greenhouse" in page
    client.post(reverse("exports:access-group", args=[team.pk]), {"user": alice.pk})
    assert can_read(alice, GREEN)
    listing = client.get(reverse("exports:access-groups")).content.decode()
    assert "@growers" in listing and "alice" in listing

    remove = reverse("exports:access-member-remove", args=[team.pk, alice.pk])
    assert client.post(remove).status_code == 302
    assert not can_read(alice, GREEN)
    assert client.post(remove).status_code == 404  # not a member any more

    client.post(reverse("exports:access-group", args=[team.pk]), {"user": alice.pk})
    confirm = client.get(reverse("exports:access-group-delete", args=[team.pk])).content.decode()
    assert (
        "Delete team @growers?" in confirm
        and "1 member leaves" in confirm
        and "1 grant of the team is revoked" in confirm
    )
    client.post(reverse("exports:access-group-delete", args=[team.pk]))
    assert not Group.objects.exists() and not ChannelGrant.objects.exists()
    assert not can_read(alice, GREEN)
    assert list(IamEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "exporter:groups:create",
        "exporter:channels:grant.create",
        "exporter:groups:members.add",
        "exporter:groups:members.remove",
        "exporter:groups:members.add",
        "exporter:channels:grant.delete",
        "exporter:groups:members.remove",
        "exporter:groups:delete",
    ]
    by_keeper = IamEvent.objects.exclude(action="exporter:channels:grant.create")
    assert {event.actor_name for event in by_keeper} == {"keeper"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("a/b", "has no slash"),
        ("GROWERS", "A team named &#x27;growers&#x27; exists already."),
    ],
)
def test_bad_team_names_are_refused(keeper, name, message):
    Group.objects.create(name="growers")
    IamEvent.objects.all().delete()
    answer = client_for(keeper).post(reverse("exports:access-groups"), {"name": name})
    assert answer.status_code == 422 and message in answer.content.decode()
    assert Group.objects.count() == 1 and not IamEvent.objects.exists()


def test_adding_a_member_needs_a_user_from_the_list(keeper, team):
    url = reverse("exports:access-group", args=[team.pk])
    client = client_for(keeper)
    IamEvent.objects.all().delete()
    alice = team.user_set.get()
    for data, message in [
        ({}, "Choose a user to add."),
        ({"user": alice.pk}, "Pick one from the list."),  # in the team already
        ({"user": "alice"}, "Pick one from the list."),
    ]:
        answer = client.post(url, data)
        assert answer.status_code == 422 and message in answer.content.decode()
    assert team.user_set.count() == 1 and not IamEvent.objects.exists()


def test_deleting_a_team_or_a_user_elsewhere_still_names_who_held_the_grant(catalog, alice):
    """The admin deletes teams and users with a cascade that may remove the grantee before
    its grants: the grants' delete events must still say whose they were (no crash)."""
    team = Group.objects.create(name="growers")
    ChannelGrant.objects.create(group=team, channel_id=GREEN, can_read=True)
    ChannelGrant.objects.create(user=alice, channel_id=GREEN, can_publish=True)
    IamEvent.objects.all().delete()
    team.delete()
    alice.delete()
    deleted = IamEvent.objects.filter(action="exporter:channels:grant.delete").order_by("id")
    assert [(e.snapshot["group"], e.snapshot["user"]) for e in deleted] == [
        ("growers", None),
        (None, "alice"),
    ]
