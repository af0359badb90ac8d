"""The request editor: catalog pickers, unknown-metric confirmation, presets, preview, errors."""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from timezone_field import TimeZoneField, TimeZoneFormField

from exports.data.ingestion import store_messages
from exports.editor.request import ExportRequestForm
from exports.models import Channel, ExportItem, ExportJob, ExportRequest, IamEvent, Message
from exports.models import Publisher as PublisherName
from exports.requests.validation import validate_timezone
from exports.requests.vocabulary import ColumnId
from exports.scheduling.presets import Preset

pytestmark = pytest.mark.django_db
NORTH = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
SOUTH = "9c2e1d4b-5a6f-4e3d-8b2a-1f0e9d8c7b62"
DEVICE = "a3c9e0d2-7b1f-4c5e-9d8a-2b3c4d5e6f70"
START = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture
def readings(db):
    """Greenhouse north: temperature (Cel) and humidity (%RH) on events.data from a named
    device; Greenhouse south: pressure on other.data."""
    store_messages(
        [
            Message(
                channel=NORTH,
                subtopic="events.data",
                publisher=DEVICE,
                name=name,
                unit=unit,
                time=START + timedelta(minutes=5 * i),
                value=20 + i,
            )
            for name, unit in (("temperature", "Cel"), ("humidity", "%RH"))
            for i in range(30)
        ]
        + [
            Message(
                channel=SOUTH,
                subtopic="other.data",
                publisher="dev-9",
                name="pressure",
                unit="hPa",
                time=START,
                value=1013,
            )
        ]
    )
    Channel.objects.filter(channel_id=NORTH).update(name="Greenhouse north")
    PublisherName.objects.filter(publisher_id=DEVICE).update(name="Sensor 1")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def columns(chosen=("time", "value")):
    data = {"columns-TOTAL_FORMS": str(len(ColumnId.values)), "columns-INITIAL_FORMS": "8"}
    for index, column_id in enumerate(ColumnId.values):
        data[f"columns-{index}-column_id"] = column_id
        data[f"columns-{index}-label"] = column_id
        if column_id in chosen:
            data[f"columns-{index}-include"] = "on"
            data[f"columns-{index}-position"] = str(chosen.index(column_id) + 1)
    return data


def post_data(**overrides):
    """A valid new one-time export of Greenhouse north's temperature, as the page posts it."""
    data = {
        "name": "Greenhouse",
        "type": "oneTime",
        "schedule": "daily",
        "at_time": "08:00",
        "every": "15",
        "at_minute": "0",
        "weekday": "0",
        "day": "1",
        "periodicity": "",
        "period_start": "",
        "extension": "csv",
        "timezone": "UTC",
        "template": "tabular",
        "csv_delimiter": ",",
        "filename": "",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-channel_id": NORTH,
        "items-0-subtopic": "events.data",
        "items-0-target_value": "temperature",
        "items-0-output_format": "long",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
        **columns(),
    }
    data.update(overrides)
    return data


def create(client, **overrides):
    return client.post(reverse("exports:create"), post_data(**overrides))


# --- pickers ------------------------------------------------------------------------------


def test_it_offers_channels_as_name_and_short_id(alice_client, readings):
    page = alice_client.get(reverse("exports:create")).text
    assert f'<option value="{NORTH}" label="Greenhouse north (6b1f0f3a)">' in page
    assert f'<option value="{SOUTH}">' in page  # unnamed: the id itself
    assert 'list="items-0-channel-options"' in page


def test_it_narrows_subtopics_publishers_and_metrics_by_the_items_channel(
    alice_client, alice, readings
):
    export = ExportRequest.objects.create(owner=alice, name="North")
    ExportItem.objects.create(
        request=export, target_value="temperature", channel_id=NORTH, subtopic="events.data"
    )
    form = alice_client.get(reverse("exports:edit", args=[export.pk])).context["editor"]
    item = form.items.forms[0]
    assert item["channel_id"].help_text == "Greenhouse north (6b1f0f3a)"  # under the id
    lists = {picker.id: [o.value for o in picker.options] for picker in item.pickers}
    assert lists["items-0-subtopic-options"] == ["events.data"]  # not other.data
    assert [o.label for o in item.pickers[2].options] == ["Sensor 1 (a3c9e0d2)"]
    assert item.fields["metrics"].choices == [
        ("humidity", "humidity — %RH · last 2026-01-10 02:25 UTC · 30 points"),
        ("temperature", "temperature — Cel · last 2026-01-10 02:25 UTC · 30 points"),
    ]


