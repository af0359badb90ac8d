"""Sharing a request (issue 15): who may do what, on the pages and the API; the list's
"Mine / Shared with me / All I can see"; shares in the JSON (dump, parse, commands, admin);
email to a team; IAM events.

The people: alice owns the request; bob sees it (a viewer share to him); carol sees it through
her team cold-chain (a viewer share to the group); dave is an editor; eve is a stranger; admin
is staff.
"""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from exports.iam import acting_as
from exports.models import ApiToken, ExportRequest, IamEvent, RequestShare, ShareRole
from exports.requests.dump import dump_request
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec
from exports.requests.vocabulary import Medium
from notifications.models import Delivery, DeliveryStatus
from tests.test_notifications_delivery import finish, smtp, work  # noqa: F401 - smtp: fixture
from tests.test_notifications_fakes import FILE_CONTENT, add_message, make_job

pytestmark = pytest.mark.django_db

PEOPLE = ("owner", "viewer", "team_viewer", "editor", "stranger", "staff")
SEES = {"owner", "viewer", "team_viewer", "editor", "staff"}
CHANGES = {"owner", "editor", "staff"}
MANAGES = {"owner", "staff"}


def request_json(name="Temps", **extra) -> dict:
    return {
        "name": name,
        "type": "recurring",
        "periodicity": "P1D",
        "format": {"extension": "csv"},
        "items": [
            {"params": {"target": {"value": "temperature"}, "channelId": "c1", "subtopic": "x"}}
        ],
        **extra,
    }


@pytest.fixture(autouse=True)
def open_mode(settings):
    settings.EXPORTS_DATA_ACCESS = "open"


@pytest.fixture
def team(db):
    return Group.objects.create(name="cold-chain")


@pytest.fixture
def people(alice, bob, admin_user, team):
    users = get_user_model().objects
    carol = users.create_user("carol", "carol@example.com", "carol-pass-123")
    carol.groups.add(team)
    return {
        "owner": alice,
        "viewer": bob,
        "team_viewer": carol,
        "editor": users.create_user("dave", "dave@example.com", "dave-pass-123"),
        "stranger": users.create_user("eve", "eve@example.com", "eve-pass-123"),
        "staff": admin_user,
    }


@pytest.fixture
def shared(people, team):
    """alice's request, shared with bob and cold-chain as viewers and dave as editor, one
    finished job with a file."""
    export = save_spec(parse_request(request_json(), owner=people["owner"]))
    RequestShare.objects.create(request=export, user=people["viewer"])
    RequestShare.objects.create(request=export, group=team)
    RequestShare.objects.create(request=export, user=people["editor"], role=ShareRole.EDITOR)
    export.job = make_job(export)
    return export


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(user) -> Client:
    _, secret = ApiToken.objects.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def expect(who: str, allowed: set[str], yes: int, no_but_sees: int, unseen: int = 404) -> int:
    if who in allowed:
        return yes
    return no_but_sees if who in SEES else unseen


# --- the matrix: pages ---------------------------------------------------------------------


@pytest.mark.parametrize("who", PEOPLE)
def test_pages_by_role(who, people, shared, redis_conn):
    client, pk, job = page_client(people[who]), shared.pk, shared.job.pk
    listed = client.get(reverse("exports:list")).content.decode()
    assert ("Temps" in listed) == (who in SEES)
    seen = 200 if who in SEES else 404
    detail = client.get(reverse("exports:detail", args=[pk]))
    assert detail.status_code == seen
    assert client.get(reverse("exports:jobs", args=[pk])).status_code == seen
    download = client.get(reverse("exports:job-download", args=[pk, job]))
    assert download.status_code == seen
    if seen == 200:
        assert b"".join(download.streaming_content) == FILE_CONTENT
        page = detail.content.decode()
        # Viewers get no controls that change anything; only the owner and staff delete/share.
        assert (reverse("exports:edit", args=[pk]) in page) == (who in CHANGES)
        assert (reverse("exports:run", args=[pk]) in page) == (who in CHANGES)
        assert (reverse("exports:delete", args=[pk]) in page) == (who in MANAGES)
        assert (reverse("exports:share-add", args=[pk]) in page) == (who in MANAGES)
        assert "@cold-chain" in page and "dave" in page  # whom it is shared with
    # Pages never say "you may not": a missing right is a 404, as for an unseen request.
    changes = 200 if who in CHANGES else 404
    assert client.get(reverse("exports:edit", args=[pk])).status_code == changes
    assert client.post(reverse("exports:pause", args=[pk])).status_code == (
        302 if who in CHANGES else 404
    )
    assert ExportRequest.objects.get(pk=pk).paused == (who in CHANGES)
    assert client.post(reverse("exports:resume", args=[pk])).status_code in (302, 404)
    run = client.post(reverse("exports:run", args=[pk]))
    assert run.status_code == (302 if who in CHANGES else 404)
    assert shared.jobs.count() == (2 if who in CHANGES else 1)
    manages = 200 if who in MANAGES else 404
    assert client.get(reverse("exports:delete", args=[pk])).status_code == manages
    add = client.post(
        reverse("exports:share-add", args=[pk]),
        {"user": people["stranger"].pk, "role": "viewer"},
    )
    assert add.status_code == (302 if who in MANAGES else 404)
    assert RequestShare.objects.filter(user=people["stranger"]).exists() == (who in MANAGES)
    delete = client.post(reverse("exports:delete", args=[pk]))
    assert delete.status_code == (302 if who in MANAGES else 404)
    assert ExportRequest.objects.filter(pk=pk).exists() == (who not in MANAGES)


