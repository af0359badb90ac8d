"""The JSON request shape: every validation rule, both dialects, and the lossless round trip."""

import copy
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exports.models import ExportRequest
from exports.requests.dump import dump_request
from exports.requests.schema import RequestSchemaError, parse_request
from exports.requests.spec import save_spec


def api_request(**overrides) -> dict:
    data = {
        "name": "Daily temperatures",
        "type": "recurring",
        "periodicity": "P1D",
        "periodStart": 1767222000,
        "format": {
            "extension": "csv",
            "timezone": "Europe/Rome",
            "template": "tabular",
            "csvDelimiter": ";",
            "filename": "temps",
            "columns": [{"id": "time", "label": "Ora"}, {"id": "value", "label": "Valore"}],
        },
        "items": [
            {
                "params": {
                    "target": {"value": "temperature,humidity", "label": "Temp,Hum"},
                    "channelId": "0115c85d-ef3e-4de9-9732-d0c5c4f2c482",
                    "subtopic": "events.data",
                    "period": "P1D",
                    "decimation": {"ds": "15m", "dsf": "max"},
                    "transform": "delta",
                    "outputFormat": "wide",
                },
                "filename": "room",
            }
        ],
        "notification": {
            "messages": [
                {"policy": "onSuccess", "medium": "email", "title": "Ready", "text": "Here"},
                {"policy": "onFailure", "medium": "telegram", "target": "12345", "title": "Oops"},
            ]
        },
    }
    data.update(overrides)
    return data


def errors_of(data) -> dict[str, list[str]]:
    with pytest.raises(RequestSchemaError) as excinfo:
        parse_request(data)
    return excinfo.value.errors


def with_change(path: str, value):
    """A valid request with one field (dotted path, list indexes as numbers) replaced."""
    data = api_request()
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        node.pop(last)
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


def test_it_accepts_the_api_shape():
    spec = parse_request(api_request())
    assert spec.request.type == "recurring"
    assert spec.request.timezone == "Europe/Rome"
    item = spec.items[0]
    assert item.metric_names == ["temperature", "humidity"]
    assert item.metric_labels == ["Temp", "Hum"]
    assert (item.ds, item.dsf, item.transform, item.output_format) == (
        "15m",
        "max",
        "delta",
        "wide",
    )
    assert [(c.column_id, c.label, c.position) for c in spec.columns] == [
        ("time", "Ora", 0),
        ("value", "Valore", 1),
    ]
    assert [m.policy for m in spec.messages] == ["onSuccess", "onFailure"]


def test_it_accepts_the_reference_page_shape_with_xls_alias():
    spec = parse_request(
        {
            "type": "oneTime",
            "format": {
                "extension": "xls",
                "columns": [{"id": "publisher", "label": "Device"}],
                "timezone": "utc",
            },
            "items": [
                {
                    "target": "energy",
                    "label": "Energy",
                    "channelId": "c1",
                    "subtopic": "s",
                    "from": 1767222000,
                    "to": "2026-01-02T00:00:00+01:00",
                }
            ],
            "notification": {
                "title": "Done",
                "text": "Your file",
                "medium": "slack",
                "target": "https://hooks.slack.com/services/T/B/X",
            },
        }
    )
    assert spec.request.extension == "xlsx"
    assert spec.request.timezone == "UTC"
    assert spec.items[0].target_label == "Energy"
    assert spec.items[0].to_time.isoformat() == "2026-01-01T23:00:00+00:00"
    assert spec.messages[0].policy == "onSuccess"
    assert spec.messages[0].medium == "slack"


def test_it_defaults_aggregation_to_avg_and_output_to_long():
    data = with_change("items.0.params.decimation", {"ds": "1h"})
    data["items"][0]["params"].pop("outputFormat")
    item = parse_request(data).items[0]
    assert (item.dsf, item.output_format) == ("avg", "long")


