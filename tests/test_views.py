"""The pages: access for alice (owner), bob (another user) and an admin; the editor; downloads."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from exports.data.catalog import record_messages
from exports.models import (
    ExportColumn,
    ExportItem,
    ExportJob,
    ExportRequest,
    IamEvent,
    JobStatus,
    Message,
    NotificationMessage,
)
from exports.requests.vocabulary import DEFAULT_COLUMNS, EDITOR_COLUMNS, ColumnId

pytestmark = pytest.mark.django_db


def make_request(owner, name="Temps", **fields) -> ExportRequest:
    export = ExportRequest.objects.create(owner=owner, name=name, **fields)
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id="c1", subtopic="events.data"
    )
    return export


def make_job(export, status=JobStatus.DONE, slot=None, **fields) -> ExportJob:
    return ExportJob.objects.create(
        request=export, slot=slot or datetime(2025, 3, 1, tzinfo=UTC), status=status, **fields
    )


def column_fields(chosen, *, prefix="columns"):
    """POST fields of the column editor: ``chosen`` is ``[(id, label), ...]`` in order."""
    labels = dict(chosen)
    order = [column_id for column_id, _ in chosen]
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(ColumnId.values)),
        f"{prefix}-INITIAL_FORMS": str(len(ColumnId.values)),
    }
    for index, column_id in enumerate(ColumnId.values):
        data[f"{prefix}-{index}-column_id"] = column_id
        data[f"{prefix}-{index}-label"] = labels.get(column_id, column_id)
        if column_id in labels:
            data[f"{prefix}-{index}-include"] = "on"
            data[f"{prefix}-{index}-position"] = str(order.index(column_id) + 1)
    return data


def form_data(columns=(("time", "time"), ("value", "value")), **overrides):
    """A valid create form: one item, no notification, the given columns."""
    data = {
        "name": "Greenhouse",
        "type": "oneTime",
        "periodicity": "",
        "period_start": "",
        "extension": "csv",
        "timezone": "UTC",
        "template": "tabular",
        "csv_delimiter": ",",
        "filename": "",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-target_value": "temperature",
        "items-0-channel_id": "c1",
        "items-0-subtopic": "events.data",
        "items-0-output_format": "long",
        "messages-TOTAL_FORMS": "1",
        "messages-INITIAL_FORMS": "0",
        "messages-0-policy": "onSuccess",
        "messages-0-medium": "email",
        **column_fields(columns),
    }
    data.update(overrides)
    return data


@pytest.fixture(autouse=True)
def known_metrics(db):
    """The metrics these tests post have data, so saving never stops to ask about them."""
    places = [("c1", "events.data", name) for name in ("temperature", "humidity", "stolen")]
    places += [("c1", "s", "humidity"), ("c2", "s", "pressure")]
    at = datetime(2025, 1, 1, tzinfo=UTC)
    record_messages(
        [
            Message(channel=channel, subtopic=subtopic, publisher="p1", name=name, time=at)
            for channel, subtopic, name in places
        ]
    )


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def alices_export(alice):
    return make_request(alice, name="Alice's greenhouse")


# --- access ------------------------------------------------------------------------------


def page_urls(export, job):
    return [
        ("get", reverse("exports:list")),
        ("get", reverse("exports:create")),
        ("get", reverse("exports:detail", args=[export.pk])),
        ("get", reverse("exports:edit", args=[export.pk])),
        ("get", reverse("exports:delete", args=[export.pk])),
        ("post", reverse("exports:delete", args=[export.pk])),
        ("post", reverse("exports:pause", args=[export.pk])),
        ("post", reverse("exports:resume", args=[export.pk])),
        ("post", reverse("exports:run", args=[export.pk])),
        ("get", reverse("exports:job-download", args=[export.pk, job.pk])),
    ]


def test_anonymous_users_are_redirected_to_login_on_every_page(client, alices_export):
    job = make_job(alices_export)
    for method, url in page_urls(alices_export, job):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url
    assert ExportRequest.objects.filter(pk=alices_export.pk, paused=False).exists()


def test_another_users_request_is_a_404_on_every_page(bob_client, alices_export):
    job = make_job(alices_export)
    for method, url in page_urls(alices_export, job)[2:]:
        response = getattr(bob_client, method)(url)
        assert response.status_code == 404, url
    alices_export.refresh_from_db()
    assert not alices_export.paused
    assert not alices_export.jobs.exclude(pk=job.pk).exists()  # bob's "run now" ran nothing


def test_bob_cannot_save_over_alices_request(bob_client, alices_export):
    url = reverse("exports:edit", args=[alices_export.pk])
    response = bob_client.post(url, form_data(name="Taken over"))
    assert response.status_code == 404
    alices_export.refresh_from_db()
    assert alices_export.name == "Alice's greenhouse"


def test_a_job_is_reached_only_through_its_own_request(alice_client, alice, alices_export):
    other = make_request(alice, name="Other")
    job = make_job(other)
    url = reverse("exports:job-download", args=[alices_export.pk, job.pk])
    assert alice_client.get(url).status_code == 404


def test_the_list_shows_only_the_users_own_requests(alice_client, alice, bob):
    make_request(alice, name="Alice's export")
    make_request(bob, name="Bob's export")
    response = alice_client.get(reverse("exports:list"))
    assert response.status_code == 200
    assert "Alice&#x27;s export" in response.text
    assert "Bob&#x27;s export" not in response.text
    assert "Owner" not in response.text


def test_staff_see_every_request_with_its_owner(admin_client_, alice, bob):
    alices = make_request(alice, name="Alice's export")
    make_request(bob, name="Bob's export")
    response = admin_client_.get(reverse("exports:list"))
    assert "Alice&#x27;s export" in response.text and "Bob&#x27;s export" in response.text
    assert '<th scope="col">Owner</th>' in response.text
    assert ">bob</td>" in response.text
    assert admin_client_.get(reverse("exports:detail", args=[alices.pk])).status_code == 200
    assert admin_client_.get(reverse("exports:edit", args=[alices.pk])).status_code == 200


def test_staff_can_edit_another_users_request_which_keeps_its_owner(
    admin_client_, alice, alices_export
):
    url = reverse("exports:edit", args=[alices_export.pk])
    item = alices_export.items.get()
    data = form_data(
        name="Fixed by admin",
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(alices_export.pk),
        },
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302
    alices_export.refresh_from_db()
    assert alices_export.name == "Fixed by admin"
    assert alices_export.owner == alice


# --- list ------------------------------------------------------------------------------


def test_the_list_shows_each_requests_last_job_status_and_next_run_in_its_zone(alice_client, alice):
    export = make_request(alice, type="recurring", periodicity="P1D", timezone="Europe/Rome")
    ExportRequest.objects.filter(pk=export.pk).update(
        next_run_at=datetime(2025, 7, 1, 22, 0, tzinfo=UTC)
    )
    make_job(export, JobStatus.DONE, slot=datetime(2025, 6, 29, tzinfo=UTC))
    make_job(export, JobStatus.FAILED, slot=datetime(2025, 6, 30, tzinfo=UTC))
    response = alice_client.get(reverse("exports:list"))
    assert 'class="status status-failed">Failed<' in response.text
    assert "2025-07-02 00:00 CEST" in response.text  # 22:00 UTC is midnight in Rome
    assert "P1D" in response.text


def test_the_list_costs_the_same_queries_for_many_requests(
    alice_client, alice, django_assert_max_num_queries
):
    for index in range(3):
        make_job(make_request(alice, name=f"Export {index}"))
    with django_assert_max_num_queries(8) as few:
        alice_client.get(reverse("exports:list"))
    for index in range(3, 20):
        make_job(make_request(alice, name=f"Export {index}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = alice_client.get(reverse("exports:list"))
    assert response.text.count("status-done") == 20


def test_the_list_is_paginated_by_25(alice_client, alice):
    for index in range(30):
        make_request(alice, name=f"Export {index:02d}")
    first = alice_client.get(reverse("exports:list"))
    second = alice_client.get(reverse("exports:list"), {"page": 2})
    assert first.text.count("<tr>") - 1 == 25
    assert second.text.count("<tr>") - 1 == 5
    assert "Page 2 of 2" in second.text
    assert alice_client.get(reverse("exports:list"), {"page": "x"}).status_code == 200


# --- detail ----------------------------------------------------------------------------


def test_the_detail_page_lists_jobs_with_progress_and_download_links(alice_client, alices_export):
    done = make_job(
        alices_export,
        JobStatus.DONE,
        slot=datetime(2025, 3, 1, tzinfo=UTC),
        file=ContentFile(b"a,b\n", name="x.csv"),
        row_count=1234,
        size=2048,
        started_at=datetime(2025, 3, 1, 0, 0, 1, tzinfo=UTC),
        finished_at=datetime(2025, 3, 1, 0, 0, 13, tzinfo=UTC),
        windows=[{"item": 1, "start": "2025-02-28T00:00:00+00:00", "end": "2025-03-01T00:00:00Z"}],
    )
    make_job(
        alices_export,
        JobStatus.IN_PROGRESS,
        slot=datetime(2025, 3, 2, tzinfo=UTC),
        rows_written=250,
        rows_estimated=1000,
        stage="reading temperature",
    )
    make_job(
        alices_export,
        JobStatus.FAILED,
        slot=datetime(2025, 3, 3, tzinfo=UTC),
        error="Unknown metric\nTraceback...",
    )
    response = alice_client.get(reverse("exports:detail", args=[alices_export.pk]))
    text = response.text
    download = reverse("exports:job-download", args=[alices_export.pk, done.pk])
    assert text.count(download) == 1  # only the done job has a link
    assert '<progress max="100" value="25"' in text
    assert "250 / 1000 rows, reading temperature" in text
    assert "2025-02-28 00:00 UTC – 2025-03-01 00:00 UTC" in text
    assert "1234" in text and "2.0\xa0KB" in text and "12 s" in text
    assert "Unknown metric" in text
    assert 'data-refresh="2"' in text  # a running job keeps the table fresh quickly
    assert ">Running 25%<" in text


def test_the_detail_page_hides_the_jobs_table_when_there_are_none(alice_client, alices_export):
    response = alice_client.get(reverse("exports:detail", args=[alices_export.pk]))
    assert 'class="jobs' not in response.text
    assert "No jobs yet." in response.text
    assert 'data-refresh="10"' in response.text  # nothing running: new jobs still appear


def test_the_detail_page_shows_default_columns_when_none_are_stored(alice_client, alices_export):
    response = alice_client.get(reverse("exports:detail", args=[alices_export.pk]))
    assert "the default columns are exported" in response.text
    for column_id in DEFAULT_COLUMNS:
        assert f"<code>{column_id}</code>" in response.text


def test_the_detail_page_names_only_the_host_of_a_webhook(alice_client, alices_export):
    NotificationMessage.objects.create(
        request=alices_export, medium="slack", target="https://hooks.slack.com/services/T/B/secret"
    )
    response = alice_client.get(reverse("exports:detail", args=[alices_export.pk]))
    assert "hooks.slack.com" in response.text
    assert "secret" not in response.text


# --- create ----------------------------------------------------------------------------


def test_the_new_form_preselects_names_people_read(alice_client):
    response = alice_client.get(reverse("exports:create"))
    assert response.status_code == 200
    rows = response.context["editor"].columns.rows()
    chosen = [
        (row["column_id"].value(), row["label"].value()) for row in rows if row["include"].value()
    ]
    assert chosen == list(EDITOR_COLUMNS)  # Device, Channel: names instead of ids


# Transactional (real commits, autocommit between statements): were the request and its
# children saved outside one transaction, each save would emit an IAM event of its own.
@pytest.mark.django_db(transaction=True)
def test_creating_saves_everything_in_one_transaction_with_one_iam_event(
    alice_client, alice, redis_conn
):
    data = form_data(
        columns=[("value", "Temperature"), ("time", "When")],
        **{"messages-0-title": "Export ready", "messages-0-target": "ops@example.com"},
    )
    response = alice_client.post(reverse("exports:create"), data)
    export = ExportRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == export.get_absolute_url()
    assert export.owner == alice and export.name == "Greenhouse"
    assert [(c.column_id, c.label, c.position) for c in export.columns.all()] == [
        ("value", "Temperature", 0),
        ("time", "When", 1),
    ]
    assert list(export.items.values_list("target_value", "position")) == [("temperature", 0)]
    assert list(export.messages.values_list("target", "title")) == [
        ("ops@example.com", "Export ready")
    ]
    event = IamEvent.objects.get()
    assert event.operation == "export_request.create" and event.actor == alice
    assert event.snapshot["format"]["columns"] == [
        {"id": "value", "label": "Temperature"},
        {"id": "time", "label": "When"},
    ]


def test_creating_a_one_time_request_queues_its_job(alice_client):
    alice_client.post(reverse("exports:create"), form_data())
    export = ExportRequest.objects.get()
    assert export.jobs.get().status == JobStatus.NOT_PROCESSED


def test_creating_a_paused_one_time_request_queues_nothing_until_resumed(alice_client):
    alice_client.post(reverse("exports:create"), form_data(paused="on"))
    export = ExportRequest.objects.get()
    assert not export.jobs.exists()
    alice_client.post(reverse("exports:resume", args=[export.pk]))
    assert export.jobs.count() == 1


def test_a_full_queue_refuses_the_new_request_with_429_and_saves_nothing(
    alice_client, alice, settings
):
    settings.EXPORTS_MAX_QUEUED_PER_USER = 1
    make_job(make_request(alice), JobStatus.NOT_PROCESSED)
    response = alice_client.post(reverse("exports:create"), form_data(name="One too many"))
    assert response.status_code == 429
    assert "exports waiting to run" in response.text
    assert not ExportRequest.objects.filter(name="One too many").exists()


def test_naive_times_are_read_in_the_requests_time_zone(alice_client):
    data = form_data(
        type="recurring",
        periodicity="P1D",
        timezone="Europe/Rome",
        period_start="2025-01-01T00:00",
        **{"items-0-from_time": "2025-07-01T12:00:00"},
    )
    assert alice_client.post(reverse("exports:create"), data).status_code == 302
    export = ExportRequest.objects.get()
    assert export.period_start == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    assert export.items.get().from_time == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    edit = alice_client.get(reverse("exports:edit", args=[export.pk]))
    assert 'value="2025-01-01T00:00:00"' in edit.text  # shown back in local time
    assert "Europe/Rome" in edit.context["editor"].form["period_start"].help_text


def invalid_cases():
    return {
        "recurring without periodicity": (
            {"type": "recurring"},
            "periodicity",
            "A recurring export needs a periodicity.",
        ),
        "bad duration": (
            {"type": "recurring", "periodicity": "daily"},
            "periodicity",
            "is not an ISO 8601 duration",
        ),
        "unknown time zone": ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice"),
        "two-character delimiter": ({"csv_delimiter": ";;"}, "csv_delimiter", "at most 1"),
        "bad decimation": ({"items-0-ds": "15 minutes"}, "items-0-ds", "decimation"),
        "labels count": (
            {"items-0-target_label": "a,b"},
            "items-0-target_label",
            "one label per metric",
        ),
        "to before from": (
            {"items-0-from_time": "2025-01-02T00:00", "items-0-to_time": "2025-01-01T00:00"},
            "items-0-to_time",
            "later than",
        ),
        "slack without webhook": (
            {"messages-0-medium": "slack"},
            "messages-0-target",
            "needs a target",
        ),
        "local time skipped by DST": (
            {"timezone": "Europe/Rome", "items-0-from_time": "2025-03-30T02:30"},
            "items-0-from_time",
            "couldn’t be interpreted in time zone Europe/Rome",
        ),
        "date that does not exist": (
            {"items-0-from_time": "2025-13-45T00:00"},
            "items-0-from_time",
            "valid date/time",
        ),
    }


@pytest.mark.parametrize("case", list(invalid_cases()))
def test_invalid_input_re_renders_with_a_field_error_and_saves_nothing(alice_client, case):
    overrides, field, message = invalid_cases()[case]
    response = alice_client.post(reverse("exports:create"), form_data(**overrides))
    assert response.status_code == 422
    assert message in response.text
    assert f'id="id_{field}_error"' in response.text  # the error sits with its field
    assert "The export was not saved" in response.text
    assert not ExportRequest.objects.exists()
    assert not ExportItem.objects.exists() and not ExportColumn.objects.exists()


def test_at_least_one_item_is_required(alice_client):
    data = form_data(
        **{"items-0-target_value": "", "items-0-channel_id": "", "items-0-subtopic": ""}
    )
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    assert "Add at least one item" in response.text
    assert not ExportRequest.objects.exists()


def test_an_item_of_another_request_cannot_be_taken_over_through_ones_own(
    bob_client, bob, alices_export
):
    bobs = make_request(bob, name="Bob's")
    alices_item = alices_export.items.get()
    data = form_data(
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(alices_item.pk),
            "items-0-request": str(bobs.pk),
            "items-0-target_value": "stolen",
        }
    )
    bob_client.post(reverse("exports:edit", args=[bobs.pk]), data)
    alices_item.refresh_from_db()
    assert alices_item.target_value == "temperature" and alices_item.request == alices_export
    # The forged row is taken as a new item of bob's own request.
    assert sorted(bobs.items.values_list("target_value", flat=True)) == ["stolen", "temperature"]


def test_a_tampered_management_form_is_an_error_not_a_crash(alice_client):
    data = form_data()
    del data["items-TOTAL_FORMS"]
    data["columns-TOTAL_FORMS"] = "5000"
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    assert not ExportRequest.objects.exists()


# --- the column editor -------------------------------------------------------------------


def test_the_editor_saves_columns_in_position_order_not_row_order(alice_client):
    data = form_data(columns=[("time", "t")])
    # Tick "value" and "name" too, numbering them before "time" (rows stay in page order).
    rows = {data[f"columns-{i}-column_id"]: i for i in range(len(ColumnId.values))}
    for column_id, position, label in (("value", "1", "Reading"), ("name", "2", "Metric")):
        data[f"columns-{rows[column_id]}-include"] = "on"
        data[f"columns-{rows[column_id]}-position"] = position
        data[f"columns-{rows[column_id]}-label"] = label
    data[f"columns-{rows['time']}-position"] = "3"
    assert alice_client.post(reverse("exports:create"), data).status_code == 302
    columns = ExportRequest.objects.get().columns.all()
    assert [(c.column_id, c.label) for c in columns] == [
        ("value", "Reading"),
        ("name", "Metric"),
        ("time", "t"),
    ]


def test_the_editor_relabels_and_reorders_existing_columns(alice_client, alices_export):
    ExportColumn.objects.create(request=alices_export, column_id="time", label="time", position=0)
    ExportColumn.objects.create(request=alices_export, column_id="value", label="value", position=1)
    item = alices_export.items.get()
    data = form_data(
        columns=[("value", "Temperatura"), ("unit", "Unità"), ("time", "Ora")],
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(alices_export.pk),
        },
    )
    response = alice_client.post(reverse("exports:edit", args=[alices_export.pk]), data)
    assert response.status_code == 302
    assert [(c.column_id, c.label) for c in alices_export.columns.all()] == [
        ("value", "Temperatura"),
        ("unit", "Unità"),
        ("time", "Ora"),
    ]


def test_the_column_help_without_javascript_speaks_of_ticks_and_positions(alice_client):
    page = alice_client.get(reverse("exports:create")).text
    help_start = page.index('id="columns-help"')
    plain = " ".join(page[page.index(">", help_start) : page.index("</p>", help_start)].split())
    assert "Tick" in plain and "position numbers" in plain  # what the page shows without JS
    assert "↑ and ↓" in page[help_start : page.index(">", help_start)]  # what the script shows


def test_choosing_no_columns_stores_none(alice_client):
    assert alice_client.post(reverse("exports:create"), form_data(columns=[])).status_code == 302
    assert not ExportRequest.objects.get().columns.exists()


def test_an_untouched_editor_keeps_a_request_without_columns_on_the_defaults(
    alice_client, alices_export
):
    item = alices_export.items.get()
    data = form_data(
        columns=[(column_id, column_id) for column_id in DEFAULT_COLUMNS],
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(alices_export.pk),
        },
    )
    assert (
        alice_client.post(reverse("exports:edit", args=[alices_export.pk]), data).status_code == 302
    )
    assert not alices_export.columns.exists()


def test_a_chosen_column_needs_a_label(alice_client):
    response = alice_client.post(
        reverse("exports:create"), form_data(columns=[("time", "t"), ("value", " ")])
    )
    assert response.status_code == 422
    assert "Column &#x27;value&#x27; needs a non-empty label." in response.text
    assert not ExportRequest.objects.exists()


def test_a_column_posted_twice_is_refused(alice_client):
    data = form_data(columns=[("time", "t"), ("value", "v")])
    data["columns-1-column_id"] = "time"  # a forged row: "time" twice
    data["columns-1-include"] = "on"
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    assert "selected twice" in response.text
    assert not ExportRequest.objects.exists()


def test_an_invalid_page_shows_the_columns_in_the_posted_order(alice_client):
    data = form_data(columns=[("value", "v"), ("time", "t")], name="")
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    rows = response.context["editor"].columns.rows()
    assert [row["column_id"].value() for row in rows[:2]] == ["value", "time"]


# --- edit ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_editing_items_and_messages_emits_one_update_event(alice_client, alice, redis_conn):
    with transaction.atomic():
        alices_export = make_request(alice)
        first = alices_export.items.get()
        second = ExportItem.objects.create(
            request=alices_export, target_value="humidity", channel_id="c1", subtopic="s"
        )
        message = NotificationMessage.objects.create(request=alices_export, medium="email")
    before = IamEvent.objects.count()
    data = form_data(
        name="Renamed",
        **{
            "items-TOTAL_FORMS": "3",
            "items-INITIAL_FORMS": "2",
            "items-0-id": str(first.pk),
            "items-0-request": str(alices_export.pk),
            "items-0-DELETE": "on",
            "items-1-id": str(second.pk),
            "items-1-request": str(alices_export.pk),
            "items-1-target_value": "humidity",
            "items-1-channel_id": "c1",
            "items-1-subtopic": "s",
            "items-1-output_format": "wide",
            "items-2-target_value": "pressure",
            "items-2-channel_id": "c2",
            "items-2-subtopic": "s",
            "items-2-output_format": "wide",  # a tabular CSV holds one table: both wide
            "messages-TOTAL_FORMS": "1",
            "messages-INITIAL_FORMS": "1",
            "messages-0-id": str(message.pk),
            "messages-0-request": str(alices_export.pk),
            "messages-0-DELETE": "on",
        },
    )
    response = alice_client.post(reverse("exports:edit", args=[alices_export.pk]), data)
    assert response.status_code == 302
    assert list(alices_export.items.values_list("target_value", "output_format", "position")) == [
        ("humidity", "wide", 0),
        ("pressure", "wide", 1),
    ]
    assert not alices_export.messages.exists()
    assert IamEvent.objects.count() == before + 1
    event = IamEvent.objects.latest("id")
    assert event.operation == "export_request.update"
    assert event.snapshot["name"] == "Renamed"


def test_removing_the_last_item_is_refused(alice_client, alices_export):
    item = alices_export.items.get()
    data = form_data(
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(alices_export.pk),
            "items-0-DELETE": "on",
        }
    )
    response = alice_client.post(reverse("exports:edit", args=[alices_export.pk]), data)
    assert response.status_code == 422
    assert alices_export.items.count() == 1


def test_the_edit_form_shows_the_stored_columns_in_order(alice_client, alices_export):
    ExportColumn.objects.create(request=alices_export, column_id="value", label="V", position=0)
    ExportColumn.objects.create(request=alices_export, column_id="publisher", label="P", position=1)
    response = alice_client.get(reverse("exports:edit", args=[alices_export.pk]))
    rows = response.context["editor"].columns.rows()
    chosen = [
        (row["column_id"].value(), row["label"].value()) for row in rows if row["include"].value()
    ]
    assert chosen == [("value", "V"), ("publisher", "P")]
    assert len(rows) == len(ColumnId.values)


# --- delete, pause, resume ---------------------------------------------------------------


def test_delete_asks_first_then_deletes_on_post(alice_client, alices_export):
    url = reverse("exports:delete", args=[alices_export.pk])
    confirm = alice_client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert ExportRequest.objects.filter(pk=alices_export.pk).exists()
    response = alice_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("exports:list")
    assert not ExportRequest.objects.filter(pk=alices_export.pk).exists()


def test_pause_and_resume_are_post_only(alice_client, alices_export):
    for name in ("pause", "resume", "run"):
        url = reverse(f"exports:{name}", args=[alices_export.pk])
        assert alice_client.get(url).status_code == 405


def test_pause_then_resume(alice_client, alices_export):
    alice_client.post(reverse("exports:pause", args=[alices_export.pk]))
    alices_export.refresh_from_db()
    assert alices_export.paused
    detail = alice_client.get(alices_export.get_absolute_url())
    assert "paused." in detail.text  # the flash message
    alice_client.post(reverse("exports:resume", args=[alices_export.pk]))
    alices_export.refresh_from_db()
    assert not alices_export.paused


def test_run_now_creates_a_job_and_shows_it(alice_client, alices_export):
    response = alice_client.post(reverse("exports:run", args=[alices_export.pk]))
    job = alices_export.jobs.get()
    assert response["Location"].endswith(f"#job-{job.pk}")


# --- download --------------------------------------------------------------------------


def test_a_done_job_downloads_as_a_streamed_attachment_with_a_local_name(alice_client, alice):
    export = make_request(alice, name="Greenhouse", timezone="Europe/Rome", filename="")
    job = make_job(
        export,
        slot=datetime(2025, 1, 5, 23, 0, tzinfo=UTC),
        file=ContentFile(b"time,value\n1,2\n", name="export.zip"),
    )
    response = alice_client.get(reverse("exports:job-download", args=[export.pk, job.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == b"time,value\n1,2\n"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "Greenhouse_2025-01-06" in disposition  # the slot in Rome: past midnight
    assert disposition.endswith('.zip"')  # the stored file's extension, not the format's


def test_a_staff_user_can_download_any_job(admin_client_, alices_export):
    job = make_job(alices_export, file=ContentFile(b"x", name="a.csv"))
    url = reverse("exports:job-download", args=[alices_export.pk, job.pk])
    assert admin_client_.get(url).status_code == 200


def test_an_expired_job_is_a_clear_410(alice_client, alices_export):
    job = make_job(alices_export, JobStatus.EXPIRED)
    response = alice_client.get(reverse("exports:job-download", args=[alices_export.pk, job.pk]))
    assert response.status_code == 410
    assert "expired" in response.text


def test_a_missing_file_is_a_clear_410(alice_client, alices_export):
    job = make_job(alices_export, file=ContentFile(b"x", name="gone.csv"))
    job.file.storage.delete(job.file.name)
    response = alice_client.get(reverse("exports:job-download", args=[alices_export.pk, job.pk]))
    assert response.status_code == 410
    assert "missing" in response.text


def test_a_job_without_a_file_yet_is_a_404_page(alice_client, alices_export):
    job = make_job(alices_export, JobStatus.IN_PROGRESS, started_at=timezone.now() - timedelta(1))
    response = alice_client.get(reverse("exports:job-download", args=[alices_export.pk, job.pk]))
    assert response.status_code == 404
    assert "no file to download" in response.text


def test_the_detail_page_lists_the_next_five_runs_in_the_request_timezone(alice, client):
    from exports.models import ExportItem, ExportRequest

    export = ExportRequest.objects.create(
        owner=alice,
        name="Nightly",
        type="recurring",
        periodicity="P1D",
        timezone="Europe/Rome",
        period_start=datetime(2026, 3, 26, 23, 0, tzinfo=UTC),
    )
    ExportItem.objects.create(request=export, target_value="t", channel_id="c", subtopic="s")
    client.force_login(alice)
    page = client.get(reverse("exports:detail", args=[export.pk])).content.decode()
    runs = re.findall(r'<li><time datetime="([^"]+)">', page)
    assert len(runs) == 5
    # local midnights in Rome, whatever the offset that day
    assert all("T00:00:00+0" in run for run in runs), runs
