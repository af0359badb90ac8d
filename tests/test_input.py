"""Input that cannot hurt: text a database cannot hold and unbounded durations are refused
with a field error by every interface (JSON, commands, the editor, the admin, SenML), and a
schedule stored before these rules cannot break a page."""

import copy
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from exports.data.senml import SenMLError, parse_pack
from exports.models import ExportItem, ExportRequest, Message, NotificationMessage
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.validation import (
    parse_duration,
    storable_text_error,
    validate_ds,
    validate_periodicity,
)
from tests.test_views import form_data

pytestmark = pytest.mark.django_db

REQUEST = {
    "name": "Greenhouse",
    "type": "recurring",
    "periodicity": "P1D",
    "format": {"extension": "csv"},
    "items": [{"params": {"target": "temperature", "channelId": "c1", "subtopic": "s"}}],
}
NUL = "\x00"
SURROGATE = "\ud800"


def request_with(path: str, value) -> dict:
    """REQUEST with the value at a dotted path (numbers index lists) replaced."""
    data = copy.deepcopy(REQUEST)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return data


def errors_of(data) -> dict[str, list[str]]:
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(data)
    return caught.value.errors


# --- text a database can hold --------------------------------------------------------------


def test_the_one_helper_names_the_problem_and_its_position_without_repeating_it():
    assert storable_text_error("fine, with ünïcode and emoji 🌡") is None
    assert storable_text_error(f"ab{NUL}") == (
        "contains a NUL character (at position 3), which cannot be stored."
    )
    reason = storable_text_error(f"{SURROGATE}x")
    assert "unpaired surrogate (U+D800 at position 1)" in reason
    assert SURROGATE not in reason


@pytest.mark.parametrize(
    ("path", "error_path"),
    [
        ("name", "name"),
        ("periodicity", "periodicity"),
        ("format.extension", "format.extension"),
        ("format.filename", "format.filename"),
        ("items.0.params.target", "items[0].params.target"),
        ("items.0.params.channelId", "items[0].params.channelId"),
        ("items.0.params.subtopic", "items[0].params.subtopic"),
    ],
)
@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_json_refuses_nul_and_lone_surrogates_at_the_fields_path(path, error_path, bad):
    errors = errors_of(request_with(path, f"x{bad}y"))
    assert list(errors) == [error_path]
    [message] = errors[error_path]
    assert message.startswith("This text contains a NUL character (at position 2)") or (
        message.startswith("This text contains an unpaired surrogate (U+D800 at position 2)")
    )


def test_json_refuses_a_bad_key_without_echoing_it():
    data = copy.deepcopy(REQUEST)
    data["format"][f"ext{SURROGATE}"] = "csv"
    errors = errors_of(data)
    assert errors == {
        "format": [
            "A field name contains an unpaired surrogate (U+D800 at position 4), "
            "which is not valid Unicode text."
        ]
    }
    json.dumps(errors, ensure_ascii=False).encode()  # printable, loggable, sendable


def test_json_refuses_bad_text_in_notification_messages():
    data = copy.deepcopy(REQUEST)
    data["notification"] = {
        "messages": [{"medium": "email", "title": f"Ready{NUL}", "text": f"{{rows}}{SURROGATE}"}]
    }
    errors = errors_of(data)
    assert set(errors) == {"notification.messages[0].title", "notification.messages[0].text"}


def test_the_model_refuses_bad_text_in_any_text_field_even_past_the_schema(alice):
    message = NotificationMessage(medium="slack", target=f"https://hooks.slack.com/{SURROGATE}")
    with pytest.raises(ValidationError) as caught:
        message.full_clean(exclude=["request"])
    assert "unpaired surrogate" in caught.value.message_dict["target"][0]
    item = ExportItem(target_value="t", channel_id=f"c{NUL}", subtopic="s", publisher=NUL)
    with pytest.raises(ValidationError) as caught:
        item.full_clean(exclude=["request"])
    assert set(caught.value.message_dict) == {"channel_id", "publisher"}