@pytest.mark.parametrize(
    "path, value, error_path, fragment",
    [
        ("periodicity", "daily", "periodicity", "not an ISO 8601 duration"),
        ("periodicity", "P0D", "periodicity", "longer than zero"),
        ("periodicity", "-P1D", "periodicity", "longer than zero"),
        ("periodicity", KeyError, "periodicity", "needs a periodicity"),
        ("type", "weekly", "type", "not one of: oneTime, recurring"),
        ("type", KeyError, "type", "required"),
        ("periodStart", "yesterday", "periodStart", "not an ISO 8601 date-time"),
        ("periodStart", "2026-01-01T00:00:00", "periodStart", "needs a UTC offset"),
        ("items.0.params.period", "PT0S", "items[0].params.period", "longer than zero"),
        ("items.0.params.period", "1 day", "items[0].params.period", "not an ISO 8601"),
        ("items.0.params.decimation", {"ds": "0m"}, "items[0].params.decimation.ds", "positive"),
        ("items.0.params.decimation", {"ds": "15x"}, "items[0].params.decimation.ds", "s, m, h"),
        ("items.0.params.decimation", {"ds": "m"}, "items[0].params.decimation.ds", "positive"),
        ("items.0.params.decimation", {"dsf": "max"}, "items[0].params.decimation.ds", "required"),
        (
            "items.0.params.decimation",
            {"ds": "1h", "dsf": "median"},
            "items[0].params.decimation.dsf",
            "not one of: avg, max, min, sum, stddev, variance",
        ),
        (
            "items.0.params.target",
            {"value": "a,b", "label": "A"},
            "items[0].params.target.label",
            "2 metric(s) but 1 label(s)",
        ),
        ("items.0.params.target", {"value": "a,,b"}, "items[0].params.target.value", "none empty"),
        ("items.0.params.target", {"value": "a,a"}, "items[0].params.target.value", "twice"),
        ("items.0.params.target", KeyError, "items[0].params.target", "required"),
        ("items.0.params.channelId", "", "items[0].params.channelId", "blank"),
        ("items.0.params.transform", "integral", "items[0].params.transform", "not one of: delta"),
        ("items.0.params.outputFormat", "tall", "items[0].params.outputFormat", "long, wide"),
        ("items", [], "items", "non-empty"),
        ("items", "temperature", "items", "non-empty"),
        ("format.extension", "docx", "format.extension", "not one of: csv, xlsx, pdf, json"),
        ("format.extension", KeyError, "format.extension", "required"),
        ("format.timezone", "Mars/Olympus", "format.timezone", "not an IANA time zone"),
        ("format.csvDelimiter", ";;", "format.csvDelimiter", "exactly one character"),
        ("format.csvDelimiter", "", "format.csvDelimiter", "cannot be blank"),
        ("format.template", "fancy", "format.template", "tabular, expanded"),
        ("format.columns", [{"id": "colour", "label": "C"}], "format.columns[0]", "Unknown column"),
        (
            "format.columns",
            [{"id": "time", "label": "a"}, {"id": "time", "label": "b"}],
            "format.columns[1]",
            "selected twice",
        ),
        ("format.columns", [{"id": "time", "label": " "}], "format.columns[0]", "non-empty label"),
        ("format.columns", {"id": "time"}, "format.columns", "must be a list"),
        (
            "notification",
            {"messages": [{"policy": "onSuccess", "medium": "pigeon"}]},
            "notification.messages[0].medium",
            "not one of: email, slack, telegram, discord",
        ),
        (
            "notification",
            {"messages": [{"policy": "always", "medium": "email"}]},
            "notification.messages[0].policy",
            "onSuccess, onFailure",
        ),
        ("notification", {"title": "x"}, "notification.medium", "required"),
        ("format", KeyError, "format", "required"),
        ("paused", "yes", "paused", "true or false"),
        ("surprise", 1, "surprise", "unknown field"),
    ],
)
def test_it_rejects_each_bad_field_naming_it(path, value, error_path, fragment):
    errors = errors_of(with_change(path, value))
    assert error_path in errors, errors
    assert any(fragment in message for message in errors[error_path]), errors[error_path]


def test_it_refuses_periodicity_on_a_one_time_request():
    errors = errors_of(api_request(type="oneTime"))
    assert "no periodicity" in errors["periodicity"][0]


def test_it_requires_from_before_to():
    data = api_request()
    params = data["items"][0]["params"]
    params.pop("period")
    params.update({"from": 1767222000, "to": 1767222000})
    assert "later than 'from'" in errors_of(data)["items[0].params.to"][0]


def test_it_refuses_period_together_with_from():
    data = with_change("items.0.params.from", 1767222000)
    assert "not both" in errors_of(data)["items[0].params.period"][0]


def test_it_reports_every_problem_at_once():
    data = api_request(periodicity="nope")
    data["format"]["timezone"] = "Nowhere"
    assert {"periodicity", "format.timezone"} <= set(errors_of(data))


