"""The access endpoints: /api/channels for everyone, grants and teams for those who manage
access. Changes are checked through ``can_read`` and the IAM events they leave."""

import json
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from exports.data.access import can_publish, can_read
from exports.models import ApiToken, Channel, ChannelGrant, IamEvent, Series

pytestmark = pytest.mark.django_db

GREEN, COLD, ORPHAN = "c-green", "c-cold", "c-orphan"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def grants_mode(settings):
    settings.EXPORTS_DATA_ACCESS = "grants"


@pytest.fixture
def catalog(db):
    Channel.objects.create(channel_id=GREEN, name="Greenhouse")
    Channel.objects.create(channel_id=COLD, name="Cold room")
    for channel, subtopic in [
        (GREEN, "events.data"),
        (GREEN, "events.alarms"),
        (GREEN, ""),
        (COLD, "events.data"),
        (ORPHAN, "raw"),
    ]:
        Series.objects.create(
            channel=channel,
            subtopic=subtopic,
            publisher="dev-1",
            name="temperature",
            count=1,
            first_time=T0,
            last_time=T0,
        )


@pytest.fixture
def keeper(db):
    user = get_user_model().objects.create_user("keeper")
    user.user_permissions.add(Permission.objects.get(codename="manage_access"))
    return user


@pytest.fixture
def team(alice):
    group = Group.objects.create(name="growers")
    group.user_set.add(alice)
    return group


def api(user) -> Client:
    if user is None:
        return Client()
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(user, 'test')[1]}")


def call(client: Client, method: str, url: str, body=None):
    send = getattr(client, method.lower())
    if body is None:
        return send(url)
    return send(url, json.dumps(body), content_type="application/json")


def errors(answer) -> list[tuple[str, str]]:
    return [(e["path"], e["message"]) for e in answer.json()["errors"]]


# --- who may call what ------------------------------------------------------------------------

MANAGEMENT = [
    ("GET", "/api/channels/c-green/grants", None),
    ("POST", "/api/channels/c-green/grants", {"user": "bob", "read": True}),
    ("DELETE", "/api/channels/c-green/grants/{grant}", None),
    ("GET", "/api/groups", None),
    ("POST", "/api/groups", {"name": "new-team"}),
    ("PUT", "/api/groups/growers/members/bob", None),
    ("DELETE", "/api/groups/growers/members/alice", None),
    ("DELETE", "/api/groups/growers", None),
]


@pytest.mark.parametrize(("method", "url", "body"), MANAGEMENT)
@pytest.mark.parametrize("who", ["anonymous", "alice", "keeper", "admin"])
def test_only_staff_and_access_keepers_manage(
    who, method, url, body, catalog, team, bob, keeper, admin_user
):
    grant = ChannelGrant.objects.create(group=team, channel_id=GREEN, can_read=True)
    user = {"anonymous": None, "alice": team.user_set.get(), "keeper": keeper}.get(who, admin_user)
    IamEvent.objects.all().delete()
    answer = call(api(user), method, url.format(grant=grant.pk), body)
    if who == "anonymous":
        assert answer.status_code == 401
    elif who == "alice":
        assert answer.status_code == 403
        assert errors(answer) == [
            ("", "Managing access needs staff status or the manage_access permission.")
        ]
        assert not IamEvent.objects.exists()
    else:
        assert answer.status_code in (200, 201, 204), answer.content
        if method != "GET":
            assert IamEvent.objects.filter(actor=user).exists()


def test_channels_lists_what_the_caller_reads(catalog, alice, bob, admin_user, settings):
    ChannelGrant.objects.create(user=alice, channel_id=GREEN, subtopic="events", can_read=True)
    ChannelGrant.objects.create(user=alice, channel_id=COLD, can_publish=True)  # not read
    assert api(alice).get("/api/channels").json() == {
        "results": [
            {"id": GREEN, "name": "Greenhouse", "subtopics": ["events.alarms", "events.data"]}
        ]
    }
    assert api(bob).get("/api/channels").json() == {"results": []}
    everything = [
        {"id": COLD, "name": "Cold room", "subtopics": ["events.data"]},
        {"id": GREEN, "name": "Greenhouse", "subtopics": ["", "events.alarms", "events.data"]},
        {"id": ORPHAN, "name": "", "subtopics": ["raw"]},
    ]
    assert api(admin_user).get("/api/channels").json() == {"results": everything}
    settings.EXPORTS_DATA_ACCESS = "open"
    assert api(bob).get("/api/channels").json() == {"results": everything}
    assert Client().get("/api/channels").status_code == 401


