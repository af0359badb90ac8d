"""The editor in headless Chromium: pickers only (no typed ids), preview, save; phones; focus."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from playwright.sync_api import expect

from exports.data.ingestion import store_messages
from exports.models import Channel, ExportRequest, Message, Publisher

NORTH = "6b1f0f3a-3c1e-4b7a-9a51-0d1c2e3f4a01"
SOUTH = "9c2e1d4b-5a6f-4e3d-8b2a-1f0e9d8c7b62"
DEVICE = "a3c9e0d2-7b1f-4c5e-9d8a-2b3c4d5e6f70"
START = datetime(2026, 1, 10, tzinfo=UTC)


def seed():
    get_user_model().objects.create_user("alice", "alice@example.com", "alice-pass-123")
    store_messages(
        [
            Message(
                channel=channel,
                subtopic="events.data",
                publisher=DEVICE,
                name=name,
                unit=unit,
                time=START + timedelta(minutes=5 * i),
                value=20 + i / 4,
            )
            for channel in (NORTH, SOUTH)
            for name, unit in (("temperature", "Cel"), ("humidity", "%RH"))
            for i in range(40)
        ]
    )
    Channel.objects.filter(channel_id=NORTH).update(name="Greenhouse north")
    Channel.objects.filter(channel_id=SOUTH).update(name="Greenhouse south")
    Publisher.objects.filter(publisher_id=DEVICE).update(name="Sensor 1")


def sign_in(page, live_server):
    page.goto(live_server.url + reverse("login"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-pass-123")
    page.get_by_role("button", name="Sign in").click()


def pick(page, input_name, option):
    """Open a picker by clicking its input and click one of the offered options."""
    page.click(f'[name="{input_name}"]')
    page.get_by_role("option", name=option).click()


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.django_db(transaction=True)
def test_a_new_user_builds_an_export_with_pickers_previews_and_saves(
    live_server, chromium_page, redis_conn
):
    seed()
    page = chromium_page
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New export").click()
    page.get_by_role("textbox", name="Name:", exact=True).fill("North climate")

    # One-time: no schedule on screen; recurring shows the chosen preset's fields only.
    assert not page.get_by_label("Repeat").is_visible()
    page.get_by_label("Type").select_option("recurring")
    page.get_by_label("Repeat").select_option("weekly")
    assert page.get_by_label("On:", exact=True).is_visible()
    assert not page.get_by_label("Periodicity").is_visible()
    page.get_by_label("On:", exact=True).select_option("Wednesday")
    page.get_by_label("At:", exact=True).fill("08:30")
    words = page.locator("#schedule-words")
    expect(words).to_contain_text("Every week on Wednesday at 08:30 (UTC)")
    expect(words).to_contain_text("stored as P1W")
    page.get_by_label("Type").select_option("oneTime")

    pick(page, "items-0-channel_id", "Greenhouse north (6b1f0f3a)")
    # The field shows the channel's name, its id under it (the form posts the id).
    assert page.input_value('[name="items-0-channel_id"]') == "Greenhouse north"
    assert page.locator("#id_items-0-channel_id_helptext").inner_text() == f"id {NORTH}"
    pick(page, "items-0-subtopic", "events.data")
    page.get_by_label("Add metrics from the catalog").first.click()
    page.get_by_role("option", name="temperature Cel").click()
    page.get_by_label("Add metrics from the catalog").first.click()
    page.get_by_role("option", name="humidity %RH").click()
    assert page.input_value('[name="items-0-target_value"]') == "temperature,humidity"

    page.evaluate("window.sameDocument = true")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    preview.wait_for()
    assert page.evaluate("window.sameDocument === true")  # swapped in, not reloaded
    assert page.evaluate("document.activeElement.id") == "preview"
    assert "about 80" in preview.locator(".estimated-rows").inner_text()
    assert preview.locator("tbody tr").count() == 20
    assert "Greenhouse north (6b1f0f3a) / events.data" in preview.inner_text()
    assert not ExportRequest.objects.exists()

    page.get_by_role("button", name="Create export").click()
    export = ExportRequest.objects.get()
    page.wait_for_url(live_server.url + export.get_absolute_url())
    item = export.items.get()
    assert (item.channel_id, item.subtopic, item.target_value) == (
        NORTH,
        "events.data",
        "temperature,humidity",
    )


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_editor_fits_and_focus_goes_to_the_error_summary(
    live_server, chromium_page, redis_conn
):
    seed()
    page = chromium_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    assert fits_the_screen(page)

    page.get_by_role("button", name="Create export").click()  # nothing filled in
    summary = page.get_by_role("alert")
    summary.wait_for()
    assert page.evaluate("document.activeElement.id") == "form-errors"
    summary.get_by_role("link", name="Name: This field is required.").click()
    assert page.evaluate("document.activeElement.name") == "name"
    assert fits_the_screen(page)

    page.get_by_role("textbox", name="Name:", exact=True).fill("Phone")
    pick(page, "items-0-channel_id", "Greenhouse south (9c2e1d4b)")
    pick(page, "items-0-subtopic", "events.data")
    page.get_by_label("Add metrics from the catalog").first.click()
    page.get_by_role("option", name="temperature Cel").click()
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview tbody tr").first.wait_for()
    assert fits_the_screen(page)  # the rows scroll inside their own box


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_page_serves_the_choices_and_saves(
    live_server, chromium_page, redis_conn
):
    seed()
    page = chromium_page.context.browser.new_context(java_script_enabled=False).new_page()
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    page.get_by_role("button", name="Create export").click()  # nothing filled in
    assert page.evaluate("document.activeElement.id") == "form-errors"  # autofocus

    assert not page.get_by_label("Periodicity").is_visible()  # one-time: no schedule
    page.get_by_role("textbox", name="Name:", exact=True).fill("No script")
    offered = page.locator('#items-0-channel-options option[label="Greenhouse north (6b1f0f3a)"]')
    page.fill('[name="items-0-channel_id"]', offered.get_attribute("value"))
    page.fill('[name="items-0-subtopic"]', "events.data")
    page.fill('[name="items-0-target_value"]', "")
    page.get_by_role("button", name="Preview").click()  # the page comes back narrowed
    metrics = page.locator('[name="items-0-metrics"]')
    assert metrics.locator("option").all_inner_texts() == [
        "humidity — %RH · last 2026-01-10 03:15 UTC · 40 points",
        "temperature — Cel · last 2026-01-10 03:15 UTC · 40 points",
    ]
    metrics.select_option(["temperature"])
    page.get_by_role("button", name="Preview").click()
    page.locator("#preview tbody tr").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "preview"  # autofocus, no script
    page.get_by_role("button", name="Create export").click()
    export = ExportRequest.objects.get()
    page.wait_for_url(live_server.url + export.get_absolute_url())
    assert export.items.get().target_value == "temperature"


@pytest.mark.django_db(transaction=True)
def test_the_pickers_offer_only_the_channels_the_user_may_read(
    live_server, chromium_page, redis_conn, settings
):
    from exports.models import ChannelGrant

    settings.EXPORTS_DATA_ACCESS = "grants"
    seed()
    alice = get_user_model().objects.get(username="alice")
    ChannelGrant.objects.create(user=alice, channel_id=NORTH, can_read=True)
    page = chromium_page
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("exports:create"))
    channel = page.locator('[name="items-0-channel_id"]')
    channel.click()
    offered = page.locator(f"#{channel.get_attribute('aria-controls')} [role=option]")
    expect(offered).to_have_count(1)
    assert offered.first.inner_text().startswith("Greenhouse north (6b1f0f3a)")
    # Typing the other channel's name finds nothing; typing its id and saving is refused.
    channel.fill("Greenhouse south")
    expect(offered).to_have_count(0)
    page.get_by_role("textbox", name="Name:", exact=True).fill("South")
    page.fill('[name="items-0-channel_id"]', SOUTH)
    page.fill('[name="items-0-subtopic"]', "events.data")
    page.fill('[name="items-0-target_value"]', "temperature")
    page.get_by_role("button", name="Create export").click()
    expect(page.locator(".error-summary, [role=alert]").first).to_contain_text(
        "alice may not read Greenhouse south."
    )
    assert not ExportRequest.objects.exists()