def test_a_metric_of_one_reading_says_one_point(alice_client, readings):
    url = reverse("exports:catalog-series")
    names = alice_client.get(url, {"field": "name", "channel": SOUTH, "subtopic": "other.data"})
    [pressure] = names.json()["options"]
    assert pressure["detail"].endswith(" · 1 point"), pressure["detail"]


def test_metric_details_are_in_the_requests_time_zone(alice_client, alice, readings):
    page = alice_client.post(reverse("exports:create"), post_data(timezone="Europe/Rome", name=""))
    assert "last 2026-01-10 03:25 CET" in page.text


def test_the_catalog_json_narrows_by_what_is_chosen(alice_client, readings):
    url = reverse("exports:catalog-series")
    names = alice_client.get(url, {"field": "name", "channel": NORTH, "subtopic": "events.data"})
    assert [o["value"] for o in names.json()["options"]] == ["humidity", "temperature"]
    assert names.json()["options"][1]["detail"].startswith("Cel · last 2026-01-10 02:25 UTC")
    channels = alice_client.get(url, {"field": "channel", "q": "green"}).json()["options"]
    assert channels == [
        {
            "value": NORTH,
            "label": "Greenhouse north (6b1f0f3a)",
            "detail": "",
            "name": "Greenhouse north",
        }
    ]
    subtopics = alice_client.get(url, {"field": "subtopic", "channel": SOUTH}).json()
    assert [o["value"] for o in subtopics["options"]] == ["other.data"]


def test_the_catalog_json_refuses_a_bad_field_or_zone_and_strangers(client, alice, readings):
    url = reverse("exports:catalog-series")
    assert client.get(url, {"field": "name"}).status_code == 302  # to the login page
    client.force_login(alice)
    bad = client.get(url, {"field": "value"})
    assert bad.status_code == 400 and "field must be one of" in bad.json()["error"]
    assert client.get(url, {"field": "name", "tz": "Mars/Olympus"}).status_code == 400


def test_metrics_picked_from_the_catalog_are_added_to_the_typed_ones(alice_client, readings):
    data = post_data(**{"items-0-target_value": "temperature"})
    data["items-0-metrics"] = ["humidity", "temperature"]
    assert alice_client.post(reverse("exports:create"), data).status_code == 302
    assert ExportItem.objects.get().target_value == "temperature,humidity"


def test_picked_metrics_alone_are_enough(alice_client, readings):
    data = post_data(**{"items-0-target_value": ""})
    data["items-0-metrics"] = ["humidity"]
    assert alice_client.post(reverse("exports:create"), data).status_code == 302
    assert ExportItem.objects.get().target_value == "humidity"


def test_an_item_needs_a_metric_picked_or_typed(alice_client, readings):
    response = create(alice_client, **{"items-0-target_value": ""})
    assert response.status_code == 422
    assert "Choose at least one metric from the catalog or type its name." in response.text
    assert not ExportRequest.objects.exists()


# --- metrics with no data yet -------------------------------------------------------------


def test_an_unknown_metric_is_saved_only_once_confirmed(alice_client, readings):
    response = create(alice_client, **{"items-0-target_value": "temperature,temprature"})
    assert response.status_code == 200
    assert (
        "No data yet for <code>temprature</code> on Greenhouse north (6b1f0f3a) / events.data"
        in response.text
    )
    assert not ExportRequest.objects.exists() and not IamEvent.objects.exists()
    [group] = response.context["unknown"]
    confirmed = post_data(**{"items-0-target_value": "temperature,temprature"})
    confirmed["confirm_unknown"] = group.confirmation
    assert alice_client.post(reverse("exports:create"), confirmed).status_code == 302
    assert ExportItem.objects.get().target_value == "temperature,temprature"


def test_confirming_one_name_does_not_cover_another(alice_client, readings):
    data = post_data(**{"items-0-target_value": "temprature,humdity"})
    data["confirm_unknown"] = "Greenhouse north (6b1f0f3a) / events.data: temprature"
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 200 and "<code>humdity</code>" in response.text
    assert not ExportRequest.objects.exists()


def test_a_subtopic_the_channel_never_had_is_asked_about(alice_client, readings):
    response = create(alice_client, **{"items-0-subtopic": "other.data"})
    assert "No such subtopic: “other.data” has no data." in response.text
    assert "Did you mean events.data?" in response.text
    assert not ExportRequest.objects.exists()