def test_createexport_refuses_a_nul_escape_and_saves_nothing(alice, tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request_with("name", f"a{NUL}b")))  # written as \\u0000
    with pytest.raises(CommandError, match=r"name: This text contains a NUL character"):
        call_command("createexport", str(path), owner="alice")
    assert not ExportRequest.objects.exists()


def test_createexport_refuses_a_number_with_more_digits_than_python_reads(alice, tmp_path):
    path = tmp_path / "request.json"
    path.write_text('{"periodStart": 1%s}' % ("0" * 5000))
    with pytest.raises(CommandError, match="not valid JSON: a number has too many digits"):
        call_command("createexport", str(path), owner="alice")


def test_createexport_refuses_json_nested_too_deeply(alice, tmp_path):
    path = tmp_path / "request.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CommandError, match="nested too deeply"):
        call_command("createexport", str(path), owner="alice")


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "document",
    [
        json.dumps(request_with("name", f"a{SURROGATE}")),  # a \\ud800 escape: no UTF-8 form
        json.dumps(request_with("items.0.params.subtopic", NUL)),
        "[" * 50_000 + "]" * 50_000,
    ],
    ids=["surrogate", "nul", "deep"],
)
def test_the_admin_json_import_refuses_unstorable_text_with_an_error_not_a_500(
    admin_client_, document
):
    response = admin_client_.post(
        reverse("admin:exports_exportrequest_import_json"), {"document": document}
    )
    assert response.status_code == 200
    reasons = ("cannot be stored", "not valid Unicode", "nested too deeply")
    assert any(reason in response.text for reason in reasons)
    assert not ExportRequest.objects.exists()


def test_the_editor_refuses_a_nul_with_a_field_error_and_saves_nothing(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("exports:create"), form_data(name=f"Green{NUL}house", filename=f"f{NUL}")
    )
    assert response.status_code == 422
    assert 'id="id_name_error"' in response.text and 'id="id_filename_error"' in response.text
    assert "Null characters are not allowed" in response.text
    assert not ExportRequest.objects.exists()


@pytest.mark.parametrize("field", ["items-0-channel_id", "items-0-subtopic", "items-0-publisher"])
def test_the_editor_does_not_look_up_a_nul_in_the_catalog(client, alice, field):
    # The item row narrows its pickers with the posted channel before validation.
    client.force_login(alice)
    response = client.post(reverse("exports:create"), form_data(**{field: f"c{NUL}1"}))
    assert response.status_code == 422
    assert "Null characters are not allowed" in response.text
    assert not ExportRequest.objects.exists()


def test_the_admin_add_form_refuses_a_nul_in_an_inline(admin_client_, alice):
    data = {
        "owner": alice.pk,
        "name": "Greenhouse",
        "type": "oneTime",
        "extension": "csv",
        "timezone": "UTC",
        "template": "tabular",
        "csv_delimiter": ",",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-target_value": "temperature",
        "items-0-channel_id": f"c{NUL}1",
        "items-0-subtopic": "s",
        "items-0-output_format": "long",
        "items-0-position": "0",
        "columns-TOTAL_FORMS": "0",
        "columns-INITIAL_FORMS": "0",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
    }
    response = admin_client_.post(reverse("admin:exports_exportrequest_add"), data)
    assert response.status_code == 200
    assert "Null characters are not allowed" in response.text
    assert not ExportRequest.objects.exists()


# --- SenML -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"n": "t", "vs": f"on{NUL}"}, "vs contains a NUL character (at position 3)"),
        ({"n": "t", "u": SURROGATE, "v": 1}, "u contains an unpaired surrogate"),
        ({"bn": f"dev{NUL}:", "n": "t", "v": 1}, "bn contains a NUL character"),
        ({"n": "t", "v": 1, "l": SURROGATE}, "l contains an unpaired surrogate"),
    ],
)
def test_senml_refuses_unstorable_text_as_record_n_reason(record, reason):
    with pytest.raises(SenMLError) as caught:
        parse_pack([{"n": "ok", "v": 1}, record], now=1.7e9)
    assert str(caught.value).startswith("record 1: ")
    assert reason in caught.value.reason


