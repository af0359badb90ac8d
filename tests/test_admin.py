"""Django admin: every model browsable, requests edited inline or as JSON, records read-only."""

import json
from datetime import UTC, datetime

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from exports.data.ingestion import store_messages
from exports.models import Channel, ExportJob, ExportRequest, IamEvent, Message
from exports.requests.dump import dump_request
from exports.requests.schema import parse_request
from exports.requests.spec import save_spec

pytestmark = pytest.mark.django_db

REQUEST_JSON = {
    "name": "Greenhouse temperatures",
    "type": "recurring",
    "periodicity": "P1D",
    "format": {
        "extension": "csv",
        "timezone": "Europe/Rome",
        "columns": [{"id": "time", "label": "When"}, {"id": "value", "label": "Reading"}],
    },
    "items": [
        {
            "params": {
                "target": {"value": "temperature,humidity", "label": "Temp,Hum"},
                "channelId": "c1",
                "subtopic": "events.data",
                "period": "P1D",
                "decimation": {"ds": "1h", "dsf": "max"},
            }
        }
    ],
    "notification": {"messages": [{"policy": "onFailure", "medium": "email"}]},
}


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def export_request(alice):
    return save_spec(parse_request(REQUEST_JSON, owner=alice))


@pytest.fixture
def one_of_each(export_request):
    """A row of every exports model, so changelists render real rows."""
    Message.objects.create(
        channel="c1",
        subtopic="events.data",
        publisher="p1",
        name="temperature",
        unit="Cel",
        time=datetime(2025, 1, 1, tzinfo=UTC),
        value=21.5,
    )
    ExportJob.objects.create(
        request=export_request, slot=datetime(2025, 1, 2, tzinfo=UTC), size=2048, row_count=10
    )
    IamEvent.objects.create(
        operation="export_request.create",
        action="exporter:exports:create",
        resource=f"exporter:exports:{export_request.pk}",
        actor_name="alice",
    )


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_registered_model_has_a_working_changelist(admin_client_, one_of_each):
    for model in admin.site._registry:
        response = admin_client_.get(url(model, "changelist"))
        assert response.status_code == 200, model


@pytest.mark.parametrize("model", [Message, ExportJob, IamEvent])
def test_it_shows_system_records_read_only(admin_client_, one_of_each, model):
    obj = model.objects.get()
    assert admin_client_.get(url(model, "changelist")).status_code == 200
    page = admin_client_.get(url(model, "change", obj.pk))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert admin_client_.get(url(model, "add")).status_code == 403


def test_the_job_changelist_filters_on_status_and_searches_by_request(admin_client_, one_of_each):
    def listed(query):
        response = admin_client_.get(url(ExportJob, "changelist"), query)
        return [job.request.name for job in response.context["cl"].result_list]

    assert listed({"status__exact": "notProcessed"}) == ["Greenhouse temperatures"]
    assert listed({"status__exact": "done"}) == []
    assert listed({"q": "greenhouse"}) == ["Greenhouse temperatures"]
    assert listed({"q": "not-a-number"}) == []
    assert b"2.0\xc2\xa0KB" in admin_client_.get(url(ExportJob, "changelist")).content


def test_the_message_admin_refuses_to_add_or_change_a_message(admin_client_, one_of_each):
    message = Message.objects.get()
    data = {"channel": "c2", "publisher": "p", "name": "x", "time_0": "2025-01-01", "time_1": "0"}
    assert admin_client_.post(url(Message, "add"), data).status_code == 403
    admin_client_.post(url(Message, "change", message.pk), data)
    message.refresh_from_db()
    assert Message.objects.count() == 1 and message.channel == "c1"


def test_the_message_changelist_filters_on_channel_publisher_and_name(admin_client_):
    store_messages(
        [
            Message(channel=channel, publisher=publisher, name=name, time=timezone.now(), value=1)
            for channel, publisher, name in [
                ("c1", "p1", "t"),
                ("c1", "p2", "h"),
                ("c2", "p1", "t"),
            ]
        ]
    )
    Channel.objects.filter(channel_id="c1").update(name="Greenhouse")

    def listed(query):
        response = admin_client_.get(url(Message, "changelist"), query)
        return {(m.channel, m.publisher, m.name) for m in response.context["cl"].result_list}

    assert listed({"channel": "c1"}) == {("c1", "p1", "t"), ("c1", "p2", "h")}
    assert listed({"publisher": "p1", "name": "t"}) == {("c1", "p1", "t"), ("c2", "p1", "t")}
    response = admin_client_.get(url(Message, "changelist"))
    specs = response.context["cl"].filter_specs
    assert [spec.title for spec in specs] == ["channel", "publisher", "name"]
    # The choices come from the catalog, with the channel's human name.
    assert specs[0].lookup_choices == [("c1", "Greenhouse (c1)"), ("c2", "c2")]
    assert [value for value, _ in specs[2].lookup_choices] == ["h", "t"]


