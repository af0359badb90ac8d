"""Caps on one request (issue 16, item 5): items, columns and notification messages, the same
on every way in — the API, createexport, the admin's JSON import and inlines, the pages —
with the same words, read from the settings."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from exports.models import ApiToken, ChannelGrant, ExportRequest
from exports.requests.schema import RequestSchemaError, parse_request
from tests.test_admin import add_form_data
from tests.test_editor import post_data

pytestmark = pytest.mark.django_db

ITEM = {"params": {"target": {"value": "t"}, "channelId": "c1", "subtopic": "s"}}
MESSAGE = {"medium": "email", "target": "someone@example.com"}
ITEMS_WORDS = "An export can have at most 100 items (EXPORTS_MAX_ITEMS)."
MESSAGES_WORDS = "An export can have at most 20 notification messages (EXPORTS_MAX_MESSAGES)."


def request_json(items=1, messages=0, columns=None):
    data = {"type": "oneTime", "format": {"extension": "csv"}, "items": [ITEM] * items}
    if messages:
        data["notification"] = {"messages": [MESSAGE] * messages}
    if columns is not None:
        data["format"]["columns"] = columns
    return data


@pytest.fixture
def api(alice):
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_read=True)
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(alice, 'test')[1]}")


def test_the_api_refuses_ten_thousand_items_and_a_thousand_recipients(api):
    body = request_json(items=10_000, messages=1_000)
    response = api.post("/api/exports", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "items", "message": ITEMS_WORDS},
        {"path": "notification.messages", "message": MESSAGES_WORDS},
    ]
    assert ExportRequest.objects.count() == 0


def test_the_caps_themselves_are_accepted(api):
    body = request_json(items=100, messages=20)
    response = api.post("/api/exports", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.json()
    assert len(response.json()["items"]) == 100


def test_the_caps_come_from_the_settings_and_the_schema_follows(api, client, settings):
    settings.EXPORTS_MAX_ITEMS = 2
    settings.EXPORTS_MAX_MESSAGES = 1
    body = request_json(items=3, messages=2)
    response = api.post("/api/exports", json.dumps(body), content_type="application/json")
    assert {e["message"] for e in response.json()["errors"]} == {
        "An export can have at most 2 items (EXPORTS_MAX_ITEMS).",
        "An export can have at most 1 notification messages (EXPORTS_MAX_MESSAGES).",
    }
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    shapes = schema["components"]["schemas"]
    assert shapes["ExportRequestRequest"]["properties"]["items"]["maxItems"] == 2
    assert shapes["NotificationRequest"]["properties"]["messages"]["maxItems"] == 1


def test_more_columns_than_there_are_columns_are_refused(alice):
    from exports.requests.vocabulary import ColumnId

    count = len(ColumnId.values)  # every column once is the most a request can hold
    columns = [{"id": "time", "label": "Time"}] * (count + 1)
    with pytest.raises(RequestSchemaError) as refused:
        parse_request(request_json(columns=columns), owner=alice)
    assert refused.value.errors == {
        "format.columns": [f"An export can have at most {count} columns, each column once."]
    }


def test_createexport_refuses_too_many_items(alice, tmp_path):
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_read=True)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request_json(items=101)))
    with pytest.raises(CommandError, match=r"items: An export can have at most 100 items"):
        call_command("createexport", str(path), "--owner", "alice", stdout=io.StringIO())
    assert ExportRequest.objects.count() == 0


def test_the_admin_json_import_refuses_too_many_messages(client, admin_user, alice):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:exports_exportrequest_import_json"),
        {"owner": alice.pk, "document": json.dumps(request_json(messages=21))},
    )
    assert response.status_code == 200
    assert MESSAGES_WORDS in response.content.decode()
    assert ExportRequest.objects.count() == 0


def test_the_admin_inlines_refuse_more_than_the_caps(client, admin_user, alice, settings):
    settings.EXPORTS_MAX_ITEMS = 1
    settings.EXPORTS_MAX_MESSAGES = 0
    client.force_login(admin_user)
    data = add_form_data(alice, **{"items-TOTAL_FORMS": "2"})
    data.update({key.replace("items-0-", "items-1-"): value for key, value in data.items()})
    data["items-1-position"] = "1"
    response = client.post(reverse("admin:exports_exportrequest_add"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "An export can have at most 1 items (EXPORTS_MAX_ITEMS)." in page
    assert "An export can have at most 0 notification messages (EXPORTS_MAX_MESSAGES)." in page
    assert ExportRequest.objects.count() == 0


def test_the_editor_refuses_more_items_than_the_cap(client, alice, settings):
    settings.EXPORTS_MAX_ITEMS = 1
    client.force_login(alice)
    data = post_data(**{"items-TOTAL_FORMS": "2"})
    data.update({key.replace("items-0-", "items-1-"): value for key, value in data.items()})
    response = client.post(reverse("exports:create"), data)
    assert response.status_code in (200, 422)
    assert "An export can have at most 1 items (EXPORTS_MAX_ITEMS)." in response.content.decode()
    assert ExportRequest.objects.count() == 0