def test_saving_again_does_not_ask_about_a_stored_metric(alice_client, alice, readings):
    export = ExportRequest.objects.create(owner=alice, name="Future")
    item = ExportItem.objects.create(
        request=export, target_value="co2", channel_id=NORTH, subtopic="events.data"
    )
    data = post_data(
        name="Future, renamed",
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-request": str(export.pk),
            "items-0-target_value": "co2",
        },
    )
    response = alice_client.post(reverse("exports:edit", args=[export.pk]), data)
    assert response.status_code == 302
    export.refresh_from_db()
    assert export.name == "Future, renamed"


# --- schedule presets ---------------------------------------------------------------------


PRESETS = {
    "every 15 minutes": ({"schedule": "minutes", "every": "15"}, Preset("minutes", every=15)),
    "hourly at :05": ({"schedule": "hourly", "at_minute": "5"}, Preset("hourly", minute=5)),
    "daily at 08:00": ({"schedule": "daily", "at_time": "08:00"}, Preset("daily", hour=8)),
    "weekly on Wednesday": (
        {"schedule": "weekly", "weekday": "2", "at_time": "07:30"},
        Preset("weekly", weekday=2, hour=7, minute=30),
    ),
    "monthly on day 31": (
        {"schedule": "monthly", "day": "31", "at_time": "23:45"},
        Preset("monthly", day=31, hour=23, minute=45),
    ),
}


@pytest.mark.parametrize("case", list(PRESETS))
def test_a_preset_is_stored_as_periodicity_and_start_and_opens_as_itself(
    alice_client, readings, case
):
    fields, preset = PRESETS[case]
    response = create(alice_client, type="recurring", timezone="Europe/Rome", **fields)
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert export.periodicity == preset.periodicity
    local = export.period_start.astimezone(zoneinfo.ZoneInfo("Europe/Rome"))
    assert export.period_start <= datetime.now(UTC)
    assert (local.hour, local.minute) == (
        (0, 0) if preset.kind == "minutes" else (preset.hour, preset.minute)
    )
    page = alice_client.get(reverse("exports:edit", args=[export.pk]))
    form = page.context["editor"].form
    assert form["schedule"].value() == preset.kind
    if preset.kind == "weekly":
        assert form["weekday"].value() == 2
        assert "Every week on Wednesday at 07:30 (Europe/Rome)" in page.text


def test_saving_an_unchanged_preset_keeps_its_anchor(alice_client, alice, readings):
    anchor = datetime(2025, 6, 4, 5, 30, tzinfo=UTC)  # a Wednesday, 07:30 in Rome
    export = ExportRequest.objects.create(
        owner=alice,
        name="Weekly",
        type="recurring",
        periodicity="P1W",
        period_start=anchor,
        timezone="Europe/Rome",
    )
    item = ExportItem.objects.create(
        request=export, target_value="temperature", channel_id=NORTH, subtopic="events.data"
    )
    initial = alice_client.get(reverse("exports:edit", args=[export.pk])).context["editor"]
    assert initial.form.initial["schedule"] == "weekly"
    data = post_data(
        name="Weekly, renamed",
        type="recurring",
        timezone="Europe/Rome",
        schedule="weekly",
        weekday="2",
        at_time="07:30",
        **{"items-INITIAL_FORMS": "1", "items-0-id": str(item.pk)},
    )
    assert alice_client.post(reverse("exports:edit", args=[export.pk]), data).status_code == 302
    export.refresh_from_db()
    assert (export.periodicity, export.period_start) == ("P1W", anchor)


def test_a_schedule_without_a_presets_shape_opens_as_custom(alice_client, alice):
    export = ExportRequest.objects.create(
        owner=alice, name="Odd", type="recurring", periodicity="P2D", timezone="UTC"
    )
    page = alice_client.get(reverse("exports:edit", args=[export.pk]))
    assert page.context["editor"].form["schedule"].value() == "custom"
    assert "Every 2 days at" in page.text


def test_a_custom_schedule_keeps_the_iso_fields(alice_client, readings):
    response = create(
        alice_client,
        type="recurring",
        schedule="custom",
        periodicity="PT90M",
        period_start="2026-01-01T00:00",
    )
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert (export.periodicity, export.period_start) == ("PT90M", datetime(2026, 1, 1, tzinfo=UTC))