def test_the_request_change_page_shows_items_columns_and_messages_inline(
    admin_client_, export_request
):
    response = admin_client_.get(url(ExportRequest, "change", export_request.pk))
    assert response.status_code == 200
    formsets = {f.formset.prefix: f for f in response.context["inline_admin_formsets"]}
    assert set(formsets) == {"items", "columns", "messages", "shares"}
    labels = [form.instance.label for form in formsets["columns"].formset.forms]
    assert labels == ["When", "Reading"]
    assert b"Download JSON" in response.content


def test_the_request_changelist_searches_by_metric_and_filters_by_type(
    admin_client_, export_request, bob
):
    other = dict(REQUEST_JSON, name="Energy", type="oneTime", periodicity="")
    other["items"] = [{"target": "energy", "channelId": "c9", "subtopic": "events.data"}]
    save_spec(parse_request(other, owner=bob))

    def listed(query):
        response = admin_client_.get(url(ExportRequest, "changelist"), query)
        return [r.name for r in response.context["cl"].result_list]

    assert listed({"q": "humidity"}) == ["Greenhouse temperatures"]
    assert listed({"type__exact": "oneTime"}) == ["Energy"]
    assert listed({"q": "bob"}) == ["Energy"]


def test_the_import_page_is_linked_from_the_request_changelist(admin_client_):
    response = admin_client_.get(url(ExportRequest, "changelist"))
    assert url(ExportRequest, "import_json").encode() in response.content
    assert admin_client_.get(url(ExportRequest, "import_json")).status_code == 200


def test_importing_json_creates_the_request_for_the_chosen_owner(admin_client_, bob):
    response = admin_client_.post(
        url(ExportRequest, "import_json"),
        {"owner": bob.pk, "document": json.dumps(REQUEST_JSON)},
    )
    request = ExportRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url(ExportRequest, "change", request.pk)
    assert request.owner == bob
    assert request.items.get().ds == "1h"
    assert [c.label for c in request.columns.all()] == ["When", "Reading"]
    assert request.messages.get().policy == "onFailure"


def test_importing_json_without_an_owner_gives_the_request_to_the_importer(
    admin_client_, admin_user
):
    admin_client_.post(url(ExportRequest, "import_json"), {"document": json.dumps(REQUEST_JSON)})
    assert ExportRequest.objects.get().owner == admin_user


def test_importing_bad_json_lists_errors_by_path_and_saves_nothing(admin_client_, alice):
    bad = json.loads(json.dumps(REQUEST_JSON))
    bad["items"][0]["params"]["decimation"]["ds"] = "15 minutes"
    bad["format"]["extension"] = "doc"
    response = admin_client_.post(
        url(ExportRequest, "import_json"), {"owner": alice.pk, "document": json.dumps(bad)}
    )
    assert response.status_code == 200
    errors = dict(response.context["schema_errors"])
    assert set(errors) == {"items[0].params.decimation.ds", "format.extension"}
    assert b"<code>items[0].params.decimation.ds</code>" in response.content
    assert ExportRequest.objects.count() == 0


def test_importing_a_request_without_items_shows_the_items_error(admin_client_):
    document = dict(REQUEST_JSON, items=[])
    response = admin_client_.post(
        url(ExportRequest, "import_json"), {"document": json.dumps(document)}
    )
    assert response.status_code == 200
    assert response.context["schema_errors"] == [("items", ["must be a non-empty list of items."])]
    assert b"<code>items</code>: must be a non-empty list of items." in response.content
    assert ExportRequest.objects.count() == 0


def test_importing_text_that_is_not_json_says_where_it_breaks(admin_client_):
    response = admin_client_.post(url(ExportRequest, "import_json"), {"document": '{"name": }'})
    assert response.status_code == 200
    assert response.context["form"].errors["document"] == [
        "Not valid JSON: Expecting value at line 1 column 10."
    ]
    assert ExportRequest.objects.count() == 0


def test_importing_a_list_saves_all_or_nothing(admin_client_):
    broken = dict(REQUEST_JSON, name=5)
    response = admin_client_.post(
        url(ExportRequest, "import_json"), {"document": json.dumps([REQUEST_JSON, broken])}
    )
    assert [where for where, _ in response.context["schema_errors"]] == ["[1].name"]
    assert ExportRequest.objects.count() == 0

    admin_client_.post(
        url(ExportRequest, "import_json"),
        {"document": json.dumps([REQUEST_JSON, dict(REQUEST_JSON, name="Second")])},
    )
    assert sorted(ExportRequest.objects.values_list("name", flat=True)) == [
        "Greenhouse temperatures",
        "Second",
    ]


def test_people_who_are_not_staff_cannot_import(client, alice):
    client.force_login(alice)
    response = client.post(
        url(ExportRequest, "import_json"), {"document": json.dumps(REQUEST_JSON)}
    )
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert ExportRequest.objects.count() == 0