@pytest.mark.parametrize("who", PEOPLE)
def test_the_api_by_role(who, people, shared, redis_conn):
    client, pk = api(people[who]), shared.pk
    seen = 200 if who in SEES else 404
    assert client.get(f"/api/exports/{pk}").status_code == seen
    assert client.get(f"/api/exports/{pk}/jobs").status_code == seen
    assert client.get(f"/api/exports/{pk}/download").status_code == seen
    assert client.get(f"/api/jobs/{shared.job.pk}/download").status_code == seen
    assert client.get(f"/api/exports/{pk}/shares").status_code == seen
    listed = [r["id"] for r in client.get("/api/exports").json()["results"]]
    assert (pk in listed) == (who in SEES)
    # A right missing on a request the caller sees is a 403 with the reason; unseen is a 404.
    patch = client.patch(
        f"/api/exports/{pk}",
        json.dumps({"name": "Renamed"}),
        content_type="application/merge-patch+json",
    )
    assert patch.status_code == expect(who, CHANGES, 200, 403)
    if patch.status_code == 403:
        assert "viewer" in patch.json()["errors"][0]["message"]
    assert client.post(f"/api/exports/{pk}/pause").status_code == expect(who, CHANGES, 200, 403)
    assert client.post(f"/api/exports/{pk}/run").status_code == expect(who, CHANGES, 202, 403)
    share = client.post(
        f"/api/exports/{pk}/shares",
        {"user": "eve", "role": "editor"},
        content_type="application/json",
    )
    assert share.status_code == expect(who, MANAGES, 201, 403)
    bobs = RequestShare.objects.get(request=shared, user=people["viewer"]).pk
    gone = client.delete(f"/api/exports/{pk}/shares/{bobs}")
    assert gone.status_code == expect(who, MANAGES, 204, 403)
    deleted = client.delete(f"/api/exports/{pk}")
    assert deleted.status_code == expect(who, MANAGES, 204, 403)
    if who not in MANAGES and who != "stranger":
        assert deleted.json()["errors"][0]["message"].startswith("Only the owner")