@pytest.mark.parametrize("key", ["v", "t", "s", "bt", "bv", "bs", "ut"])
def test_senml_refuses_an_integer_too_large_for_a_float(key):
    record = {"n": "t", "v": 1, key: 10**400}
    with pytest.raises(SenMLError, match=f"record 0: {key} must be a finite number"):
        parse_pack([record], now=1.7e9)
    with pytest.raises(SenMLError, match="newer than the supported 10"):
        parse_pack([{"n": "t", "v": 1, "bver": 10**400}], now=1.7e9)


def test_ingest_refuses_a_number_with_more_digits_than_python_reads(tmp_path):
    for name, content in (("pack.json", '[{"n": "t", "v": 1%s}]'), ("p.jsonl", '{"v": 1%s}')):
        path = tmp_path / name
        path.write_text(content % ("0" * 5000))
        with pytest.raises(CommandError, match="too many digits"):
            call_command("ingest", str(path), channel="c", subtopic="s", publisher="p")


def test_json_refuses_a_timestamp_too_large_for_a_float():
    errors = errors_of(request_with("periodStart", 10**400))
    assert errors == {"periodStart": ["is out of range."]}


def test_ingest_reports_the_record_and_stores_nothing(tmp_path):
    path = tmp_path / "pack.json"
    path.write_text(json.dumps([{"n": "t", "v": 1}, {"n": "t", "vs": NUL}]))
    with pytest.raises(CommandError, match=r"record 1: vs contains a NUL character"):
        call_command("ingest", str(path), channel="c", subtopic="s", publisher="p")
    lines = tmp_path / "pack.jsonl"
    lines.write_text('{"n": "t", "v": 1}\n' + "[" * 100_000 + "\n")
    with pytest.raises(CommandError, match=r"line 2 .*nested too deeply"):
        call_command("ingest", str(lines), channel="c", subtopic="s", publisher="p")
    assert not Message.objects.exists()


def test_ingest_refuses_an_argument_that_was_not_utf8(tmp_path):
    path = tmp_path / "pack.json"
    path.write_text(json.dumps([{"n": "t", "v": 1}]))
    # Python hands undecodable argv bytes over as lone surrogates (surrogateescape).
    channel = b"c\xff".decode("utf-8", "surrogateescape")
    with pytest.raises(CommandError, match="--channel contains an unpaired surrogate"):
        call_command(
            "ingest", str(path), channel=channel, subtopic="s", publisher="p", stdout=io.StringIO()
        )
    assert not Message.objects.exists()


# --- bounded durations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P2000Y", "'P2000Y' is longer than P100Y (100 years), the longest duration allowed."),
        ("P99999999999Y", "longer than P100Y"),
        ("PT99999999999999H", "longer than P100Y"),
        ("P1.5M", "fractional number of years or months, which is not allowed"),
        ("P0,5Y", "fractional number of years or months"),
        ("P0D", "must be longer than zero"),
        ("-P1D", "must be longer than zero"),
        ("P", "is not an ISO 8601 duration"),
        ("PT1e5S", "is not an ISO 8601 duration"),
        (f"P1D{NUL}", "NUL character"),
    ],
)
def test_a_duration_error_says_what_is_wrong(text, message):
    with pytest.raises(ValidationError) as caught:
        parse_duration(text)
    assert message in caught.value.messages[0]


@pytest.mark.parametrize("text", ["P100Y", "P1Y6M4DT12H30M5S", "P1.5D", "PT36H", "P52W"])
def test_durations_up_to_a_century_are_accepted(text):
    parse_duration(text)


