"""The API's OpenAPI contract says what the server enforces (issue 16, item 8).

Each test sends the exact input schemathesis found where schema and server disagreed, and
checks both sides: the answer, and what the served schema states about it.
"""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.models import ApiToken, ChannelGrant, ExportItem, ExportRequest
from exports.requests.dump import dump_request
from exports.requests.schema import parse_request

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Greenhouse",
    "type": "oneTime",
    "paused": True,
    "format": {"extension": "csv"},
    "items": [
        {
            "params": {
                "target": {"value": "temperature"},
                "channelId": "c1",
                "subtopic": "events.data",
            }
        }
    ],
}


@pytest.fixture
def api(alice):
    ChannelGrant.objects.create(user=alice, channel_id="c1", can_publish=True)
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(alice, 'test')[1]}")


@pytest.fixture
def openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return json.loads(response.content)


def component(openapi, name):
    return openapi["components"]["schemas"][name]


def post(api, url, body, content_type="application/json"):
    return api.post(url, json.dumps(body), content_type=content_type)


def errors(response):
    return {(e["path"], e["message"]) for e in response.json()["errors"]}


def test_an_empty_items_list_is_refused_and_the_schema_says_at_least_one(api, openapi):
    response = post(api, "/api/exports", {**BODY, "items": []})
    assert response.status_code == 400
    assert ("items", "must be a non-empty list of items.") in errors(response)
    assert component(openapi, "ExportRequestRequest")["properties"]["items"]["minItems"] == 1