def test_a_preset_missing_its_time_is_a_field_error(alice_client, readings):
    response = create(alice_client, type="recurring", schedule="weekly", at_time="")
    assert response.status_code == 422
    assert response.context["editor"].form.errors["at_time"] == ["Required for this schedule."]
    assert not ExportRequest.objects.exists()


def test_a_one_time_request_ignores_whatever_schedule_was_posted(alice_client, readings):
    response = create(
        alice_client, schedule="custom", periodicity="every day", period_start="not a date"
    )
    assert response.status_code == 302
    export = ExportRequest.objects.get()
    assert export.periodicity == "" and not export.is_recurring
    page = alice_client.get(reverse("exports:edit", args=[export.pk])).text
    assert "data-schedule" in page  # the block the stylesheet hides for one-time exports
    assert '<p class="schedule-words" id="schedule-words" aria-live="polite" hidden>' in page


# --- preview ------------------------------------------------------------------------------


def test_preview_shows_the_first_rows_and_saves_nothing(alice_client, readings):
    data = post_data(**{"items-0-from_time": "2026-01-10T00:00", "items-0-to_time": ""})
    data["preview"] = "1"
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 200
    assert "Preview — nothing saved" in response.text
    [item] = response.context["preview"].items
    assert item.headers == ["time", "value"]
    assert len(item.rows) == 20 and item.estimated_rows == 30
    assert item.rows[0] == ["2026-01-10T00:00:00.000+00:00", "20"]  # whole: no .0
    # The column of times is the one kept in view; a time may break after its date, a
    # number never (app.css).
    cells = (
        '<td class="time-kind time-column"><span>2026-01-10</span><span>T00:00:00.000+00:00</span>'
        '</td><td class="number">20</td>'
    )
    assert cells in response.text
    assert '<th scope="col" class="number">value</th>' in response.text  # aligned as its cells
    assert not ExportRequest.objects.exists()
    assert not IamEvent.objects.exists() and not ExportJob.objects.exists()


def test_preview_of_a_recurring_request_reads_the_next_runs_window_only(alice_client, readings):
    # Daily with neither period nor from/to: the next job reads [previous slot, slot), which
    # holds none of the January readings (all history would hold 30 rows).
    response = create(alice_client, type="recurring", schedule="daily", preview="1")
    [item] = response.context["preview"].items
    assert (item.rows, item.estimated_rows) == ([], 0)
    assert "No rows in this window" in response.text
    assert response.context["preview"].is_next_run


def test_preview_of_an_edited_request_leaves_it_as_stored(alice_client, alice, readings):
    export = ExportRequest.objects.create(owner=alice, name="Stored")
    item = ExportItem.objects.create(
        request=export, target_value="temperature", channel_id=NORTH, subtopic="events.data"
    )
    data = post_data(
        name="Renamed in the editor",
        preview="1",
        **{
            "items-INITIAL_FORMS": "1",
            "items-0-id": str(item.pk),
            "items-0-target_value": "humidity",
        },
    )
    response = alice_client.post(reverse("exports:edit", args=[export.pk]), data)
    assert response.status_code == 200
    assert response.context["preview"].items[0].metrics == ["humidity"]
    export.refresh_from_db()
    assert export.name == "Stored" and export.items.get().target_value == "temperature"


def test_preview_with_bad_input_gives_the_field_errors_of_saving(alice_client, readings):
    bad = {"items-0-ds": "15 minutes"}
    previewed = create(alice_client, preview="1", **bad)
    saved = create(alice_client, **bad)
    assert previewed.status_code == saved.status_code == 422
    assert "preview" not in previewed.context or previewed.context["preview"] is None
    errors = [form.errors for form in previewed.context["editor"].items.forms]
    assert errors == [form.errors for form in saved.context["editor"].items.forms]
    assert "is not a decimation granularity" in str(errors)


# --- errors, focus, time zone -------------------------------------------------------------


def test_after_a_failed_submit_the_summary_is_focusable_and_links_to_the_fields(
    alice_client, readings
):
    response = create(alice_client, name="", **{"items-0-ds": "15 minutes"})
    assert response.status_code == 422
    page = response.text
    assert 'role="alert" id="form-errors" tabindex="-1" autofocus' in page
    assert '<a href="#id_name">Name: This field is required.</a>' in page
    assert 'href="#id_items-0-ds">Item 1, Decimation:' in page


