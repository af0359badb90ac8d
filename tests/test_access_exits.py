"""Every exit of data asks who may read it: the catalog for pickers and /api/series, preview
on pages and API, saving a request, and the export run itself (a grant revoked after saving).

The people: alice reads Greenhouse through a grant to her; bob reads nothing until his team
(cold-chain) is given Greenhouse; staff read all. EXPORTS_DATA_ACCESS=grants throughout,
except where open mode is the point.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from exports.data.ingestion import store_messages
from exports.models import ApiToken, Channel, ChannelGrant, ExportRequest, JobStatus, Message
from exports.queue.runner import create_job, run_job
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec
from notifications.models import Delivery

pytestmark = pytest.mark.django_db

GREEN = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
COLD = "c01d5e7a-8f2b-4c3d-b6e4-7a8b9c0d1e02"
START = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def grants_mode(settings):
    settings.EXPORTS_DATA_ACCESS = "grants"


@pytest.fixture
def data(db, alice):
    store_messages(
        [
            Message(
                channel=channel,
                subtopic="events.data",
                publisher=f"dev-{channel[:4]}",
                name="temperature",
                unit="Cel",
                time=START + timedelta(minutes=5 * i),
                value=20 + i,
            )
            for channel in (GREEN, COLD)
            for i in range(12)
        ]
    )
    Channel.objects.filter(channel_id=GREEN).update(name="Greenhouse")
    Channel.objects.filter(channel_id=COLD).update(name="Cold storage")
    ChannelGrant.objects.create(user=alice, channel_id=GREEN, can_read=True)


def api(user) -> Client:
    _, secret = ApiToken.objects.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def request_json(channel=GREEN, subtopic="events.data", **extra) -> dict:
    return {
        "name": "Temperatures",
        "type": "oneTime",
        "format": {"extension": "csv", "timezone": "UTC"},
        "items": [
            {
                "params": {
                    "target": {"value": "temperature"},
                    "channelId": channel,
                    "subtopic": subtopic,
                    "from": START.isoformat(),
                    "to": (START + timedelta(days=1)).isoformat(),
                }
            }
        ],
        "notification": {"messages": [{"policy": "onFailure", "medium": "email"}]},
        **extra,
    }


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def channels_of(response) -> set[str]:
    return {row["channel"] for row in response.json()["results"]}


def errors_of(response) -> dict[str, str]:
    return {error["path"]: error["message"] for error in response.json()["errors"]}


CHANNEL_PATH = "items[0].params.channelId"


# --- the catalog ----------------------------------------------------------------------------


def test_series_lists_only_what_the_caller_may_read(alice, bob, admin_user, data):
    assert channels_of(api(alice).get("/api/series")) == {GREEN}
    assert channels_of(api(bob).get("/api/series")) == set()
    assert channels_of(api(admin_user).get("/api/series")) == {GREEN, COLD}
    # Asking for the channel by id or by its name changes nothing.
    assert channels_of(api(bob).get(f"/api/series?channel={GREEN}")) == set()
    assert channels_of(api(bob).get("/api/series?q=Greenhouse")) == set()
    assert Client().get("/api/series").status_code == 401


def test_a_team_grant_opens_the_series_to_its_members(bob, data):
    bob.groups.add(Group.objects.create(name="cold-chain"))
    call_command("grant", "@cold-chain", "Greenhouse", "--read", stdout=None)
    assert channels_of(api(bob).get("/api/series")) == {GREEN}


def test_a_subtopic_grant_shows_only_that_subtopic(bob, data):
    store_messages(
        [Message(channel=GREEN, subtopic="alarms", publisher="d", name="door", time=START, value=1)]
    )
    ChannelGrant.objects.create(user=bob, channel_id=GREEN, subtopic="alarms", can_read=True)
    rows = api(bob).get("/api/series").json()["results"]
    assert {(r["channel"], r["subtopic"], r["name"]) for r in rows} == {(GREEN, "alarms", "door")}


def test_open_mode_lets_every_signed_in_user_read(bob, data, settings):
    settings.EXPORTS_DATA_ACCESS = "open"
    assert channels_of(api(bob).get("/api/series")) == {GREEN, COLD}


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "q": st.sampled_from(["", "Green", "6b1f", "temp", "dev", "%", "_", "Cold"])
            | st.text(max_size=8),
            "channel": st.sampled_from([GREEN, COLD, "", GREEN.upper()]),
            "subtopic": st.sampled_from(["events.data", "", "events"]),
            "publisher": st.sampled_from(["", "dev-6b1f", "dev-c01d"]),
        },
    )
)
def test_no_query_of_a_no_grant_token_finds_another_teams_series(params, django_db_blocker):
    # hypothesis runs the examples inside the test's transaction; the data is made once.
    with django_db_blocker.unblock():
        from django.contrib.auth import get_user_model

        if not Message.objects.exists():
            store_messages(
                [
                    Message(
                        channel=c,
                        subtopic="events.data",
                        publisher=f"dev-{c[:4]}",
                        name="temperature",
                        time=START,
                        value=1,
                    )
                    for c in (GREEN, COLD)
                ]
            )
        carol, _ = get_user_model().objects.get_or_create(username="carol")
        response = api(carol).get("/api/series", params)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["results"] == []


# --- preview, save and run through the API --------------------------------------------------


def test_bob_may_not_preview_or_save_alices_channel(bob, data):
    client = api(bob)
    for url in ("/api/exports/preview", "/api/exports"):
        response = post(client, url, request_json())
        assert response.status_code == 400, url
        assert errors_of(response) == {CHANNEL_PATH: "bob may not read Greenhouse."}
    assert not ExportRequest.objects.exists()


def test_alice_previews_and_saves_her_channel(alice, data):
    client = api(alice)
    preview = post(client, "/api/exports/preview", request_json())
    assert preview.status_code == 200
    assert post(client, "/api/exports", request_json()).status_code == 201
    refused = post(client, "/api/exports", request_json(channel=COLD))
    assert errors_of(refused) == {CHANNEL_PATH: "alice may not read Cold storage."}


def test_a_narrowed_grant_names_the_subtopic_it_does_not_cover(bob, data):
    ChannelGrant.objects.create(user=bob, channel_id=GREEN, subtopic="alarms", can_read=True)
    response = post(api(bob), "/api/exports/preview", request_json())
    assert errors_of(response) == {
        CHANNEL_PATH: "bob may not read subtopic 'events.data' of Greenhouse."
    }


def test_an_update_to_an_unreadable_channel_is_refused_and_changes_nothing(alice, data):
    client = api(alice)
    created = post(client, "/api/exports", request_json()).json()
    body = request_json(channel=COLD)
    response = client.put(
        f"/api/exports/{created['id']}", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert ExportRequest.objects.get().items.get().channel_id == GREEN


def test_a_grant_revoked_after_saving_fails_the_run_and_sends_the_failure_message(alice, data):
    with_grant = save_spec(parse_request(request_json(), owner=alice))
    call_command("revoke", "alice", "Greenhouse", stdout=None)
    job = run_job(create_job(with_grant, START + timedelta(days=1)).pk)
    assert job.status == JobStatus.FAILED
    assert job.error == "alice may no longer read Greenhouse."
    assert not job.file and not job.row_count
    assert [d.message.policy for d in Delivery.objects.filter(job=job)] == ["onFailure"]


def test_staff_saving_for_an_owner_is_checked_against_the_owner(alice, bob, admin_user, data):
    with pytest.raises(Exception, match="bob may not read Greenhouse"):
        parse_request(request_json(), owner=bob)
    assert parse_request(request_json(), owner=admin_user).items[0].channel_id == GREEN


# --- pages -------------------------------------------------------------------------------------


def test_the_editor_offers_only_readable_channels(client, alice, bob, data):
    client.force_login(bob)
    page = client.get(reverse("exports:create")).text
    assert GREEN not in page and COLD not in page
    client.force_login(alice)
    page = client.get(reverse("exports:create")).text
    assert GREEN in page and COLD not in page


def test_the_catalog_json_offers_only_readable_series(client, alice, bob, data):
    url = reverse("exports:catalog-series")
    client.force_login(bob)
    for field in ("channel", "subtopic", "publisher", "name"):
        assert client.get(url, {"field": field, "channel": GREEN}).json()["options"] == []
    client.force_login(alice)
    assert [o["value"] for o in client.get(url, {"field": "channel"}).json()["options"]] == [GREEN]


def test_the_editor_refuses_an_unreadable_channel_in_words_and_saves_nothing(client, bob, data):
    from tests.test_editor import post_data

    client.force_login(bob)
    for extra in ({}, {"preview": "1"}):
        response = client.post(
            reverse("exports:create"), post_data(**{"items-0-channel_id": GREEN}, **extra)
        )
        assert response.status_code == 422  # the editor's status for a refused form
        assert "bob may not read Greenhouse." in response.text
    assert not ExportRequest.objects.exists()