@pytest.mark.parametrize("text", ["PT0.001S", "PT59S", "PT0.5M"])
def test_a_periodicity_shorter_than_the_minimum_is_refused(text):
    with pytest.raises(ValidationError, match="shorter than PT1M, the shortest periodicity"):
        validate_periodicity(text)


def test_the_minimum_periodicity_is_a_setting(settings):
    settings.EXPORTS_MIN_PERIODICITY = "PT1H"
    validate_periodicity("PT1H")
    validate_periodicity("P1M")
    with pytest.raises(ValidationError, match="shorter than PT1H"):
        validate_periodicity("PT59M")


@pytest.mark.parametrize(
    ("path", "value", "error_path", "fragment"),
    [
        ("periodicity", "P2000Y", "periodicity", "longer than P100Y"),
        ("periodicity", "PT0.001S", "periodicity", "shorter than PT1M"),
        ("periodicity", "P1.5M", "periodicity", "fractional number of years or months"),
        ("items.0.params.period", "P200Y", "items[0].params.period", "longer than P100Y"),
        ("items.0.params.period", "P0.5M", "items[0].params.period", "fractional"),
        (
            "items.0.params.decimation",
            {"ds": "5000y"},
            "items[0].params.decimation.ds",
            "longer than 100 years, the longest decimation allowed",
        ),
        ("periodStart", "9999-12-31T00:00:00Z", "periodStart", "from the year 1900 up to"),
        ("periodStart", -5e10, "periodStart", "up to the end of 2999"),
        ("items.0.params.from", "0001-01-01T00:00:00Z", "items[0].params.from", "year 1900"),
        ("items.0.params.to", 4e10, "items[0].params.to", "up to the end of 2999"),
    ],
)
def test_json_refuses_durations_and_anchors_out_of_range(path, value, error_path, fragment):
    errors = errors_of(request_with(path, value))
    assert error_path in errors, errors
    assert fragment in errors[error_path][0]


def test_a_decimation_of_a_huge_count_is_refused_without_overflow():
    with pytest.raises(ValidationError, match="longest decimation"):
        validate_ds("9" * 400 + "s")
    validate_ds("100y")
    validate_ds("1200M")


def test_the_editor_refuses_p2000y_with_a_field_error(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("exports:create"), form_data(type="recurring", periodicity="P2000Y")
    )
    assert response.status_code == 422
    assert 'id="id_periodicity_error"' in response.text
    assert "longer than P100Y" in response.text
    assert not ExportRequest.objects.exists()


def test_a_schedule_stored_before_the_rules_does_not_break_the_detail_page(client, alice):
    # Written around validation, as rows saved by an older version may be.
    export = ExportRequest.objects.create(
        owner=alice,
        name="Old",
        type="recurring",
        periodicity="P2000Y",
        period_start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    client.force_login(alice)
    response = client.get(reverse("exports:detail", args=[export.pk]))
    assert response.status_code == 200
    edit = client.post(
        reverse("exports:edit", args=[export.pk]),
        form_data(type="recurring", periodicity="P2000Y", **{"items-TOTAL_FORMS": "1"}),
    )
    assert edit.status_code == 422 and "longer than P100Y" in edit.text


# --- query strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/exports/exportrequest/?name=%00",
        "/admin/exports/exportjob/?status__exact=a%00",
        "/admin/notifications/delivery/?status__exact=%00",
        "/admin/exports/exportrequest/?q=%00",
        "/?page=1%00",
        "/?%00=1",
    ],
)
def test_a_nul_in_a_query_string_is_a_400_not_a_database_error(admin_client_, url):
    admin_client_.raise_request_exception = False
    response = admin_client_.get(url)
    assert response.status_code == 400
    assert "contains a NUL character" in response.text