def test_an_editors_changes_are_checked_against_the_owners_read_access(settings, people, shared):
    """The export runs as its owner: what alice may not read, dave cannot put in her request —
    on the API and on the edit page — even if dave could read it himself."""
    from exports.models import ChannelGrant

    settings.EXPORTS_DATA_ACCESS = "grants"
    ChannelGrant.objects.create(user=people["owner"], channel_id="c1", can_read=True)
    ChannelGrant.objects.create(user=people["editor"], channel_id="secret", can_read=True)
    document = dump_request(shared)
    document["items"][0]["params"]["channelId"] = "secret"
    response = api(people["editor"]).put(
        f"/api/exports/{shared.pk}", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == "items[0].params.channelId"
    assert error["message"] == "alice may not read secret."
    document["items"][0]["params"]["channelId"] = "c1"
    document["name"] = "Edited by dave"
    response = api(people["editor"]).put(
        f"/api/exports/{shared.pk}", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 200
    shared.refresh_from_db()
    assert shared.name == "Edited by dave" and shared.owner == people["owner"]
    # The shares came back unchanged, so an editor's round trip is allowed; changing them isn't.
    document["shares"] = [{"user": "eve", "role": "editor"}]
    response = api(people["editor"]).put(
        f"/api/exports/{shared.pk}", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 403 and response.json()["errors"][0]["path"] == "shares"


# --- the list -------------------------------------------------------------------------------


def test_the_list_filters_mine_shared_and_all_and_shows_the_owner(people, shared):
    bob = people["viewer"]
    save_spec(parse_request(request_json("Bobs own"), owner=bob))
    save_spec(parse_request(request_json("Eves secret"), owner=people["stranger"]))
    client = page_client(bob)

    def names(whose):
        response = client.get(reverse("exports:list"), {"whose": whose})
        assert response.status_code == 200
        return sorted(row.export.name for row in response.context["rows"]), response

    assert names("")[0] == ["Bobs own", "Temps"]
    assert names("mine")[0] == ["Bobs own"]
    listed, response = names("shared")
    assert listed == ["Temps"]
    page = response.content.decode()
    assert '<th scope="col">Owner</th>' in page and "alice" in page
    assert "Shared with me" in page and "All I can see" in page
    assert client.get(reverse("exports:list"), {"whose": "theirs"}).status_code == 400
    # Through the team alone, too; and the API's list takes the same filter.
    carol = api(people["team_viewer"])
    assert [r["name"] for r in carol.get("/api/exports?whose=shared").json()["results"]] == [
        "Temps"
    ]
    assert carol.get("/api/exports?whose=mine").json()["results"] == []


# --- the JSON --------------------------------------------------------------------------------


def test_shares_survive_the_json_round_trip_and_the_commands(people, shared, team):
    dumped = dump_request(shared)
    assert dumped["shares"] == [
        {"user": "bob", "role": "viewer"},
        {"group": "cold-chain", "role": "viewer"},
        {"user": "dave", "role": "editor"},
    ]
    out = io.StringIO()
    call_command("dumpexport", str(shared.pk), stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["shares"] == dumped["shares"]
    copy = save_spec(parse_request(printed, owner=people["staff"]))
    assert dump_request(copy)["shares"] == dumped["shares"]


def test_the_admin_import_keeps_shares(people, shared):
    client = page_client(people["staff"])
    response = client.post(
        reverse("admin:exports_exportrequest_import_json"),
        {"owner": people["owner"].pk, "document": json.dumps(dump_request(shared))},
    )
    assert response.status_code == 302
    imported = ExportRequest.objects.exclude(pk=shared.pk).get()
    assert dump_request(imported)["shares"] == dump_request(shared)["shares"]


def test_unknown_or_odd_shares_are_refused_by_path(people):
    document = request_json(
        shares=[
            {"user": "nobody", "role": "viewer"},
            {"group": "no-such-team"},
            {"user": "bob", "role": "owner"},
            {"user": "alice"},
            {"user": "bob", "group": "cold-chain"},
            {"user": "dave"},
            {"user": "dave", "role": "editor"},
        ]
    )
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(document, owner=people["owner"])
    errors = caught.value.errors
    assert errors["shares[0].user"] == ["No user is called 'nobody'."]
    assert errors["shares[1].group"] == ["No group is called 'no-such-team'."]
    assert errors["shares[2].role"] == ["'owner' is not one of: viewer, editor."]
    assert errors["shares[3].user"] == ["alice owns this export already."]
    assert errors["shares[4]"] == ["names either a user or a group (one of them)."]
    assert errors["shares[6].user"] == ["'dave' is listed twice."]
    response = api(people["owner"]).post(
        "/api/exports", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 400
    assert {"path": "shares[0].user", "message": "No user is called 'nobody'."} in response.json()[
        "errors"
    ]


def test_the_owner_replaces_shares_through_the_request_json(people, shared):
    client = api(people["owner"])
    document = dump_request(shared)
    document["shares"] = [{"group": "cold-chain", "role": "editor"}]
    response = client.put(
        f"/api/exports/{shared.pk}", json.dumps(document), content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["shares"] == [{"group": "cold-chain", "role": "editor"}]
    # Left out, the shares stay; an empty list removes them.
    document.pop("shares")
    response = client.put(
        f"/api/exports/{shared.pk}", json.dumps(document), content_type="application/json"
    )
    assert response.json()["shares"] == [{"group": "cold-chain", "role": "editor"}]
    response = client.patch(
        f"/api/exports/{shared.pk}",
        json.dumps({"shares": []}),
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 200 and "shares" not in response.json()
    # carol's team is an editor no more: she sees nothing now.
    assert api(people["team_viewer"]).get(f"/api/exports/{shared.pk}").status_code == 404


def test_the_shares_endpoint_lists_adds_changes_and_removes(people, shared):
    client = api(people["owner"])
    listed = client.get(f"/api/exports/{shared.pk}/shares").json()
    assert [(s.get("group") or s["user"], s["role"]) for s in listed] == [
        ("cold-chain", "viewer"),
        ("bob", "viewer"),
        ("dave", "editor"),
    ]
    again = client.post(
        f"/api/exports/{shared.pk}/shares", {"user": "bob", "role": "editor"}, "application/json"
    )
    assert again.status_code == 200 and again.json()["role"] == "editor"
    unknown = client.post(
        f"/api/exports/{shared.pk}/shares", {"group": "nobody"}, "application/json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == [
        {"path": "group", "message": "No group is called 'nobody'."}
    ]
    other = save_spec(parse_request(request_json("Other"), owner=people["owner"]))
    share = RequestShare.objects.filter(request=shared).first()
    assert client.delete(f"/api/exports/{other.pk}/shares/{share.pk}").status_code == 404


def test_the_request_page_shares_and_unshares(people, shared, team):
    client = page_client(people["owner"])
    response = client.post(
        reverse("exports:share-add", args=[shared.pk]),
        {"user": people["stranger"].pk, "group": team.pk, "role": "viewer"},
        follow=True,
    )
    assert "Choose a user or a group" in response.content.decode()
    response = client.post(
        reverse("exports:share-add", args=[shared.pk]),
        {"user": people["stranger"].pk, "role": "editor"},
        follow=True,
    )
    assert "shared with eve as editor" in response.content.decode()
    share = RequestShare.objects.get(user=people["stranger"])
    client.post(reverse("exports:share-remove", args=[shared.pk, share.pk]))
    assert not RequestShare.objects.filter(user=people["stranger"]).exists()
    # The owner is not offered to themself.
    form = client.get(reverse("exports:detail", args=[shared.pk])).context["share_form"]
    assert people["owner"] not in form.fields["user"].queryset


def test_a_viewer_sees_deliveries_without_the_buttons_that_change_them(people, shared):
    message = add_message(shared, Medium.EMAIL)
    Delivery.objects.create(job=shared.job, message=message, status=DeliveryStatus.UNKNOWN)
    viewer = page_client(people["viewer"]).get(reverse("exports:detail", args=[shared.pk]))
    editor = page_client(people["editor"]).get(reverse("exports:detail", args=[shared.pk]))
    for response, shown in ((viewer, False), (editor, True)):
        page = response.content.decode()
        assert ("Send test" in page) == shown
        assert ("Resend" in page) == shown
    delivery = Delivery.objects.get()
    assert (
        page_client(people["viewer"])
        .post(reverse("notifications:resend-delivery", args=[delivery.pk]))
        .status_code
        == 404
    )
    test_send = reverse("notifications:test-send", args=[message.pk])
    assert page_client(people["viewer"]).post(test_send).status_code == 404


# --- email to a team -------------------------------------------------------------------------


def test_an_email_to_a_team_reaches_every_member_once(
    smtp,  # noqa: F811 - the fixture
    people,
    team,
    redis_conn,
    django_capture_on_commit_callbacks,
):
    users = get_user_model().objects
    twin = users.create_user("carol2", "Carol@Example.com", "x-pass-123")  # same address
    gone = users.create_user("frank", "frank@example.com", "x-pass-123", is_active=False)
    silent = users.create_user("gina", "", "x-pass-123")  # no address
    team.user_set.add(people["editor"], twin, gone, silent)
    export = save_spec(parse_request(request_json(), owner=people["owner"]))
    add_message(export, Medium.EMAIL, target="@cold-chain")
    # Members are read when it is sent: one who joined after saving gets it too.
    team.user_set.add(people["viewer"])
    finish(make_job(export), django_capture_on_commit_callbacks)
    work()
    [received] = smtp.mails
    assert sorted(received.recipients) == [
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENT and delivery.recipient == "@cold-chain"
    assert delivery.response == "Accepted by the mail server for @cold-chain (3 addresses)"


def test_an_email_to_a_team_that_does_not_exist_is_refused_when_saved(people):
    document = request_json(notification={"messages": [{"medium": "email", "target": "@nobody"}]})
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(document, owner=people["owner"])
    assert caught.value.errors == {
        "notification.messages[0].target": ["No team (group) is called 'nobody'."]
    }
    document["notification"]["messages"][0]["target"] = "@"
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(document, owner=people["owner"])
    assert "Name a team after the @" in caught.value.summary()


# --- IAM --------------------------------------------------------------------------------------


def test_every_share_change_is_an_update_event_of_the_request(
    people, team, redis_conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = save_spec(parse_request(request_json(), owner=people["owner"]))
    IamEvent.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True), acting_as(people["owner"]):
        share = RequestShare.objects.create(request=export, group=team, role="editor")
    with django_capture_on_commit_callbacks(execute=True), acting_as(people["owner"]):
        share.role = "viewer"
        share.save()
    with django_capture_on_commit_callbacks(execute=True), acting_as(people["owner"]):
        share.delete()
    events = list(IamEvent.objects.order_by("id"))
    assert [e.operation for e in events] == ["export_request.update"] * 3
    assert {e.resource for e in events} == {f"exporter:exports:{export.pk}"}
    assert [e.snapshot.get("shares") for e in events] == [
        [{"group": "cold-chain", "role": "editor"}],
        [{"group": "cold-chain", "role": "viewer"}],
        None,
    ]
    assert {e.actor_name for e in events} == {"alice"}