def test_granting_and_revoking_over_the_api(catalog, team, keeper):
    alice = team.user_set.get()
    client = api(keeper)
    IamEvent.objects.all().delete()
    answer = call(
        client,
        "POST",
        f"/api/channels/{GREEN}/grants",
        {"group": "growers"} | {"subtopic": "events", "read": True},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body | {"createdAt": None} == {
        "id": body["id"],
        "channel": GREEN,
        "subtopic": "events",
        "user": None,
        "group": "growers",
        "read": True,
        "publish": False,
        "createdAt": None,
    }
    assert can_read(alice, GREEN, "events.data") and not can_read(alice, GREEN)

    again = {"group": "growers", "subtopic": "events", "publish": True}
    answer = call(client, "POST", f"/api/channels/{GREEN}/grants", again)
    assert answer.status_code == 200 and answer.json()["read"] and answer.json()["publish"]
    assert can_publish(alice, GREEN, "events.alarms")
    listed = client.get(f"/api/channels/{GREEN}/grants").json()["results"]
    assert [(g["group"], g["read"], g["publish"]) for g in listed] == [("growers", True, True)]

    answer = client.delete(f"/api/channels/{GREEN}/grants/{body['id']}")
    assert answer.status_code == 204 and not can_read(alice, GREEN, "events.data")
    assert client.delete(f"/api/channels/{GREEN}/grants/{body['id']}").status_code == 404

    events = IamEvent.objects.order_by("id")
    assert [e.action for e in events] == [
        "exporter:channels:grant.create",
        "exporter:channels:grant.update",
        "exporter:channels:grant.delete",
    ]
    assert {e.actor_name for e in events} == {"keeper"}
    assert events.last().snapshot["group"] == "growers"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"read": True}, [("", 'Say who: "user" (a user name) or "group" (a team name).')]),
        (
            {"user": "alice", "group": "growers", "read": True},
            [("group", "Give a user or a group, not both.")],
        ),
        (
            {"user": "alcie", "read": True},
            [("user", "No user named 'alcie'. Did you mean 'alice'?")],
        ),
        (
            {"group": "grower", "read": True},
            [("group", "No group named 'grower'. Did you mean 'growers'?")],
        ),
        ({"user": "alice"}, [("read", "Grant read, publish, or both.")]),
        (
            {"user": "alice", "read": False, "subtopic": ".events"},
            [
                ("read", "Grant read, publish, or both."),
                ("subtopic", "A subtopic prefix neither starts nor ends with a dot."),
            ],
        ),
        ({"user": "alice", "read": "maybe"}, [("read", "Must be a valid boolean.")]),
        (["alice"], [("", "Invalid data. Expected a dictionary, but got list.")]),
    ],
)
def test_bad_grants_name_the_field_and_save_nothing(catalog, team, keeper, body, expected):
    IamEvent.objects.all().delete()
    answer = call(api(keeper), "POST", f"/api/channels/{GREEN}/grants", body)
    assert answer.status_code == 400
    assert errors(answer) == expected
    assert not ChannelGrant.objects.exists() and not IamEvent.objects.exists()


def test_grants_of_an_unknown_channel_are_a_404(catalog, keeper):
    client = api(keeper)
    assert client.get("/api/channels/nope/grants").status_code == 404
    answer = call(client, "POST", "/api/channels/nope/grants", {"user": "keeper", "read": True})
    assert answer.status_code == 404 and errors(answer) == [("", "No such channel.")]
    assert not ChannelGrant.objects.exists()


def test_teams_over_the_api(catalog, alice, bob, keeper):
    client = api(keeper)
    IamEvent.objects.all().delete()
    answer = call(client, "POST", "/api/groups", {"name": " growers "})
    assert answer.status_code == 201
    assert answer.json() == {"name": "growers", "members": [], "grants": 0}
    call(client, "POST", f"/api/channels/{GREEN}/grants", {"group": "growers", "read": True})
    assert client.put("/api/groups/growers/members/bob").json()["members"] == ["bob"]
    assert client.put("/api/groups/growers/members/alice").json()["members"] == ["alice", "bob"]
    assert client.put("/api/groups/growers/members/alice").status_code == 200  # idempotent
    assert can_read(alice, GREEN) and can_read(bob, GREEN)
    assert client.get("/api/groups").json() == {
        "results": [{"name": "growers", "members": ["alice", "bob"], "grants": 1}]
    }
    assert client.delete("/api/groups/growers/members/bob").status_code == 204
    assert not can_read(bob, GREEN) and can_read(alice, GREEN)
    missing = client.delete("/api/groups/growers/members/bob")
    assert missing.status_code == 404 and errors(missing) == [("", "bob is not in @growers.")]
    assert client.put("/api/groups/growers/members/nobody").status_code == 404
    assert client.put("/api/groups/nobody/members/bob").status_code == 404
    assert client.delete("/api/groups/growers").status_code == 204
    assert not can_read(alice, GREEN) and not ChannelGrant.objects.exists()
    assert list(IamEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "exporter:groups:create",
        "exporter:channels:grant.create",
        "exporter:groups:members.add",
        "exporter:groups:members.add",
        "exporter:groups:members.remove",
        "exporter:channels:grant.delete",
        "exporter:groups:members.remove",
        "exporter:groups:delete",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("name", "This field is required.")]),
        ({"name": "  "}, [("name", "This field may not be blank.")]),
        (
            {"name": "a/b"},
            [("name", "A team name has no slash (the API addresses teams by name).")],
        ),
        ({"name": "GROWERS"}, [("name", "A team named 'growers' exists already.")]),
    ],
)
def test_bad_team_names_are_400s(keeper, team, body, expected):
    IamEvent.objects.all().delete()
    answer = call(api(keeper), "POST", "/api/groups", body)
    assert answer.status_code == 400 and errors(answer) == expected
    assert Group.objects.count() == 1 and not IamEvent.objects.exists()
