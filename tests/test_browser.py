"""The request editor in a real browser: create, reorder and relabel columns with JavaScript."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from exports.data.catalog import record_messages
from exports.models import ExportRequest, Message


@pytest.mark.django_db(transaction=True)
def test_creating_an_export_with_the_javascript_column_editor(
    live_server, chromium_page, redis_conn
):
    get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")
    at = datetime(2025, 1, 1, tzinfo=UTC)
    record_messages(  # both metrics have data: saving does not stop to ask about them
        [
            Message(channel="c1", subtopic="events.data", publisher="p", name=name, time=at)
            for name in ("temperature", "humidity")
        ]
    )
    page = chromium_page
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New export").click()

    page.get_by_role("textbox", name="Name:", exact=True).fill("Greenhouse")
    page.fill('[name="items-0-target_value"]', "temperature")
    page.fill('[name="items-0-channel_id"]', "c1")
    page.fill('[name="items-0-subtopic"]', "events.data")
    # The optional blank item row is gone with JavaScript: "Add an item" makes one.
    assert page.locator("[data-formset=items] [data-formset-row]:visible").count() == 1
    page.get_by_role("button", name="Add an item").click()
    page.fill('[name="items-2-target_value"]', "humidity")
    page.fill('[name="items-2-channel_id"]', "c1")
    page.fill('[name="items-2-subtopic"]', "events.data")

    editor = page.locator("table[data-column-editor]")
    visible = editor.locator("tbody tr:visible")

    def shown():
        return visible.evaluate_all("rows => rows.map(row => row.dataset.columnId)")

    # A new request starts with the names people read (issue 18), not the ids.
    assert shown() == ["publisherName", "channelName", "name", "time", "value", "created"]
    assert not editor.locator('[name$="-position"]').first.is_visible()  # numbered for us
    # The help speaks of the buttons this editor shows, not of ticks and position numbers.
    help_text = page.locator("#columns-help").inner_text()
    assert "↑ and ↓" in help_text and "“Add a column”" in help_text
    assert "position numbers" not in help_text and "Tick" not in help_text
    page.get_by_role("button", name="Remove publisherName").click()
    page.get_by_role("button", name="Move time up").click()
    page.get_by_role("button", name="Move time up").click()
    page.get_by_role("button", name="Move created up").click()
    editor.locator('tr[data-column-id="value"] [name$="-label"]').fill("Temperature")
    page.get_by_label("Add a column").select_option("unit")
    page.get_by_role("button", name="Add the chosen column").click()
    editor.locator('tr[data-column-id="unit"] [name$="-label"]').fill("Unit")
    assert shown() == ["time", "channelName", "name", "created", "value", "unit"]

    page.get_by_role("button", name="Create export").click()

    export = ExportRequest.objects.get()
    page.wait_for_url(live_server.url + export.get_absolute_url())
    assert "Export “Greenhouse” created." in page.locator(".messages").inner_text()
    assert page.locator("#columns-list li").all_inner_texts() == [
        "time as time",
        "channelName as Channel",
        "name as name",
        "created as created",
        "value as Temperature",
        "unit as Unit",
    ]
    assert [(c.column_id, c.label) for c in export.columns.all()] == [
        ("time", "time"),
        ("channelName", "Channel"),
        ("name", "name"),
        ("created", "created"),
        ("value", "Temperature"),
        ("unit", "Unit"),
    ]
    assert list(export.items.values_list("target_value", flat=True)) == [
        "temperature",
        "humidity",
    ]