def test_it_rejects_a_non_object():
    assert "(request)" in errors_of(["not", "an", "object"])


@pytest.mark.parametrize("good", ["PT15M", "P1M", "P1Y6M4DT12H30M5S", "P1W", "PT1.5M"])
def test_it_accepts_valid_durations(good):
    parse_request(api_request(periodicity=good))


@pytest.mark.parametrize("ds", ["1s", "15m", "2h", "1d", "1w", "3M", "1y", "120m"])
def test_it_accepts_valid_decimations(ds):
    parse_request(with_change("items.0.params.decimation", {"ds": ds, "dsf": "stddev"}))


@pytest.mark.django_db
def test_round_trip_is_lossless(alice, django_capture_on_commit_callbacks, redis_conn):
    data = api_request(periodStart=1767222000.25)
    data["items"][0]["params"].pop("period")
    data["items"][0]["params"].update(
        {"from": 1767222000.5, "to": 1767308400, "publisher": "dev-1"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = save_spec(parse_request(data, owner=alice))
    dumped = dump_request(first)
    with django_capture_on_commit_callbacks(execute=True):
        second = save_spec(parse_request(copy.deepcopy(dumped), owner=alice))
    again = dump_request(second)
    for key in ("id", "createdAt", "updatedAt"):
        dumped.pop(key)
        again.pop(key)
    assert dumped == again
    # and it is the input, normalised (no information lost)
    assert dumped["periodStart"] == 1767222000.25
    assert dumped["items"][0]["params"]["from"] == 1767222000.5
    assert dumped["items"][0]["params"]["publisher"] == "dev-1"
    assert dumped["format"]["columns"] == data["format"]["columns"]
    assert dumped["notification"] == data["notification"]


@pytest.mark.django_db
def test_a_request_without_period_start_is_anchored_at_creation(alice, redis_conn):
    data = api_request()
    data.pop("periodStart")
    request = save_spec(parse_request(data, owner=alice))
    assert request.period_start == request.created_at.replace(microsecond=0)


@pytest.mark.django_db
def test_createexport_prints_the_id_and_dumpexport_prints_the_json(
    alice, tmp_path, capsys, django_capture_on_commit_callbacks, redis_conn
):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(api_request()))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("createexport", str(path), owner="alice")
    request_id = int(capsys.readouterr().out.strip())
    request = ExportRequest.objects.get(pk=request_id)
    assert request.owner == alice
    call_command("dumpexport", str(request_id))
    dumped = json.loads(capsys.readouterr().out)
    assert dumped["items"][0]["params"]["target"] == {
        "value": "temperature,humidity",
        "label": "Temp,Hum",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content, owner, message",
    [
        ("{not json", "alice", "not valid JSON"),
        (json.dumps(api_request(periodicity="P0D")), "alice", "periodicity: 'P0D' must be longer"),
        (json.dumps(api_request()), "nobody", "No user named 'nobody'"),
    ],
)
def test_createexport_refuses_bad_input_and_saves_nothing(alice, tmp_path, content, owner, message):
    path = tmp_path / "request.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        call_command("createexport", str(path), owner=owner)
    assert ExportRequest.objects.count() == 0


@pytest.mark.django_db
def test_createexport_reports_a_missing_file(alice):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("createexport", "/nonexistent/request.json", owner="alice")


@pytest.mark.django_db
def test_dumpexport_reports_an_unknown_id():
    with pytest.raises(CommandError, match="No export request with id '999'"):
        call_command("dumpexport", "999")


@pytest.mark.django_db
def test_createexport_queues_the_job_of_a_one_time_request(
    alice, tmp_path, capsys, django_capture_on_commit_callbacks, redis_conn
):
    from exports.models import ExportJob

    data = api_request(type="oneTime")
    data.pop("periodicity")
    path = tmp_path / "request.json"
    path.write_text(json.dumps(data))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("createexport", str(path), owner="alice")
    request_id = int(capsys.readouterr().out.strip())
    assert ExportJob.objects.filter(request_id=request_id).count() == 1


@pytest.mark.parametrize("zone", ["/etc/passwd", "../UTC", "Europe/../UTC", "/\u00aa\u00d0"])
def test_a_time_zone_key_zoneinfo_refuses_is_a_field_error(zone):
    with pytest.raises(RequestSchemaError) as caught:
        parse_request(api_request(format={"extension": "csv", "timezone": zone}))
    assert "format.timezone" in caught.value.errors