def test_a_query_string_with_a_name_holding_a_nul_does_not_echo_it(admin_client_):
    response = admin_client_.get("/?a%00b=1")
    assert response.text == (
        "A query parameter's name contains a NUL character (at position 2), which cannot be stored."
    )


def test_run_now_of_a_schedule_stored_before_the_rules_says_why_it_cannot_run(
    client, alice, admin_user
):
    export = ExportRequest.objects.create(
        owner=alice, name="Old", type="recurring", periodicity="P2000Y"
    )
    ExportItem.objects.create(request=export, target_value="t", channel_id="c", subtopic="s")
    client.force_login(alice)
    response = client.post(reverse("exports:run", args=[export.pk]), follow=True)
    assert response.status_code == 200
    assert "cannot run: &#x27;P2000Y&#x27; is longer than P100Y" in response.text
    client.force_login(admin_user)
    admin_response = client.post(
        reverse("admin:exports_exportrequest_changelist"),
        {"action": "run_now_action", "_selected_action": [export.pk]},
        follow=True,
    )
    assert "Old: cannot run:" in admin_response.text
    assert not export.jobs.exists()


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:exports_exportrequest_changelist",
        "admin:exports_exportjob_changelist",
        "admin:exports_channel_changelist",
        "admin:notifications_delivery_changelist",
        "admin:notifications_downloadlink_changelist",
    ],
)
@pytest.mark.parametrize("selected", ["abc", NUL, "1" + "0" * 30])
def test_an_admin_action_on_a_tampered_selection_is_refused_not_a_500(
    admin_client_, changelist, selected
):
    admin_client_.raise_request_exception = False
    url = reverse(changelist)
    response = admin_client_.post(
        url, {"action": "delete_selected", "_selected_action": [selected]}, follow=True
    )
    assert response.status_code == 200


# --- the JSON API --------------------------------------------------------------------------


@pytest.fixture
def api_client(admin_user):
    from django.test import Client

    from exports.models import ApiToken

    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.objects.issue(admin_user, 't')[1]}")
    client.raise_request_exception = False
    return client


DEEP = "[" * 50_000 + "]" * 50_000
HUGE_NUMBER = '[{"n": "t", "v": 1%s}]' % ("0" * 5000)


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/api/exports", "application/json"),
        ("/api/exports/preview", "application/json"),
        ("/api/channels/c1/messages/s", "application/senml+json"),
        ("/api/channels/c1/messages/s", "application/json"),
        ("/api/channels/c1/messages/s", "application/x-ndjson"),
    ],
)
@pytest.mark.parametrize("body", [DEEP, HUGE_NUMBER], ids=["deep", "digits"])
def test_the_api_answers_400_to_json_past_the_decoders_limits(api_client, url, content_type, body):
    response = api_client.post(url, body, content_type=content_type)
    assert response.status_code == 400
    assert not ExportRequest.objects.exists() and not Message.objects.exists()


def test_the_api_refuses_unstorable_text_in_a_request_and_a_pack(api_client):
    document = json.dumps(request_with("name", f"a{SURROGATE}"))
    response = api_client.post("/api/exports", document, content_type="application/json")
    assert response.status_code == 400 and "unpaired surrogate" in response.text
    pack = json.dumps([{"n": "t", "vs": NUL}])
    response = api_client.post("/api/channels/c1/messages/s", pack, content_type="application/json")
    assert response.status_code == 400 and "record 0: vs contains a NUL" in response.text
    assert not ExportRequest.objects.exists() and not Message.objects.exists()


def test_a_nul_in_an_address_is_a_400(api_client):
    pack = json.dumps([{"n": "t", "v": 1}])
    response = api_client.post(
        "/api/channels/c%00/messages/s", pack, content_type="application/json"
    )
    assert response.status_code == 400
    [error] = response.json()["errors"]  # the API's error shape
    assert error["message"].startswith("The address contains a NUL character")
    response = api_client.get("/api/series?channel=c%00")
    assert response.json()["errors"][0]["path"] == "channel"
