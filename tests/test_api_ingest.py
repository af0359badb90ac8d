"""HTTP ingest: SenML over the API lands exactly as `manage.py ingest` stores it, all or nothing."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from exports.api.parsers import SenMLPackParser
from exports.models import ApiToken, ChannelGrant, Message, Series

pytestmark = pytest.mark.django_db

URL = "/api/channels/{channel}/messages/events.data"
T0 = 1_700_000_000
PACK = [
    {"bn": "urn:dev:ow:10e2073a01080063:", "bt": T0, "bu": "Cel", "n": "temperature", "v": 21.5},
    {"n": "temperature", "t": 300, "v": 21.75},
    {"n": "humidity", "u": "%RH", "t": 300, "v": 48},
    {"n": "door", "t": 600, "vb": True},
    {"n": "label", "t": 600, "vs": "north"},
    {"n": "blob", "t": 600, "vd": "aGVsbG8"},
    {"n": "energy", "u": "kWh", "t": 600, "v": 12.5, "s": 1520.25, "ut": 60},
]
STORED_FIELDS = (
    "subtopic",
    "publisher",
    "protocol",
    "name",
    "unit",
    "time",
    "value",
    "string_value",
    "bool_value",
    "data_value",
    "sum",
    "update_time",
)


@pytest.fixture
def alice_api(alice):
    ChannelGrant.objects.create(user=alice, channel_id="c-http", can_publish=True)
    return Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(alice, 'gateway')[1]}")


def post(client, body, content_type="application/senml+json", channel="c-http", query=""):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL.format(channel=channel) + query, data, content_type=content_type)


def stored(channel: str) -> list[tuple]:
    rows = Message.objects.filter(channel=channel).order_by("time", "name")
    return list(rows.values_list(*STORED_FIELDS))


def test_a_pack_with_base_fields_lands_exactly_as_the_ingest_command_stores_it(alice_api, tmp_path):
    path = tmp_path / "pack.json"
    path.write_text(json.dumps(PACK))
    call_command(
        "ingest",
        str(path),
        channel="c-cli",
        subtopic="events.data",
        publisher="alice",
        stdout=io.StringIO(),
    )
    response = post(alice_api, PACK)
    assert response.status_code == 202, response.content
    assert response.json() == {
        "stored": 7,
        "channel": "c-http",
        "subtopic": "events.data",
        "publisher": "alice",
    }
    assert stored("c-http") == stored("c-cli")
    assert len(stored("c-http")) == 7


def test_json_lines_are_one_stream_whose_base_fields_carry_over(alice_api):
    lines = "\n".join(json.dumps(record) for record in PACK[:3])
    response = post(alice_api, lines, content_type="application/x-ndjson")
    assert response.status_code == 202, response.content
    names = set(Message.objects.values_list("name", flat=True))
    assert names == {
        "urn:dev:ow:10e2073a01080063:temperature",
        "urn:dev:ow:10e2073a01080063:humidity",
    }


def test_the_publisher_comes_from_the_query_parameter_when_given(alice_api):
    post(alice_api, PACK[:1], query="?publisher=gateway-7")
    assert list(Message.objects.values_list("publisher", flat=True)) == ["gateway-7"]


def test_the_catalog_is_updated_by_the_same_function_ingest_uses(alice_api):
    post(alice_api, PACK)
    series = Series.objects.get(name="urn:dev:ow:10e2073a01080063:temperature")
    assert (series.channel, series.publisher, series.count, series.unit) == (
        "c-http",
        "alice",
        2,
        "Cel",
    )


def test_a_malformed_pack_stores_nothing_and_names_the_record(alice_api):
    bad = [*PACK[:3], {"n": "pressure", "t": 900}, *PACK[3:]]
    response = post(alice_api, bad)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["path"] == "[3]"
    assert error["message"].startswith("Malformed SenML, nothing stored: record 3:")
    assert not Message.objects.exists() and not Series.objects.exists()


def test_a_malformed_json_line_names_its_line(alice_api):
    lines = json.dumps(PACK[0]) + "\n{not json\n"
    response = post(alice_api, lines, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert "line 2" in response.json()["errors"][0]["message"]
    assert not Message.objects.exists()


def test_a_name_longer_than_the_store_holds_is_refused(alice_api):
    response = post(alice_api, [{"n": "x" * 300, "v": 1, "t": T0}])
    assert response.status_code == 400
    assert "the name is longer than 255 characters" in response.json()["errors"][0]["message"]


def test_invalid_json_is_a_400_with_its_position(alice_api):
    response = post(alice_api, "[{]")
    assert response.status_code == 400
    assert "line 1 column 3" in response.json()["errors"][0]["message"]


def test_an_empty_body_is_a_400(alice_api):
    url = URL.format(channel="c-http")
    response = alice_api.post(url, b"", content_type="", CONTENT_TYPE="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The body is empty")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_a_wrong_content_type_is_a_415(alice_api, content_type):
    response = post(alice_api, PACK, content_type=content_type)
    assert response.status_code == 415
    assert "application/senml+json" in response.json()["errors"][0]["message"]
    assert not Message.objects.exists()


def test_a_body_over_the_limit_is_a_413_and_stores_nothing(alice_api, settings):
    settings.INGEST_MAX_BYTES = 200
    response = post(alice_api, PACK)
    assert response.status_code == 413
    assert "INGEST_MAX_BYTES (200 bytes)" in response.json()["errors"][0]["message"]
    assert not Message.objects.exists()


def test_the_parser_stops_reading_past_the_limit_even_without_a_length(settings):
    # A body streamed without (or under-declaring) its length is still cut at the limit.
    settings.INGEST_MAX_BYTES = 10
    stream = io.BytesIO(b"[" + b" " * 100 + b"]")
    with pytest.raises(Exception) as raised:
        SenMLPackParser().parse(stream)
    assert raised.value.status_code == 413
    assert stream.tell() == 11


def test_a_user_may_not_publish_to_a_channel_not_granted(alice_api):
    response = post(alice_api, PACK, channel="c-other")
    assert response.status_code == 403
    assert response.json()["errors"] == [
        {"path": "channel", "message": "You may not publish to this channel."}
    ]
    assert not Message.objects.exists()


def test_staff_may_publish_anywhere(admin_user):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(admin_user, 't')[1]}")
    assert post(client, PACK, channel="anything").status_code == 202


def test_an_origin_the_store_cannot_hold_is_a_400_naming_it(alice_api):
    response = post(alice_api, PACK, query="?publisher=" + "p" * 300)
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "publisher"


def test_ingest_is_capped_by_its_own_limit_not_djangos_form_limit(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert len(json.dumps(PACK)) > 100
    assert post(alice_api, PACK).status_code == 202