def test_the_time_zone_is_a_timezone_field_that_keeps_the_iana_name(alice_client, readings):
    assert isinstance(ExportRequest._meta.get_field("timezone"), TimeZoneField)
    assert isinstance(ExportRequestForm().fields["timezone"], TimeZoneFormField)
    assert create(alice_client, timezone="America/New_York").status_code == 302
    export = ExportRequest.objects.get()
    export.refresh_from_db()
    assert export.timezone == "America/New_York"
    bad = create(alice_client, timezone="Mars/Olympus")
    assert bad.status_code == 422 and "Select a valid choice" in bad.text


def test_the_time_zone_list_leaves_out_names_that_are_no_place(alice_client, alice):
    names = [name for name, _ in ExportRequestForm().fields["timezone"].choices]
    assert names[:2] == ["UTC", "Africa/Abidjan"] and "Europe/Rome" in names
    assert "Factory" not in names and "localtime" not in names
    page = alice_client.get(reverse("exports:create")).text
    assert '<option value="Factory"' not in page and '<option value="Europe/Rome"' in page
    # The JSON still takes them, and a request saved with one keeps it in the editor.
    validate_timezone("Factory")
    export = ExportRequest.objects.create(owner=alice, name="Factory time", timezone="Factory")
    edit = alice_client.get(reverse("exports:edit", args=[export.pk])).text
    assert '<option value="Factory" selected>' in edit


def test_the_decimal_separator_offers_no_blank_choice(alice_client, readings):
    field = ExportRequestForm().fields["decimal_separator"]
    assert [value for value, _ in field.choices] == [".", ","]
    page = alice_client.get(reverse("exports:create")).text
    select = page[page.index('name="decimal_separator"') :]
    assert "---------" not in select[: select.index("</select>")]
    # A post without it (older pages, scripts) still means the point.
    data = post_data()
    data.pop("decimal_separator", None)
    assert alice_client.post(reverse("exports:create"), data).status_code == 302
    assert ExportRequest.objects.get().decimal_separator == "."


def test_no_select_of_the_editor_offers_a_dashed_blank(alice_client, readings):
    """Every choice is in words: an item's transform says "None (the values as stored)",
    the schedule's step "1 minute", and no select shows Django's "---------"."""
    page = alice_client.get(reverse("exports:create")).text
    assert "---------" not in page
    transform = page[page.index('name="items-0-transform"') :]
    transform = transform[: transform.index("</select>")]
    assert '<option value="" selected>None (the values as stored)</option>' in transform
    assert ">1 minute<" in page and ">1 minutes<" not in page


def test_a_removed_rows_errors_are_not_in_the_summary(alice_client, readings):
    data = post_data(name="", **{"items-TOTAL_FORMS": "2", "items-1-DELETE": "on"})
    data["items-1-output_format"] = "long"
    response = alice_client.post(reverse("exports:create"), data)
    assert response.status_code == 422
    assert [link.where for link in response.context["editor"].error_summary()] == ["Name"]


def test_the_schedule_words_follow_the_fields_without_saving(alice_client):
    url = reverse("exports:schedule-words")
    fields = {"type": "recurring", "schedule": "monthly", "day": "31", "at_time": "06:00"}
    answer = alice_client.get(url, {**fields, "timezone": "Europe/Rome"}).json()
    assert answer == {
        "words": "Monthly on day 31 at 06:00, the last day in shorter months (Europe/Rome)",
        "periodicity": "P1M",
    }
    custom = {"type": "recurring", "schedule": "custom", "periodicity": "PT15M"}
    custom["period_start"] = "2026-01-01T00:00"
    assert alice_client.get(url, custom).json()["words"] == "Every 15 minutes"
    assert alice_client.get(url, {**fields, "at_time": ""}).json()["words"] == ""
    assert alice_client.get(url, {**fields, "type": "oneTime"}).json()["words"] == ""
    assert not ExportRequest.objects.exists()


def test_the_pickers_of_many_items_cost_no_more_queries_than_one(alice_client, alice, readings):
    def queries_for(count):
        export = ExportRequest.objects.create(owner=alice, name=f"{count} items")
        for position in range(count):
            ExportItem.objects.create(
                request=export,
                position=position,
                target_value="temperature",
                channel_id=NORTH,
                subtopic="events.data",
            )
        with CaptureQueriesContext(connection) as queries:
            alice_client.get(reverse("exports:edit", args=[export.pk]))
        return len(queries)

    assert queries_for(1) == queries_for(30)