def test_unknown_fields_are_refused_on_patch_and_the_schema_closes_the_objects(api, alice, openapi):
    export = ExportRequest.objects.create(owner=alice, name="Mine", paused=True)
    ExportItem.objects.create(request=export, target_value="t", channel_id="c1", subtopic="s")
    response = api.patch(
        f"/api/exports/{export.pk}",
        json.dumps({"colour": "red"}),
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 400
    assert errors(response) == {("colour", next(iter(errors(response)))[1])}
    patch = openapi["paths"]["/api/exports/{id}"]["patch"]["requestBody"]["content"]
    schema = component(openapi, "PatchedExportRequestPatchRequest")
    assert set(patch) == {"application/json", "application/merge-patch+json"}
    assert schema["additionalProperties"] is False and "required" not in schema
    for name in ("ExportRequestRequest", "FormatRequest", "ItemRequest", "MessageRequest"):
        assert component(openapi, name)["additionalProperties"] is False
    # A merge patch may leave out what it does not change, even inside format.
    changed = api.patch(
        f"/api/exports/{export.pk}",
        json.dumps({"format": {"extension": "json"}}),
        content_type="application/merge-patch+json",
    )
    assert changed.status_code == 200 and changed.json()["format"]["extension"] == "json"


def test_ingest_without_a_content_type_is_415_and_the_schema_lists_the_types(api, openapi):
    url = "/api/channels/c1/messages/events.data"
    response = api.generic("POST", url, b'[{"n": "t", "v": 1}]', content_type="")
    assert response.status_code == 415
    assert "application/senml+json" in response.json()["errors"][0]["message"]
    body = openapi["paths"]["/api/channels/{channel}/messages/{subtopic}"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {
        "application/senml+json",
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
    }
    pack = body["content"]["application/senml+json"]["schema"]
    assert pack["type"] == "array"
    record = component(openapi, "SenMLRecordRequest")["properties"]
    assert {"bn", "bt", "bu", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"} <= set(record)


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/exports?type=", "type"),
        ("/api/series?q=", "q"),
        ("/api/exports?pageSize=", "pageSize"),
    ],
)
def test_an_empty_query_parameter_is_refused(api, url, parameter):
    response = api.get(url)
    assert response.status_code == 400
    assert errors(response) == {(parameter, "must not be empty; leave the parameter out instead.")}


def test_an_empty_subtopic_filter_still_means_the_root_subtopic(api):
    assert api.get("/api/series?subtopic=").status_code == 200


def test_an_empty_notification_target_means_the_owner_and_the_schema_says_so(api, alice, openapi):
    body = {**BODY, "notification": {"messages": [{"medium": "email", "target": ""}]}}
    response = post(api, "/api/exports", body)
    assert response.status_code == 201
    assert response.json()["notification"]["messages"] == [
        {"policy": "onSuccess", "medium": "email"}
    ]
    target = component(openapi, "MessageRequest")["properties"]["target"]
    assert "Empty or left out: email to the request's owner" in target["description"]
    slack = {**BODY, "notification": {"messages": [{"medium": "slack", "target": ""}]}}
    refused = post(api, "/api/exports", slack)
    assert refused.status_code == 400
    assert "notification.messages[0].target" in {path for path, _ in errors(refused)}


def test_period_start_sent_as_iso_8601_answers_unix_seconds_as_documented(api, openapi):
    body = {**BODY, "type": "recurring", "periodicity": "P1D"}
    body["periodStart"] = "2026-01-01T00:00:00+01:00"
    response = post(api, "/api/exports", body)
    assert response.status_code == 201
    assert response.json()["periodStart"] == 1767222000
    assert (
        post(api, "/api/exports", {**body, "periodStart": 1767222000}).json()["periodStart"]
        == 1767222000
    )
    stored = component(openapi, "StoredExportRequest")["properties"]["periodStart"]
    sent = component(openapi, "ExportRequestRequest")["properties"]["periodStart"]
    assert stored["type"] == "number" and "Unix seconds" in stored["description"]
    assert {"type": "string", "format": "date-time"} in sent["oneOf"]


@pytest.mark.parametrize("extension", ["xlsx", "pdf", "json"])
def test_csv_only_fields_are_not_echoed_for_other_formats(api, extension):
    fmt = {"extension": extension, "csvDelimiter": ";", "csvBom": False}
    response = post(api, "/api/exports", {**BODY, "format": fmt})
    assert response.status_code == 201
    assert "csvDelimiter" not in response.json()["format"]
    assert "csvBom" not in response.json()["format"]
    export = ExportRequest.objects.get(pk=response.json()["id"])
    again = parse_request(dump_request(export), owner=export.owner)
    assert again.request.extension == extension  # the dump still round-trips


def test_csv_fields_are_echoed_for_csv(api):
    fmt = {"extension": "csv", "csvDelimiter": ";", "csvBom": False}
    response = post(api, "/api/exports", {**BODY, "format": fmt})
    assert response.json()["format"]["csvDelimiter"] == ";"
    assert response.json()["format"]["csvBom"] is False


def test_schema_states_the_lengths_the_models_hold(openapi):
    request = component(openapi, "ExportRequestRequest")["properties"]
    assert request["name"]["maxLength"] == 200
    assert component(openapi, "ColumnRequest")["properties"]["label"]["maxLength"] == 200
    assert component(openapi, "MessageRequest")["properties"]["target"]["maxLength"] == 500
    assert request["items"]["maxItems"] == 100
    assert component(openapi, "NotificationRequest")["properties"]["messages"]["maxItems"] == 20


def test_new_tokens_expire_after_the_default_lifetime(client, alice, settings):
    settings.API_TOKEN_DEFAULT_LIFETIME = "P30D"
    client.force_login(alice)
    page = client.get(reverse("exports:tokens")).content.decode()
    assert "The default, P30D (API_TOKEN_DEFAULT_LIFETIME)" in page
    client.post(reverse("exports:tokens"), {"name": "script", "lifetime": ""})
    token = ApiToken.objects.get(name="script")
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    call_command("apitoken", "alice", "--name", "cli", stdout=io.StringIO())
    cli = ApiToken.objects.get(name="cli")
    assert abs(cli.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)


def test_a_message_text_that_is_not_a_string_is_refused(api):
    body = {**BODY, "notification": {"messages": [{"medium": "email", "text": {}}]}}
    response = post(api, "/api/exports", body)
    assert response.status_code == 400
    assert errors(response) == {("notification.messages[0].text", "must be a string.")}


def test_a_column_label_longer_than_the_model_holds_is_refused(api):
    fmt = {"extension": "csv", "columns": [{"id": "name", "label": "0" * 201}]}
    response = post(api, "/api/exports", {**BODY, "format": fmt})
    assert response.status_code == 400
    assert errors(response) == {
        ("format.columns[0].label", "Ensure this value has at most 200 characters (it has 201).")
    }


def test_a_message_text_longer_than_the_cap_is_refused_and_nothing_is_saved(api):
    from exports.models import ExportRequest, NotificationMessage

    long_text = {"medium": "email", "text": "x" * 20_001}
    body = {**BODY, "notification": {"messages": [long_text]}}
    before = ExportRequest.objects.count()
    response = post(api, "/api/exports", body)
    assert response.status_code == 400
    assert errors(response) == {
        (
            "notification.messages[0].text",
            "Ensure this value has at most 20000 characters (it has 20001).",
        )
    }
    assert ExportRequest.objects.count() == before
    just_fits = {**BODY, "notification": {"messages": [{**long_text, "text": "x" * 20_000}]}}
    assert post(api, "/api/exports", just_fits).status_code == 201
    assert NotificationMessage.objects.filter(text="x" * 20_000).count() == 1