def test_a_downloaded_request_imports_back_to_the_same_request(admin_client_, export_request):
    response = admin_client_.get(url(ExportRequest, "json", export_request.pk))
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    downloaded = json.loads(response.content)
    assert downloaded == json.loads(json.dumps(dump_request(export_request), default=str))

    admin_client_.post(
        url(ExportRequest, "import_json"),
        {"owner": export_request.owner.pk, "document": response.content.decode()},
    )
    copy = ExportRequest.objects.exclude(pk=export_request.pk).get()
    volatile = {"id", "createdAt", "updatedAt", "nextRunAt"}

    def stable(request):
        return {k: v for k, v in dump_request(request).items() if k not in volatile}

    assert stable(copy) == stable(export_request)


def test_the_download_action_writes_the_selected_requests_as_a_json_list(
    admin_client_, export_request
):
    response = admin_client_.post(
        url(ExportRequest, "changelist"),
        {"action": "download_json", "_selected_action": [export_request.pk]},
    )
    assert response.status_code == 200
    [data] = json.loads(response.content)
    assert data["id"] == export_request.pk and data["name"] == "Greenhouse temperatures"


def add_form_data(owner, **overrides):
    """What the admin add page posts for a request with one item, two columns, one message."""
    data = {
        "owner": owner.pk,
        "name": "Made in the admin",
        "type": "oneTime",
        "periodicity": "",
        "period_start_0": "",
        "period_start_1": "",
        "extension": "csv",
        "timezone": "UTC",
        "template": "tabular",
        "csv_delimiter": ",",
        "filename": "",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "1",
        "items-MAX_NUM_FORMS": "1000",
        "items-0-position": "0",
        "items-0-target_value": "temperature",
        "items-0-target_label": "",
        "items-0-channel_id": "c1",
        "items-0-subtopic": "events.data",
        "items-0-publisher": "",
        "items-0-from_time_0": "",
        "items-0-from_time_1": "",
        "items-0-to_time_0": "",
        "items-0-to_time_1": "",
        "items-0-period": "P1D",
        "items-0-ds": "",
        "items-0-dsf": "",
        "items-0-transform": "",
        "items-0-output_format": "long",
        "items-0-filename": "",
        "columns-TOTAL_FORMS": "2",
        "columns-INITIAL_FORMS": "0",
        "columns-MIN_NUM_FORMS": "0",
        "columns-MAX_NUM_FORMS": "1000",
        "columns-0-position": "0",
        "columns-0-column_id": "time",
        "columns-0-label": "Time",
        "columns-1-position": "1",
        "columns-1-column_id": "value",
        "columns-1-label": "Value",
        "messages-TOTAL_FORMS": "1",
        "messages-INITIAL_FORMS": "0",
        "messages-MIN_NUM_FORMS": "0",
        "messages-MAX_NUM_FORMS": "1000",
        "messages-0-position": "0",
        "messages-0-policy": "onSuccess",
        "messages-0-medium": "email",
        "messages-0-target": "",
        "messages-0-title": "Ready",
        "messages-0-text": "",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
        "shares-MIN_NUM_FORMS": "0",
        "shares-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_the_add_page_refuses_a_request_without_items(admin_client_, alice):
    response = admin_client_.post(
        url(ExportRequest, "add"), add_form_data(alice, **{"items-TOTAL_FORMS": "0"})
    )
    assert response.status_code == 200
    assert ExportRequest.objects.count() == 0


def test_the_add_page_applies_the_request_rules(admin_client_, alice):
    response = admin_client_.post(
        url(ExportRequest, "add"),
        add_form_data(alice, type="recurring", **{"columns-1-column_id": "time"}),
    )
    assert response.status_code == 200
    assert "A recurring export needs a periodicity." in str(response.context["errors"])
    assert ExportRequest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_saving_a_request_with_inlines_in_the_admin_emits_exactly_one_iam_event(
    client, admin_user, alice, redis_conn, django_capture_on_commit_callbacks
):
    # A transactional test: every save would commit (and emit) on its own unless the admin
    # wraps the form and its inlines in one transaction.
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(ExportRequest, "add"), add_form_data(alice))
    assert response.status_code == 302
    request = ExportRequest.objects.get()
    assert (request.items.count(), request.columns.count(), request.messages.count()) == (1, 2, 1)
    event = IamEvent.objects.get()
    assert event.action == "exporter:exports:create"
    assert event.resource == f"exporter:exports:{request.pk}"
    assert event.actor == admin_user
    assert [c["label"] for c in event.snapshot["format"]["columns"]] == ["Time", "Value"]

    item, first, second = request.items.get(), *request.columns.all()
    change = add_form_data(
        alice,
        name="Renamed in the admin",
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": item.pk,
            "items-0-request": request.pk,
            "items-0-target_value": "humidity",
            "columns-INITIAL_FORMS": "2",
            "columns-0-id": first.pk,
            "columns-0-request": request.pk,
            "columns-1-id": second.pk,
            "columns-1-request": request.pk,
            "columns-1-DELETE": "on",
            "messages-TOTAL_FORMS": "0",
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(ExportRequest, "change", request.pk), change)
    assert response.status_code == 302
    update = IamEvent.objects.get(action="exporter:exports:update")
    assert update.snapshot["name"] == "Renamed in the admin"
    assert update.snapshot["items"][0]["params"]["target"]["value"] == "humidity"
    assert IamEvent.objects.count() == 2
